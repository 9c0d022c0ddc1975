/* test_loadbalance_setup.c -- the loadbalance directive: snippets that set up, and exact errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	/* A weight file that is not there yet: read when it comes, with reload (30s by default). */
	{ ".:53 {\n loadbalance weighted db.weights\n}\n", NULL },
	{ ".:53 {\n loadbalance weighted db.weights {\n  reload 10s\n }\n}\n", NULL },
	{ ".:53 {\n loadbalance weighted db.weights {\n  reload 0s\n }\n}\n",
	  "Corefile:2: plugin/loadbalance: cannot open weight file /srv/dns/db.weights: No such "
	  "file or directory" },
	{ ".:53 {\n loadbalance weighted\n}\n",
	  "Corefile:2: plugin/loadbalance: weighted needs one WEIGHTFILE" },
	{ ".:53 {\n loadbalance weighted db.weights {\n  reload soon\n }\n}\n",
	  "Corefile:3: plugin/loadbalance: reload: invalid duration 'soon' (examples: 500ms, 30s, "
	  "5m, 1h30m)" },
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

/* Weight files with an error: each one's exact message, with the file's line. */
Test(loadbalance_setup, weight_file_errors)
{
	static const struct {
		const char *text, *err;
	} files[] = {
		{ "www.example.org\n192.0.2.1 3\n", NULL },
		{ "# comment\n\n www.example.org \n 192.0.2.1\t1\n2001:db8::1 255\n"
		  "other.example.org.\n192.0.2.1 2\n",
		  NULL },
		{ "www.example.org\n192.0.2.1 0\n", "w:2: wrong weight value: \"0\" (1 to 255)" },
		{ "www.example.org\n192.0.2.1 256\n",
		  "w:2: wrong weight value: \"256\" (1 to 255)" },
		{ "www.example.org\n192.0.2.1 -1\n", "w:2: wrong weight value: \"-1\" (1 to 255)" },
		{ "www.example.org\n192.0.2.1\n",
		  "w:2: wrong domain name: \"192.0.2.1\" (maybe a missing weight value?)" },
		{ "\n192.0.2.1 3\n", "w:2: missing domain name before \"192.0.2.1\"" },
		{ "www.example.org\n192.0.2.x 3\n", "w:2: wrong IP address: \"192.0.2.x\"" },
		{ "www.example.org\n192.0.2.1 3 4\n",
		  "w:2: could not parse weight line: \"192.0.2.1\"" },
	};
	char dir[] = "/tmp/lbw-XXXXXX", path[64], want[300];

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/w", dir);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct sx_config *cfg = NULL;
		char err[512] = "";
		FILE *f = fopen(path, "w");
		int rc;

		cr_assert(f);
		fputs(files[i].text, f);
		fclose(f);
		rc = sx_test_config(".:53 {\n loadbalance weighted w\n}\n", dir, NULL, &cfg, err,
		                    sizeof(err));
		if (files[i].err == NULL) {
			cr_expect_eq(rc, 0, "file %zu: %s", i, err);
		} else {
			snprintf(want, sizeof(want), "Corefile:2: plugin/loadbalance: %s/%s", dir,
			         files[i].err);
			cr_expect_lt(rc, 0, "file %zu set up", i);
			cr_expect_str_eq(err, want, "file %zu", i);
		}
		sx_test_config_free(cfg);
	}
	unlink(path);
	rmdir(dir);
}
