/* test_loop_integration.c -- a Corefile forwarding to itself is caught at start; others run on. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Whether process @pid has exited (a zombie waiting for us), within @ms. */
static bool
exited(pid_t pid, int ms)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (; ms > 0; ms -= 20) {
		FILE *f = fopen(path, "r");
		char *close;

		if (!f) {
			return true;
		}
		buf[0] = '\0';
		if (!fgets(buf, sizeof(buf), f)) {
			buf[0] = '\0';
		}
		fclose(f);
		close = strrchr(buf, ')');
		if (close && close[1] == ' ' && close[2] == 'Z') {
			return true;
		}
		sleep_ms(20);
	}
	return false;
}

Test(loop, forwarding_to_itself_is_fatal)
{
	uint16_t port = sx_up_free_port();
	char corefile[512], pattern[512];
	struct sx_test_server *s;
	regex_t re;
	int status;

	snprintf(corefile, sizeof(corefile),
	         ".:%u {\n\tbind 127.0.0.1\n\tloop\n\tforward . 127.0.0.1:%u\n}\n", port, port);
	s = sx_test_start(NULL, corefile);
	cr_assert(sx_test_wait_log(s, "[FATAL] plugin/loop: Loop (", 30000), "%s", sx_test_log(s));
	cr_assert(exited(sx_test_pid(s), 30000), "still running:\n%s", sx_test_log(s));
	snprintf(pattern, sizeof(pattern),
	         "\\[FATAL\\] plugin/loop: Loop \\(127\\.0\\.0\\.1:[0-9]+ -> :%u\\) detected for "
	         "zone \"\\.\", see https://coredns\\.io/plugins/loop#troubleshooting\\. "
	         "Query: \"HINFO [0-9]+\\.[0-9]+\\.\"\n",
	         port);
	cr_assert(regcomp(&re, pattern, REG_EXTENDED) == 0);
	cr_assert(regexec(&re, sx_test_log(s), 0, NULL, 0) == 0, "%s", sx_test_log(s));
	regfree(&re);
	status = sx_test_stop(s);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
}

/*
 * A block bound only to another address (NodeLocal DNSCache binds 169.254.20.10)
 * is probed there: a probe sent to 127.0.0.1 would find no listener and the
 * loop would go unseen.
 */
Test(loop, a_block_bound_elsewhere_is_probed_on_its_address)
{
	uint16_t port = sx_up_free_port();
	char corefile[512], want[128];
	struct sx_test_server *s;
	int status;

	snprintf(corefile, sizeof(corefile),
	         ".:%u {\n\tbind 127.0.0.9\n\tloop\n\tforward . 127.0.0.9:%u\n}\n", port, port);
	s = sx_test_prepare();
	sx_test_set_addr(s, "127.0.0.9");
	sx_test_start(s, corefile);
	cr_assert(sx_test_wait_log(s, "[FATAL] plugin/loop: Loop (", 15000), "%s", sx_test_log(s));
	snprintf(want, sizeof(want), "-> :%u) detected for zone \".\"", port);
	cr_expect(strstr(sx_test_log(s), want), "%s", sx_test_log(s));
	cr_assert(exited(sx_test_pid(s), 30000), "still running:\n%s", sx_test_log(s));
	status = sx_test_stop(s);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
}

Test(loop, a_real_upstream_is_no_loop)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	char corefile[512];
	struct sx_test_server *s;
	ldns_pkt *p;

	/* A zone block on the ephemeral port: the probe must find that port. */
	snprintf(corefile, sizeof(corefile),
	         "example.org {\n\tbind 127.0.0.1\n\tloop\n\tforward . 127.0.0.1:%u\n}\n",
	         sx_up_port(up));
	s = sx_test_start(NULL, corefile);
	for (int i = 0; i < 1500 && sx_up_count(up, "HINFO") == 0; i++) {
		sleep_ms(20);
	}
	/*
	 * One probe, "<n>.<n>.example.org. HINFO", answered: no more. (A wait for
	 * something not to happen: too short a wait could only miss a second probe.)
	 */
	cr_assert_eq(sx_up_count(up, ".example.org. HINFO"), 1);
	sleep_ms(1500);
	cr_assert_eq(sx_up_count(up, "HINFO"), 1);
	cr_assert_not(exited(sx_test_pid(s), 10));
	p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	cr_assert_not(strstr(sx_test_log(s), "FATAL"), "%s", sx_test_log(s));
	cr_assert_eq(WEXITSTATUS(sx_test_stop(s)), 0);
	sx_up_stop(up);
}
