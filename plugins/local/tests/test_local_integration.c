/* test_local_integration.c -- localhost and loopback reverse names through the binary. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static const char corefile[] = ".:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\tprometheus 127.0.0.1:0\n"
                               "\tlocal\n"
                               "\thosts {\n"
                               "\t\t192.0.2.1 www.example.org localhost.noprefix.test\n"
                               "\t}\n"
                               "}\n"
                               "noprefix.test:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\tlocal {\n"
                               "\t\tlocalhost_prefix off\n"
                               "\t}\n"
                               "\thosts {\n"
                               "\t\t192.0.2.2 localhost.noprefix.test\n"
                               "\t}\n"
                               "}\n";

/* One query; its rcode, and its answer and authority sections as text. */
static int
ask(struct sx_test_server *s, const char *name, ldns_rr_type type, char **ans, char **auth)
{
	ldns_pkt *p = sx_test_query(s, name, type, 0, 0);
	int rcode;

	cr_assert(p, "no reply for %s", name);
	/* local's replies are not authoritative; hosts' are. */
	cr_expect_eq(ldns_pkt_aa(p), strstr(name, "example.org") || strstr(name, "noprefix"),
	             "%s: AA bit", name);
	rcode = ldns_pkt_get_rcode(p);
	*ans = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	*auth = sx_test_section_str(p, LDNS_SECTION_AUTHORITY);
	ldns_pkt_free(p);
	return rcode;
}

#define SOA "604800\tIN\tSOA\tlocalhost. root.localhost. 1 0 0 0 604800"

static void
expect(struct sx_test_server *s, const char *name, ldns_rr_type type, int rcode, const char *ans,
       const char *auth)
{
	char *a, *u;

	cr_expect_eq(ask(s, name, type, &a, &u), rcode, "%s", name);
	cr_expect_str_eq(a, ans, "%s answer", name);
	cr_expect_str_eq(u, auth, "%s authority", name);
	free(a);
	free(u);
}

Test(local_integration, localhost_names)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);

	expect(s, "localhost", LDNS_RR_TYPE_A, 0, "localhost.\t604800\tIN\tA\t127.0.0.1", "");
	expect(s, "LocalHost", LDNS_RR_TYPE_AAAA, 0, "LocalHost.\t604800\tIN\tAAAA\t::1", "");
	expect(s, "localhost", LDNS_RR_TYPE_MX, 0, "", "localhost.\t" SOA);
	expect(s, "localhost", LDNS_RR_TYPE_SOA, 0, "localhost.\t" SOA, "");
	expect(s, "localhost", LDNS_RR_TYPE_NS, 0, "localhost.\t604800\tIN\tNS\tlocalhost.", "");
	expect(s, "db.localhost", LDNS_RR_TYPE_A, 0, "db.localhost.\t604800\tIN\tA\t127.0.0.1", "");
	expect(s, "db.localhost", LDNS_RR_TYPE_TXT, 0, "", "db.localhost.\t" SOA);
	/* The legacy prefix form, on by default. */
	expect(s, "localhost.example.net", LDNS_RR_TYPE_A, 0,
	       "localhost.example.net.\t604800\tIN\tA\t127.0.0.1", "");
	sx_test_stop(s);
}

Test(local_integration, loopback_reverse_zones)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);

	expect(s, "1.0.0.127.in-addr.arpa", LDNS_RR_TYPE_PTR, 0,
	       "1.0.0.127.in-addr.arpa.\t604800\tIN\tPTR\tlocalhost.", "");
	expect(s, "1.0.0.127.in-addr.arpa", LDNS_RR_TYPE_A, 0, "", "127.in-addr.arpa.\t" SOA);
	/* NXDOMAIN carries the zone's SOA, the zone spelt as the client spelt it. */
	expect(s, "2.0.0.127.IN-ADDR.arpa", LDNS_RR_TYPE_PTR, 3, "", "127.IN-ADDR.arpa.\t" SOA);
	expect(s, "5.4.3.0.in-addr.arpa", LDNS_RR_TYPE_PTR, 3, "", "0.in-addr.arpa.\t" SOA);
	expect(s, "255.in-addr.arpa", LDNS_RR_TYPE_SOA, 0, "255.in-addr.arpa.\t" SOA, "");
	expect(s, "127.in-addr.arpa", LDNS_RR_TYPE_A, 0, "", "127.in-addr.arpa.\t" SOA);
	sx_test_stop(s);
}

Test(local_integration, other_names_and_prefix_off_go_on)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);

	expect(s, "www.example.org", LDNS_RR_TYPE_A, 0, "www.example.org.\t3600\tIN\tA\t192.0.2.1",
	       "");
	/* In the block with localhost_prefix off, hosts answers instead. */
	expect(s, "localhost.noprefix.test", LDNS_RR_TYPE_A, 0,
	       "localhost.noprefix.test.\t3600\tIN\tA\t192.0.2.2", "");
	sx_test_stop(s);
}

Test(local_integration, counts_localhost_subdomains_only)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	uint16_t port = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");
	char *m, *a, *u;
	long status;

	ask(s, "localhost", LDNS_RR_TYPE_A, &a, &u); /* not counted */
	free(a);
	free(u);
	for (int i = 0; i < 3; i++) {
		ask(s, "x.localhost", LDNS_RR_TYPE_A, &a, &u);
		free(a);
		free(u);
	}
	m = sx_test_http_get(port, "/metrics", &status);
	cr_assert_eq(status, 200);
	cr_expect(strstr(m, "\ncoredns_local_localhost_requests_total 3\n"), "%s", m);
	cr_expect(strstr(m, "# TYPE coredns_local_localhost_requests_total counter"), "%s", m);
	free(m);
	sx_test_stop(s);
}

Test(local_integration, setup_errors)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\tlocal {\n\t\tlocalhost_prefix off\n\t}\n}\n", &out), 0,
	             "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tlocal yes\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/local: wrong argument count"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tlocal {\n\t\tlocalhost_prefix maybe\n\t}\n}\n", &out),
	             1);
	cr_expect(strstr(out, "Corefile:3: plugin/local: localhost_prefix expects 'on' or 'off', "
	                      "got \"maybe\""),
	          "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tlocal {\n\t\tlocalhost_prefix\n\t}\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3: plugin/local:"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tlocal {\n\t\tnoprefix\n\t}\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3: plugin/local: unknown property 'noprefix'"), "%s", out);
	free(out);
}
