/* test_whoami_integration.c -- whoami through the real binary over IPv4 and IPv6. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

Test(whoami, ipv4_client_gets_a_and_srv_with_its_port)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind 127.0.0.1\n\twhoami\n}\n");
	ldns_pkt *p = sx_test_query(s, "who.example", LDNS_RR_TYPE_A, 0, 0);
	ldns_rr_list *add;
	ldns_rr *srv = NULL;

	cr_assert(p);
	cr_assert(ldns_pkt_aa(p));
	cr_assert_eq(ldns_pkt_ancount(p), 0);
	add = ldns_pkt_additional(p);
	cr_assert_eq(ldns_rr_list_rr_count(add), 2);
	cr_assert_eq(ldns_rr_get_type(ldns_rr_list_rr(add, 0)), LDNS_RR_TYPE_A);
	srv = ldns_rr_list_rr(add, 1);
	cr_assert_eq(ldns_rr_get_type(srv), LDNS_RR_TYPE_SRV);
	/* A client port is never 0. */
	cr_assert_neq(ldns_rdf2native_int16(ldns_rr_rdf(srv, 2)), 0);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(whoami, ipv6_client_gets_aaaa)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind ::1\n\twhoami\n}\n");
	char *out;

	sx_test_set_addr(s, "::1");
	out = sx_test_dig(s, "who.example AAAA");
	cr_assert(strstr(out, "who.example.\t\t0\tIN\tAAAA\t::1"), "%s", out);
	cr_assert(strstr(out, "_udp.who.example.\t0\tIN\tSRV"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(whoami, takes_no_arguments)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;
	int st;

	sx_test_write(s, "Corefile", ". {\n\twhoami extra\n}\n");
	st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_assert(strstr(out, "Corefile:2:"), "%s", out);
	free(out);
	sx_test_stop(s);
}
