/* test_hosts_setup.c -- the hosts directive: Corefile snippets that set up, and exact errors. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#include "../hosts.h"

extern const struct sx_plugin sx_plugin_hosts;

struct setup_case {
	const char *corefile;
	const char *err; /* NULL: sets up */
};

static const struct setup_case cases[] = {
	{ ".:53 {\n hosts\n}\n", NULL },
	{ ".:53 {\n hosts example.hosts example.org example.net\n}\n", NULL },
	{ ".:53 {\n hosts {\n  10.0.0.1 example.org\n  fallthrough\n }\n}\n", NULL },
	{ ".:53 {\n hosts {\n  ttl 1\n  reload 0\n  no_reverse\n }\n}\n", NULL },
	{ ".:53 {\n hosts {\n  ttl 65535\n  reload 1m30s\n }\n}\n", NULL },
	{ ".:53 {\n hosts {\n  fallthrough in-addr.arpa\n  fallthrough_unsupported\n }\n}\n",
	  NULL },
	/* Several inline lines, even the same line twice, are all host lines. */
	{ ".:53 {\n hosts {\n  10.0.0.1 a.org\n  10.0.0.1 a.org\n  ::1 b.org\n }\n}\n", NULL },
	{ ".:53 {\n hosts {\n  ttl 99999\n }\n}\n",
	  "Corefile:3: plugin/hosts: ttl must be in range [1, 65535], not '99999'" },
	{ ".:53 {\n hosts {\n  ttl 0\n }\n}\n",
	  "Corefile:3: plugin/hosts: ttl must be in range [1, 65535], not '0'" },
	{ ".:53 {\n hosts {\n  ttl\n }\n}\n",
	  "Corefile:3: plugin/hosts: wrong argument count for 'ttl' (expects 1)" },
	{ ".:53 {\n hosts {\n  ttl 30\n  ttl 40\n }\n}\n",
	  "Corefile:4: plugin/hosts: 'ttl' is given twice" },
	{ ".:53 {\n hosts {\n  reload soon\n }\n}\n",
	  "Corefile:3: plugin/hosts: reload: invalid duration 'soon' "
	  "(examples: 500ms, 30s, 5m, 1h30m)" },
	{ ".:53 {\n hosts {\n  no_reverse yes\n }\n}\n",
	  "Corefile:3: plugin/hosts: wrong argument count for 'no_reverse' (expects 0)" },
	/* As in CoreDNS, a line after fallthrough is an option, not a host line. */
	{ ".:53 {\n hosts {\n  fallthrough\n  10.0.0.1 example.org\n }\n}\n",
	  "Corefile:4: plugin/hosts: unknown property '10.0.0.1'" },
	{ ".:53 {\n hosts {\n  fallthrough_unsupported\n }\n}\n",
	  "Corefile:2: plugin/hosts: fallthrough_unsupported requires fallthrough" },
	{ ".:53 {\n hosts\n hosts other.hosts\n}\n",
	  "Corefile:3: plugin/hosts: this plugin can only be used once per Server Block" },
};

static struct sx_config *
parse(const char *corefile, char *err, size_t errlen, int *rc)
{
	struct sx_config *cfg = NULL;
	err[0] = '\0';
	*rc = sx_test_config(corefile, "/srv/dns", NULL, &cfg, err, errlen);
	return cfg;
}

static struct hosts *
instance(struct sx_config *cfg)
{
	void *inst = sx_test_instance(cfg, 0, &sx_plugin_hosts, 0);

	cr_assert(inst, "no hosts instance");
	return inst;
}

Test(hosts_setup, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512];
		int rc;
		struct sx_config *cfg = parse(cases[i].corefile, err, sizeof(err), &rc);
		if (cases[i].err == NULL) {
			cr_expect_eq(rc, 0, "case %zu: %s", i, err);
		} else {
			cr_expect_lt(rc, 0, "case %zu set up", i);
			cr_expect_str_eq(err, cases[i].err, "case %zu", i);
		}
		sx_test_config_free(cfg);
	}
}

Test(hosts_setup, defaults)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse("example.org:53 {\n hosts\n}\n", err, sizeof(err), &rc);
	cr_assert_eq(rc, 0, "%s", err);
	struct hosts *h = instance(cfg);
	cr_assert_str_eq(h->path, "/etc/hosts");
	cr_assert_eq(h->ttl, 3600);
	cr_assert_eq(h->reload_ms, 5000);
	cr_assert_eq(h->zones.n, 1);
	cr_assert_str_eq(h->zones.z[0].name, "example.org.");
	cr_assert_eq(h->fall.n, 0);
	cr_assert_not(h->no_reverse);
	cr_assert_null(h->inline_text);
	sx_test_config_free(cfg);
}

Test(hosts_setup, file_zones_and_options)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse(".:53 {\n hosts my.hosts Example.ORG example.net {\n"
	                              "  10.0.0.1 a.example.org\n  ::1   b.example.org c\n"
	                              "  ttl 30\n  reload 0\n  no_reverse\n"
	                              "  fallthrough example.net\n }\n}\n",
	                              err, sizeof(err), &rc);
	cr_assert_eq(rc, 0, "%s", err);
	struct hosts *h = instance(cfg);
	/* A relative file is read from the Corefile's directory. */
	cr_assert_str_eq(h->path, "/srv/dns/my.hosts");
	cr_assert_eq(h->zones.n, 2);
	cr_assert_str_eq(h->zones.z[0].name, "example.org.");
	cr_assert_str_eq(h->zones.z[1].name, "example.net.");
	cr_assert_eq(h->ttl, 30);
	cr_assert_eq(h->reload_ms, 0);
	cr_assert(h->no_reverse);
	cr_assert_eq(h->fall.n, 1);
	cr_assert_str_eq(h->fall.z[0].name, "example.net.");
	cr_assert_str_eq(h->inline_text, "10.0.0.1 a.example.org\n::1 b.example.org c\n");
	sx_test_config_free(cfg);
}

Test(hosts_setup, bare_fallthrough_covers_the_block)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse("example.org:53 {\n hosts {\n  fallthrough\n }\n}\n", err,
	                              sizeof(err), &rc);
	cr_assert_eq(rc, 0, "%s", err);
	struct hosts *h = instance(cfg);
	cr_assert_eq(h->fall.n, 1);
	cr_assert_str_eq(h->fall.z[0].name, "example.org.");
	sx_test_config_free(cfg);
}

Test(hosts_setup, absolute_path_kept)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse(".:53 {\n hosts /etc/other-hosts\n}\n", err, sizeof(err),
	                              &rc);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(instance(cfg)->path, "/etc/other-hosts");
	sx_test_config_free(cfg);
}
