/* test_minimal_integration.c -- minimal through the binary on a zone's answers, denials, referrals. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static const char zone[] = "$ORIGIN example.org.\n"
                           "$TTL 300\n"
                           "@     SOA ns1 hostmaster 1 7200 1800 86400 30\n"
                           "@     NS  ns1\n"
                           "ns1   A   192.0.2.53\n"
                           "www   A   192.0.2.1\n"
                           "mail  A   192.0.2.25\n"
                           "@     MX  10 mail\n"
                           "sub   NS  ns.sub\n"
                           "ns.sub A  192.0.2.99\n";

static struct sx_test_server *
start(bool minimal)
{
	struct sx_test_server *s = sx_test_prepare();

	sx_test_write(s, "db.example.org", zone);
	return sx_test_start(s, minimal ? "example.org:0 {\n\tbind 127.0.0.1\n\tminimal\n"
	                                  "\tfile %DIR%/db.example.org\n}\n"
	                                : "example.org:0 {\n\tbind 127.0.0.1\n"
	                                  "\tfile %DIR%/db.example.org\n}\n");
}

/* Counts of the answer, authority and additional sections (OPT not counted by ldns). */
static void
counts(struct sx_test_server *s, const char *name, ldns_rr_type t, int rcode, int an, int ns,
       int ar)
{
	ldns_pkt *p = sx_test_query(s, name, t, 0, 0);

	cr_assert(p, "%s", name);
	cr_expect_eq((int)ldns_pkt_get_rcode(p), rcode, "%s rcode", name);
	cr_expect_eq(ldns_pkt_ancount(p), an, "%s answer", name);
	cr_expect_eq(ldns_pkt_nscount(p), ns, "%s authority", name);
	cr_expect_eq(ldns_pkt_arcount(p), ar, "%s additional", name);
	cr_expect(ldns_pkt_edns(p), "%s keeps its OPT", name);
	ldns_pkt_free(p);
}

Test(minimal_integration, positive_replies_keep_the_answer_alone)
{
	struct sx_test_server *full = start(false), *s = start(true);

	/* The zone alone gives MX its authority NS and the exchanger's address. */
	counts(full, "example.org", LDNS_RR_TYPE_MX, 0, 1, 1, 1);
	counts(s, "example.org", LDNS_RR_TYPE_MX, 0, 1, 0, 0);
	counts(s, "www.example.org", LDNS_RR_TYPE_A, 0, 1, 0, 0);
	sx_test_stop(full);
	sx_test_stop(s);
}

Test(minimal_integration, denials_and_referrals_go_out_whole)
{
	struct sx_test_server *s = start(true);

	counts(s, "nosuch.example.org", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, 0, 1, 0); /* SOA */
	counts(s, "www.example.org", LDNS_RR_TYPE_TXT, 0, 0, 1, 0);                    /* NODATA */
	counts(s, "host.sub.example.org", LDNS_RR_TYPE_A, 0, 0, 1, 1); /* NS and its glue */
	sx_test_stop(s);
}

Test(minimal_integration, takes_no_arguments)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\tminimal yes\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/minimal: wrong argument count"), "%s", out);
	free(out);
}
