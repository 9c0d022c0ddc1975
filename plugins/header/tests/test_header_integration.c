/* test_header_integration.c -- header rules through the binary, on local and forwarded replies. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

Test(header_integration, response_rules_last_one_wins)
{
	struct sx_test_server *s = sx_test_start(NULL, "example.org:0 {\n"
	                                               "\tbind 127.0.0.1\n"
	                                               "\theader {\n"
	                                               "\t\tset ra aa\n"
	                                               "\t\tresponse clear AA rd\n"
	                                               "\t}\n"
	                                               "\thosts {\n"
	                                               "\t\t192.0.2.1 www.example.org\n"
	                                               "\t}\n"
	                                               "}\n"
	                                               "example.net:0 {\n"
	                                               "\tbind 127.0.0.1\n"
	                                               "\thosts {\n"
	                                               "\t\t192.0.2.1 www.example.net\n"
	                                               "\t}\n"
	                                               "}\n");
	for (int tcp = 0; tcp < 2; tcp++) {
		ldns_pkt *p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A,
		                            tcp ? SX_Q_TCP : 0, 0);

		cr_assert(p);
		cr_expect(ldns_pkt_ra(p));
		cr_expect(!ldns_pkt_aa(p), "cleared after it was set");
		cr_expect(!ldns_pkt_rd(p));
		cr_expect_eq(ldns_pkt_ancount(p), 1);
		ldns_pkt_free(p);
	}
	/* Errors are replies too. */
	ldns_pkt *p = sx_test_query(s, "nosuch.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect(ldns_pkt_ra(p));
	ldns_pkt_free(p);
	/* The other block has no header: hosts' AA and the client's RD stay. */
	p = sx_test_query(s, "www.example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect(!ldns_pkt_ra(p));
	cr_expect(ldns_pkt_aa(p));
	cr_expect(ldns_pkt_rd(p));
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(header_integration, query_rules_change_what_goes_upstream)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	char corefile[256], *an;
	struct sx_test_server *s;
	ldns_pkt *p;

	snprintf(corefile, sizeof(corefile),
	         ".:0 {\n\tbind 127.0.0.1\n\theader {\n\t\tquery clear rd\n\t\tset ra\n\t}\n"
	         "\tforward . 127.0.0.1:%u\n}\n",
	         sx_up_port(up));
	s = sx_test_start(NULL, corefile);
	p = sx_test_query(s, "echo.example.org", LDNS_RR_TYPE_TXT, 0, 0);
	cr_assert(p);
	an = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_expect(strstr(an, "\"rd=0 "), "%s", an);
	cr_expect(!ldns_pkt_rd(p), "the reply echoes the query as changed");
	cr_expect(ldns_pkt_ra(p));
	free(an);
	ldns_pkt_free(p);
	sx_test_stop(s);
	sx_up_stop(up);
}

static void
check_error(const char *rules, const char *want)
{
	char corefile[256], *out;

	snprintf(corefile, sizeof(corefile), ". {\n\theader {\n%s\t}\n\twhoami\n}\n", rules);
	cr_expect_eq(sx_test_check(corefile, &out), 1, "%s", rules);
	cr_expect(strstr(out, want), "%s: want \"%s\" in: %s", rules, want, out);
	free(out);
}

Test(header_integration, setup)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\theader {\n\t\tset ra\n\t\tquery set rd\n\t\tresponse "
	                           "clear aa\n\t}\n\twhoami\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
	check_error("\t\tforce ra\n",
	            "Corefile:3: plugin/header: setting up rule: invalid selector=force should be "
	            "query or response");
	check_error("\t\tquery\n", "Corefile:3: plugin/header: setting up rule: no flag action "
	                           "provided");
	check_error(
	        "\t\tresponse toggle ra\n",
	        "Corefile:3: plugin/header: setting up rule: unknown flag action=toggle, should "
	        "be set or clear");
	check_error("\t\tset\n", "Corefile:3: plugin/header: setting up rule: invalid length for "
	                         "flags, at least one should be provided");
	check_error("\t\tset ra tc\n",
	            "Corefile:3: plugin/header: setting up rule: unknown/unsupported flag=tc");
	check_error("", "Corefile:2: plugin/header: header needs at least one rule in its block");
	cr_expect_eq(sx_test_check(". {\n\theader\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/header: header needs at least one rule"), "%s",
	          out);
	free(out);
}

/*
 * A request holds a fixed number of reply hooks; once rewrite's rules have
 * taken them all, header cannot change the reply it promised to, and says so
 * with SERVFAIL rather than answering with the wrong flags.
 */
Test(header_integration, no_room_for_its_reply_hook_is_servfail)
{
	char corefile[2048];
	size_t n = 0;
	struct sx_test_server *s;
	ldns_pkt *p;

	n += (size_t)snprintf(corefile + n, sizeof(corefile) - n,
	                      ".:0 {\n\tbind 127.0.0.1\n\terrors\n"
	                      "\theader {\n\t\tresponse set ra\n\t}\n");
	for (int i = 0; i < 16; i++) {
		n += (size_t)snprintf(corefile + n, sizeof(corefile) - n,
		                      "\trewrite continue ttl exact full.example.org %d\n", 30 + i);
	}
	snprintf(corefile + n, sizeof(corefile) - n,
	         "\thosts {\n\t\t192.0.2.1 full.example.org\n\t\t192.0.2.2 "
	         "room.example.org\n\t}\n}\n");
	s = sx_test_start(NULL, corefile);

	p = sx_test_query(s, "full.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	cr_expect(sx_test_wait_log(s, "plugin/header: too many reply hooks", 10000), "%s",
	          sx_test_log(s));
	/* The rewrite rules do not match this name: header has room and sets RA. */
	p = sx_test_query(s, "room.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	cr_expect(ldns_pkt_ra(p));
	ldns_pkt_free(p);
	sx_test_stop(s);
}
