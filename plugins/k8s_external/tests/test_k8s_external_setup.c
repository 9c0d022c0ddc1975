/* test_k8s_external_setup.c -- the k8s_external directive: snippets that set up, exact errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

struct setup_case {
	const char *corefile;
	const char *err; /* NULL: sets up */
};

#define K "kubernetes cluster.local {\n  manifests /nonexistent\n }\n"
#define P "Corefile:5: plugin/k8s_external: "
#define B "Corefile:6: plugin/k8s_external: "

static const struct setup_case cases[] = {
	{ ". {\n " K " k8s_external example.org\n}\n", NULL },
	{ ". {\n k8s_external example.org example.net\n " K "}\n", NULL },
	{ "example.org {\n " K " k8s_external\n}\n", NULL },
	{ ". {\n " K " k8s_external example.org {\n  apex dns.sub\n  ttl 0\n  headless\n"
	  "  fallthrough\n }\n}\n",
	  NULL },
	{ ". {\n " K " k8s_external example.org {\n  fallthrough a.example.org\n }\n}\n", NULL },
	{ ". {\n whoami\n k8s_external example.org\n}\n",
	  "Corefile:3: plugin/k8s_external: needs the kubernetes plugin in its server block" },
	{ ". {\n " K " k8s_external example.org {\n  ttl 3601\n }\n}\n",
	  B "ttl must be in range [0, 3600], not '3601'" },
	{ ". {\n " K " k8s_external example.org {\n  ttl -1\n }\n}\n",
	  B "ttl must be in range [0, 3600], not '-1'" },
	{ ". {\n " K " k8s_external example.org {\n  apex\n }\n}\n",
	  B "wrong argument count for 'apex' (expects 1)" },
	{ ". {\n " K " k8s_external example.org {\n  apex .\n }\n}\n",
	  B "apex: invalid name \".\"" },
	{ ". {\n " K " k8s_external example.org {\n  headless yes\n }\n}\n",
	  B "wrong argument count for 'headless' (expects 0)" },
	{ ". {\n " K " k8s_external example.org {\n  bogus\n }\n}\n",
	  B "unknown property 'bogus'" },
	{ ". {\n " K " k8s_external example.org\n k8s_external example.net\n}\n",
	  B "this plugin can only be used once per Server Block" },
	{ ". {\n " K " k8s_external bad..name\n}\n",
	  P "zone 'bad..name' is not a valid domain name" },
};

Test(k8s_external_setup, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sx_config *cfg = NULL;
		char err[512] = "";
		int rc = sx_test_config(cases[i].corefile, "/tmp", NULL, &cfg, err, sizeof(err));

		if (cases[i].err == NULL) {
			cr_expect_eq(rc, 0, "<%s>: %s", cases[i].corefile, err);
		} else {
			cr_expect_lt(rc, 0, "<%s> set up", cases[i].corefile);
			cr_expect_str_eq(err, cases[i].err, "<%s>", cases[i].corefile);
		}
		sx_test_config_free(cfg);
	}
}

/* `sextant -check` says the same, with the file and line, and exits 1. */
Test(k8s_external_setup, check_flag)
{
	char *out = NULL;
	int rc = sx_test_check(". {\n kubernetes cluster.local\n k8s_external example.org {\n"
	                       "  ttl lots\n }\n}\n",
	                       &out);

	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "Corefile:4: plugin/k8s_external: ttl must be in range [0, 3600], "
	                      "not 'lots'") != NULL,
	          "%s", out);
	free(out);
	rc = sx_test_check(". {\n kubernetes cluster.local\n k8s_external example.org {\n"
	                   "  apex ns\n  headless\n  fallthrough\n }\n}\n",
	                   &out);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
}
