/* test_forward_integration.c -- forward against the programmable fake upstream (fakeup.py). */
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Stop the server and check it exited cleanly (under ASan: no leak, no error either). */
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

/* The address in the first A record of the answer, or "" (static buffer). */
static const char *
first_a(const ldns_pkt *p)
{
	static char buf[64];
	ldns_rr_list *an = ldns_pkt_answer(p);

	buf[0] = '\0';
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A) {
			char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));

			snprintf(buf, sizeof(buf), "%s", s);
			free(s);
			break;
		}
	}
	return buf;
}

/* Query A @name over UDP (or TCP) and return the first address answered, "" if none. */
static const char *
ask(struct sx_test_server *s, const char *name, int flags)
{
	static char buf[64];
	ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_A, flags, 0);

	cr_assert(p, "no reply for %s", name);
	snprintf(buf, sizeof(buf), "%s", first_a(p));
	ldns_pkt_free(p);
	return buf;
}

/* Send a query and do not wait for its answer (it may never come). */
static void
fire(const struct sx_test_server *s, const char *name)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(sx_test_port(s)) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert(ldns_pkt_query_new_frm_str(&q, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD) ==
	          LDNS_STATUS_OK);
	ldns_pkt_set_random_id(q);
	cr_assert(ldns_pkt2wire(&wire, q, &len) == LDNS_STATUS_OK);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(sendto(fd, wire, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len);
	close(fd);
	free(wire);
	ldns_pkt_free(q);
}

Test(forward, udp_and_tcp)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n",
	                                 sx_up_port(up));

	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.1");
	cr_assert_str_eq(ask(s, "www.example.org", SX_Q_TCP), "192.0.2.1");
	/* As CoreDNS: the client's transport is used upstream too. */
	cr_assert_eq(sx_up_count(up, "udp www.example.org. A"), 1);
	cr_assert_eq(sx_up_count(up, "tcp www.example.org. A"), 1);
	/* Sockets are reused (one at a time per worker here, two workers): few source ports. */
	for (int i = 0; i < 10; i++) {
		cr_assert_str_eq(ask(s, "again.example.org", SX_Q_TCP), "192.0.2.1");
		cr_assert_str_eq(ask(s, "again.example.org", 0), "192.0.2.1");
	}
	cr_assert_eq(sx_up_count(up, "tcp again.example.org. A"), 10);
	cr_assert_leq(sx_up_ports(up, "tcp again.example.org. A"), 2);
	cr_assert_leq(sx_up_ports(up, "udp again.example.org. A"), 2);
	stop(s);
	/* expire 0s: a new socket, so a new random source port, for every query. */
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n\t\texpire 0s\n\t}\n}\n",
	          sx_up_port(up));
	for (int i = 0; i < 10; i++) {
		cr_assert_str_eq(ask(s, "fresh.example.org", SX_Q_TCP), "192.0.2.1");
		cr_assert_str_eq(ask(s, "fresh.example.org", 0), "192.0.2.1");
	}
	cr_assert_eq(sx_up_ports(up, "tcp fresh.example.org. A"), 10);
	cr_assert_eq(sx_up_ports(up, "udp fresh.example.org. A"), 10);
	stop(s);
	sx_up_stop(up);
}

Test(forward, query_goes_out_as_received)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n",
	                                 sx_up_port(up));
	ldns_pkt *p = sx_test_query(s, "EcHo.Example.ORG", LDNS_RR_TYPE_TXT, SX_Q_DO, 4096);
	char *an, *qname;

	cr_assert(p);
	an = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	/* The name in its case, the client's RD and DO, and our EDNS size. */
	cr_assert(strstr(an, "\"rd=1 cd=0 ad=0 do=1 edns=1 size=1232 proto=udp "
	                     "name=EcHo.Example.ORG.\""),
	          "%s", an);
	qname = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
	cr_assert_str_eq(qname, "EcHo.Example.ORG.");
	cr_assert(ldns_pkt_edns(p), "the client asked with EDNS, so the answer has it");
	free(qname);
	free(an);
	ldns_pkt_free(p);

	p = sx_test_query(s, "echo.example.org", LDNS_RR_TYPE_TXT, SX_Q_NORD | SX_Q_NOEDNS, 0);
	cr_assert(p);
	an = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_assert(strstr(an, "\"rd=0 cd=0 ad=0 do=0 edns=1 size=1232 proto=udp"), "%s", an);
	cr_assert_not(ldns_pkt_edns(p), "no OPT in the answer to a query without one");
	free(an);
	ldns_pkt_free(p);
	stop(s);
	sx_up_stop(up);
}

Test(forward, truncated_answers_are_fetched_over_tcp)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n",
	                                 sx_up_port(up));
	ldns_pkt *p;

	/* The client takes 4096 bytes: worth fetching the whole answer over TCP. */
	p = sx_test_query(s, "tc.example.org", LDNS_RR_TYPE_A, 0, 4096);
	cr_assert(p);
	cr_assert_str_eq(first_a(p), "192.0.2.1");
	cr_assert_not(ldns_pkt_tc(p));
	ldns_pkt_free(p);
	cr_assert_eq(sx_up_count(up, "udp tc.example.org. A"), 1);
	cr_assert_eq(sx_up_count(up, "tcp tc.example.org. A"), 1);

	/* 100 A records (about 1.6 kB): over UDP to the upstream they come back truncated. */
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, 0, 4096);
	cr_assert(p);
	cr_assert_eq(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 100);
	cr_assert_not(ldns_pkt_tc(p));
	ldns_pkt_free(p);

	/* A 1232-byte client could not take more either: the TC answer goes back as is. */
	sx_up_clear(up);
	p = sx_test_query(s, "tc.example.org", LDNS_RR_TYPE_A, 0, 1232);
	cr_assert(p);
	cr_assert(ldns_pkt_tc(p));
	ldns_pkt_free(p);
	cr_assert_eq(sx_up_count(up, "tcp tc.example.org. A"), 0);

	/* A TCP client: TCP upstream, the whole answer. */
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_assert(p);
	cr_assert_eq(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 100);
	ldns_pkt_free(p);
	stop(s);
	sx_up_stop(up);
}

/* A @name is @want; if not, the reply and the server's log say why (errors logs the cause). */
static void
expect_a(struct sx_test_server *s, const char *name, int flags, const char *want)
{
	ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_A, flags, 0);
	char *text;

	cr_assert(p, "no reply for %s\n%s", name, sx_test_log(s));
	text = ldns_pkt2str(p);
	cr_assert_str_eq(first_a(p), want, "%s over %s:\n%s\n%s", name,
	                 flags & SX_Q_TCP ? "TCP" : "UDP", text, sx_test_log(s));
	free(text);
	ldns_pkt_free(p);
}

Test(forward, spoofed_answers_are_ignored)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u\n}\n", sx_up_port(up));

	/* Each spoof (6.6.6.6) arrives first; the real answer 50 ms later is the one taken. */
	expect_a(s, "wrongid.example.org", 0, "192.0.2.1");
	expect_a(s, "wrongport.example.org", 0, "192.0.2.1");
	expect_a(s, "wrongq.example.org", 0, "192.0.2.1");
	stop(s);
	sx_up_stop(up);
}

Test(forward, failover_to_the_next_upstream)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	uint16_t dead = sx_up_free_port();
#define FAILOVER_CONF                                                                   \
	". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u 127.0.0.1:%u {\n" \
	"\t\tpolicy sequential\n\t\tread_timeout %s\n\t}\n}\n"
	struct sx_test_server *s;
	double t0;

	/*
	 * Nothing listens on the first: refused at once, the second answers, long
	 * before the first's 5 s read timeout would have passed.
	 */
	s = start(FAILOVER_CONF, dead, sx_up_port(a), sx_up_port(b), "5s");
	t0 = now_s();
	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.1");
	cr_assert_lt(now_s() - t0, 2.5);
	stop(s);
	/* The second goes silent: after its read timeout, the third answers. */
	s = start(FAILOVER_CONF, dead, sx_up_port(a), sx_up_port(b), "500ms");
	sx_up_mode(a, "silent");
	t0 = now_s();
	cr_assert_str_eq(ask(s, "two.example.org", 0), "192.0.2.2");
	cr_assert_geq(now_s() - t0, 0.45);
	cr_assert_eq(sx_up_count(a, "udp two.example.org. A"), 1);
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

Test(forward, all_upstreams_down_is_servfail_with_the_reason)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	uint16_t dead = sx_up_free_port();
	struct sx_test_server *s;
	double t0, took;
	char *out;

	sx_up_mode(up, "silent");
	s = start(". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u\n}\n", sx_up_port(up));
	/*
	 * Two tries of 2 s each (CoreDNS's read timeout), inside the 5 s deadline:
	 * the SERVFAIL comes after both (the client waits ten times longer).
	 */
	t0 = now_s();
	out = sx_test_dig(s, "+time=50 +tries=1 silent.example.org A");
	took = now_s() - t0;
	cr_assert(strstr(out, "status: SERVFAIL"), "%s", out);
	cr_assert(took > 3.5, "took %.2f s", took);
	free(out);
	cr_assert(sx_test_wait_log(s,
	                           "[ERROR] plugin/errors: 2 silent.example.org. A: read udp "
	                           "127.0.0.1:",
	                           30000),
	          "%s", sx_test_log(s));
	cr_assert(sx_test_wait_log(s, "->127.0.0.1:", 10), "%s", sx_test_log(s));
	cr_assert(sx_test_wait_log(s, ": i/o timeout", 10), "%s", sx_test_log(s));
	stop(s);

	/* Nothing listening: refused, at once. */
	s = start(". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u\n}\n", dead);
	t0 = now_s();
	out = sx_test_dig(s, "+time=9 +tries=1 www.example.org A");
	cr_assert(strstr(out, "status: SERVFAIL"), "%s", out);
	/* Well before one read timeout (2 s): no try waited for one. */
	cr_assert_lt(now_s() - t0, 1.9);
	free(out);
	cr_assert(sx_test_wait_log(s, "[ERROR] plugin/errors: 2 www.example.org. A: read udp ",
	                           30000),
	          "%s", sx_test_log(s));
	cr_assert(sx_test_wait_log(s, ": read: connection refused", 10), "%s", sx_test_log(s));
	stop(s);
	sx_up_stop(up);
}

Test(forward, health_checks_take_an_upstream_out_and_back)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	        "\t\tpolicy sequential\n\t\tread_timeout 300ms\n\t\tmax_fails 1\n"
	        "\t\thealth_check 100ms\n\t}\n}\n",
	        sx_up_port(a), sx_up_port(b));
	bool skipped = false, back = false;
	char name[64], seen[96];

	sx_up_mode(a, "silent");
	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.2");
	/*
	 * The error started ". NS" probes; two failed probes (1 s timeout each)
	 * mark it down: a query then goes straight to the second upstream, and
	 * the first never sees it.
	 */
	for (int i = 0; i < 300 && !skipped; i++) {
		sleep_ms(200);
		snprintf(name, sizeof(name), "h%d.example.org", i);
		snprintf(seen, sizeof(seen), "udp %s. A", name);
		cr_assert_str_eq(ask(s, name, 0), "192.0.2.2");
		skipped = sx_up_count(a, seen) == 0;
	}
	cr_assert(skipped, "the silent upstream was never skipped");
	cr_assert_geq(sx_up_count(a, "udp . NS"), 2);
	/* It comes back: a probe succeeds and queries go to it again. */
	sx_up_mode(a, "normal");
	for (int i = 0; i < 600 && !back; i++) {
		sleep_ms(100);
		back = strcmp(ask(s, "www.example.org", 0), "192.0.2.1") == 0;
	}
	cr_assert(back, "the upstream never came back");
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

Test(forward, health_check_no_rec_and_domain)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	/* Two blocks, two forwards to one upstream: the default probe and the configured one. */
	struct sx_test_server *s = start(
	        "example.org {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	        "\t\tread_timeout 200ms\n\t}\n}\n"
	        "example.com {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	        "\t\tread_timeout 200ms\n\t\thealth_check 100ms no_rec domain Probe.Example.NET\n"
	        "\t}\n}\n",
	        sx_up_port(up), sx_up_port(up));
	bool seen = false;

	/* A query that times out starts the checks; the fake answers the probes. */
	ldns_pkt_free(sx_test_query(s, "silent.example.org", LDNS_RR_TYPE_A, 0, 0));
	ldns_pkt_free(sx_test_query(s, "silent.example.com", LDNS_RR_TYPE_A, 0, 0));
	for (int i = 0; i < 1500 && !seen; i++) {
		seen = sx_up_count(up, "udp probe.example.net. NS rd=0 ") > 0 &&
		       sx_up_count(up, "udp . NS rd=1 ") > 0;
		if (!seen) {
			sleep_ms(20);
		}
	}
	cr_assert(seen, "probes seen: %d with no_rec and domain, %d by default",
	          sx_up_count(up, "probe.example.net. NS rd=0 "), sx_up_count(up, ". NS rd=1 "));
	cr_assert_eq(sx_up_count(up, "probe.example.net. NS rd=1"), 0);
	/* Answered: the upstream is healthy and still asked. */
	cr_assert_str_eq(ask(s, "www.example.com", 0), "192.0.2.1");
	stop(s);
	sx_up_stop(up);
}

Test(forward, source_address_binds_upstream_sockets)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u {\n"
	        "\t\tsource_address 127.0.0.9\n\t}\n}\n"
	        "example.net {\n\tbind 127.0.0.1\n\terrors\n"
	        "\tforward . 127.0.0.1:%u {\n\t\tsource_address ::1\n\t}\n}\n",
	        sx_up_port(up), sx_up_port(up));

	/* The fake sees the queries come from 127.0.0.9, over UDP and over TCP. */
	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.1");
	cr_assert_str_eq(ask(s, "www.example.org", SX_Q_TCP), "192.0.2.1");
	cr_expect_eq(sx_up_count(up, "udp www.example.org. A rd=1 from=127.0.0.9 "), 1);
	cr_expect_eq(sx_up_count(up, "tcp www.example.org. A rd=1 from=127.0.0.9 "), 1);
	/* An IPv6 source cannot reach an IPv4 upstream: SERVFAIL with the reason. */
	{
		ldns_pkt *p = sx_test_query(s, "www.example.net", LDNS_RR_TYPE_A, 0, 0);

		cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL);
		ldns_pkt_free(p);
	}
	cr_expect(sx_test_wait_log(s, ": bind: ", 10000), "%s", sx_test_log(s));
	cr_expect_eq(sx_up_count(up, "www.example.net"), 0);
	stop(s);
	sx_up_stop(up);
}

Test(forward, max_concurrent_refuses_beyond_the_limit)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	/* Two tries of 3 s each: the two silent queries hold their places for 6 s. */
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u {\n"
	        "\t\tmax_concurrent 2\n\t\tread_timeout 3s\n\t}\n}\n",
	        sx_up_port(up));
	bool room = false;
	ldns_pkt *p;

	fire(s, "silent.example.org");
	fire(s, "silent.example.org");
	for (int i = 0; i < 1500 && sx_up_count(up, "silent.example.org") < 2; i++) {
		sleep_ms(20);
	}
	p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	cr_assert(sx_test_wait_log(s,
	                           "[ERROR] plugin/errors: 5 www.example.org. A: concurrent "
	                           "queries exceeded maximum 2",
	                           10000),
	          "%s", sx_test_log(s));
	/* Once they gave up (2 x 3 s), there is room again. */
	for (int i = 0; i < 600 && !room; i++) {
		p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
		room = p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR;
		ldns_pkt_free(p);
		if (!room) {
			sleep_ms(100);
		}
	}
	cr_assert(room, "the limit never let a query through again:\n%s", sx_test_log(s));
	cr_assert_eq(sx_up_count(up, "silent.example.org"), 4, "two tries each");
	stop(s);
	sx_up_stop(up);
}

Test(forward, from_and_except_choose_the_names)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\terrors\n"
	        "\tforward example.org 127.0.0.1:%u {\n\t\texcept internal.example.org\n\t}\n"
	        "\tforward sub.example.net 127.0.0.1:%u {\n\t\texcept sub.example.net\n\t}\n}\n",
	        sx_up_port(a), sx_up_port(b));
	ldns_pkt *p;

	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.1");
	/* FROM itself stays forwarded even when listed in except, as in CoreDNS. */
	cr_assert_str_eq(ask(s, "sub.example.net", 0), "192.0.2.2");
	/* Excepted and unmatched names go on down the chain, which ends here. */
	p = sx_test_query(s, "db.internal.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	p = sx_test_query(s, "www.sub.example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	p = sx_test_query(s, "www.example.com", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	cr_assert_eq(sx_up_count(a, "internal"), 0);
	cr_assert_eq(sx_up_count(b, "www.sub"), 0);
	cr_assert_eq(sx_up_count(a, "example.com") + sx_up_count(b, "example.com"), 0);
	cr_assert(sx_test_wait_log(s,
	                           "2 db.internal.example.org. A: plugin/forward: no next "
	                           "plugin found",
	                           30000),
	          "%s", sx_test_log(s));
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

static void
count_policy(const char *policy, int n, int *a_count, int *b_count)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n\t\tpolicy %s\n"
	        "\t}\n}\n",
	        sx_up_port(a), sx_up_port(b), policy);

	for (int i = 0; i < n; i++) {
		ask(s, "www.example.org", 0);
	}
	*a_count = sx_up_count(a, "www.example.org");
	*b_count = sx_up_count(b, "www.example.org");
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

Test(forward, policies)
{
	int a, b;

	count_policy("sequential", 20, &a, &b);
	cr_assert_eq(a, 20);
	cr_assert_eq(b, 0);
	/* Each worker keeps its own turn: over two workers the counts differ by 2 at most. */
	count_policy("round_robin", 20, &a, &b);
	cr_assert_eq(a + b, 20);
	cr_assert(abs(a - b) <= 2, "round_robin: %d vs %d", a, b);
	count_policy("random", 40, &a, &b);
	cr_assert_eq(a + b, 40);
	cr_assert(a > 0 && b > 0, "random: %d vs %d", a, b);
}

Test(forward, next_and_failover_rcodes)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s;

	sx_up_mode(a, "refused");
	/* next: the rcode hands the query to the next plugin, here the second forward. */
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n\t\tnext REFUSED\n\t}\n"
	          "\tforward . 127.0.0.1:%u\n}\n",
	          sx_up_port(a), sx_up_port(b));
	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.2");
	stop(s);
	/* failover: the rcode makes the next upstream be asked. */
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t\tfailover REFUSED SERVFAIL\n\t}\n}\n",
	          sx_up_port(a), sx_up_port(b));
	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.2");
	stop(s);
	/* Neither: the upstream's REFUSED is the answer. */
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u 127.0.0.1:%u {\n"
	          "\t\tpolicy sequential\n\t}\n}\n",
	          sx_up_port(a), sx_up_port(b));
	{
		ldns_pkt *p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);

		cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED);
		ldns_pkt_free(p);
	}
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

/* The rcode of a reply to A @name. */
static ldns_pkt_rcode
rcode_of(struct sx_test_server *s, const char *name)
{
	ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_A, 0, 0);
	ldns_pkt_rcode rc;

	cr_assert(p, "no reply for %s", name);
	rc = ldns_pkt_get_rcode(p);
	ldns_pkt_free(p);
	return rc;
}

Test(forward, next_hands_on_to_a_following_forward_only)
{
	struct sx_upstream *a = sx_up_fake(1, false), *b = sx_up_fake(2, false);
	struct sx_test_server *s;

	/* The last forward keeps the answer, as CoreDNS: whoami after it never runs. */
	sx_up_mode(a, "refused");
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n\t\tnext REFUSED\n\t}\n"
	          "\twhoami\n}\n",
	          sx_up_port(a));
	cr_assert_eq(rcode_of(s, "www.example.org"), LDNS_RCODE_REFUSED);
	stop(s);
	/* next_on_nodata: an empty NOERROR goes to the next forward... */
	sx_up_mode(a, "nodata");
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n\t\tnext_on_nodata\n\t}\n"
	          "\tforward . 127.0.0.1:%u\n}\n",
	          sx_up_port(a), sx_up_port(b));
	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.2");
	/* ...but not an NXDOMAIN, nor an answer that has records. */
	sx_up_mode(a, "normal");
	cr_assert_eq(rcode_of(s, "nxdomain.example.org"), LDNS_RCODE_NXDOMAIN);
	cr_assert_eq(sx_up_count(b, "nxdomain.example.org"), 0);
	cr_assert_str_eq(ask(s, "www.example.net", 0), "192.0.2.1");
	cr_assert_eq(sx_up_count(b, "www.example.net"), 0);
	stop(s);
	/* Without it, the empty answer is the answer. */
	sx_up_mode(a, "nodata");
	sx_up_clear(b);
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n"
	          "\tforward . 127.0.0.1:%u\n}\n",
	          sx_up_port(a), sx_up_port(b));
	cr_assert_str_eq(ask(s, "www.example.org", 0), "");
	cr_assert_eq(rcode_of(s, "www.example.org"), LDNS_RCODE_NOERROR);
	cr_assert_eq(sx_up_count(b, "www.example.org"), 0);
	stop(s);
	sx_up_stop(a);
	sx_up_stop(b);
}

Test(forward, force_tcp_and_prefer_udp)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s;

	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n\t\tforce_tcp\n\t}\n}\n",
	          sx_up_port(up));
	cr_assert_str_eq(ask(s, "one.example.org", 0), "192.0.2.1");
	cr_assert_eq(sx_up_count(up, "tcp one.example.org. A"), 1);
	cr_assert_eq(sx_up_count(up, "udp one.example.org. A"), 0);
	stop(s);
	s = start(". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n\t\tprefer_udp\n\t}\n}\n",
	          sx_up_port(up));
	cr_assert_str_eq(ask(s, "two.example.org", SX_Q_TCP), "192.0.2.1");
	cr_assert_eq(sx_up_count(up, "udp two.example.org. A"), 1);
	cr_assert_eq(sx_up_count(up, "tcp two.example.org. A"), 0);
	/* prefer_udp still retries a truncated answer over TCP (CoreDNS does just then). */
	cr_assert_str_eq(ask(s, "tc.example.org", SX_Q_TCP), "192.0.2.1");
	cr_assert_eq(sx_up_count(up, "tcp tc.example.org. A"), 1);
	stop(s);
	sx_up_stop(up);
}

static int
reloads(struct sx_test_server *s)
{
	const char *p = sx_test_log(s);
	int n = 0;

	while ((p = strstr(p, "Reload completed"))) {
		n++;
		p++;
	}
	return n;
}

Test(forward, reload_with_sockets_open)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\terrors\n\tforward . 127.0.0.1:%u\n}\n", sx_up_port(up));

	/* Idle sockets on both workers, then a reload frees them from the control thread. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 10; i++) {
			expect_a(s, "www.example.org", i % 2 ? SX_Q_TCP : 0, "192.0.2.1");
		}
		kill(sx_test_pid(s), SIGUSR1);
		for (int i = 0; i < 1500 && reloads(s) < round + 1; i++) {
			sleep_ms(20);
		}
		cr_assert_eq(reloads(s), round + 1, "%s", sx_test_log(s));
	}
	expect_a(s, "after.example.org", 0, "192.0.2.1");
	expect_a(s, "after.example.org", SX_Q_TCP, "192.0.2.1");
	stop(s);
	sx_up_stop(up);
}

/* GET /metrics from @port, malloc'ed. */
static char *
scrape(uint16_t port)
{
	char cmd[128], *buf = calloc(1, 1 << 20);
	size_t n = 0;
	FILE *p;

	cr_assert(buf);
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 http://127.0.0.1:%u/metrics", port);
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(buf, 1, (1 << 20) - 1, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

static int
occurrences(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)); hay++) {
		n++;
	}
	return n;
}

/*
 * The line of @what's (hits or misses) socket-cache series of upstream
 * @addr:@port over @proto, up to its value, then @value ("" for none).
 */
static const char *
conn_series(char *out, size_t size, const char *what, const char *addr, uint16_t port,
            const char *proto, const char *value)
{
	snprintf(out, size,
	         "coredns_proxy_conn_cache_%s_total{proxy_name=\"forward\",to=\"%s:%u\","
	         "proto=\"%s\"} %s",
	         what, addr, port, proto, value);
	return out;
}

Test(forward, metrics)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	uint16_t mport = sx_up_free_port(), dead = sx_up_free_port();
	struct sx_test_server *s = start(
	        ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:%u\n"
	        "\tforward example.net 127.0.0.1:%u {\n\t\tmax_fails 0\n\t}\n"
	        "\tforward . 127.0.0.1:%u {\n\t\tmax_concurrent 1000\n\t}\n}\n",
	        mport, dead, sx_up_port(up));
	char want[256], *m;
	ldns_pkt *p;

	for (int i = 0; i < 3; i++) {
		cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.1");
	}
	p = sx_test_query(s, "nxdomain.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	p = sx_test_query(s, "www.example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	m = scrape(mport);
	snprintf(want, sizeof(want),
	         "coredns_proxy_request_duration_seconds_count{proxy_name="
	         "\"forward\",to=\"127.0.0.1:%u\",rcode=\"NOERROR\"} 3\n",
	         sx_up_port(up));
	cr_assert(strstr(m, want), "%s", m);
	snprintf(want, sizeof(want),
	         "coredns_proxy_request_duration_seconds_count{proxy_name="
	         "\"forward\",to=\"127.0.0.1:%u\",rcode=\"NXDOMAIN\"} 1\n",
	         sx_up_port(up));
	cr_assert(strstr(m, want), "%s", m);
	cr_assert(strstr(m, "# TYPE coredns_proxy_request_duration_seconds histogram\n"), "%s", m);
	/* Three UDP queries on two workers: at least one socket came from the cache. */
	cr_assert(strstr(m, conn_series(want, sizeof(want), "misses", "127.0.0.1", sx_up_port(up),
	                                "tcp", "1\n")),
	          "%s", m);
	cr_assert(strstr(m, conn_series(want, sizeof(want), "hits", "127.0.0.1", sx_up_port(up),
	                                "udp", "")),
	          "%s", m);
	/* The refused upstream: no reply, so no latency, but two sockets opened. */
	snprintf(want, sizeof(want), "to=\"127.0.0.1:%u\",rcode=", dead);
	cr_assert_not(strstr(m, want), "%s", m);
	cr_assert(strstr(m, conn_series(want, sizeof(want), "misses", "127.0.0.1", dead, "udp",
	                                "2\n")),
	          "%s", m);
	/* The process-wide counters appear once, although there are two instances. */
	cr_assert(strstr(m, "\ncoredns_forward_max_concurrent_rejects_total 0\n"), "%s", m);
	cr_assert(strstr(m, "\ncoredns_forward_healthcheck_broken_total 0\n"), "%s", m);
	cr_assert_eq(occurrences(m, "\ncoredns_forward_healthcheck_broken_total "), 1, "%s", m);
	free(m);
	stop(s);
	sx_up_stop(up);
}

/*
 * A cached socket past `expire` is renewed in place (a new socket in the same
 * slot): that opened a socket, so it counts as a miss, as a fresh one does.
 */
Test(forward, a_socket_renewed_after_expire_counts_as_a_miss)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	uint16_t mport = sx_up_free_port();
	struct sx_test_server *s = start(". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:%u\n"
	                                 "\tforward . 127.0.0.1:%u {\n\t\texpire 0s\n\t}\n}\n",
	                                 mport, sx_up_port(up));
	char want[256], *m, *hits;

	for (int i = 0; i < 6; i++) {
		cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.1");
	}
	m = scrape(mport);
	cr_assert(strstr(m, conn_series(want, sizeof(want), "misses", "127.0.0.1", sx_up_port(up),
	                                "udp", "6\n")),
	          "%s", m);
	hits = strstr(
	        m, conn_series(want, sizeof(want), "hits", "127.0.0.1", sx_up_port(up), "udp", ""));
	cr_assert(!hits || strncmp(hits + strlen(want), "0\n", 2) == 0, "%s", m);
	free(m);
	stop(s);
	sx_up_stop(up);
}

/*
 * The upstreams' metrics are the core's series, with no cap: after reloads
 * through 41 distinct upstreams (each a series that outlives its
 * configuration), a new one still gets its latency and socket counters. The
 * registry forward had before held 32 series and gave later upstreams none.
 */
Test(forward, metrics_of_a_new_upstream_after_forty)
{
	struct sx_upstream *up = sx_up_fake_on(1, "127.0.0.3", 0);
	uint16_t mport = sx_up_free_port();
	/* 127.0.0.2, where nothing listens: names for series, no query is sent there. */
	struct sx_test_server *s = start(". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:%u\n"
	                                 "\tforward . 127.0.0.2:20000\n}\n",
	                                 mport);
	char conf[512], want[256], *m;

	for (int round = 1; round <= 41; round++) {
		if (round <= 40) {
			snprintf(conf, sizeof(conf),
			         ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:%u\n"
			         "\tforward . 127.0.0.2:%d\n}\n",
			         mport, 20000 + round);
		} else {
			snprintf(conf, sizeof(conf),
			         ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:%u\n"
			         "\tforward . 127.0.0.3:%u\n}\n",
			         mport, sx_up_port(up));
		}
		sx_test_write(s, "Corefile", conf);
		kill(sx_test_pid(s), SIGUSR1);
		for (int i = 0; i < 1500 && reloads(s) < round; i++) {
			sleep_ms(20);
		}
		cr_assert_eq(reloads(s), round, "%s", sx_test_log(s));
	}
	cr_assert_str_eq(ask(s, "www.example.org", 0), "192.0.2.1");
	cr_assert_str_eq(ask(s, "www.example.org", SX_Q_TCP), "192.0.2.1");
	m = scrape(mport);
	snprintf(want, sizeof(want),
	         "coredns_proxy_request_duration_seconds_count{proxy_name="
	         "\"forward\",to=\"127.0.0.3:%u\",rcode=\"NOERROR\"} 2\n",
	         sx_up_port(up));
	cr_assert(strstr(m, want), "%s", m);
	cr_assert(strstr(m, conn_series(want, sizeof(want), "misses", "127.0.0.3", sx_up_port(up),
	                                "tcp", "1\n")),
	          "%s", m);
	cr_assert_eq(occurrences(m, "\ncoredns_forward_healthcheck_broken_total "), 1, "%s", m);
	free(m);
	stop(s);
	sx_up_stop(up);
}
