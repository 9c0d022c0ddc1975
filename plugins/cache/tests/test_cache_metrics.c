/* test_cache_metrics.c -- the cache's CoreDNS metrics through /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

Test(cache_metrics, hits_misses_requests_and_entries)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0\n\tcache 30\n\thosts {\n"
	              "\t\t10.1.1.1 one.example\n\t\t10.1.1.2 two.example\n\t}\n}\n");
	const char *names[] = { "one.example", "one.example", "one.example", "two.example" };
	char want[512], *m;
	long status;
	size_t i;

	for (i = 0; i < 4; i++) {
		ldns_pkt *p = sx_test_query(s, names[i], LDNS_RR_TYPE_A, 0, 0);

		cr_assert(p);
		ldns_pkt_free(p);
	}
	m = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                     "/metrics", &status);
	cr_assert_eq(status, 200);
	/* Two names: two misses stored, then two hits on one.example. */
	snprintf(want, sizeof(want),
	         "coredns_cache_hits_total{server=\"dns://:%u\",zones=\".\","
	         "view=\"\",type=\"success\"} 2",
	         sx_test_port(s));
	cr_assert(strstr(m, want), "want %s in:\n%s", want, m);
	cr_assert(strstr(m, "coredns_cache_misses_total{"), "%s", m);
	cr_assert(strstr(m, "zones=\".\",view=\"\"} 2\n"), "misses 2: %s", m);
	cr_assert(strstr(m, "view=\"\"} 4\n"), "requests 4: %s", m);
	cr_assert(strstr(m, "coredns_cache_entries{"), "%s", m);
	cr_assert(strstr(m, "type=\"success\"} 2\n"), "2 entries: %s", m);
	cr_assert(strstr(m, "# TYPE coredns_cache_requests_total counter"), "%s", m);
	free(m);
	sx_test_stop(s);
}
