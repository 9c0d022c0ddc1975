/* test_reload_faults.c -- reloads that fail, again and again: the server stays whole. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/*
 * A reload that fails must leave the running configuration exactly as it
 * was: its listeners open (a descriptor closed twice would close someone
 * else's), no descriptor leaked, every query answered. Each way a reload can
 * fail is tried ten times, under two probers, then good reloads that add and
 * remove a listener, and the descriptors are counted before and after.
 */

#define WWW "www.example.test."

static const struct sx_probe probe[] = {
	{ WWW, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, WWW "\t3600\tIN\tA\t192.0.2.7" },
};

/* The running configuration; @extra is appended (more server blocks). */
static void
corefile(char *out, size_t size, const char *addr, const char *extra)
{
	snprintf(out, size,
	         "example.test {\n\tbind 127.0.0.1\n\thosts {\n\t\t%s www.example.test\n\t}\n}\n%s",
	         addr, extra);
}

static int
log_count(struct sx_test_server *s, const char *needle)
{
	const char *p = sx_test_log(s);
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* Write @text as the Corefile, SIGUSR1, and wait for one more @outcome in the log. */
static void
reload(struct sx_test_server *s, const char *text, const char *outcome)
{
	int before = log_count(s, outcome);

	sx_test_write(s, "Corefile", text);
	kill(sx_test_pid(s), SIGUSR1);
	for (int i = 0; i < 1500 && log_count(s, outcome) == before; i++) {
		usleep(20000);
	}
	cr_assert_gt(log_count(s, outcome), before, "no \"%s\" after reloading\n%s\n---\n%s",
	             outcome, text, sx_test_log(s));
}

/* Descriptors of the server once no client connection is open (the probers are stopped). */
static int
idle_fds(struct sx_test_server *s)
{
	for (int i = 0; i < 300 && sx_census_tcp(sx_test_pid(s), SX_TCP_ESTABLISHED, 0) > 0; i++) {
		usleep(100000);
	}
	return sx_census_fds(sx_test_pid(s));
}

/* Stop @p and check every probe was answered right. */
static void
expect_all_right(struct sx_prober *p, const char *what)
{
	struct sx_probe_stats st;
	char buf[200];

	sx_prober_stop(p, &st);
	cr_log_info("%s: %s", what, sx_probe_str(&st, buf, sizeof(buf)));
	cr_expect(st.sent > 0 && st.right == st.sent, "%s: %s\n%s", what, buf, st.wrong);
}

/* A socket bound to 127.0.0.1:@port (UDP and TCP, no SO_REUSEPORT), held by the test. */
static void
hold_port(uint16_t *port, int fds[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fds[0] >= 0 && bind(fds[0], (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(listen(fds[0], 4) == 0);
	cr_assert(getsockname(fds[0], (struct sockaddr *)&sin, &len) == 0);
	fds[1] = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(fds[1] >= 0 && bind(fds[1], (struct sockaddr *)&sin, sizeof(sin)) == 0);
	*port = ntohs(sin.sin_port);
}

Test(reload_faults, failed_reloads_leave_the_server_whole, .timeout = 300)
{
	struct sx_test_server *s;
	static const struct sx_probe whoami[] = {
		{ "x.other.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, NULL },
	};
	struct sx_prober *udp, *tcp, *other;
	struct sx_probe_stats so;
	char good[1024], bad[4][1024], extra[512];
	int held[2], fds0, fds1, failures = 0;
	uint16_t taken, free_port;
	ldns_pkt *p;

	hold_port(&taken, held);
	corefile(good, sizeof(good), "192.0.2.7", "");
	s = sx_test_start(NULL, good);
	fds0 = idle_fds(s);
	udp = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, 0, 10, 5000);
	tcp = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, SX_PROBE_TCP, 10, 5000);

	/* Unparsable; a bad option; a port someone else holds; a plugin that cannot start. */
	snprintf(bad[0], sizeof(bad[0]), "example.test {\n\tbind 127.0.0.1\n\thosts {\n");
	corefile(bad[1], sizeof(bad[1]), "192.0.2.9",
	         "other.test {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:9 {\n"
	         "\t\tmax_fails many\n\t}\n}\n");
	snprintf(extra, sizeof(extra), "other.test:%u {\n\tbind 127.0.0.1\n\twhoami\n}\n", taken);
	corefile(bad[2], sizeof(bad[2]), "192.0.2.9", extra);
	corefile(bad[3], sizeof(bad[3]), "192.0.2.9",
	         "other.test {\n\tbind 127.0.0.1\n\tforward . tls://127.0.0.1:853 {\n"
	         "\t\ttls /nonexistent/client.crt /nonexistent/client.key\n\t}\n}\n");
	for (int round = 0; round < 10; round++) {
		for (int k = 0; k < 4; k++) {
			reload(s, bad[k], "Restart failed");
			failures++;
		}
	}
	cr_assert(sx_prober_wait(udp, 10, 30000) && sx_prober_wait(tcp, 10, 30000),
	          "no answers after the failed reloads:\n%s", sx_test_log(s));
	expect_all_right(udp, "UDP during the failed reloads");
	expect_all_right(tcp, "TCP during the failed reloads");
	fds1 = idle_fds(s);
	cr_expect_eq(fds1, fds0, "descriptors before %d, after %d failed reloads %d", fds0,
	             failures, fds1);
	udp = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, 0, 10, 5000);
	tcp = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, SX_PROBE_TCP, 10, 5000);

	/* Good reloads: a listener comes, serves, and goes; the answer changes. */
	{
		int tmp[2];

		hold_port(&free_port, tmp);
		close(tmp[0]);
		close(tmp[1]);
	}
	snprintf(extra, sizeof(extra), "other.test:%u {\n\tbind 127.0.0.1\n\twhoami\n}\n",
	         free_port);
	corefile(good, sizeof(good), "192.0.2.7", extra);
	reload(s, good, "Reload completed");
	other = sx_prober_start("127.0.0.1", free_port, whoami, 1, SX_PROBE_TCP, 10, 2000);
	cr_assert(sx_prober_wait(other, 3, 30000), "the new listener does not answer:\n%s",
	          sx_test_log(s));
	sx_prober_stop(other, NULL);
	corefile(good, sizeof(good), "192.0.2.7", "");
	reload(s, good, "Reload completed");
	other = sx_prober_start("127.0.0.1", free_port, whoami, 1, SX_PROBE_TCP, 10, 500);
	cr_assert(sx_prober_wait_sent(other, 3, 30000));
	sx_prober_stop(other, &so);
	cr_expect_eq(so.answered, 0, "the removed listener still answers");
	expect_all_right(udp, "UDP during the good reloads");
	expect_all_right(tcp, "TCP during the good reloads");
	cr_expect_eq(idle_fds(s), fds0, "descriptors after the good reloads");
	p = sx_test_query(s, WWW, LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_expect(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	close(held[0]);
	close(held[1]);
	cr_expect_eq(sx_test_stop(s), 0);
}
