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

/*
 * Several log lines in a block: as CoreDNS, one rule per name in Corefile
 * order, and the first whose name matches decides, by its classes, whether
 * the query is logged; no later rule logs it.
 */
Test(log, several_lines_first_matching_name_decides)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, ". {\n\tbind 127.0.0.1\n"
	              "\tlog a.example e.example \"A {name}\"\n"
	              "\tlog err.example \"E {name}\" {\n\t\tclass error\n\t}\n"
	              "\tlog . \"DOT {name}\"\n"
	              "\tlog b.example \"B {name}\"\n"
	              "\twhoami\n}\n");
	const char *names[] = { "x.a.example", "x.e.example", "x.err.example", "x.b.example",
		                "x.c.example" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ldns_pkt *p = sx_test_query(s, names[i], LDNS_RR_TYPE_A, 0, 0);

		cr_assert(p, "%s", names[i]);
		ldns_pkt_free(p);
	}
	/* Each line is written before its reply is sent, so the last one comes last. */
	cr_assert(log_matches(s, "^\\[INFO\\] DOT x\\.c\\.example\\.$"), "%s", sx_test_log(s));
	cr_expect(strstr(sx_test_log(s), "] A x.a.example.\n"), "%s", sx_test_log(s));
	cr_expect(strstr(sx_test_log(s), "] A x.e.example.\n"), "a line's second name");
	cr_expect(strstr(sx_test_log(s), "] DOT x.b.example.\n"), "the root before b.example");
	cr_expect(!strstr(sx_test_log(s), "] B "), "%s", sx_test_log(s));
	cr_expect(!strstr(sx_test_log(s), "x.err.example"),
	          "err.example's rule logs errors only, and no later rule logs it: %s",
	          sx_test_log(s));
	cr_expect(!strstr(sx_test_log(s), "DOT x.a.example"), "%s", sx_test_log(s));
	sx_test_stop(s);
}

/* {local} is the server's address the query came to: bound, or a wildcard's destination. */
Test(log, local_is_the_servers_address)
{
	struct sx_test_server *bound = sx_test_prepare(), *wild;
	ldns_pkt *p;

	sx_test_set_addr(bound, "127.0.0.7");
	sx_test_start(bound, ". {\n\tbind 127.0.0.7\n\tlog . \"{local} {proto} {name}\"\n"
	                     "\twhoami\n}\n");
	p = sx_test_query(bound, "bound.example", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	ldns_pkt_free(p);
	cr_expect(log_matches(bound, "^\\[INFO\\] 127\\.0\\.0\\.7 udp bound\\.example\\.$"), "%s",
	          sx_test_log(bound));
	sx_test_stop(bound);

	wild = sx_test_prepare();
	sx_test_set_addr(wild, "127.0.0.5");
	sx_test_start(wild, ". {\n\tlog . \"{local} {proto} {name}\"\n\twhoami\n}\n");
	p = sx_test_query(wild, "udp.example", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	ldns_pkt_free(p);
	p = sx_test_query(wild, "tcp.example", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_assert(p);
	ldns_pkt_free(p);
	cr_expect(log_matches(wild, "^\\[INFO\\] 127\\.0\\.0\\.5 udp udp\\.example\\.$"), "%s",
	          sx_test_log(wild));
	cr_expect(log_matches(wild, "^\\[INFO\\] 127\\.0\\.0\\.5 tcp tcp\\.example\\.$"), "%s",
	          sx_test_log(wild));
	sx_test_stop(wild);
}
