/* test_runtime.c -- what running plugins ask of the core: lameduck, peers, shutdown, readiness. */
#include <criterion/criterion.h>
#include <string.h>

#include <urcu.h>

#include <sextant/plugin.h>

#include "config.h"
#include "server.h"

Test(runtime, the_longest_lameduck_wins)
{
	struct sx_runtime rt = { 0 };

	sx_rt_set_lameduck(&rt, "health", 5000);
	cr_assert_eq(rt.lameduck_ms, 5000);
	cr_assert_str_eq(rt.lameduck_by, "health");
	/* Shorter or equal: the first asker keeps it. */
	sx_rt_set_lameduck(&rt, "kubernetes", 1000);
	sx_rt_set_lameduck(&rt, "ready", 5000);
	cr_assert_eq(rt.lameduck_ms, 5000);
	cr_assert_str_eq(rt.lameduck_by, "health");
	sx_rt_set_lameduck(&rt, "forward", 7000);
	cr_assert_eq(rt.lameduck_ms, 7000);
	cr_assert_str_eq(rt.lameduck_by, "forward");
}

Test(runtime, shutting_down_is_the_runtimes_flag)
{
	struct sx_runtime rt = { 0 };

	cr_assert_not(sx_rt_shutting_down(&rt));
	rt.shutting_down = true;
	cr_assert(sx_rt_shutting_down(&rt));
}

static const struct sx_plugin alpha = { .name = "alpha", .inst_size = 8 };
static const struct sx_plugin beta = { .name = "beta", .inst_size = 8 };
static const struct sx_plugin gamma_ = { .name = "gamma", .inst_size = 8 };
static const struct sx_plugin *const fakes[] = { &alpha, &beta, &gamma_, NULL };

Test(runtime, peers_only_while_starting_and_only_in_the_same_block)
{
	static const struct sx_config_opts opts = { .default_port = 53, .workers = 1 };
	struct sx_runtime rt = { 0 };
	struct sx_config *cfg;
	char err[256] = "";
	void *a0, *b0, *a1;

	cr_assert_eq(sx_config_parse_with(fakes, "Corefile",
	                                  "a.:53 {\n\talpha\n\tbeta\n}\nb.:53 {\n\talpha\n}\n",
	                                  NULL, &opts, &cfg, err, sizeof(err)),
	             0, "%s", err);
	a0 = cfg->blocks[0].chain[0].inst;
	b0 = cfg->blocks[0].chain[1].inst;
	a1 = cfg->blocks[1].chain[0].inst;
	cr_assert_eq(cfg->blocks[0].chain[1].plugin, &beta);

	/* Outside a start hook there are no peers. */
	cr_assert_null(sx_rt_peer(&rt, a0, &beta));
	rt.starting = cfg;
	cr_assert_eq(sx_rt_peer(&rt, a0, &beta), b0);
	cr_assert_eq(sx_rt_peer(&rt, b0, &alpha), a0);
	/* The second block has no beta, and no block has gamma. */
	cr_assert_null(sx_rt_peer(&rt, a1, &beta));
	cr_assert_null(sx_rt_peer(&rt, a0, &gamma_));
	/* An instance of no block of the configuration. */
	cr_assert_null(sx_rt_peer(&rt, &rt, &alpha));
	sx_config_free(cfg);
}

Test(runtime, nothing_published_nothing_unready)
{
	struct sx_runtime rt = { 0 };
	char buf[64];

	memset(buf, 'x', sizeof(buf));
	rcu_register_thread();
	cr_assert_eq(sx_rt_not_ready(&rt, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "");
	rcu_unregister_thread();
}
