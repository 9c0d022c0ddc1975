/* metrics.h -- per-worker counters and the Prometheus text a plugin contributes to /metrics. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Counting on the hot path: each worker adds to its own cells (no shared
 * atomics, no false sharing); a scrape sums the cells of every worker.
 */
struct sx_wcounters {
	uint64_t *v;
	size_t n;      /* counters per worker */
	size_t stride; /* cells between two workers' rows (cache-line padded) */
	unsigned workers;
};

/** Zeroed @n counters for each of @workers workers. @return 0 or -ENOMEM. */
int sx_wcounters_init(struct sx_wcounters *c, size_t n, unsigned workers);
void sx_wcounters_fini(struct sx_wcounters *c);

/** Add @d to counter @i of worker @w. Only worker @w may call it. */
static inline void
sx_wcounters_add(struct sx_wcounters *c, unsigned w, size_t i, uint64_t d)
{
	uint64_t *cell = &c->v[w * c->stride + i];

	/* Relaxed atomics: a plain add on this worker's own cell, readable by a scrape. */
	__atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + d, __ATOMIC_RELAXED);
}

/** Sum of counter @i over every worker. */
uint64_t sx_wcounters_sum(const struct sx_wcounters *c, size_t i);

/*
 * Series owned by the core, for counters that outlive configurations (as in
 * CoreDNS, a counter never goes back across a reload): a plugin asks for the
 * series of a family and a label value (an upstream's address) when it sets
 * up; a later configuration asking again gets the same counters. There is no
 * cap on their number; the core frees them at exit.
 */
struct sx_series;

/**
 * The series @label of @family, created on first use with @n zeroed counters
 * for each of @workers workers plus one row for the control thread (row
 * @workers). Control thread. @return it, or NULL when out of memory or when
 * the series exists with another shape.
 */
struct sx_series *sx_series_get(const char *family, const char *label, size_t n, unsigned workers);
/** Its counters (the control thread's row is the last). */
struct sx_wcounters *sx_series_counters(struct sx_series *s);
const char *sx_series_label(const struct sx_series *s);
/** The series of @family created after @prev (NULL: the first one), or NULL. Control thread. */
struct sx_series *sx_series_next(const char *family, struct sx_series *prev);

/* Writing a scrape. Families may be contributed in any order and by several
 * instances; the writer groups each family's series under one HELP/TYPE. */
struct sx_metrics;

enum sx_metric_type {
	SX_METRIC_COUNTER,
	SX_METRIC_GAUGE,
	SX_METRIC_HISTOGRAM
};

/**
 * One sample: @labels is the inside of the braces (`server="dns://:53",zone="."`)
 * or NULL; label values must already be escaped (sx_metrics_escape()).
 */
void sx_metrics_add(struct sx_metrics *m, const char *family, enum sx_metric_type type,
                    const char *help, const char *labels, double value);

/**
 * One histogram: @counts[i] observations in bucket i (not cumulative) for the
 * @nb upper bounds @bounds, plus @over above the last bound; @sum of all values.
 */
void sx_metrics_histogram(struct sx_metrics *m, const char *family, const char *help,
                          const char *labels, const double *bounds, const uint64_t *counts,
                          size_t nb, uint64_t over, double sum);

/** Escape @s for a label value (backslash, quote, newline) into @buf. @return @buf. */
const char *sx_metrics_escape(const char *s, char *buf, size_t cap);
