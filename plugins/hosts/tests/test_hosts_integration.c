/* test_hosts_integration.c -- hosts through the real binary: UDP, TCP, reload, fallthrough. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static char *
answer_of(ldns_pkt *p)
{
	cr_assert(p, "no reply");
	return sx_test_section_str(p, LDNS_SECTION_ANSWER);
}

static void
expect_answer(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags,
              const char *want)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);
	char *got = answer_of(p);
	cr_expect_str_eq(got, want, "%s over %s", name, flags & SX_Q_TCP ? "TCP" : "UDP");
	cr_expect(ldns_pkt_aa(p));
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	free(got);
	ldns_pkt_free(p);
}

Test(hosts_integration, file_and_inline_over_udp_and_tcp)
{
	struct sx_test_server *s = sx_test_prepare();
	sx_test_write(s, "hosts", "10.0.0.1 web.example.org\n2001:db8::1 web.example.org\n");
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\thosts hosts {\n\t\t10.0.0.2 inline.example.org\n"
	                 "\t\tttl 300\n\t}\n}\n");
	for (int tcp = 0; tcp <= 1; tcp++) {
		int f = tcp ? SX_Q_TCP : 0;
		expect_answer(s, "web.example.org", LDNS_RR_TYPE_A, f,
		              "web.example.org.\t300\tIN\tA\t10.0.0.1");
		expect_answer(s, "Web.Example.org", LDNS_RR_TYPE_AAAA, f,
		              "Web.Example.org.\t300\tIN\tAAAA\t2001:db8::1");
		expect_answer(s, "inline.example.org", LDNS_RR_TYPE_A, f,
		              "inline.example.org.\t300\tIN\tA\t10.0.0.2");
		expect_answer(s, "1.0.0.10.in-addr.arpa", LDNS_RR_TYPE_PTR, f,
		              "1.0.0.10.in-addr.arpa.\t300\tIN\tPTR\tweb.example.org.");
	}
	char *out = sx_test_dig(s, "-x 10.0.0.2 +tcp");
	cr_expect(strstr(out, "2.0.0.10.in-addr.arpa.\t300\tIN\tPTR\tinline.example.org."), "%s",
	          out);
	free(out);
	out = sx_test_dig(s, "web.example.org MX");
	cr_expect(strstr(out, "status: NOERROR"), "%s", out);
	cr_expect(strstr(out, "flags: qr aa rd;"), "%s", out);
	cr_expect(strstr(out, "ANSWER: 0,"), "%s", out);
	free(out);
	out = sx_test_dig(s, "missing.example.org");
	cr_expect(strstr(out, "status: SERVFAIL"), "%s", out);
	free(out);
	sx_test_stop(s);
}

/* Poll until @name/A answers @want (the reload interval is 1 s). */
static bool
wait_answer(struct sx_test_server *s, const char *name, const char *want, int ms)
{
	for (int waited = 0; waited <= ms; waited += 100) {
		ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_A, 0, 0);
		char *got = p ? sx_test_section_str(p, LDNS_SECTION_ANSWER) : NULL;
		bool ok = got != NULL && strcmp(got, want) == 0;
		free(got);
		if (p != NULL) {
			ldns_pkt_free(p);
		}
		if (ok) {
			return true;
		}
		usleep(100 * 1000);
	}
	return false;
}

Test(hosts_integration, reload_on_change)
{
	struct sx_test_server *s = sx_test_prepare();
	sx_test_write(s, "hosts", "10.0.0.1 a.example.org\n");
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\thosts %DIR%/hosts {\n\t\treload 1s\n\t}\n}\n");
	expect_answer(s, "a.example.org", LDNS_RR_TYPE_A, 0,
	              "a.example.org.\t3600\tIN\tA\t10.0.0.1");
	sx_test_write(s, "hosts", "10.0.0.7 a.example.org\n10.0.0.8 b.example.org\n");
	cr_assert(wait_answer(s, "a.example.org", "a.example.org.\t3600\tIN\tA\t10.0.0.7", 5000),
	          "the new file was not served:\n%s", sx_test_log(s));
	expect_answer(s, "b.example.org", LDNS_RR_TYPE_A, SX_Q_TCP,
	              "b.example.org.\t3600\tIN\tA\t10.0.0.8");
	/* As in CoreDNS, a file that goes away leaves the last contents served. */
	char path[4096];
	snprintf(path, sizeof(path), "%s/hosts", sx_test_dir(s));
	cr_assert_eq(unlink(path), 0);
	usleep(1500 * 1000);
	expect_answer(s, "b.example.org", LDNS_RR_TYPE_A, 0,
	              "b.example.org.\t3600\tIN\tA\t10.0.0.8");
	sx_test_stop(s);
}

Test(hosts_integration, reload_zero_keeps_first_read)
{
	struct sx_test_server *s = sx_test_prepare();
	sx_test_write(s, "hosts", "10.0.0.1 a.example.org\n");
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\thosts hosts {\n\t\treload 0\n\t}\n}\n");
	sx_test_write(s, "hosts", "10.0.0.2 a.example.org\n");
	cr_expect_not(
	        wait_answer(s, "a.example.org", "a.example.org.\t3600\tIN\tA\t10.0.0.2", 1500));
	expect_answer(s, "a.example.org", LDNS_RR_TYPE_A, 0,
	              "a.example.org.\t3600\tIN\tA\t10.0.0.1");
	sx_test_stop(s);
}

Test(hosts_integration, missing_file_warns_and_serves_inline)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind 127.0.0.1\n"
	                                               "\thosts no-such-file {\n"
	                                               "\t\t10.0.0.3 inline.example.org\n\t}\n}\n");
	cr_expect(sx_test_wait_log(s, "[WARNING] plugin/hosts: File does not exist: ", 30000), "%s",
	          sx_test_log(s));
	expect_answer(s, "inline.example.org", LDNS_RR_TYPE_A, 0,
	              "inline.example.org.\t3600\tIN\tA\t10.0.0.3");
	sx_test_stop(s);
}

Test(hosts_integration, fallthrough_to_file)
{
	struct sx_test_server *s = sx_test_prepare();
	sx_test_write(s, "hosts", "10.0.0.1 www.example.org\n");
	sx_test_write(s, "db.example.org",
	              "$ORIGIN example.org.\n"
	              "@ 300 IN SOA ns1 admin 1 7200 3600 1209600 60\n"
	              "@ 300 IN NS ns1\n"
	              "ns1 300 IN A 192.0.2.1\n"
	              "www 300 IN A 192.0.2.80\n"
	              "mail 300 IN A 192.0.2.25\n");
	/* file runs after hosts whatever the Corefile order (plugin.cfg). */
	sx_test_start(s, "example.org {\n\tbind 127.0.0.1\n\tfile db.example.org\n"
	                 "\thosts hosts {\n\t\tfallthrough\n\t}\n}\n");
	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, 0,
	              "www.example.org.\t3600\tIN\tA\t10.0.0.1");
	expect_answer(s, "mail.example.org", LDNS_RR_TYPE_A, 0,
	              "mail.example.org.\t300\tIN\tA\t192.0.2.25");
	ldns_pkt *p = sx_test_query(s, "nope.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	cr_expect_eq(ldns_pkt_nscount(p), 1);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(hosts_integration, bad_option_fails_the_check)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;
	sx_test_write(s, "Corefile", ".:53 {\n\thosts {\n\t\tttl 99999\n\t}\n}\n");
	int st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s", out);
	cr_expect(strstr(out,
	                 "Corefile:3: plugin/hosts: ttl must be in range [1, 65535], not '99999'"),
	          "%s", out);
	free(out);
	sx_test_stop(s);
}

/* The value of the unlabelled gauge @name in @m, or -1. */
static double
gauge(const char *m, const char *name)
{
	char needle[128];
	const char *at;

	snprintf(needle, sizeof(needle), "\n%s ", name);
	at = strstr(m, needle);
	return at ? strtod(at + strlen(needle), NULL) : -1;
}

Test(hosts_integration, entries_and_reload_timestamp_metrics)
{
	struct sx_test_server *s = sx_test_prepare();
	uint16_t port;
	double t0 = (double)time(NULL), first;
	long status;
	char *m;

	sx_test_write(s, "hosts", "10.0.0.1 a.example.org\n10.0.0.2 b.example.org c.example.org\n");
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0\n"
	                 "\thosts %DIR%/hosts {\n\t\t10.0.0.9 inline.example.org\n"
	                 "\t\treload 1s\n\t}\n}\n");
	port = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");
	m = sx_test_http_get(port, "/metrics", &status);
	cr_assert_eq(status, 200);
	cr_expect(strstr(m, "# TYPE coredns_hosts_entries gauge"), "%s", m);
	/* Three names of the file and one inline, each with one address. */
	cr_expect_eq(gauge(m, "coredns_hosts_entries"), 4, "%s", m);
	first = gauge(m, "coredns_hosts_reload_timestamp_seconds");
	cr_expect(first >= t0 - 1 && first <= (double)time(NULL) + 1, "%f vs %f", first, t0);
	free(m);

	sx_test_write(s, "hosts", "10.0.0.7 a.example.org\n");
	cr_assert(wait_answer(s, "a.example.org", "a.example.org.\t3600\tIN\tA\t10.0.0.7", 5000),
	          "the new file was not served:\n%s", sx_test_log(s));
	m = sx_test_http_get(port, "/metrics", &status);
	cr_expect_eq(gauge(m, "coredns_hosts_entries"), 2, "%s", m);
	cr_expect(gauge(m, "coredns_hosts_reload_timestamp_seconds") > first, "%s", m);
	free(m);
	sx_test_stop(s);
}
