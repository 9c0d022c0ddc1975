/* test_forward_setup.c -- forward's Corefile syntax: snippets that set up, and exact errors. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#include "../fwd.h"

extern const struct sx_plugin sx_plugin_forward;

static const struct sx_plugin *const table[] = { &sx_plugin_forward, NULL };
static char dir[] = "/tmp/sx-fwd-setup-XXXXXX";

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	cr_assert(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
make_dir(void)
{
	cr_assert(mkdtemp(dir));
	write_file("resolv.conf", "# generated\nsearch example.org\nnameserver 127.0.0.53\n"
	                          "options ndots:5\nnameserver ::1\nnameserver bogus\n");
	write_file("empty.conf", "search example.org\n");
}

static void
remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert(system(cmd) == 0);
}

TestSuite(forward_setup, .init = make_dir, .fini = remove_dir);

static struct sx_config *
parse(const char *corefile, char *err, size_t errlen, int *rc)
{
	struct sx_test_opts opts = { .plugins = table, .default_port = 53, .workers = 2 };
	struct sx_config *cfg = NULL;

	err[0] = '\0';
	*rc = sx_test_config(corefile, dir, &opts, &cfg, err, errlen);
	return cfg;
}

static struct fwd *
instance(struct sx_config *cfg, size_t nth)
{
	void *inst = sx_test_instance(cfg, 0, &sx_plugin_forward, nth);

	cr_assert(inst, "no forward instance");
	return inst;
}

struct setup_case {
	const char *corefile;
	const char *err; /* NULL: sets up; else the exact message ("%D": the Corefile's dir) */
};

static const struct setup_case cases[] = {
	{ ". {\n forward . 127.0.0.1\n}\n", NULL },
	{ ". {\n forward . 127.0.0.1:5353 [::1]:53 dns://127.0.0.2 ::1 tls://127.0.0.3\n}\n",
	  NULL },
	{ ". {\n forward . resolv.conf\n}\n", NULL },
	{ ". {\n forward example.org 127.0.0.1\n forward . 127.0.0.2\n}\n", NULL },
	{ ". {\n forward . 127.0.0.1 {\n  except example.org example.net\n  force_tcp\n"
	  "  expire 0s\n  max_fails 0\n  read_timeout 500ms\n  policy sequential\n"
	  "  health_check 1s\n  max_concurrent 1000\n  next NXDOMAIN SERVFAIL\n"
	  "  failover REFUSED\n }\n}\n",
	  NULL },
	{ ". {\n forward . tls://127.0.0.1 {\n  tls\n  tls_servername dns.test\n }\n}\n", NULL },
	{ ". {\n forward\n}\n",
	  "Corefile:2: plugin/forward: Wrong argument count or unexpected line ending after "
	  "'forward'" },
	{ ". {\n forward .\n}\n",
	  "Corefile:2: plugin/forward: Wrong argument count or unexpected line ending after '.'" },
	{ ". {\n forward . nowhere.example\n}\n",
	  "Corefile:2: plugin/forward: not an IP address or file: 'nowhere.example'" },
	{ ". {\n forward . 127.0.0.1:0\n}\n",
	  "Corefile:2: plugin/forward: not an IP address or file: '127.0.0.1:0'" },
	{ ". {\n forward . https://127.0.0.1\n}\n",
	  "Corefile:2: plugin/forward: unsupported transport in 'https://127.0.0.1' "
	  "(dns:// and tls:// are)" },
	{ ". {\n forward . 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6 127.0.0.7"
	  " 127.0.0.8 127.0.0.9 127.0.0.10 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14"
	  " 127.0.0.15 127.0.0.16\n}\n",
	  "Corefile:2: plugin/forward: more than 15 TOs configured: 16" },
	{ ". {\n forward . empty.conf\n}\n",
	  "Corefile:2: plugin/forward: no nameservers found in empty.conf" },
	{ ". {\n forward example..org 127.0.0.1\n}\n",
	  "Corefile:2: plugin/forward: not a valid domain name: 'example..org'" },
	{ ". {\n forward . 127.0.0.1 {\n  policy fastest\n }\n}\n",
	  "Corefile:3: plugin/forward: unknown policy 'fastest'" },
	{ ". {\n forward . 127.0.0.1 {\n  force_tcp\n  prefer_udp\n }\n}\n",
	  "Corefile:2: plugin/forward: both force_tcp and prefer_udp configured" },
	{ ". {\n forward . 127.0.0.1 {\n  next NOERROR BOGUS\n }\n}\n",
	  "Corefile:3: plugin/forward: BOGUS is not a valid rcode" },
	{ ". {\n forward . 127.0.0.1 {\n  failover SERVFAIL noerror\n }\n}\n",
	  "Corefile:3: plugin/forward: NoError cannot be used in failover" },
	{ ". {\n forward . 127.0.0.1 {\n  max_fails -1\n }\n}\n",
	  "Corefile:3: plugin/forward: max_fails must be in range [0, 4294967295], not '-1'" },
	{ ". {\n forward . 127.0.0.1 {\n  expire soon\n }\n}\n",
	  "Corefile:3: plugin/forward: expire: invalid duration 'soon' "
	  "(examples: 500ms, 30s, 5m, 1h30m)" },
	{ ". {\n forward . 127.0.0.1 {\n  health_check 0s\n }\n}\n",
	  "Corefile:3: plugin/forward: health_check must be at least 1ms, not '0s'" },
	{ ". {\n forward . 127.0.0.1 {\n  force_tcp\n  force_tcp\n }\n}\n",
	  "Corefile:4: plugin/forward: 'force_tcp' is given twice" },
	{ ". {\n forward . 127.0.0.1 {\n  health_check 1s no_rec domain example..org\n }\n}\n",
	  "Corefile:3: plugin/forward: health_check: invalid domain name example..org" },
	{ ". {\n forward . 127.0.0.1 {\n  health_check 1s no_rec domain\n }\n}\n",
	  "Corefile:3: plugin/forward: Wrong argument count or unexpected line ending after "
	  "'domain'" },
	{ ". {\n forward . 127.0.0.1 {\n  health_check 1s rec\n }\n}\n",
	  "Corefile:3: plugin/forward: health_check: unknown option rec" },
	{ ". {\n forward . 127.0.0.1 {\n  health_check 1s no_rec domain a. b.\n }\n}\n",
	  "Corefile:3: plugin/forward: wrong argument count for 'health_check' (expects 1 to 4)" },
	{ ". {\n forward . 127.0.0.1 {\n  source_address eth0\n }\n}\n",
	  "Corefile:3: plugin/forward: source_address: invalid IP address 'eth0'" },
	{ ". {\n forward . 127.0.0.1 {\n  failfast_all_unhealthy_upstreams yes\n }\n}\n",
	  "Corefile:3: plugin/forward: wrong argument count for 'failfast_all_unhealthy_upstreams' "
	  "(expects 0)" },
	{ ". {\n forward . 127.0.0.1 {\n  max_idle_conns -5\n }\n}\n",
	  "Corefile:3: plugin/forward: max_idle_conns must be in range [0, 4294967295], not '-5'" },
	{ ". {\n forward . 127.0.0.1 {\n  tls a b c d\n }\n}\n",
	  "Corefile:3: plugin/forward: wrong argument count for 'tls' (expects 0 to 3)" },
	{ ". {\n forward . tls://127.0.0.1 {\n  tls missing-ca.pem\n }\n}\n",
	  "Corefile:2: plugin/forward: cannot load CA %D/missing-ca.pem: " },
};

static char *
expand(const char *s)
{
	char *out = malloc(strlen(s) + 256), *o = out;

	for (; *s; s++) {
		if (s[0] == '%' && s[1] == 'D') {
			o = stpcpy(o, dir);
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

Test(forward_setup, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[1024];
		int rc;
		struct sx_config *cfg = parse(cases[i].corefile, err, sizeof(err), &rc);

		if (cases[i].err == NULL) {
			cr_expect_eq(rc, 0, "case %zu: %s", i, err);
		} else {
			char *want = expand(cases[i].err);

			cr_expect_lt(rc, 0, "case %zu set up", i);
			/* Ending in ": ", OpenSSL's reason follows: compare the prefix. */
			if (want[strlen(want) - 1] == ' ') {
				cr_expect_eq(strncmp(err, want, strlen(want)), 0, "case %zu: %s", i,
				             err);
			} else {
				cr_expect_str_eq(err, want, "case %zu", i);
			}
			free(want);
		}
		sx_test_config_free(cfg);
	}
}

Test(forward_setup, defaults_are_corednss)
{
	char err[1024];
	int rc;
	struct sx_config *cfg = parse(". {\n forward . 127.0.0.1\n}\n", err, sizeof(err), &rc);
	struct fwd *f;

	cr_assert_eq(rc, 0, "%s", err);
	f = instance(cfg, 0);
	cr_assert_eq(f->expire_ms, 10000);
	cr_assert_eq(f->max_fails, 2);
	cr_assert_eq(f->hc_ms, 500);
	cr_assert_eq(f->read_timeout_ms, 2000);
	cr_assert_eq(f->policy, FWD_POLICY_RANDOM);
	cr_assert_eq(f->max_concurrent, 0);
	cr_assert_eq(f->max_idle_conns, 0); /* no cap, as CoreDNS */
	cr_assert_not(f->force_tcp);
	cr_assert_not(f->prefer_udp);
	cr_assert_eq(f->nup, 1);
	cr_assert_str_eq(f->up[0].name, "127.0.0.1:53");
	cr_assert_str_eq(f->from.z[0].name, ".");
	cr_assert_eq(f->nworkers, 2);
	sx_test_config_free(cfg);
}

Test(forward_setup, upstream_forms)
{
	char err[1024];
	int rc;
	struct sx_config *cfg = parse(
	        ". {\n forward Example.ORG 127.0.0.1:5353 [::1]:54 dns://127.0.0.2 ::1 "
	        "tls://127.0.0.3 tls://[::1] resolv.conf\n}\n",
	        err, sizeof(err), &rc);
	struct fwd *f;
	static const char *const names[] = {
		"127.0.0.1:5353", "[::1]:54",  "127.0.0.2:53",  "[::1]:53",
		"127.0.0.3:853",  "[::1]:853", "127.0.0.53:53", "[::1]:53",
	};

	cr_assert_eq(rc, 0, "%s", err);
	f = instance(cfg, 0);
	cr_assert_str_eq(f->from.z[0].name, "example.org.");
	cr_assert_eq(f->nup, 8);
	for (unsigned i = 0; i < f->nup; i++) {
		cr_expect_str_eq(f->up[i].name, names[i], "upstream %u", i);
		cr_expect_eq(f->up[i].tls, i == 4 || i == 5, "upstream %u", i);
	}
	cr_assert(f->ssl, "tls:// upstreams need a TLS context");
	sx_test_config_free(cfg);
}

Test(forward_setup, options)
{
	char err[1024];
	int rc;
	struct sx_config *cfg = parse(
	        ". {\n forward 10.0.0.0/8 127.0.0.1 {\n  except Foo.10.in-addr.arpa\n  prefer_udp\n"
	        "  expire 1m\n  max_fails 5\n  policy round_robin\n"
	        "  health_check 250ms no_rec domain Example.NET\n"
	        "  max_idle_conns 3\n  max_concurrent 7\n  next nxdomain SERVFAIL\n  next_on_nodata\n  failover REFUSED\n"
	        "  failfast_all_unhealthy_upstreams\n }\n"
	        " forward 2001:db8::/30 127.0.0.2\n}\n",
	        err, sizeof(err), &rc);
	struct fwd *f;

	cr_assert_eq(rc, 0, "%s", err);
	f = instance(cfg, 0);
	cr_assert_str_eq(f->from.z[0].name, "10.in-addr.arpa.");
	cr_assert_eq(f->except.n, 1);
	cr_assert_str_eq(f->except.z[0].name, "foo.10.in-addr.arpa.");
	cr_assert(f->prefer_udp);
	cr_assert_eq(f->expire_ms, 60000);
	cr_assert_eq(f->max_fails, 5);
	cr_assert_eq(f->policy, FWD_POLICY_ROUND_ROBIN);
	cr_assert_eq(f->hc_ms, 250);
	cr_assert_eq(f->max_concurrent, 7);
	cr_assert_eq(f->max_idle_conns, 3);
	cr_assert_eq(f->next_rcodes, (1u << 3) | (1u << 2));
	cr_assert_eq(f->failover_rcodes, 1u << 5);
	cr_assert(f->next_nodata);
	cr_assert(f->failfast);
	cr_assert(f->hc_no_rec);
	cr_assert_eq(memcmp(f->hc_domain, "\7example\3net", 13), 0);
	/* Probes ask ". NS" with RD by default. */
	cr_assert_not(instance(cfg, 1)->hc_no_rec);
	cr_assert_eq(instance(cfg, 1)->hc_domain[0], 0);
	/* Only a forward with another after it hands queries on. */
	cr_assert(f->next_forward);
	cr_assert_not(instance(cfg, 1)->next_forward);
	/* Off a nibble boundary, the first subnet's zone, as CoreDNS takes. */
	cr_assert_str_eq(instance(cfg, 1)->from.z[0].name, "8.b.d.0.1.0.0.2.ip6.arpa.");
	sx_test_config_free(cfg);
}
