/* metrics.c -- forward's CoreDNS metrics: upstream latency by rcode, socket reuse, health. */
#include <stdio.h>
#include <string.h>

#include <sextant/metrics.h>

#include "fwd.h"

/*
 * As in CoreDNS the metrics are process-wide, keyed by upstream address, and
 * outlive reloads (counters never go back): each upstream's counters are a
 * series the core owns, found again by every configuration naming it, with no
 * cap on their number. Workers count in their own rows, health checks in the
 * control thread's. Several instances may name the same upstream, so the
 * series are written once per scrape, for every instance at once.
 */
#define SERIES     "coredns_proxy"
#define GLOBAL     "coredns_forward"
#define NB         16       /* CoreDNS's TimeBuckets: 0.25 ms doubling to 8.192 s */
#define NRC        11       /* rcodes NOERROR .. NOTZONE, the ones a 4-bit header names */
#define PER_RC     (NB + 2) /* buckets, above the last, sum in ns */
#define OFF_HIT    0        /* [proto]: cache hits, then misses */
#define OFF_MISS   3
#define OFF_DUR    6
#define OFF_HC     (OFF_DUR + NRC * PER_RC) /* failed health checks */
#define PER_SERIES (OFF_HC + 1)
#define OFF_BROKEN 0
#define OFF_REJECT 1
#define PER_GLOBAL 2

static const double bounds[NB] = {
	0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032,
	0.064,   0.128,  0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
};

void
fwd_metrics_setup(struct fwd *f)
{
	unsigned i;

	f->global = sx_series_get(GLOBAL, "", PER_GLOBAL, f->nworkers);
	for (i = 0; i < f->nup; i++) {
		/* NULL: no metrics for it, rather than no forwarding. */
		f->up[i].series = sx_series_get(SERIES, f->up[i].name, PER_SERIES, f->nworkers);
	}
}

static void
add(struct sx_series *s, unsigned w, size_t i, uint64_t d)
{
	if (s) {
		sx_wcounters_add(sx_series_counters(s), w, i, d);
	}
}

void
fwd_metrics_conn(const struct fwd_up *up, unsigned w, enum fwd_proto proto, bool hit)
{
	add(up->series, w, (hit ? OFF_HIT : OFF_MISS) + proto, 1);
}

void
fwd_metrics_duration(const struct fwd_up *up, unsigned w, unsigned rcode, uint64_t ns)
{
	size_t base, b;

	if (rcode >= NRC) {
		return;
	}
	base = OFF_DUR + rcode * PER_RC;
	for (b = 0; b < NB && (double)ns / 1e9 > bounds[b]; b++) {
	}
	add(up->series, w, base + b, 1);
	add(up->series, w, base + NB + 1, ns);
}

void
fwd_metrics_broken(const struct fwd *f, unsigned w)
{
	add(f->global, w, OFF_BROKEN, 1);
}

void
fwd_metrics_reject(const struct fwd *f, unsigned w)
{
	add(f->global, w, OFF_REJECT, 1);
}

void
fwd_metrics_hc_fail(const struct fwd_up *up)
{
	/* The control thread's row: the one after the workers'. */
	add(up->series, up->f->nworkers, OFF_HC, 1);
}

static const char *const proto_label[] = { "udp", "tcp", "tcp-tls" };

static void
collect_series(struct sx_series *series, struct sx_metrics *m)
{
	const struct sx_wcounters *c = sx_series_counters(series);
	char l[256], esc[128], rbuf[16];
	unsigned k;

	sx_metrics_escape(sx_series_label(series), esc, sizeof(esc));
	for (k = 0; k < 3; k++) {
		uint64_t hits = sx_wcounters_sum(c, OFF_HIT + k);
		uint64_t misses = sx_wcounters_sum(c, OFF_MISS + k);

		if (hits + misses == 0) {
			continue;
		}
		snprintf(l, sizeof(l), "proxy_name=\"forward\",to=\"%s\",proto=\"%s\"", esc,
		         proto_label[k]);
		sx_metrics_add(m, "coredns_proxy_conn_cache_hits_total", SX_METRIC_COUNTER,
		               "Counter of connection cache hits per upstream and protocol.", l,
		               (double)hits);
		sx_metrics_add(m, "coredns_proxy_conn_cache_misses_total", SX_METRIC_COUNTER,
		               "Counter of connection cache misses per upstream and protocol.", l,
		               (double)misses);
	}
	for (k = 0; k < NRC; k++) {
		size_t rb = OFF_DUR + k * PER_RC, b;
		uint64_t counts[NB], over, total = 0;

		for (b = 0; b < NB; b++) {
			counts[b] = sx_wcounters_sum(c, rb + b);
			total += counts[b];
		}
		over = sx_wcounters_sum(c, rb + NB);
		if (total + over == 0) {
			continue;
		}
		snprintf(l, sizeof(l), "proxy_name=\"forward\",to=\"%s\",rcode=\"%s\"", esc,
		         sx_rcode_name(k, rbuf));
		sx_metrics_histogram(m, "coredns_proxy_request_duration_seconds",
		                     "Histogram of the time each request took.", l, bounds, counts,
		                     NB, over, (double)sx_wcounters_sum(c, rb + NB + 1) / 1e9);
	}
	if (sx_wcounters_sum(c, OFF_HC)) {
		snprintf(l, sizeof(l), "proxy_name=\"forward\",to=\"%s\"", esc);
		sx_metrics_add(m, "coredns_proxy_healthcheck_failures_total", SX_METRIC_COUNTER,
		               "Counter of the number of failed healthchecks.", l,
		               (double)sx_wcounters_sum(c, OFF_HC));
	}
}

void
fwd_metrics_collect(void *const *insts, size_t n, struct sx_metrics *m)
{
	const struct fwd *f = insts[0];
	struct sx_series *s;

	(void)n; /* the series are process-wide: any instance finds them */
	if (f->global) {
		const struct sx_wcounters *c = sx_series_counters(f->global);

		sx_metrics_add(m, "coredns_forward_healthcheck_broken_total", SX_METRIC_COUNTER,
		               "Counter of the number of complete failures of the healthchecks.",
		               NULL, (double)sx_wcounters_sum(c, OFF_BROKEN));
		sx_metrics_add(m, "coredns_forward_max_concurrent_rejects_total", SX_METRIC_COUNTER,
		               "Counter of the number of queries rejected because the concurrent "
		               "queries were at maximum.",
		               NULL, (double)sx_wcounters_sum(c, OFF_REJECT));
	}
	for (s = sx_series_next(SERIES, NULL); s; s = sx_series_next(SERIES, s)) {
		collect_series(s, m);
	}
}
