/* health.c -- liveness on /health, a self-probe for its metrics, and lameduck at shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/http.h>
#include <sextant/plugin.h>
#include <sextant/time.h>

#define DEFAULT_ADDR     ":8080"
#define PROBE_MS         1000
#define PROBE_TIMEOUT_MS 3000

static const double probe_bounds[] = { 0.00025, 0.0025, 0.025, 0.25, 2.5 };
#define NB (sizeof(probe_bounds) / sizeof(probe_bounds[0]))

struct health {
	char *addr;
	uint64_t lameduck_ms;
	struct sx_http_route *route;
	struct sx_timer *timer;
	struct sx_http_client *client;
	/* Self-probe results; only the control thread touches them. */
	uint64_t hist[NB + 1];
	double sum;
	uint64_t failures;
	uint64_t sent_ns;
};

static void
serve_health(struct sx_http_req *req, void *arg)
{
	(void)arg;
	/* Liveness: answers OK as long as the process runs, lameduck included (as CoreDNS). */
	sx_http_reply(req, 200, "OK", 2);
}

static void
probe_done(int status, void *arg)
{
	struct health *h = arg;
	double secs;
	size_t i;

	if (status != 200) {
		h->failures++;
		return;
	}
	secs = (double)(sx_now_ns() - h->sent_ns) / 1e9;
	for (i = 0; i < NB && secs > probe_bounds[i]; i++) {
	}
	h->hist[i]++;
	h->sum += secs;
	if (secs > 1.0) {
		sx_plog(SX_LOG_WARNING, "health",
		        "Local health request to \"/health\" took more than 1s: %gs", secs);
	}
}

static void
probe(void *arg)
{
	struct health *h = arg;
	uint64_t now = sx_now_ns();
	int rc = sx_http_get(h->client, "/health", probe_done, h);

	/* Busy: the last probe has not come back yet; it is still the one being timed. */
	if (rc == 0) {
		h->sent_ns = now;
	} else if (rc != -EBUSY) {
		h->failures++;
	}
}

static void
health_collect(void *inst, struct sx_metrics *m)
{
	struct health *h = inst;

	sx_metrics_histogram(m, "coredns_health_request_duration_seconds",
	                     "Histogram of the time (in seconds) each request took.", NULL,
	                     probe_bounds, h->hist, NB, h->hist[NB], h->sum);
	sx_metrics_add(m, "coredns_health_request_failures_total", SX_METRIC_COUNTER,
	               "The number of times the health check failed.", NULL, (double)h->failures);
}

static const struct sx_directive health_directives[] = {
	SX_DIR_DURATION("lameduck", struct health, lameduck_ms, 0, 24LL * 3600 * 1000),
	{ NULL },
};

static int
health_setup(struct sx_cf *cf, void *inst)
{
	struct health *h = inst;

	if (sx_cf_nargs(cf) > 2) {
		return sx_cf_err(cf, "at most one address is expected");
	}
	h->addr = strdup(sx_cf_nargs(cf) == 2 ? sx_cf_arg(cf, 1) : DEFAULT_ADDR);
	if (!h->addr) {
		return sx_cf_err(cf, "out of memory");
	}
	if (!strchr(h->addr, ':')) {
		return sx_cf_err(cf, "invalid address '%s' (want [HOST]:PORT)", h->addr);
	}
	return 0;
}

static int
health_start(void *inst, struct sx_runtime *rt)
{
	struct health *h = inst;
	char err[256];
	int rc;

	rc = sx_http_route_add(&h->route, h->addr, "/health", serve_health, h, err, sizeof(err));
	if (rc < 0) {
		sx_plog(SX_LOG_ERROR, "health", "%s", err);
		return rc;
	}
	sx_rt_set_lameduck(rt, "health", h->lameduck_ms);
	h->client = sx_http_client_new(sx_http_route_port(h->route), PROBE_TIMEOUT_MS);
	h->timer = sx_timer_new(probe, h);
	if (!h->client || !h->timer || sx_timer_every(h->timer, PROBE_MS) < 0) {
		return -ENOMEM;
	}
	return 0;
}

static void
health_teardown(void *inst)
{
	struct health *h = inst;

	sx_timer_free(h->timer);
	sx_http_client_free(h->client);
	sx_http_route_free(h->route);
	free(h->addr);
}

const struct sx_plugin sx_plugin_health = {
	.name = "health",
	.inst_size = sizeof(struct health),
	.directives = health_directives,
	.setup = health_setup,
	.start = health_start,
	.collect = health_collect,
	.teardown = health_teardown,
};
