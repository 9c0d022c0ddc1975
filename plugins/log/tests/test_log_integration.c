/* test_log_integration.c -- the log plugin's lines, formats, name and class filters. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static bool
log_matches(struct sx_test_server *s, const char *re_src)
{
	regex_t re;
	bool ok;

	cr_assert(regcomp(&re, re_src, REG_EXTENDED | REG_NEWLINE | REG_NOSUB) == 0);
	for (int i = 0; i < 100; i++) {
		if ((ok = regexec(&re, sx_test_log(s), 0, NULL, 0) == 0)) {
			break;
		}
		usleep(20000);
	}
	regfree(&re);
	return ok;
}

Test(log, default_format_is_corednss)
{
	struct sx_test_server *s = sx_test_start(NULL,
	                                         ". {\n\tbind 127.0.0.1\n\tlog\n\twhoami\n}\n");
	ldns_pkt *p = sx_test_query(s, "Log.Example", LDNS_RR_TYPE_A, SX_Q_DO, 4096);

	cr_assert(p);
	/* [INFO] 127.0.0.1:PORT - ID "A IN Log.Example. udp SIZE true 4096" NOERROR qr,aa,rd RSIZE Ds */
	cr_assert(
	        log_matches(
	                s,
	                "^\\[INFO\\] 127\\.0\\.0\\.1:[0-9]+ - [0-9]+ \"A IN Log\\.Example\\. udp [0-9]+ true 4096\" "
	                "NOERROR qr,aa,rd [0-9]+ [0-9]+\\.[0-9]+s$"),
	        "%s", sx_test_log(s));
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(log, names_and_classes_filter)
{
	struct sx_test_server *s = sx_test_start(
	        NULL,
	        ". {\n\tbind 127.0.0.1\n\tlog logged.example {\n\t\tclass error\n\t}\n\terrors\n}\n"
	        "ok.example {\n\tbind 127.0.0.1\n\tlog {\n\t\tclass denial\n\t}\n\twhoami\n}\n");
	ldns_pkt *a = sx_test_query(s, "x.logged.example", LDNS_RR_TYPE_A, 0, 0);
	ldns_pkt *b = sx_test_query(s, "x.other.example", LDNS_RR_TYPE_A, 0, 0);
	ldns_pkt *c = sx_test_query(s, "x.ok.example", LDNS_RR_TYPE_A, 0, 0);

	cr_assert(a && b && c);
	cr_assert(log_matches(s, "\"A IN x\\.logged\\.example\\. udp [0-9]+ false 1232\" SERVFAIL"),
	          "%s", sx_test_log(s));
	cr_assert(!strstr(sx_test_log(s), "\"A IN x.other.example."), "%s", sx_test_log(s));
	/* whoami's answer section is empty: a NODATA, so denial logs it. */
	cr_assert(log_matches(s, "\"A IN x\\.ok\\.example\\. udp [0-9]+ false 1232\" NOERROR"),
	          "%s", sx_test_log(s));
	ldns_pkt_free(a);
	ldns_pkt_free(b);
	ldns_pkt_free(c);
	sx_test_stop(s);
}

Test(log, custom_format)
{
	struct sx_test_server *s = sx_test_start(
	        NULL,
	        ". {\n\tbind 127.0.0.1\n\tlog . \"{proto} {name} {type} {rcode} {>nosuch}\"\n\twhoami\n}\n");
	char *out = sx_test_dig(s, "+tcp fmt.example TXT");

	cr_assert(log_matches(s, "^\\[INFO\\] tcp fmt\\.example\\. TXT NOERROR -$"), "%s",
	          sx_test_log(s));
	free(out);
	sx_test_stop(s);
}
