/* test_edns.c -- EDNS0 in the real binary: OPT echo, error replies, options, truncation, TCP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#define NBIG 60

/* hosts with NBIG addresses for big.example: about 1 KB of answer. */
static struct sx_test_server *
start_big(void)
{
	static char cf[8192];
	size_t n = 0;
	int i;

	n += (size_t)snprintf(cf + n, sizeof(cf) - n, ". {\n\tbind 127.0.0.1\n\thosts {\n");
	for (i = 0; i < NBIG; i++) {
		n += (size_t)snprintf(cf + n, sizeof(cf) - n, "\t\t10.0.%d.%d big.example\n",
		                      i / 250, i % 250 + 1);
	}
	snprintf(cf + n, sizeof(cf) - n, "\t}\n\twhoami\n}\n");
	return sx_test_start(NULL, cf);
}

Test(edns, opt_is_echoed_with_our_payload_size)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind 127.0.0.1\n\twhoami\n}\n");
	ldns_pkt *p = sx_test_query(s, "example.org", LDNS_RR_TYPE_A, SX_Q_DO, 4096);
	ldns_pkt *n = sx_test_query(s, "example.org", LDNS_RR_TYPE_A, SX_Q_NOEDNS, 0);

	cr_assert(p && n);
	cr_assert(ldns_pkt_edns(p), "reply has an OPT record");
	cr_assert_eq(ldns_pkt_edns_udp_size(p), 1232);
	cr_assert_eq(ldns_pkt_edns_version(p), 0);
	cr_assert(ldns_pkt_edns_do(p), "DO echoed");
	cr_assert(!ldns_pkt_edns(n), "no OPT in a reply to a query without one");
	ldns_pkt_free(p);
	ldns_pkt_free(n);
	sx_test_stop(s);
}

Test(edns, version_above_zero_is_badvers)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind 127.0.0.1\n\twhoami\n}\n");
	char *out = sx_test_dig(s, "+edns=1 +noednsneg example.org A");

	cr_assert(strstr(out, "status: BADVERS"), "%s", out);
	cr_assert(strstr(out, "EDNS: version: 0"), "%s", out);
	free(out);
	sx_test_stop(s);
}

/*
 * RFC 6891 section 7, as Knot DNS answers (checked with kdig against knotd): an error reply to a
 * query with OPT carries the question and an OPT, whatever the error.
 */
static void
expect_error_reply(const char *out, const char *status)
{
	char want[64];

	snprintf(want, sizeof(want), "status: %s;", status);
	cr_assert(strstr(out, want), "%s", out);
	cr_assert(strstr(out, "QUERY: 1;"), "question echoed: %s", out);
	cr_assert(strstr(out, "ADDITIONAL: 1"), "OPT in the reply: %s", out);
	cr_assert(strstr(out, "EDNS PSEUDOSECTION"), "%s", out);
	cr_assert(strstr(out, "example.org."), "%s", out);
}

Test(edns, error_replies_carry_question_and_opt)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind 127.0.0.1\n\twhoami\n}\n");
	char *out;

	out = sx_test_kdig(s, "+edns=1 example.org A");
	expect_error_reply(out, "BADVERS");
	cr_assert(strstr(out, "Version: 0;"), "%s", out);
	free(out);
	/* kdig has no opcode option; dig's +opcode sends a NOTIFY with the same OPT. */
	out = sx_test_dig(s, "+opcode=notify +edns=0 example.org A");
	cr_assert(strstr(out, "opcode: NOTIFY, status: NOTIMP"), "%s", out);
	cr_assert(strstr(out, "QUERY: 1,"), "question echoed: %s", out);
	cr_assert(strstr(out, "OPT PSEUDOSECTION"), "%s", out);
	free(out);
	/* RFC 7873: a 7-byte client cookie is malformed. */
	out = sx_test_kdig(s, "+ednsopt=10:01020304050607 example.org A");
	expect_error_reply(out, "FORMERR");
	free(out);
	/* RFC 7871: a 64-bit IPv4 source prefix is malformed. */
	out = sx_test_kdig(s, "+ednsopt=8:00014000C000020000000000 example.org A");
	expect_error_reply(out, "FORMERR");
	free(out);
	sx_test_stop(s);
}

Test(edns, well_formed_cookie_and_subnet_are_answered)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind 127.0.0.1\n\twhoami\n}\n");
	char *out = sx_test_kdig(s, "+cookie +subnet=192.0.2.0/24 example.org A");

	cr_assert(strstr(out, "status: NOERROR;"), "%s", out);
	free(out);
	out = sx_test_kdig(s, "+cookie=0102030405060708090a0b0c0d0e0f10 +subnet=2001:db8::/56 "
	                      "example.org A");
	cr_assert(strstr(out, "status: NOERROR;"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(edns, large_answer_truncates_without_edns_then_dig_retries_over_tcp)
{
	struct sx_test_server *s = start_big();
	ldns_pkt *small = sx_test_query(s, "big.example", LDNS_RR_TYPE_A, SX_Q_NOEDNS, 0);
	ldns_pkt *small_edns = sx_test_query(s, "big.example", LDNS_RR_TYPE_A, 0, 512);
	ldns_pkt *large = sx_test_query(s, "big.example", LDNS_RR_TYPE_A, 0, 1232);
	ldns_pkt *tcp = sx_test_query(s, "big.example", LDNS_RR_TYPE_A, SX_Q_TCP | SX_Q_NOEDNS, 0);
	char *dig;

	cr_assert(small && small_edns && large && tcp);
	cr_assert(ldns_pkt_tc(small), "TC without EDNS");
	cr_assert(ldns_pkt_size(small) <= 512);
	cr_assert(ldns_pkt_tc(small_edns), "TC with a 512-byte EDNS buffer");
	cr_assert(!ldns_pkt_tc(large));
	cr_assert_eq(ldns_pkt_ancount(large), NBIG);
	cr_assert(!ldns_pkt_tc(tcp));
	cr_assert_eq(ldns_pkt_ancount(tcp), NBIG);

	dig = sx_test_dig(s, "+noedns big.example A");
	cr_assert(strstr(dig, "Truncated, retrying in TCP mode"), "%s", dig);
	cr_assert(strstr(dig, "ANSWER: 60,"), "%s", dig);
	free(dig);
	ldns_pkt_free(small);
	ldns_pkt_free(small_edns);
	ldns_pkt_free(large);
	ldns_pkt_free(tcp);
	sx_test_stop(s);
}
