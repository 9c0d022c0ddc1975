/* test_forward_faults.c -- forward against upstreams that fail: silent, refusing, slow, broken. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/*
 * Every failure must end in a correct reply: the answer of an upstream that
 * works, else SERVFAIL once the tries are spent, never a reply made of what a
 * broken or spoofing upstream sent. Times are asserted only from below (a
 * timeout was waited for). That a failure came at once, not after a timeout,
 * shows in what it led to: with a read timeout longer than forward's 5 s
 * deadline for the whole query, a try that waited would leave no time for
 * the next upstream, and its error would be a timeout.
 */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
stop(struct sx_test_server *s)
{
	int status = sx_test_stop(s);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sextant exit status %d", status);
}

static struct sx_test_server *start(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct sx_test_server *
start(const char *fmt, ...)
{
	char corefile[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(corefile, sizeof(corefile), fmt, ap);
	va_end(ap);
	return sx_test_start(NULL, corefile);
}

struct reply {
	ldns_pkt_rcode rcode;
	char a[64];  /* the first A record's address, "" when none */
	double secs; /* how long it took */
};

/* Ask A @name (flags SX_Q_*), waiting up to 30 s for dig: the reply must come. */
static struct reply
ask(struct sx_test_server *s, const char *name, bool tcp)
{
	char *out;
	struct reply r = { 0 };
	const char *st, *ans;
	double t0 = now_s();

	out = sx_test_dig(s, "+time=30 +tries=1 %s %s A", tcp ? "+tcp" : "+notcp", name);
	r.secs = now_s() - t0;
	st = strstr(out, "status: ");
	cr_assert(st, "no reply to %s over %s after %.1f s:\n%s\n%s", name, tcp ? "TCP" : "UDP",
	          r.secs, out, sx_test_log(s));
	if (!strncmp(st + 8, "NOERROR", 7)) {
		r.rcode = LDNS_RCODE_NOERROR;
	} else if (!strncmp(st + 8, "SERVFAIL", 8)) {
		r.rcode = LDNS_RCODE_SERVFAIL;
	} else if (!strncmp(st + 8, "REFUSED", 7)) {
		r.rcode = LDNS_RCODE_REFUSED;
	} else {
		r.rcode = (ldns_pkt_rcode)99;
	}
	ans = strstr(out, ";; ANSWER SECTION:\n");
	if (ans && (ans = strstr(ans, "\tA\t"))) {
		sscanf(ans + 3, "%63s", r.a);
	}
	free(out);
	return r;
}

static void
expect_a(struct sx_test_server *s, const char *name, bool tcp, const char *want)
{
	struct reply r = ask(s, name, tcp);

	cr_expect(r.rcode == LDNS_RCODE_NOERROR && !strcmp(r.a, want),
	          "%s over %s: rcode %d, A %s, not %s\n%s", name, tcp ? "TCP" : "UDP", r.rcode, r.a,
	          want, sx_test_log(s));
}

static struct reply
expect_servfail(struct sx_test_server *s, const char *name, bool tcp)
{
	struct reply r = ask(s, name, tcp);

	cr_expect_eq(r.rcode, LDNS_RCODE_SERVFAIL, "%s over %s: rcode %d (A %s)\n%s", name,
	             tcp ? "TCP" : "UDP", r.rcode, r.a, sx_test_log(s));
	return r;
}

TestSuite(forward_faults, .timeout = 120);

Test(forward_faults, a_silent_upstream_is_servfail_after_two_tries)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s;
	struct reply r;

	sx_up_mode(up, "silent");
	s = start(". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u {\n"
	          "\t\tread_timeout 500ms\n\t}\n}\n",
	          sx_up_port(up));
	for (int tcp = 0; tcp < 2; tcp++) {
		char name[64], needle[160];

		snprintf(name, sizeof(name), "q%d.example.org", tcp);
		r = expect_servfail(s, name, tcp);
		/* Two tries (the list goes round twice), each waited for to its end. */
		cr_expect_geq(r.secs, 0.95, "%s: SERVFAIL after %.2f s", name, r.secs);
		snprintf(needle, sizeof(needle), "%s %s. A", tcp ? "tcp" : "udp", name);
		cr_expect_eq(sx_up_count(up, needle), 2, "%s", needle);
		snprintf(needle, sizeof(needle), "[ERROR] plugin/errors: 2 %s. A: read %s ", name,
		         tcp ? "tcp" : "udp");
		cr_expect(sx_test_wait_log(s, needle, 10000), "%s\n%s", needle, sx_test_log(s));
	}
	cr_expect(strstr(sx_test_log(s), ": i/o timeout"), "%s", sx_test_log(s));
	stop(s);
	sx_up_stop(up);
}

Test(forward_faults, a_refusing_upstream_fails_at_once_and_the_next_answers)
{
	struct sx_upstream *b = sx_up_fake(2, false), *rc = sx_up_fake(3, false);
	uint16_t dead = sx_up_free_port();
	struct sx_test_server *s;
	struct reply r;

	/* Nothing listens on @dead: ICMP port unreachable (UDP), RST (TCP). */
	s = start(". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u {\n"
	          "\t\tread_timeout 1m\n\t}\n}\n",
	          dead);
	for (int tcp = 0; tcp < 2; tcp++) {
		const char *name = tcp ? "t.example.org" : "u.example.org";
		char needle[128], line[512];

		r = expect_servfail(s, name, tcp);
		/*
		 * The last try (its error is the one logged) failed on the refusal, not
		 * on a timeout: a read refused (UDP), or a connect that failed (TCP).
		 */
		snprintf(needle, sizeof(needle), "[ERROR] plugin/errors: 2 %s. A: ", name);
		cr_assert(sx_test_wait_log(s, needle, 10000), "%s\n%s", needle, sx_test_log(s));
		sscanf(strstr(sx_test_log(s), needle), "%511[^\n]", line);
		cr_expect(strstr(line, tcp ? ": connect: " : ": read: connection refused"),
		          "SERVFAIL after %.2f s, not for the refusal: %s", r.secs, line);
	}
	stop(s);

	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t\tread_timeout 1m\n\t}\n}\n",
	          dead, sx_up_port(b));
	for (int tcp = 0; tcp < 2; tcp++) {
		r = ask(s, tcp ? "t.example.org" : "u.example.org", tcp);
		cr_expect(r.rcode == LDNS_RCODE_NOERROR && !strcmp(r.a, "192.0.2.2"),
		          "rcode %d, A %s after %.2f s", r.rcode, r.a, r.secs);
	}
	stop(s);

	/* An upstream that answers REFUSED: passed on, or the next one asked with `failover`. */
	sx_up_mode(rc, "refused");
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t}\n}\n"
	          "example.net {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t\tfailover REFUSED\n\t}\n}\n",
	          sx_up_port(rc), sx_up_port(b), sx_up_port(rc), sx_up_port(b));
	r = ask(s, "www.example.org", false);
	cr_expect_eq(r.rcode, LDNS_RCODE_REFUSED);
	expect_a(s, "www.example.net", false, "192.0.2.2");
	stop(s);
	sx_up_stop(b);
	sx_up_stop(rc);
}

/* Wait (up to 30 s) until @up logged @n health probes: after a failed one the next one comes. */
static void
wait_probes(struct sx_upstream *up, int n)
{
	struct timespec pause = { 0, 20 * 1000000 };
	double t0 = now_s();

	while (sx_up_count(up, ". NS") < n && now_s() - t0 < 30) {
		nanosleep(&pause, NULL);
	}
	cr_assert_geq(sx_up_count(up, ". NS"), n, "%d health probes", n);
}

Test(forward_faults, failfast_all_unhealthy_upstreams)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	static const char *const opts[] = { "failfast_all_unhealthy_upstreams\n", "" };

	sx_up_mode(up, "silent");
	for (int i = 0; i < 2; i++) {
		struct sx_test_server *s;

		sx_up_clear(up);
		s = start(". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u {\n"
		          "\t\tread_timeout 200ms\n\t\tmax_fails 1\n\t\thealth_check 100ms\n"
		          "\t\t%s\t}\n}\n",
		          sx_up_port(up), opts[i]);
		/* The timeout starts probes; two failed ones (a third goes out) mark it down. */
		expect_servfail(s, "first.example.org", false);
		wait_probes(up, 3);
		expect_servfail(s, "then.example.org", false);
		if (i == 0) {
			/* Every upstream down: SERVFAIL without asking one. */
			cr_expect_eq(sx_up_count(up, "then.example.org"), 0);
			cr_expect(
			        sx_test_wait_log(s,
			                         "[ERROR] plugin/errors: 2 then.example.org. A: no "
			                         "healthy proxies",
			                         10000),
			        "%s", sx_test_log(s));
		} else {
			/* Without the option, checks are taken as broken and one is asked anyway. */
			cr_expect_geq(sx_up_count(up, "then.example.org"), 1);
		}
		stop(s);
	}
	sx_up_stop(up);
}

Test(forward_faults, slow_upstreams)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s;

	/* 300 ms is slow, but within the read timeout: its answer is taken. */
	sx_up_mode(a, "slow");
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n", sx_up_port(a));
	expect_a(s, "www.example.org", false, "192.0.2.1");
	expect_a(s, "www.example.org", true, "192.0.2.1");
	stop(s);

	/* Beyond it, the next upstream answers; the late answer is dropped. */
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t\tread_timeout 100ms\n\t\tmax_fails 0\n\t}\n}\n",
	          sx_up_port(a), sx_up_port(b));
	for (int i = 0; i < 5; i++) {
		expect_a(s, "www.example.org", i % 2, "192.0.2.2");
	}
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

Test(forward_faults, truncating_upstreams)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s;
	struct reply r;

	/* TC over UDP: asked again over TCP for a client that takes more. */
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n", sx_up_port(a));
	expect_a(s, "tc.example.org", true, "192.0.2.1");
	cr_expect_eq(sx_up_count(a, "tcp tc.example.org. A"), 1);
	stop(s);

	/*
	 * Cut in the middle of the answer: the try fails (the datagram does not
	 * parse; the TCP reply is shorter than its length prefix) and the next
	 * upstream answers.
	 */
	sx_up_mode(a, "short");
	s = start(". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t\tread_timeout 1m\n\t\tmax_fails 0\n\t}\n}\n",
	          sx_up_port(a), sx_up_port(b));
	r = ask(s, "cut.example.org", true);
	cr_expect(r.rcode == LDNS_RCODE_NOERROR && !strcmp(r.a, "192.0.2.2"),
	          "TCP: rcode %d, A %s after %.2f s\n%s", r.rcode, r.a, r.secs, sx_test_log(s));
	expect_a(s, "cut.example.org", false, "192.0.2.2");
	stop(s);

	/* With nobody else to ask: SERVFAIL, never the half answer. */
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	          "\t\tread_timeout 300ms\n\t\tmax_fails 0\n\t}\n}\n",
	          sx_up_port(a));
	expect_servfail(s, "cut.example.org", true);
	expect_servfail(s, "cut.example.org", false);
	/* Closed with no answer at all. */
	sx_up_mode(a, "hangup");
	expect_servfail(s, "gone.example.org", true);
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

Test(forward_faults, garbage_from_an_upstream_is_never_an_answer)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s;

	sx_up_mode(a, "garbage");
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	          "\t\tread_timeout 300ms\n\t\tmax_fails 0\n\t}\n}\n"
	          "example.net {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t\tread_timeout 300ms\n\t\tmax_fails 0\n\t}\n}\n",
	          sx_up_port(a), sx_up_port(a), sx_up_port(b));
	for (int tcp = 0; tcp < 2; tcp++) {
		expect_servfail(s, "junk.example.org", tcp);
		expect_a(s, "junk.example.net", tcp, "192.0.2.2");
	}
	cr_expect_geq(sx_up_count(a, "junk.example.org"), 4);
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

/* Spoofs come first, from the wrong ID, port or question; only the real answer may count. */
Test(forward_faults, spoofs_are_ignored_under_load)
{
	static const struct sx_probe spoofed[] = {
		{ "wrongid.example.org.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  "wrongid.example.org.\t30\tIN\tA\t192.0.2.1" },
		{ "wrongport.example.org.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  "wrongport.example.org.\t30\tIN\tA\t192.0.2.1" },
		{ "wrongq.example.org.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
		  "wrongq.example.org.\t30\tIN\tA\t192.0.2.1" },
	};
	struct sx_upstream *up = sx_up_fake(1, false);
	/*
	 * The answer follows its spoof by 50 ms, from a Python upstream that four
	 * probers keep busy: on a loaded machine one try may need the whole 5 s
	 * deadline, not the default 2 s (a second try starts over).
	 */
	struct sx_test_server *s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	                                 "\t\tread_timeout 5s\n\t}\n}\n",
	                                 sx_up_port(up));
	struct sx_prober *p[4];
	struct sx_probe_stats st;
	char buf[200];

	for (int i = 0; i < 4; i++) {
		p[i] = sx_prober_start("127.0.0.1", sx_test_port(s), spoofed, 3,
		                       i % 2 ? SX_PROBE_TCP : 0, 0, 10000);
	}
	for (int i = 0; i < 4; i++) {
		cr_assert(sx_prober_wait(p[i], 60, 60000), "%s", sx_test_log(s));
	}
	for (int i = 0; i < 4; i++) {
		sx_prober_stop(p[i], &st);
		cr_log_info("prober %d: %s", i, sx_probe_str(&st, buf, sizeof(buf)));
		cr_expect(st.sent > 0 && st.right == st.sent, "%s\n%s", buf, st.wrong);
	}
	stop(s);
	sx_up_stop(up);
}

/*
 * 20,000 queries to a silent upstream at 2,000 a second, each held for its
 * two tries: the server must keep answering its own zone, hold a bounded
 * amount of memory, and give back the sockets once the tries are spent.
 */
Test(forward_faults, a_flood_into_a_silent_upstream_is_bounded)
{
	static const struct sx_probe local[] = {
		{ "probe.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, NULL },
	};
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s;
	struct sx_prober *p;
	struct sx_probe_stats st;
	struct sockaddr_in to = { .sin_family = AF_INET };
	long rss0, rss1, peak;
	int fds0, fds_peak = 0, fds1 = 0, fd;
	char buf[200];

	sx_up_mode(up, "silent");
	s = start("example.org {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	          "\t\tread_timeout 500ms\n\t}\n}\n"
	          "probe.test {\n\tbind 127.0.0.1\n\twhoami\n}\n",
	          sx_up_port(up));
	rss0 = sx_census_rss_kb(sx_test_pid(s));
	fds0 = sx_census_fds(sx_test_pid(s));
	p = sx_prober_start("127.0.0.1", sx_test_port(s), local, 1, 0, 5, 5000);
	to.sin_port = htons(sx_test_port(s));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(fd >= 0);
	for (int i = 0; i < 20000; i++) {
		uint8_t q[64];
		int n = snprintf((char *)q + 12, sizeof(q) - 12, "%c%05d%cexample%corg", 5, i, 7,
		                 3);

		memset(q, 0, 12);
		q[0] = (uint8_t)(i >> 8);
		q[1] = (uint8_t)i;
		q[2] = 1; /* RD */
		q[5] = 1; /* one question */
		/* "\6NNNNN\7example\3org\0" A IN */
		q[12 + n] = 0;
		q[13 + n] = 0;
		q[14 + n] = 1;
		q[15 + n] = 0;
		q[16 + n] = 1;
		sendto(fd, q, (size_t)(17 + n), 0, (struct sockaddr *)&to, sizeof(to));
		if (i % 1000 == 999) {
			int now = sx_census_fds(sx_test_pid(s));
			fds_peak = now > fds_peak ? now : fds_peak;
			usleep(500000); /* pacing: 2,000 a second */
		}
	}
	close(fd);
	peak = sx_census_hwm_kb(sx_test_pid(s));
	/* Every query gives up within its deadline: the sockets go back. */
	for (int i = 0; i < 600; i++) {
		fds1 = sx_census_fds(sx_test_pid(s));
		if (fds1 <= fds0 + 4) {
			break;
		}
		usleep(100000);
	}
	rss1 = sx_census_rss_kb(sx_test_pid(s));
	sx_prober_stop(p, &st);
	cr_log_info("probes during the flood: %s", sx_probe_str(&st, buf, sizeof(buf)));
	cr_log_info("fds %d, peak %d, after %d; RSS %ld KiB, peak %ld, after %ld", fds0, fds_peak,
	            fds1, rss0, peak, rss1);
	cr_expect_leq(fds1, fds0 + 4, "descriptors left open: %d, were %d", fds1, fds0);
	/* Alive and right throughout; the share answered is a figure (the load varies). */
	cr_expect(st.right > 0 && st.right == st.answered, "%s\n%s", buf, st.wrong);
	/* 20,000 queries in flight at most: a few KiB each would be 100 MB; allow that much. */
	cr_expect_lt(peak - rss0, 100 * 1024, "peak RSS %ld KiB from %ld", peak, rss0);
	expect_servfail(s, "after.example.org", false);
	stop(s);
	sx_up_stop(up);
}
