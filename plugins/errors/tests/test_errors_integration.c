/* test_errors_integration.c -- errors logs failures, and consolidates them on request. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

Test(errors, logs_rcode_name_type_and_reason)
{
	/* log then nothing: the chain ends, SERVFAIL with the reason. */
	struct sx_test_server *s = sx_test_start(NULL,
	                                         ". {\n\tbind 127.0.0.1\n\terrors\n\tlog\n}\n");
	ldns_pkt *p = sx_test_query(s, "Fail.Example", LDNS_RR_TYPE_AAAA, 0, 0);

	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL);
	cr_assert(
	        sx_test_wait_log(
	                s,
	                "[ERROR] plugin/errors: 2 Fail.Example. AAAA: plugin/log: no next plugin found",
	                30000),
	        "%s", sx_test_log(s));
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(errors, consolidate_counts_matching_errors)
{
	struct sx_test_server *s = sx_test_start(
	        NULL,
	        ". {\n\tbind 127.0.0.1\n\terrors {\n\t\tconsolidate 1s \"no next plugin\" warning\n"
	        "\t}\n\tlog\n}\n");
	int i;

	for (i = 0; i < 5; i++) {
		ldns_pkt *p = sx_test_query(s, "x.example", LDNS_RR_TYPE_A, 0, 0);

		cr_assert(p);
		ldns_pkt_free(p);
	}
	cr_assert(
	        sx_test_wait_log(
	                s,
	                "[WARNING] plugin/errors: 5 errors like 'no next plugin' occurred in last 1s",
	                30000),
	        "%s", sx_test_log(s));
	cr_assert(!strstr(sx_test_log(s), "[ERROR] plugin/errors"), "%s", sx_test_log(s));
	sx_test_stop(s);
}

Test(errors, bad_options_are_rejected)
{
	static const char *const bad[] = {
		". {\n\terrors {\n\t\tconsolidate 5m\n\t}\n}\n",
		". {\n\terrors {\n\t\tconsolidate xx \".*\"\n\t}\n}\n",
		". {\n\terrors {\n\t\tconsolidate 1m \".*\" loud\n\t}\n}\n",
		". {\n\terrors {\n\t\tconsolidate 1m \"(\"\n\t}\n}\n",
		". {\n\terrors {\n\t\tfoo\n\t}\n}\n",
		". {\n\terrors\n\terrors\n}\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sx_test_server *s = sx_test_prepare();
		char *out;
		int st;

		sx_test_write(s, "Corefile", bad[i]);
		st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "case %zu: %s", i, out);
		cr_assert(strstr(out, "Corefile:"), "case %zu: %s", i, out);
		free(out);
		sx_test_stop(s);
	}
}
