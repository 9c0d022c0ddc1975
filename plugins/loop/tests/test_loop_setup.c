/* test_loop_setup.c -- the loop directive: what sets up, the exact errors, the probe name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

extern const struct sx_plugin sx_plugin_loop;

static const struct sx_plugin *const table[] = { &sx_plugin_loop, NULL };

static int
parse(const char *corefile, char *err, size_t errlen, struct sx_config **cfg)
{
	struct sx_test_opts opts = { .plugins = table, .default_port = 53, .workers = 1 };

	err[0] = '\0';
	*cfg = NULL;
	return sx_test_config(corefile, "/tmp", &opts, cfg, err, errlen);
}

Test(loop_setup, table)
{
	static const struct {
		const char *corefile, *err;
	} cases[] = {
		{ ". {\n loop\n}\n", NULL },
		{ "example.org:1053 {\n loop\n}\n", NULL },
		{ ". {\n loop now\n}\n",
		  "Corefile:2: plugin/loop: Wrong argument count or unexpected line ending "
		  "after 'now'" },
		{ ". {\n loop {\n  fast\n }\n}\n",
		  "Corefile:2: plugin/loop: unexpected block: loop takes no options" },
		{ ". {\n loop\n loop\n}\n",
		  "Corefile:3: plugin/loop: this plugin can only be used once per Server Block" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sx_config *cfg;
		char err[1024];
		int rc = parse(cases[i].corefile, err, sizeof(err), &cfg);

		if (!cases[i].err) {
			cr_expect_eq(rc, 0, "case %zu: %s", i, err);
		} else {
			cr_expect_lt(rc, 0, "case %zu set up", i);
			cr_expect_str_eq(err, cases[i].err, "case %zu", i);
		}
		sx_test_config_free(cfg);
	}
}
