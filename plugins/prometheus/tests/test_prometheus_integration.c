/* test_prometheus_integration.c -- /metrics through the real binary: names, labels, counts. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#define CF                                                                       \
	". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0\n\terrors\n\thosts {\n" \
	"\t\t10.1.1.1 one.example\n\t}\n}\n"

static char *
scrape(struct sx_test_server *s, long *status)
{
	uint16_t port = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");

	return sx_test_http_get(port, "/metrics", status);
}

Test(prometheus, counts_requests_and_responses_with_coredns_labels)
{
	struct sx_test_server *s = sx_test_start(NULL, CF);
	long status;
	char *m, want[256];
	int i;

	for (i = 0; i < 3; i++) {
		ldns_pkt *p = sx_test_query(s, "one.example", LDNS_RR_TYPE_A, i == 0 ? SX_Q_DO : 0,
		                            0);

		cr_assert(p);
		ldns_pkt_free(p);
	}
	ldns_pkt_free(sx_test_query(s, "one.example", LDNS_RR_TYPE_AAAA, SX_Q_TCP, 0));
	ldns_pkt_free(sx_test_query(s, "missing.example", LDNS_RR_TYPE_A, 0, 0));
	m = scrape(s, &status);
	cr_assert_eq(status, 200);
	snprintf(want, sizeof(want),
	         "coredns_dns_requests_total{server=\"dns://:%u\",zone=\".\","
	         "view=\"\",proto=\"udp\",family=\"1\",type=\"A\"} 4",
	         sx_test_port(s));
	cr_assert(strstr(m, want), "want %s in:\n%s", want, m);
	cr_assert(strstr(m, "proto=\"tcp\",family=\"1\",type=\"AAAA\"} 1"), "%s", m);
	cr_assert(strstr(m, "# TYPE coredns_dns_requests_total counter"), "%s", m);
	cr_assert(strstr(m, "coredns_dns_do_requests_total{"), "%s", m);
	cr_assert(strstr(m, "zone=\".\",view=\"\"} 1\n"), "one DO query: %s", m);
	cr_assert(strstr(m, "rcode=\"NOERROR\",plugin=\"hosts\"} 4"), "%s", m);
	/* hosts answers a missing name with SERVFAIL, which CoreDNS counts as the server's. */
	cr_assert(strstr(m, "rcode=\"SERVFAIL\",plugin=\"\"} 1"), "%s", m);
	cr_assert(strstr(m, "# TYPE coredns_dns_request_duration_seconds histogram"), "%s", m);
	cr_assert(strstr(m, "coredns_dns_request_duration_seconds_count{server=\"dns://:"), "%s",
	          m);
	/* The durations by query type, as CoreDNS labels them: 4 A (one a miss), 1 AAAA. */
	cr_assert(strstr(m, "view=\"\",type=\"A\"} 4\n"), "%s", m);
	cr_assert(strstr(m, "view=\"\",type=\"AAAA\"} 1\n"), "%s", m);
	cr_assert(strstr(m, "coredns_dns_response_size_bytes_bucket{"), "%s", m);
	cr_assert(strstr(m, "type=\"A\",le=\"+Inf\"} 4"), "%s", m);
	cr_assert(strstr(m, "coredns_build_info{version=\""), "%s", m);
	cr_assert(strstr(m, "name=\"hosts\"} 1"), "plugin_enabled: %s", m);
	cr_assert(strstr(m, "process_resident_memory_bytes "), "%s", m);
	free(m);
	m = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                     "/nothing", &status);
	cr_assert_eq(status, 404);
	free(m);
	sx_test_stop(s);
}

Test(prometheus, bad_address_is_a_setup_error)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;
	int st;

	sx_test_write(s, "Corefile", ". {\n\tprometheus nocolon\n\twhoami\n}\n");
	st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_assert(strstr(out, "Corefile:2: plugin/prometheus: invalid address 'nocolon'"), "%s",
	          out);
	free(out);
	sx_test_stop(s);
}
