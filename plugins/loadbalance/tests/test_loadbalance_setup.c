/* test_loadbalance_setup.c -- the loadbalance directive: snippets that set up, and exact errors. */
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

struct setup_case {
	const char *corefile;
	const char *err; /* NULL: sets up */
};

static const struct setup_case cases[] = {
	{ ".:53 {\n loadbalance\n}\n", NULL },
	{ ".:53 {\n loadbalance round_robin\n}\n", NULL },
	{ ".:53 {\n loadbalance round_robin {\n }\n}\n", NULL },
	{ ".:53 {\n loadbalance weighted db.weights\n}\n",
	  "Corefile:2: plugin/loadbalance: weighted is not supported" },
	{ ".:53 {\n loadbalance weighted db.weights {\n  reload 10s\n }\n}\n",
	  "Corefile:2: plugin/loadbalance: weighted is not supported" },
	{ ".:53 {\n loadbalance {\n  reload 10s\n }\n}\n",
	  "Corefile:2: plugin/loadbalance: reload is only for the weighted policy" },
	{ ".:53 {\n loadbalance round_robin more\n}\n",
	  "Corefile:2: plugin/loadbalance: unknown property for round_robin" },
	{ ".:53 {\n loadbalance random\n}\n",
	  "Corefile:2: plugin/loadbalance: unknown policy: random" },
	{ ".:53 {\n loadbalance {\n  prefer 10.0.0.0/8 fd00::/8\n  prefer 192.0.2.1/32\n }\n}\n",
	  NULL },
	{ ".:53 {\n loadbalance round_robin {\n  prefer 10.0.0.0/8\n }\n}\n", NULL },
	{ ".:53 {\n loadbalance {\n  prefer\n }\n}\n",
	  "Corefile:3: plugin/loadbalance: wrong argument count for 'prefer' (expects at least 1)" },
	{ ".:53 {\n loadbalance {\n  prefer 10.0.0.1\n }\n}\n",
	  "Corefile:3: plugin/loadbalance: invalid CIDR: 10.0.0.1" },
	{ ".:53 {\n loadbalance {\n  prefer 10.0.0.0/33\n }\n}\n",
	  "Corefile:3: plugin/loadbalance: invalid CIDR: 10.0.0.0/33" },
	{ ".:53 {\n loadbalance {\n  prefer 10.0.0.0/\n }\n}\n",
	  "Corefile:3: plugin/loadbalance: invalid CIDR: 10.0.0.0/" },
	{ ".:53 {\n loadbalance {\n  prefer lan/8\n }\n}\n",
	  "Corefile:3: plugin/loadbalance: invalid CIDR: lan/8" },
	{ ".:53 {\n loadbalance {\n  limit_answers 2\n }\n}\n",
	  "Corefile:3: plugin/loadbalance: unknown property 'limit_answers'" },
	{ ".:53 {\n loadbalance\n loadbalance\n}\n",
	  "Corefile:3: plugin/loadbalance: this plugin can only be used once per Server Block" },
};

Test(loadbalance_setup, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sx_config *cfg = NULL;
		char err[512] = "";
		int rc = sx_test_config(cases[i].corefile, "/srv/dns", NULL, &cfg, err,
		                        sizeof(err));

		if (cases[i].err == NULL) {
			cr_expect_eq(rc, 0, "case %zu: %s", i, err);
		} else {
			cr_expect_lt(rc, 0, "case %zu set up", i);
			cr_expect_str_eq(err, cases[i].err, "case %zu", i);
		}
		sx_test_config_free(cfg);
	}
}
