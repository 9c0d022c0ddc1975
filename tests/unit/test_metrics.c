/* test_metrics.c -- per-worker counters, core-owned series and the Prometheus text of a scrape. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/metrics.h>

#include "metrics_writer.h"

/* Render @m, check the length it reports, and free it. @return the text (caller frees). */
static char *
render(struct sx_metrics *m)
{
	size_t len = 0;
	char *text = sx_metrics_render(m, &len);

	cr_assert_not_null(text);
	cr_assert_eq(len, strlen(text));
	sx_metrics_free(m);
	return text;
}

Test(metrics, counters_sum_every_worker_and_rows_are_padded)
{
	struct sx_wcounters c;

	cr_assert_eq(sx_wcounters_init(&c, 3, 4), 0);
	/* Each worker's row starts on its own cache line. */
	cr_assert_eq(c.stride, 8);
	cr_assert_eq(((uintptr_t)c.v) % 64, 0);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(sx_wcounters_sum(&c, i), 0, "counter %zu starts at 0", i);
	}
	sx_wcounters_add(&c, 0, 0, 1);
	sx_wcounters_add(&c, 3, 0, 2);
	sx_wcounters_add(&c, 3, 0, 5);
	sx_wcounters_add(&c, 1, 2, 40);
	cr_assert_eq(sx_wcounters_sum(&c, 0), 8);
	cr_assert_eq(sx_wcounters_sum(&c, 1), 0);
	cr_assert_eq(sx_wcounters_sum(&c, 2), 40);
	sx_wcounters_fini(&c);
	cr_assert_null(c.v);

	cr_assert_eq(sx_wcounters_init(&c, 9, 2), 0);
	cr_assert_eq(c.stride, 16);
	sx_wcounters_add(&c, 1, 8, 3);
	cr_assert_eq(sx_wcounters_sum(&c, 8), 3);
	sx_wcounters_fini(&c);
}

Test(metrics, series_outlive_their_asker)
{
	struct sx_series *a = sx_series_get("fwd_requests", "10.0.0.1:53", 2, 2);
	struct sx_series *b = sx_series_get("fwd_requests", "10.0.0.2:53", 2, 2);
	struct sx_series *other = sx_series_get("cache_hits", "10.0.0.1:53", 1, 2);

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_not_null(other);
	cr_assert_neq(a, b);
	cr_assert_str_eq(sx_series_label(a), "10.0.0.1:53");
	/* One row per worker plus the control thread's. */
	cr_assert_eq(sx_series_counters(a)->workers, 3);
	cr_assert_eq(sx_series_counters(a)->n, 2);

	/* A later configuration asking again gets the same counters, with their counts. */
	sx_wcounters_add(sx_series_counters(a), 2, 1, 7);
	cr_assert_eq(sx_series_get("fwd_requests", "10.0.0.1:53", 2, 2), a);
	cr_assert_eq(sx_wcounters_sum(sx_series_counters(a), 1), 7);
	/* ... but not with another shape. */
	cr_assert_null(sx_series_get("fwd_requests", "10.0.0.1:53", 3, 2));
	cr_assert_null(sx_series_get("fwd_requests", "10.0.0.1:53", 2, 4));

	/* A family's series, in creation order, skipping other families. */
	cr_assert_eq(sx_series_next("fwd_requests", NULL), a);
	cr_assert_eq(sx_series_next("fwd_requests", a), b);
	cr_assert_null(sx_series_next("fwd_requests", b));
	cr_assert_eq(sx_series_next("cache_hits", NULL), other);
	cr_assert_null(sx_series_next("nothing", NULL));

	sx_series_free_all();
	cr_assert_null(sx_series_next("fwd_requests", NULL));
	/* Asked again after the free: new and zeroed. */
	a = sx_series_get("fwd_requests", "10.0.0.1:53", 2, 2);
	cr_assert_not_null(a);
	cr_assert_eq(sx_wcounters_sum(sx_series_counters(a), 1), 0);
	sx_series_free_all();
}

Test(metrics, families_are_sorted_and_grouped_under_one_help)
{
	struct sx_metrics *m = sx_metrics_new();
	char *text;

	cr_assert_not_null(m);
	sx_metrics_add(m, "coredns_dns_requests_total", SX_METRIC_COUNTER,
	               "Counter of DNS requests.", "server=\"dns://:53\",zone=\".\"", 12);
	sx_metrics_add(m, "coredns_build_info", SX_METRIC_GAUGE, "Build info.", "version=\"1.0\"",
	               1);
	/* The same family from another instance: grouped with the first, after it. */
	sx_metrics_add(m, "coredns_dns_requests_total", SX_METRIC_COUNTER,
	               "Counter of DNS requests.", "server=\"dns://:5353\",zone=\".\"", 3);
	sx_metrics_add(m, "coredns_panics_total", SX_METRIC_COUNTER, "Panics.", NULL, 0);
	sx_metrics_add(m, "coredns_reload_failed_total", SX_METRIC_COUNTER, "Failed reloads.", "",
	               2);
	text = render(m);
	cr_assert_str_eq(text, "# HELP coredns_build_info Build info.\n"
	                       "# TYPE coredns_build_info gauge\n"
	                       "coredns_build_info{version=\"1.0\"} 1\n"
	                       "# HELP coredns_dns_requests_total Counter of DNS requests.\n"
	                       "# TYPE coredns_dns_requests_total counter\n"
	                       "coredns_dns_requests_total{server=\"dns://:53\",zone=\".\"} 12\n"
	                       "coredns_dns_requests_total{server=\"dns://:5353\",zone=\".\"} 3\n"
	                       "# HELP coredns_panics_total Panics.\n"
	                       "# TYPE coredns_panics_total counter\n"
	                       "coredns_panics_total 0\n"
	                       "# HELP coredns_reload_failed_total Failed reloads.\n"
	                       "# TYPE coredns_reload_failed_total counter\n"
	                       "coredns_reload_failed_total 2\n");
	free(text);
}

Test(metrics, an_empty_scrape_is_empty)
{
	struct sx_metrics *m = sx_metrics_new();
	size_t len = 1;
	char *text = sx_metrics_render(m, &len);

	cr_assert_not_null(text);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(text, "");
	free(text);
	sx_metrics_free(m);
}

Test(metrics, numbers_print_as_go_prints_them)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0, "x 0\n" },
		{ 42, "x 42\n" },
		{ -3, "x -3\n" },
		{ 0.00025, "x 0.00025\n" },
		{ 1.5, "x 1.5\n" },
		{ 0.1, "x 0.1\n" },
		{ 1e15, "x 1e+15\n" },
		{ 123456789012345, "x 123456789012345\n" },
		{ 1.0 / 3, "x 0.3333333333333333\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sx_metrics *m = sx_metrics_new();
		char *text;
		const char *line;

		sx_metrics_add(m, "x", SX_METRIC_GAUGE, "h", NULL, cases[i].v);
		text = render(m);
		line = strstr(text, "\nx ");
		cr_assert_not_null(line, "%s", text);
		cr_assert_str_eq(line + 1, cases[i].want, "value %.17g", cases[i].v);
		free(text);
	}
}

Test(metrics, histograms_are_cumulative_with_inf_sum_and_count)
{
	static const double bounds[] = { 0.00025, 0.001, 0.5 };
	static const uint64_t counts[] = { 2, 0, 3 };
	struct sx_metrics *m = sx_metrics_new();
	char *text;

	sx_metrics_histogram(m, "coredns_dns_request_duration_seconds", "Histogram of the time.",
	                     "server=\"dns://:53\",zone=\".\"", bounds, counts, 3, 1, 0.75);
	sx_metrics_histogram(m, "plain_seconds", "No labels.", NULL, bounds, counts, 1, 0, 2);
	text = render(m);
	cr_assert_str_eq(
	        text,
	        "# HELP coredns_dns_request_duration_seconds Histogram of the time.\n"
	        "# TYPE coredns_dns_request_duration_seconds histogram\n"
	        "coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\".\","
	        "le=\"0.00025\"} 2\n"
	        "coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\".\","
	        "le=\"0.001\"} 2\n"
	        "coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\".\","
	        "le=\"0.5\"} 5\n"
	        "coredns_dns_request_duration_seconds_bucket{server=\"dns://:53\",zone=\".\","
	        "le=\"+Inf\"} 6\n"
	        "coredns_dns_request_duration_seconds_sum{server=\"dns://:53\",zone=\".\"} 0.75\n"
	        "coredns_dns_request_duration_seconds_count{server=\"dns://:53\",zone=\".\"} 6\n"
	        "# HELP plain_seconds No labels.\n"
	        "# TYPE plain_seconds histogram\n"
	        "plain_seconds_bucket{le=\"0.00025\"} 2\n"
	        "plain_seconds_bucket{le=\"+Inf\"} 2\n"
	        "plain_seconds_sum 2\n"
	        "plain_seconds_count 2\n");
	free(text);
}

Test(metrics, label_values_are_escaped)
{
	char buf[64];

	cr_assert_str_eq(sx_metrics_escape("dns://:53", buf, sizeof(buf)), "dns://:53");
	cr_assert_eq(sx_metrics_escape("x", buf, sizeof(buf)), buf);
	cr_assert_str_eq(sx_metrics_escape("a\"b\\c\nd", buf, sizeof(buf)), "a\\\"b\\\\c\\nd");
	cr_assert_str_eq(sx_metrics_escape("", buf, sizeof(buf)), "");
}

Test(metrics, escaping_stops_at_the_buffer_end)
{
	char buf[8];

	memset(buf, 'Z', sizeof(buf));
	/* Room is kept for a whole escape and the NUL: never half an escape. */
	sx_metrics_escape("\"\"\"\"\"", buf, 6);
	cr_assert_str_eq(buf, "\\\"\\\"");
	cr_assert_eq(buf[6], 'Z');
	sx_metrics_escape("abcdefghij", buf, 6);
	cr_assert_str_eq(buf, "abc");
}
