/* test_bind_integration.c -- bind limits the listen addresses; except removes some. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

Test(bind, only_the_bound_address_answers)
{
	struct sx_test_server *s = sx_test_start(NULL, ". {\n\tbind 127.0.0.2\n\twhoami\n}\n");
	ldns_pkt *p;

	cr_assert(strstr(sx_test_log(s), " on 127.0.0.2"), "%s", sx_test_log(s));
	sx_test_set_addr(s, "127.0.0.2");
	p = sx_test_query(s, "b.example", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	sx_test_set_addr(s, "127.0.0.1");
	cr_assert_null(sx_test_query(s, "b.example", LDNS_RR_TYPE_A, 0, 0));
	sx_test_stop(s);
}

Test(bind, interface_with_except)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, ". {\n\tbind lo {\n\t\texcept ::1\n\t}\n\twhoami\n}\n");
	ldns_pkt *p = sx_test_query(s, "b.example", LDNS_RR_TYPE_A, 0, 0);

	cr_assert(p, "127.0.0.1 of lo is served");
	ldns_pkt_free(p);
	sx_test_set_addr(s, "::1");
	cr_assert_null(sx_test_query(s, "b.example", LDNS_RR_TYPE_A, 0, 0), "::1 is excepted");
	sx_test_stop(s);
}

Test(bind, bad_address_is_an_error)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;
	int st;

	sx_test_write(s, "Corefile", ". {\n\tbind 300.1.2.3\n\twhoami\n}\n");
	st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_assert(strstr(out, "Corefile:2: plugin/bind: not a valid IP address or interface name: "
	                      "'300.1.2.3'"),
	          "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(bind, except_names_an_interface)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, ". {\n\tbind 127.0.0.1 127.0.0.2 ::1 {\n\t\texcept lo\n\t}\n\twhoami\n}\n");
	ldns_pkt *p;

	/* lo holds 127.0.0.1 and ::1; 127.0.0.2 lies in its network but is no address of it. */
	sx_test_set_addr(s, "127.0.0.2");
	p = sx_test_query(s, "b.example", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p, "127.0.0.2 is served:\n%s", sx_test_log(s));
	ldns_pkt_free(p);
	sx_test_set_addr(s, "127.0.0.1");
	cr_assert_null(sx_test_query(s, "b.example", LDNS_RR_TYPE_A, 0, 0), "127.0.0.1 is lo's");
	sx_test_set_addr(s, "::1");
	cr_assert_null(sx_test_query(s, "b.example", LDNS_RR_TYPE_A, 0, 0), "::1 is lo's");
	sx_test_stop(s);
}

Test(bind, except_errors_name_their_line)
{
	char *out;

	cr_expect_eq(
	        sx_test_check(". {\n\tbind lo {\n\t\texcept nosuchif0\n\t}\n\twhoami\n}\n", &out),
	        1);
	cr_expect(strstr(out, "Corefile:3: plugin/bind: not a valid IP address or interface name: "
	                      "'nosuchif0'"),
	          "%s", out);
	free(out);
	cr_expect_eq(
	        sx_test_check(". {\n\tbind 127.0.0.1 {\n\t\texcept lo\n\t}\n\twhoami\n}\n", &out),
	        1);
	cr_expect(strstr(out, "Corefile:2: plugin/bind: every address is excepted"), "%s", out);
	free(out);
}
