/* reload.c -- reload the Corefile when it (or a file it imports) changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sextant/plugin.h>
#include <sextant/time.h>

#define DEFAULT_INTERVAL_MS 30000
#define DEFAULT_JITTER_MS   15000
#define MIN_INTERVAL_MS     2000
#define MIN_JITTER_MS       1000

struct reload {
	uint64_t interval_ms, jitter_ms;
	struct sx_runtime *rt;
	struct sx_timer *timer;
};

/* The next check in INTERVAL +/- JITTER/2, so replicas do not all reload at once. */
static void
arm(struct reload *r)
{
	uint64_t rnd = 0, ms = r->interval_ms;

	if (r->jitter_ms && getrandom(&rnd, sizeof(rnd), 0) == sizeof(rnd)) {
		ms = ms - r->jitter_ms / 2 + rnd % r->jitter_ms;
	}
	sx_timer_once(r->timer, ms);
}

static void
tick(void *arg)
{
	struct reload *r = arg;

	sx_rt_reload_if_changed(r->rt, "reload");
	arm(r);
}

static int
reload_setup(struct sx_cf *cf, void *inst)
{
	struct reload *r = inst;
	int n = sx_cf_nargs(cf);

	r->interval_ms = DEFAULT_INTERVAL_MS;
	r->jitter_ms = DEFAULT_JITTER_MS;
	if (n > 3) {
		return sx_cf_err(cf, "at most two arguments are expected: [INTERVAL] [JITTER]");
	}
	if (n > 1 && (sx_parse_duration(sx_cf_arg(cf, 1), &r->interval_ms) < 0 ||
	              r->interval_ms < MIN_INTERVAL_MS)) {
		return sx_cf_err(cf, "interval value must be greater or equal to %gs",
		                 MIN_INTERVAL_MS / 1000.0);
	}
	if (n > 2 && (sx_parse_duration(sx_cf_arg(cf, 2), &r->jitter_ms) < 0 ||
	              r->jitter_ms < MIN_JITTER_MS)) {
		return sx_cf_err(cf, "jitter value must be greater or equal to %gs",
		                 MIN_JITTER_MS / 1000.0);
	}
	if (r->jitter_ms > r->interval_ms / 2) {
		r->jitter_ms = r->interval_ms / 2;
	}
	return 0;
}

static int
reload_start(void *inst, struct sx_runtime *rt)
{
	struct reload *r = inst;

	r->rt = rt;
	r->timer = sx_timer_new(tick, r);
	if (!r->timer) {
		return -ENOMEM;
	}
	arm(r);
	if (*sx_rt_config_digest(rt)) {
		sx_plog(SX_LOG_INFO, "reload", "Running configuration SHA512 = %s",
		        sx_rt_config_digest(rt));
	}
	return 0;
}

static void
reload_collect(void *inst, struct sx_metrics *m)
{
	struct reload *r = inst;
	char labels[256];

	sx_metrics_add(m, "coredns_reload_failed_total", SX_METRIC_COUNTER,
	               "Counter of the number of failed reload attempts.", NULL,
	               (double)sx_rt_reload_failures(r->rt));
	snprintf(labels, sizeof(labels), "hash=\"sha512\",value=\"%s\"",
	         sx_rt_config_digest(r->rt));
	sx_metrics_add(
	        m, "coredns_reload_version_info", SX_METRIC_GAUGE,
	        "A metric with a constant '1' value labeled by hash, and value which type of "
	        "hash generated.",
	        labels, 1);
}

static void
reload_teardown(void *inst)
{
	struct reload *r = inst;

	sx_timer_free(r->timer);
}

const struct sx_plugin sx_plugin_reload = {
	.name = "reload",
	.inst_size = sizeof(struct reload),
	.setup = reload_setup,
	.start = reload_start,
	.collect = reload_collect,
	.teardown = reload_teardown,
};
