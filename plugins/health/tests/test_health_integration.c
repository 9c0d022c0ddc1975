/* test_health_integration.c -- /health, its self-probe metrics, and lameduck on SIGTERM. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* Whether process @pid has exited (gone, or a zombie waiting for its parent), within @ms. */
static bool
exited_within(pid_t pid, int ms)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		char path[64], line[128];
		bool zombie = false;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if (!(f = fopen(path, "r"))) {
			return true;
		}
		while (fgets(line, sizeof(line), f)) {
			zombie = zombie || !strncmp(line, "State:\tZ", 8);
		}
		fclose(f);
		if (zombie) {
			return true;
		}
		usleep(20000);
	}
	return false;
}

Test(health, answers_ok_and_probes_itself)
{
	struct sx_test_server *s = sx_test_start(
	        NULL,
	        ". {\n\tbind 127.0.0.1\n\thealth 127.0.0.1:0\n\tprometheus 127.0.0.1:0\n\twhoami\n}\n");
	uint16_t hp = (uint16_t)sx_test_log_number(s, "serving /health on port ");
	uint16_t mp = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");
	long status;
	char *b = sx_test_http_get(hp, "/health", &status);

	cr_assert_eq(status, 200);
	cr_assert_str_eq(b, "OK");
	free(b);
	/* A self-probe runs every second: wait for the first to be counted. */
	for (int i = 0; i < 300; i++) {
		b = sx_test_http_get(mp, "/metrics", &status);
		if (strstr(b, "coredns_health_request_duration_seconds_count ") &&
		    !strstr(b, "coredns_health_request_duration_seconds_count 0")) {
			break;
		}
		free(b);
		b = NULL;
		usleep(100000);
	}
	cr_assert(b, "no self-probe counted in 30 s");
	cr_assert(strstr(b, "coredns_health_request_failures_total 0"), "%s", b);
	cr_assert(strstr(b, "coredns_health_request_duration_seconds_count "), "%s", b);
	cr_assert(!strstr(b, "coredns_health_request_duration_seconds_count 0"), "%s", b);
	free(b);
	sx_test_stop(s);
}

Test(health, lameduck_keeps_serving_then_stops)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, ". {\n\tbind 127.0.0.1\n\thealth 127.0.0.1:0 {\n\t\tlameduck 5s\n\t}\n"
	              "\tready 127.0.0.1:0\n\twhoami\n}\n");
	uint16_t hp = (uint16_t)sx_test_log_number(s, "serving /health on port ");
	uint16_t rp = (uint16_t)sx_test_log_number(s, "serving /ready on port ");
	long status;
	char *b;
	ldns_pkt *p;

	kill(sx_test_pid(s), SIGTERM);
	cr_assert(sx_test_wait_log(s, "Going into lameduck mode for 5s", 10000), "%s",
	          sx_test_log(s));
	/*
	 * During lameduck: DNS and /health answer, /ready says it is going away
	 * (5 s is a thousand times what these take, however loaded the machine).
	 */
	p = sx_test_query(s, "still.example", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p, "DNS answered during lameduck");
	ldns_pkt_free(p);
	b = sx_test_http_get(hp, "/health", &status);
	cr_assert_eq(status, 200);
	free(b);
	b = sx_test_http_get(rp, "/ready", &status);
	cr_assert_eq(status, 503);
	cr_assert_str_eq(b, "Shutting down");
	free(b);
	cr_assert(exited_within(sx_test_pid(s), 60000), "still running a minute after lameduck");
	cr_assert_null(sx_test_query(s, "gone.example", LDNS_RR_TYPE_A, 0, 0), "stopped after 5s");
	sx_test_stop(s);
}

/*
 * Queries still arriving at the lameduck's end (a node's kube-proxy not yet told) keep the
 * server draining, for at most one more lameduck period: it answers them, then exits even
 * though they never stop.
 */
Test(health, lameduck_drains_while_queries_arrive_then_stops)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, ". {\n\tbind 127.0.0.1\n\thealth 127.0.0.1:0 {\n\t\tlameduck 1s\n\t}\n"
	              "\twhoami\n}\n");
	static const struct sx_probe probe[] = {
		{ "still.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, NULL },
	};
	const char *extended = "Queries still arrive after lameduck";
	/* A client querying without pause from before the signal: the drain never sees a quiet tick. */
	struct sx_prober *p = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, 0, 20, 500);

	cr_assert(sx_prober_wait(p, 5, 30000), "the prober got no answers");
	kill(sx_test_pid(s), SIGTERM);
	cr_assert(sx_test_wait_log(s, extended, 30000), "%s", sx_test_log(s));
	cr_expect(sx_prober_wait(p, 1, 10000), "no query answered after the lameduck's end");
	cr_assert(exited_within(sx_test_pid(s), 60000), "still draining a minute after lameduck");
	sx_prober_stop(p, NULL);
	sx_test_stop(s);
}
