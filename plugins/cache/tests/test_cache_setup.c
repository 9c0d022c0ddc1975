/* test_cache_setup.c -- the cache directive: snippets that set up, exact errors, values. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#include "../cache.h"

extern const struct sx_plugin sx_plugin_cache;

struct setup_case {
	const char *corefile;
	const char *err; /* NULL: sets up */
};

#define P "Corefile:2: plugin/cache: "
#define B "Corefile:3: plugin/cache: "

static const struct setup_case cases[] = {
	{ ".:53 {\n cache\n}\n", NULL },
	{ ".:53 {\n cache 30\n}\n", NULL },
	{ ".:53 {\n cache example.org\n}\n", NULL },
	{ ".:53 {\n cache 30 example.org example.net\n}\n", NULL },
	{ ".:53 {\n cache 30 {\n  disable success cluster.local\n  disable denial cluster.local\n"
	  " }\n}\n",
	  NULL },
	{ ".:53 {\n cache {\n  success 5000 60 10\n  denial 2500 30 1\n  prefetch 10 1m 20%\n"
	  "  serve_stale 1h verify\n  servfail 10s\n  keepttl\n }\n}\n",
	  NULL },
	{ ".:53 {\n cache {\n  prefetch 2\n  serve_stale\n  servfail 0\n  disable success\n }\n}\n",
	  NULL },
	{ ".:53 {\n cache {\n  serve_stale 30s immediate\n  success 10\n }\n}\n", NULL },
	{ ".:53 {\n cache {\n  serve_stale 10s VERIFY\n }\n}\n", NULL },
	{ ".:53 {\n cache {\n  serve_stale 10s verify 150ms\n }\n}\n", NULL },
	{ ".:53 {\n cache 0\n}\n", P "cache TTL can not be zero or negative: 0" },
	{ ".:53 {\n cache -5 example.org\n}\n", P "cache TTL can not be zero or negative: -5" },
	{ ".:53 {\n cache 4294967296\n}\n", P "cache TTL can not be above 2147483647: 4294967296" },
	{ ".:53 {\n cache {\n  success\n }\n}\n",
	  B "wrong argument count for 'success' (expects 1 to 3)" },
	{ ".:53 {\n cache {\n  denial 1 2 3 4\n }\n}\n",
	  B "wrong argument count for 'denial' (expects 1 to 3)" },
	{ ".:53 {\n cache {\n  success lots\n }\n}\n", B "capacity must be a number, not 'lots'" },
	{ ".:53 {\n cache {\n  success 100 0\n }\n}\n",
	  B "cache TTL can not be zero or negative: 0" },
	{ ".:53 {\n cache {\n  success 100 1m\n }\n}\n", B "TTL must be a number, not '1m'" },
	{ ".:53 {\n cache {\n  denial 100 10 -1\n }\n}\n",
	  B "cache min TTL can not be negative: -1" },
	{ ".:53 {\n cache {\n  success 1000000000\n }\n}\n",
	  B "capacity can not be above 100000000: 1000000000" },
	{ ".:53 {\n cache {\n  prefetch -1\n }\n}\n", B "prefetch amount should be positive: -1" },
	{ ".:53 {\n cache {\n  prefetch 1 1m 20\n }\n}\n",
	  B "last character of percentage should be `%`, but is: '0'" },
	{ ".:53 {\n cache {\n  prefetch 1 1m 5%\n }\n}\n",
	  B "percentage should fall in range [10, 90]: 5" },
	{ ".:53 {\n cache {\n  prefetch 1 1m 91%\n }\n}\n",
	  B "percentage should fall in range [10, 90]: 91" },
	{ ".:53 {\n cache {\n  prefetch 1 1m x%\n }\n}\n",
	  B "percentage must be a number, not 'x%'" },
	{ ".:53 {\n cache {\n  prefetch 1 soon\n }\n}\n", B "prefetch: invalid duration 'soon'" },
	/* Quoted empty arguments: once read before the string and stored an unset TTL. */
	{ ".:53 {\n cache {\n  prefetch 1 1m \"\"\n }\n}\n",
	  B "percentage must be a number, not ''" },
	{ ".:53 {\n cache \"\"\n}\n", P "no zone in ''" },
	{ ".:53 {\n cache {\n  success 100 \"\"\n }\n}\n", B "TTL must be a number, not ''" },
	{ ".:53 {\n cache {\n  prefetch 1 1m 10% more\n }\n}\n",
	  B "wrong argument count for 'prefetch' (expects 1 to 3)" },
	{ ".:53 {\n cache {\n  serve_stale 1h Later\n }\n}\n",
	  B "invalid value for serve_stale refresh mode: later" },
	{ ".:53 {\n cache {\n  serve_stale -1h\n }\n}\n", B "serve_stale: invalid duration '-1h'" },
	{ ".:53 {\n cache {\n  serve_stale 1h verify now\n }\n}\n",
	  B "serve_stale: invalid verify timeout 'now'" },
	{ ".:53 {\n cache {\n  serve_stale 1h immediate 100ms\n }\n}\n",
	  B "serve_stale: only the verify mode takes a timeout" },
	{ ".:53 {\n cache {\n  serve_stale 1h verify 100ms 30s\n }\n}\n",
	  B "wrong argument count for 'serve_stale' (expects 0 to 3)" },
	{ ".:53 {\n cache {\n  serve_stale_policy prefer_positive\n  serve_stale 1h verify\n }\n}\n",
	  NULL },
	{ ".:53 {\n cache {\n  serve_stale_policy prefer_positive\n }\n}\n",
	  P "serve_stale_policy needs serve_stale" },
	{ ".:53 {\n cache {\n  serve_stale\n  serve_stale_policy prefer_negative\n }\n}\n",
	  "Corefile:4: plugin/cache: invalid value for serve_stale_policy: prefer_negative" },
	{ ".:53 {\n cache {\n  serve_stale\n  serve_stale_policy\n }\n}\n",
	  "Corefile:4: plugin/cache: wrong argument count for 'serve_stale_policy' (expects 1)" },
	{ ".:53 {\n cache {\n  servfail 6m\n }\n}\n",
	  B "caching SERVFAIL responses over 5 minutes is not permitted" },
	{ ".:53 {\n cache {\n  servfail\n }\n}\n",
	  B "wrong argument count for 'servfail' (expects 1)" },
	{ ".:53 {\n cache {\n  disable all\n }\n}\n",
	  B "cache type for disable must be \"success\" or \"denial\"" },
	{ ".:53 {\n cache {\n  disable\n }\n}\n",
	  B "wrong argument count for 'disable' (expects at least 1)" },
	{ ".:53 {\n cache {\n  keepttl 1\n }\n}\n",
	  B "wrong argument count for 'keepttl' (expects 0)" },
	{ ".:53 {\n cache {\n  keepttl\n  keepttl\n }\n}\n",
	  "Corefile:4: plugin/cache: 'keepttl' is given twice" },
	{ ".:53 {\n cache {\n  evict lru\n }\n}\n", B "unknown property 'evict'" },
	{ ".:53 {\n cache\n cache 10\n}\n",
	  "Corefile:3: plugin/cache: this plugin can only be used once per Server Block" },
};

static struct sx_config *
parse(const char *corefile, char *err, size_t errlen, int *rc)
{
	struct sx_config *cfg = NULL;

	err[0] = '\0';
	*rc = sx_test_config(corefile, "/srv/dns", NULL, &cfg, err, errlen);
	return cfg;
}

static struct cache *
instance(struct sx_config *cfg)
{
	void *inst = sx_test_instance(cfg, 0, &sx_plugin_cache, 0);

	cr_assert(inst, "no cache instance");
	return inst;
}

Test(cache_setup, table)
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

Test(cache_setup, defaults_are_corednss)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse("example.org:53 {\n cache\n}\n", err, sizeof(err), &rc);
	struct cache *c;

	cr_assert_eq(rc, 0, "%s", err);
	c = instance(cfg);
	cr_expect_eq(c->cap[CACHE_SUCCESS], 9984);
	cr_expect_eq(c->cap[CACHE_DENIAL], 9984);
	cr_expect_eq(c->max_ttl[CACHE_SUCCESS], 3600);
	cr_expect_eq(c->max_ttl[CACHE_DENIAL], 1800);
	cr_expect_eq(c->min_ttl[CACHE_SUCCESS], 5);
	cr_expect_eq(c->min_ttl[CACHE_DENIAL], 5);
	cr_expect_eq(c->servfail_ms, 5000);
	cr_expect_eq(c->prefetch, 0);
	cr_expect_eq(c->stale_ms, 0);
	cr_expect(!c->prefer_positive);
	cr_expect(!c->keepttl);
	cr_expect(!c->except_set[CACHE_SUCCESS] && !c->except_set[CACHE_DENIAL]);
	/* ZONES default to the server block's. */
	cr_assert_eq(c->zones.n, 1);
	cr_expect_str_eq(c->zones.z[0].name, "example.org.");
	sx_test_config_free(cfg);
}

Test(cache_setup, kubeadm_corefile)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse(".:53 {\n    cache 30 {\n"
	                              "       disable success cluster.local\n"
	                              "       disable denial cluster.local\n    }\n}\n",
	                              err, sizeof(err), &rc);
	struct cache *c;

	cr_assert_eq(rc, 0, "%s", err);
	c = instance(cfg);
	cr_expect_eq(c->max_ttl[CACHE_SUCCESS], 30);
	cr_expect_eq(c->max_ttl[CACHE_DENIAL], 30);
	cr_expect_eq(c->cap[CACHE_SUCCESS], 9984);
	for (int k = 0; k < 2; k++) {
		cr_expect(c->except_set[k]);
		cr_assert_eq(c->except[k].n, 1);
		cr_expect_str_eq(c->except[k].z[0].name, "cluster.local.");
	}
	cr_assert_eq(c->zones.n, 1);
	cr_expect_str_eq(c->zones.z[0].name, ".");
	sx_test_config_free(cfg);
}

Test(cache_setup, block_values_win_over_the_ttl_argument)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse(
	        ".:53 {\n cache 30 example.org {\n  success 1000 60 2\n"
	        "  denial 20000\n  prefetch 3 30s 50%\n"
	        "  serve_stale 2m verify 250ms\n  serve_stale_policy prefer_positive\n"
	        "  servfail 0\n  disable denial\n"
	        "  disable denial a.org b.org\n  keepttl\n }\n}\n",
	        err, sizeof(err), &rc);
	struct cache *c;

	cr_assert_eq(rc, 0, "%s", err);
	c = instance(cfg);
	cr_expect_eq(c->max_ttl[CACHE_SUCCESS], 60);
	cr_expect_eq(c->min_ttl[CACHE_SUCCESS], 2);
	cr_expect_eq(c->max_ttl[CACHE_DENIAL], 30);
	cr_expect_eq(c->min_ttl[CACHE_DENIAL], 5);
	cr_expect_eq(c->cap[CACHE_SUCCESS], 1024, "capacities below 1024 are raised to it");
	cr_expect_eq(c->cap[CACHE_DENIAL], 20000);
	cr_expect_eq(c->prefetch, 3);
	cr_expect_eq(c->prefetch_ms, 30000);
	cr_expect_eq(c->prefetch_pct, 50);
	cr_expect_eq(c->stale_ms, 120000);
	cr_expect(c->stale_verify);
	cr_expect_eq(c->stale_wait_ms, 250);
	cr_expect(c->prefer_positive);
	cr_expect_eq(c->servfail_ms, 0);
	cr_expect(c->keepttl);
	cr_expect(!c->except_set[CACHE_SUCCESS]);
	/* As CoreDNS: the last `disable` line of a type wins. */
	cr_assert_eq(c->except[CACHE_DENIAL].n, 2);
	cr_expect_str_eq(c->except[CACHE_DENIAL].z[0].name, "a.org.");
	cr_expect_str_eq(c->except[CACHE_DENIAL].z[1].name, "b.org.");
	cr_assert_eq(c->zones.n, 1);
	cr_expect_str_eq(c->zones.z[0].name, "example.org.");
	sx_test_config_free(cfg);
}

Test(cache_setup, disable_without_zones_means_everything)
{
	char err[512];
	int rc;
	struct sx_config *cfg = parse(".:53 {\n cache {\n  disable success\n }\n}\n", err,
	                              sizeof(err), &rc);
	struct cache *c;

	cr_assert_eq(rc, 0, "%s", err);
	c = instance(cfg);
	cr_assert_eq(c->except[CACHE_SUCCESS].n, 1);
	cr_expect_str_eq(c->except[CACHE_SUCCESS].z[0].name, ".");
	sx_test_config_free(cfg);
}
