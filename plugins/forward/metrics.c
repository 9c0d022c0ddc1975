/* metrics.c -- forward's CoreDNS metrics: upstream latency by rcode, socket reuse, health. */
#include <stdio.h>
#include <string.h>

#include <sextant/metrics.h>

#include "fwd.h"

/*
 * As in CoreDNS the metrics are process-wide, keyed by upstream address, and
 * outlive reloads (counters never go back). Workers count in their own cells;
 * the series are allocated at setup, before a configuration is published.
 * Several forward instances may name the same upstream, so one live instance
 * (the last started) writes the whole registry in a scrape: no series twice.
 */
#define NB         16       /* CoreDNS's TimeBuckets: 0.25 ms doubling to 8.192 s */
#define NRC        11       /* rcodes NOERROR .. NOTZONE, the ones a 4-bit header names */
#define PER_RC     (NB + 2) /* buckets, above the last, sum in ns */
#define OFF_HIT    0        /* [proto]: cache hits, then misses */
#define OFF_MISS   3
#define OFF_DUR    6
#define PER_SERIES (OFF_DUR + NRC * PER_RC)
#define OFF_BROKEN 0
#define OFF_REJECT 1
#define OFF_SERIES 2

static const double bounds[NB] = {
	0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032,
	0.064,   0.128,  0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
};

static struct {
	struct sx_wcounters c;
	bool ready;
	unsigned n;
	char to[FWD_MAX_SERIES][INET6_ADDRSTRLEN + 8];
	uint64_t hc_fail[FWD_MAX_SERIES]; /* control thread only */
	struct fwd *live[64];             /* started instances, oldest first */
	unsigned nlive;
} reg;

int
fwd_metrics_series(const char *to, unsigned workers)
{
	unsigned i;

	if (!reg.ready) {
		if (sx_wcounters_init(&reg.c, OFF_SERIES + FWD_MAX_SERIES * PER_SERIES, workers) <
		    0) {
			return -1;
		}
		reg.ready = true;
	}
	for (i = 0; i < reg.n; i++) {
		if (!strcmp(reg.to[i], to)) {
			return (int)i;
		}
	}
	if (reg.n == FWD_MAX_SERIES) {
		return -1; /* no metrics for it, rather than no forwarding */
	}
	snprintf(reg.to[reg.n], sizeof(reg.to[0]), "%s", to);
	return (int)reg.n++;
}

static void
add(unsigned w, size_t i, uint64_t d)
{
	if (reg.ready && w < reg.c.workers) {
		sx_wcounters_add(&reg.c, w, i, d);
	}
}

void
fwd_metrics_conn(const struct fwd_up *up, unsigned w, enum fwd_proto proto, bool hit)
{
	if (up->series >= 0) {
		add(w,
		    OFF_SERIES + (size_t)up->series * PER_SERIES + (hit ? OFF_HIT : OFF_MISS) +
		            proto,
		    1);
	}
}

void
fwd_metrics_duration(const struct fwd_up *up, unsigned w, unsigned rcode, uint64_t ns)
{
	size_t base, b;

	if (up->series < 0 || rcode >= NRC) {
		return;
	}
	base = OFF_SERIES + (size_t)up->series * PER_SERIES + OFF_DUR + rcode * PER_RC;
	for (b = 0; b < NB && (double)ns / 1e9 > bounds[b]; b++) {
	}
	add(w, base + b, 1);
	add(w, base + NB + 1, ns);
}

void
fwd_metrics_broken(unsigned w)
{
	add(w, OFF_BROKEN, 1);
}

void
fwd_metrics_reject(unsigned w)
{
	add(w, OFF_REJECT, 1);
}

void
fwd_metrics_hc_fail(const struct fwd_up *up)
{
	if (up->series >= 0) {
		reg.hc_fail[up->series]++;
	}
}

void
fwd_metrics_live(struct fwd *f, bool live)
{
	unsigned i;

	for (i = 0; i < reg.nlive && reg.live[i] != f; i++) {
	}
	if (i < reg.nlive) {
		memmove(&reg.live[i], &reg.live[i + 1], (reg.nlive - i - 1) * sizeof(reg.live[0]));
		reg.nlive--;
	}
	if (live && reg.nlive < sizeof(reg.live) / sizeof(reg.live[0])) {
		reg.live[reg.nlive++] = f;
	}
}

static const char *const proto_label[] = { "udp", "tcp", "tcp-tls" };

void
fwd_metrics_collect(void *inst, struct sx_metrics *m)
{
	char l[256], esc[128], rbuf[16];
	unsigned s, k;

	if (!reg.ready || reg.nlive == 0 || reg.live[reg.nlive - 1] != inst) {
		return;
	}
	sx_metrics_add(m, "coredns_forward_healthcheck_broken_total", SX_METRIC_COUNTER,
	               "Counter of the number of complete failures of the healthchecks.", NULL,
	               (double)sx_wcounters_sum(&reg.c, OFF_BROKEN));
	sx_metrics_add(m, "coredns_forward_max_concurrent_rejects_total", SX_METRIC_COUNTER,
	               "Counter of the number of queries rejected because the concurrent queries "
	               "were at maximum.",
	               NULL, (double)sx_wcounters_sum(&reg.c, OFF_REJECT));
	for (s = 0; s < reg.n; s++) {
		size_t base = OFF_SERIES + (size_t)s * PER_SERIES;

		sx_metrics_escape(reg.to[s], esc, sizeof(esc));
		for (k = 0; k < 3; k++) {
			uint64_t hits = sx_wcounters_sum(&reg.c, base + OFF_HIT + k);
			uint64_t misses = sx_wcounters_sum(&reg.c, base + OFF_MISS + k);

			if (hits + misses == 0) {
				continue;
			}
			snprintf(l, sizeof(l), "proxy_name=\"forward\",to=\"%s\",proto=\"%s\"", esc,
			         proto_label[k]);
			sx_metrics_add(
			        m, "coredns_proxy_conn_cache_hits_total", SX_METRIC_COUNTER,
			        "Counter of connection cache hits per upstream and protocol.", l,
			        (double)hits);
			sx_metrics_add(
			        m, "coredns_proxy_conn_cache_misses_total", SX_METRIC_COUNTER,
			        "Counter of connection cache misses per upstream and protocol.", l,
			        (double)misses);
		}
		for (k = 0; k < NRC; k++) {
			size_t rb = base + OFF_DUR + k * PER_RC, b;
			uint64_t counts[NB], over, total = 0;

			for (b = 0; b < NB; b++) {
				counts[b] = sx_wcounters_sum(&reg.c, rb + b);
				total += counts[b];
			}
			over = sx_wcounters_sum(&reg.c, rb + NB);
			if (total + over == 0) {
				continue;
			}
			snprintf(l, sizeof(l), "proxy_name=\"forward\",to=\"%s\",rcode=\"%s\"", esc,
			         sx_rcode_name(k, rbuf));
			sx_metrics_histogram(m, "coredns_proxy_request_duration_seconds",
			                     "Histogram of the time each request took.", l, bounds,
			                     counts, NB, over,
			                     (double)sx_wcounters_sum(&reg.c, rb + NB + 1) / 1e9);
		}
		if (reg.hc_fail[s]) {
			snprintf(l, sizeof(l), "proxy_name=\"forward\",to=\"%s\"", esc);
			sx_metrics_add(m, "coredns_proxy_healthcheck_failures_total",
			               SX_METRIC_COUNTER,
			               "Counter of the number of failed healthchecks.", l,
			               (double)reg.hc_fail[s]);
		}
	}
}
