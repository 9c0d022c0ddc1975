/* test_reload_faults.c -- reloads that fail, again and again: the server stays whole. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
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

/*
 * Write @text as the Corefile, SIGUSR1, and wait for one more "Restart failed"
 * or "Reload completed". @return whether the reload failed.
 */
static bool
reload_either(struct sx_test_server *s, const char *text)
{
	int failed = log_count(s, "Restart failed"), done = log_count(s, "Reload completed");

	sx_test_write(s, "Corefile", text);
	kill(sx_test_pid(s), SIGUSR1);
	for (int i = 0; i < 1500; i++) {
		if (log_count(s, "Restart failed") > failed) {
			return true;
		}
		if (log_count(s, "Reload completed") > done) {
			return false;
		}
		usleep(20000);
	}
	cr_assert_fail("the reload neither failed nor completed\n%s", sx_test_log(s));
	return false;
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

/* A socket bound to 127.0.0.1:@port for @type only (no SO_REUSEPORT), held by the test. */
static int
hold_one(uint16_t port, int type)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, type, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(type != SOCK_STREAM || listen(fd, 4) == 0);
	return fd;
}

/* Whether anything answers the whoami probe on 127.0.0.1:@port over @flags. */
static long
answers_on(uint16_t port, int flags)
{
	static const struct sx_probe whoami[] = {
		{ "x.other.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, NULL },
	};
	struct sx_prober *p = sx_prober_start("127.0.0.1", port, whoami, 1, flags, 10, 500);
	struct sx_probe_stats st;

	cr_assert(sx_prober_wait_sent(p, 3, 30000));
	sx_prober_stop(p, &st);
	return st.answered;
}

/*
 * A reload that needs more descriptors than the server may open fails at each
 * step in turn: with k descriptors to spare (k = 0..3), k sockets of the new
 * block's four (two workers, UDP and TCP) open and the next one does not (for
 * k = 0 the Corefile cannot even be read). Each failure must close exactly what it opened,
 * in the middle of serving: the census is back to where it was, and the old
 * configuration answered every probe. The limit is lowered on the server
 * (prlimit) only for the reload, then put back; once k is enough the reload
 * takes, and the new block answers.
 */
Test(reload_faults, descriptor_exhaustion_at_each_step, .timeout = 300)
{
	struct sx_test_server *s;
	struct sx_prober *udp;
	struct rlimit saved, low;
	char good[1024], more[1024], extra[512];
	int fds0, failures = 0, k;
	uint16_t port = sx_up_free_port();

	corefile(good, sizeof(good), "192.0.2.7", "");
	snprintf(extra, sizeof(extra), "other.test:%u {\n\tbind 127.0.0.1\n\twhoami\n}\n", port);
	corefile(more, sizeof(more), "192.0.2.7", extra);
	s = sx_test_start(NULL, good);
	fds0 = idle_fds(s);
	cr_assert(prlimit(sx_test_pid(s), RLIMIT_NOFILE, NULL, &saved) == 0);
	/* UDP only: a TCP client would need a descriptor the server may not have. */
	udp = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, 0, 10, 5000);
	for (k = 0; k < 40; k++) {
		bool failed;
		int fds;

		low = saved;
		low.rlim_cur = (rlim_t)(fds0 + k);
		cr_assert(prlimit(sx_test_pid(s), RLIMIT_NOFILE, &low, NULL) == 0);
		failed = reload_either(s, more);
		cr_assert(prlimit(sx_test_pid(s), RLIMIT_NOFILE, &saved, NULL) == 0);
		if (!failed) {
			break;
		}
		failures++;
		fds = idle_fds(s);
		cr_expect_eq(fds, fds0,
		             "%d spare descriptors: %d before the failed reload, %d after", k, fds0,
		             fds);
		cr_expect_eq(answers_on(port, 0), 0, "a failed reload's listener answers (k=%d)",
		             k);
	}
	cr_log_info("reloads failed for want of descriptors: %d; took with %d to spare", failures,
	            k);
	/* Failing at each of the four sockets. */
	cr_expect_geq(failures, 4, "only %d failed reloads\n%s", failures, sx_test_log(s));
	cr_assert_lt(k, 40, "the reload never took\n%s", sx_test_log(s));
	cr_expect_gt(answers_on(port, 0), 0, "the new block does not answer over UDP");
	cr_expect_gt(answers_on(port, SX_PROBE_TCP), 0, "the new block does not answer over TCP");
	expect_all_right(udp, "UDP during the reloads short of descriptors");
	reload(s, good, "Reload completed");
	cr_expect_eq(idle_fds(s), fds0, "descriptors once the new block is gone");
	cr_expect_eq(sx_test_stop(s), 0);
}

/*
 * A port taken part-way through the new listeners: the first new block's four
 * sockets open, then the second block's UDP (or TCP) socket cannot bind. What
 * opened is closed again, the first block never answers, the old
 * configuration answers throughout, and the census does not move.
 */
Test(reload_faults, a_port_taken_midway, .timeout = 300)
{
	static const int kinds[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sx_test_server *s;
	struct sx_prober *udp, *tcp;
	char good[1024], bad[1024], extra[512];
	uint16_t first = sx_up_free_port(), second;
	int fds0;

	do {
		second = sx_up_free_port();
	} while (second == first);
	corefile(good, sizeof(good), "192.0.2.7", "");
	snprintf(extra, sizeof(extra),
	         "other.test:%u {\n\tbind 127.0.0.1\n\twhoami\n}\n"
	         "more.test:%u {\n\tbind 127.0.0.1\n\twhoami\n}\n",
	         first, second);
	corefile(bad, sizeof(bad), "192.0.2.9", extra);
	s = sx_test_start(NULL, good);
	fds0 = idle_fds(s);
	udp = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, 0, 10, 5000);
	tcp = sx_prober_start("127.0.0.1", sx_test_port(s), probe, 1, SX_PROBE_TCP, 10, 5000);
	for (int round = 0; round < 10; round++) {
		int held = hold_one(second, kinds[round % 2]);

		cr_assert(reload_either(s, bad), "the reload took with port %u held\n%s", second,
		          sx_test_log(s));
		close(held);
	}
	cr_assert(sx_prober_wait(udp, 10, 30000) && sx_prober_wait(tcp, 10, 30000));
	expect_all_right(udp, "UDP during the failed reloads");
	expect_all_right(tcp, "TCP during the failed reloads");
	cr_expect_eq(answers_on(first, 0), 0, "the first new block answers");
	cr_expect_eq(idle_fds(s), fds0, "descriptors after the failed reloads");
	cr_expect_eq(sx_test_stop(s), 0);
}

/* How many times the server opened the Corefile so far (@ino: inotify on its directory). */
static int
opens(int ino, int *count)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			*count += (ev->mask & IN_OPEN) && ev->len && !strcmp(ev->name, "Corefile");
			p += sizeof(*ev) + ev->len;
		}
	}
	return *count;
}

/*
 * The reload plugin tries a Corefile that fails once, as CoreDNS does, and
 * not at every check after that: the failure is logged and counted once while
 * the server reads the file again and again (inotify counts its opens).
 */
Test(reload_faults, a_failed_corefile_is_tried_once, .timeout = 120)
{
	struct sx_test_server *s;
	char good[1024], bad[1024], extra[512];
	int held[2], ino, n = 0, before;
	uint16_t taken;

	hold_port(&taken, held);
	corefile(good, sizeof(good), "192.0.2.7", "");
	strcat(good, ".:0 {\n\tbind 127.0.0.1\n\treload 2s 1s\n}\n");
	snprintf(extra, sizeof(extra),
	         ".:0 {\n\tbind 127.0.0.1\n\treload 2s 1s\n}\n"
	         "other.test:%u {\n\tbind 127.0.0.1\n\twhoami\n}\n",
	         taken);
	corefile(bad, sizeof(bad), "192.0.2.9", extra);
	s = sx_test_start(NULL, good);
	cr_assert(sx_test_wait_log(s, "Running configuration SHA512", 10000));
	/* The directory: the harness replaces the Corefile by a rename. */
	ino = inotify_init1(IN_NONBLOCK);
	cr_assert(ino >= 0 && inotify_add_watch(ino, sx_test_dir(s), IN_OPEN) >= 0);
	sx_test_write(s, "Corefile", bad);
	cr_assert(sx_test_wait_log(s, "Restart failed", 30000), "%s", sx_test_log(s));
	before = opens(ino, &n);
	/* Each check opens the Corefile twice (parse, hash): wait for at least three checks. */
	for (int i = 0; i < 3000 && opens(ino, &n) < before + 6; i++) {
		usleep(10000);
	}
	cr_assert_geq(n, before + 6, "the Corefile was not checked again\n%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "Restart failed"), 1, "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "Corefile changed, reloading"), 1, "%s", sx_test_log(s));
	{
		ldns_pkt *p = sx_test_query(s, WWW, LDNS_RR_TYPE_A, 0, 0);
		char *ans = p ? sx_test_section_str(p, LDNS_SECTION_ANSWER) : NULL;

		cr_expect(ans && strstr(ans, "192.0.2.7"), "the old configuration does not answer");
		free(ans);
		ldns_pkt_free(p);
	}
	close(ino);
	close(held[0]);
	close(held[1]);
	cr_expect_eq(sx_test_stop(s), 0);
}
