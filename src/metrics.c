/* metrics.c -- per-worker counters and the Prometheus text exposition (format 0.0.4). */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/metrics.h>

#include "metrics_writer.h"

#define CACHE_LINE 64

int
sx_wcounters_init(struct sx_wcounters *c, size_t n, unsigned workers)
{
	size_t per_line = CACHE_LINE / sizeof(uint64_t);

	c->n = n;
	c->workers = workers;
	c->stride = (n + per_line - 1) / per_line * per_line;
	c->v = aligned_alloc(CACHE_LINE, (c->stride * workers * sizeof(uint64_t) + CACHE_LINE - 1) /
	                                         CACHE_LINE * CACHE_LINE);
	if (!c->v) {
		return -ENOMEM;
	}
	memset(c->v, 0, c->stride * workers * sizeof(uint64_t));
	return 0;
}

void
sx_wcounters_fini(struct sx_wcounters *c)
{
	free(c->v);
	c->v = NULL;
}

uint64_t
sx_wcounters_sum(const struct sx_wcounters *c, size_t i)
{
	uint64_t sum = 0;
	unsigned w;

	for (w = 0; w < c->workers; w++) {
		sum += __atomic_load_n(&c->v[w * c->stride + i], __ATOMIC_RELAXED);
	}
	return sum;
}

/* ---- series owned by the core ---- */

struct sx_series {
	char *family, *label;
	struct sx_wcounters c;
	struct sx_series *next;
};

/* Every series ever asked for, in creation order (control thread). */
static struct sx_series *series, **series_tail = &series;

static void
series_free(struct sx_series *s)
{
	free(s->family);
	free(s->label);
	sx_wcounters_fini(&s->c);
	free(s);
}

struct sx_series *
sx_series_get(const char *family, const char *label, size_t n, unsigned workers)
{
	struct sx_series *s;

	for (s = series; s; s = s->next) {
		if (!strcmp(s->family, family) && !strcmp(s->label, label)) {
			return s->c.n == n && s->c.workers == workers + 1 ? s : NULL;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		return NULL;
	}
	s->family = strdup(family);
	s->label = strdup(label);
	if (!s->family || !s->label || sx_wcounters_init(&s->c, n, workers + 1) < 0) {
		series_free(s);
		return NULL;
	}
	*series_tail = s;
	series_tail = &s->next;
	return s;
}

struct sx_wcounters *
sx_series_counters(struct sx_series *s)
{
	return &s->c;
}

const char *
sx_series_label(const struct sx_series *s)
{
	return s->label;
}

struct sx_series *
sx_series_next(const char *family, struct sx_series *prev)
{
	struct sx_series *s = prev ? prev->next : series;

	while (s && strcmp(s->family, family) != 0) {
		s = s->next;
	}
	return s;
}

void
sx_series_free_all(void)
{
	while (series) {
		struct sx_series *s = series;

		series = s->next;
		series_free(s);
	}
	series_tail = &series;
}

/* ---- scrape writer ---- */

struct sample {
	const char *family; /* static or owned by the caller for the scrape's duration */
	enum sx_metric_type type;
	const char *help;
	char *line; /* the complete sample line(s), newline-terminated */
	size_t seq; /* insertion order, to keep it within a family */
};

struct sx_metrics {
	struct sample *s;
	size_t n, cap;
	bool failed;
};

struct sx_metrics *
sx_metrics_new(void)
{
	return calloc(1, sizeof(struct sx_metrics));
}

static void
push(struct sx_metrics *m, const char *family, enum sx_metric_type type, const char *help,
     char *line)
{
	if (!line) {
		m->failed = true;
		return;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct sample *s = realloc(m->s, cap * sizeof(*s));

		if (!s) {
			free(line);
			m->failed = true;
			return;
		}
		m->s = s;
		m->cap = cap;
	}
	m->s[m->n] = (struct sample){ family, type, help, line, m->n };
	m->n++;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *out = NULL;
	int r;

	va_start(ap, f);
	r = vasprintf(&out, f, ap);
	va_end(ap);
	return r < 0 ? NULL : out;
}

/* As Go prints floats for Prometheus: integers plainly, else the shortest exact form (0.00025). */
static void
num(char *buf, size_t cap, double v)
{
	int p;

	if (v == (double)(int64_t)v && v < 1e15 && v > -1e15) {
		snprintf(buf, cap, "%lld", (long long)v);
		return;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(buf, cap, "%.*g", p, v);
		if (strtod(buf, NULL) == v) {
			return;
		}
	}
}

void
sx_metrics_add(struct sx_metrics *m, const char *family, enum sx_metric_type type, const char *help,
               const char *labels, double value)
{
	char v[64];

	num(v, sizeof(v), value);
	if (labels && *labels) {
		push(m, family, type, help, fmt("%s{%s} %s\n", family, labels, v));
	} else {
		push(m, family, type, help, fmt("%s %s\n", family, v));
	}
}

void
sx_metrics_histogram(struct sx_metrics *m, const char *family, const char *help, const char *labels,
                     const double *bounds, const uint64_t *counts, size_t nb, uint64_t over,
                     double sum)
{
	const char *sep = labels && *labels ? "," : "";
	size_t i, len = 0, cap = 256 + nb * 160 + (labels ? strlen(labels) * (nb + 3) : 0);
	char *out = malloc(cap), le[64], sv[64];
	uint64_t cum = 0;

	if (!out) {
		m->failed = true;
		return;
	}
	labels = labels ? labels : "";
	for (i = 0; i < nb; i++) {
		cum += counts[i];
		num(le, sizeof(le), bounds[i]);
		len += (size_t)snprintf(out + len, cap - len, "%s_bucket{%s%sle=\"%s\"} %llu\n",
		                        family, labels, sep, le, (unsigned long long)cum);
	}
	cum += over;
	num(sv, sizeof(sv), sum);
	len += (size_t)snprintf(out + len, cap - len, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", family,
	                        labels, sep, (unsigned long long)cum);
	if (*labels) {
		len += (size_t)snprintf(out + len, cap - len, "%s_sum{%s} %s\n%s_count{%s} %llu\n",
		                        family, labels, sv, family, labels,
		                        (unsigned long long)cum);
	} else {
		len += (size_t)snprintf(out + len, cap - len, "%s_sum %s\n%s_count %llu\n", family,
		                        sv, family, (unsigned long long)cum);
	}
	push(m, family, SX_METRIC_HISTOGRAM, help, out);
}

const char *
sx_metrics_escape(const char *s, char *buf, size_t cap)
{
	size_t n = 0;

	for (; *s && n + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			buf[n++] = '\\';
			buf[n++] = *s;
		} else if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else {
			buf[n++] = *s;
		}
	}
	buf[n] = 0;
	return buf;
}

static int
by_family(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

char *
sx_metrics_render(struct sx_metrics *m, size_t *len)
{
	static const char *const type_name[] = { "counter", "gauge", "histogram" };
	size_t i, total = 1, n = 0;
	char *out;

	if (m->failed) {
		return NULL;
	}
	if (m->n) { /* qsort's array may not be NULL, even when empty */
		qsort(m->s, m->n, sizeof(*m->s), by_family);
	}
	for (i = 0; i < m->n; i++) {
		total += strlen(m->s[i].line) + strlen(m->s[i].help) + 2 * strlen(m->s[i].family) +
		         32;
	}
	out = malloc(total);
	if (!out) {
		return NULL;
	}
	out[0] = '\0'; /* an empty scrape is still a string */
	for (i = 0; i < m->n; i++) {
		const struct sample *s = &m->s[i];

		if (i == 0 || strcmp(s->family, m->s[i - 1].family) != 0) {
			n += (size_t)snprintf(out + n, total - n, "# HELP %s %s\n# TYPE %s %s\n",
			                      s->family, s->help, s->family, type_name[s->type]);
		}
		n += (size_t)snprintf(out + n, total - n, "%s", s->line);
	}
	*len = n;
	return out;
}

void
sx_metrics_free(struct sx_metrics *m)
{
	size_t i;

	if (!m) {
		return;
	}
	for (i = 0; i < m->n; i++) {
		free(m->s[i].line);
	}
	free(m->s);
	free(m);
}
