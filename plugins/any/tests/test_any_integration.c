/* test_any_integration.c -- ANY queries through the binary get RFC 8482's HINFO. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static const char corefile[] = "example.org {\n"
                               "\tbind 127.0.0.1\n"
                               "\tany\n"
                               "\thosts {\n"
                               "\t\t192.0.2.1 www.example.org\n"
                               "\t}\n"
                               "}\n";

Test(any_integration, any_gets_the_hinfo_over_udp_and_tcp)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);

	for (int tcp = 0; tcp < 2; tcp++) {
		ldns_pkt *p = sx_test_query(s, "WWW.example.org", LDNS_RR_TYPE_ANY,
		                            tcp ? SX_Q_TCP : 0, 0);
		char *ans;

		cr_assert(p);
		cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		cr_expect_eq(ldns_pkt_ancount(p), 1);
		ans = sx_test_section_str(p, LDNS_SECTION_ANSWER);
		/* The owner keeps the client's case; the text and the TTL are RFC 8482's. */
		cr_expect_str_eq(ans, "WWW.example.org.\t8482\tIN\tHINFO\t\"ANY obsoleted\" "
		                      "\"See RFC 8482\"");
		free(ans);
		ldns_pkt_free(p);
	}
	sx_test_stop(s);
}

Test(any_integration, other_types_go_on_to_the_next_plugin)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	ldns_pkt *p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
	char *ans;

	cr_assert(p);
	ans = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_expect_str_eq(ans, "www.example.org.\t3600\tIN\tA\t192.0.2.1");
	free(ans);
	ldns_pkt_free(p);
	/* A name hosts does not know: ANY is still answered by any, before hosts. */
	p = sx_test_query(s, "nosuch.example.org", LDNS_RR_TYPE_ANY, 0, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	cr_expect_eq(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(any_integration, takes_no_arguments)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\tany\n\twhoami\n}\n", &out), 0, "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tany all\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/any: wrong argument count"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tany\n\tany\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3: plugin/any: this plugin can only be used once"), "%s",
	          out);
	free(out);
}
