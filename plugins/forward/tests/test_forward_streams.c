/* test_forward_streams.c -- forward's upstream TCP connections: capped, pipelined, closed on time. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
 * Queries forwarded over TCP (the client's transport) share a few upstream
 * connections per worker (FWD_STREAMS, 4), several in flight on each; the
 * sextant under test runs two workers, so it may hold 8 to one upstream.
 * Connections are counted in /proc (census.h), by remote port.
 */
#define WORKERS   "2"
#define MAX_CONNS (4 * 2)

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
	struct sx_test_server *s = sx_test_prepare();
	char corefile[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(corefile, sizeof(corefile), fmt, ap);
	va_end(ap);
	sx_test_add_arg(s, "-workers");
	sx_test_add_arg(s, WORKERS);
	return sx_test_start(s, corefile);
}

/* The server's TCP connections to @port in any state. */
static int
conns_to(const struct sx_test_server *s, uint16_t port)
{
	return sx_census_tcp(sx_test_pid(s), SX_TCP_ANY, port);
}

/* Wait up to @ms for the server to hold no connection to @port; @return the seconds it took. */
static double
wait_closed(const struct sx_test_server *s, uint16_t port, int ms)
{
	double t0 = now_s();

	while (conns_to(s, port) > 0 && now_s() - t0 < ms / 1000.0) {
		sleep_ms(20);
	}
	return now_s() - t0;
}

/*
 * A client pipelining @n queries (A NAME-i.example.test) on one TCP connection to
 * the server. pipe_read() reads the replies and counts those answering A @want.
 */
struct pipe {
	int fd;
	int n, replies, right;
	uint8_t in[65536 + 2];
	size_t have;
};

static void
pipe_send(struct pipe *p, const struct sx_test_server *s, const char *name, int n)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(sx_test_port(s)) };
	size_t cap = (size_t)n * 80, len = 0;
	uint8_t *buf = malloc(cap);

	cr_assert(buf);
	memset(p, 0, sizeof(*p));
	p->n = n;
	for (int i = 0; i < n; i++) {
		char qname[64];
		ldns_pkt *q = NULL;
		uint8_t *wire = NULL;
		size_t wl = 0;

		snprintf(qname, sizeof(qname), "%s-%d.example.test.", name, i);
		cr_assert(ldns_pkt_query_new_frm_str(&q, qname, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
		                                     LDNS_RD) == LDNS_STATUS_OK);
		ldns_pkt_set_id(q, (uint16_t)i);
		cr_assert(ldns_pkt2wire(&wire, q, &wl) == LDNS_STATUS_OK);
		buf[len] = (uint8_t)(wl >> 8);
		buf[len + 1] = (uint8_t)wl;
		memcpy(buf + len + 2, wire, wl);
		len += wl + 2;
		free(wire);
		ldns_pkt_free(q);
	}
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(p->fd >= 0 && connect(p->fd, (struct sockaddr *)&to, sizeof(to)) == 0);
	cr_assert(send(p->fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len, "cannot send: %s",
	          strerror(errno));
	free(buf);
}

/* Read what has come (waiting up to @ms); @return false once every reply is in or it closed. */
static bool
pipe_read(struct pipe *p, const char *want, int ms)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	ssize_t got;

	if (p->replies >= p->n || p->fd < 0) {
		return false;
	}
	if (poll(&pfd, 1, ms) != 1) {
		return true;
	}
	got = recv(p->fd, p->in + p->have, sizeof(p->in) - p->have, 0);
	if (got <= 0) {
		close(p->fd);
		p->fd = -1;
		return false;
	}
	p->have += (size_t)got;
	for (;;) {
		size_t mlen = p->have >= 2 ? (size_t)p->in[0] << 8 | p->in[1] : 0;
		ldns_pkt *r = NULL;

		if (p->have < 2 || p->have < 2 + mlen) {
			break;
		}
		if (ldns_wire2pkt(&r, p->in + 2, mlen) == LDNS_STATUS_OK) {
			char *an = sx_test_section_str(r, LDNS_SECTION_ANSWER);

			p->right += ldns_pkt_get_rcode(r) == LDNS_RCODE_NOERROR && strstr(an, want);
			free(an);
			ldns_pkt_free(r);
		}
		p->replies++;
		memmove(p->in, p->in + 2 + mlen, p->have - 2 - mlen);
		p->have -= 2 + mlen;
	}
	return p->replies < p->n;
}

static void
pipe_close(struct pipe *p)
{
	if (p->fd >= 0) {
		close(p->fd);
	}
}

TestSuite(forward_streams, .timeout = 180);

/*
 * An upstream in C on loopback, for what the fake cannot show: it counts the
 * connections it accepts and holds at once, and answers every query with A
 * 192.0.2.9, at once or, with @hold, only once it holds that many queries on
 * one connection, the last first (only pipelining, with replies matched by ID,
 * then gets answers).
 */
#define UP_CONNS 64

struct tcpup {
	int lfd, wake[2];
	uint16_t port;
	int hold;
	int accepted, open, peak; /* read once the thread is joined */
	long answered;
	pthread_t th;
};

struct upconn {
	int fd;
	uint8_t in[4096];
	size_t have;
	int held;
	uint8_t q[10][600];
	size_t qlen[10];
};

/* The reply to @q (@len bytes): its question, A 192.0.2.9, no OPT. @return its length. */
static size_t
up_reply(const uint8_t *q, size_t len, uint8_t *out)
{
	static const uint8_t an[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 9 };
	size_t qend = 12;

	while (qend < len && q[qend] != 0) {
		qend += 1u + q[qend];
	}
	qend += 5; /* the root label, type, class */
	memcpy(out, q, qend);
	out[2] |= 0x80;         /* QR */
	out[3] = 0x80;          /* RA, NOERROR */
	out[6] = 0, out[7] = 1; /* one answer */
	out[8] = out[9] = 0;    /* no authority */
	out[10] = out[11] = 0;  /* no additional (the OPT is dropped) */
	memcpy(out + qend, an, sizeof(an));
	return qend + sizeof(an);
}

static void
up_answer(struct tcpup *u, struct upconn *c, const uint8_t *q, size_t qlen)
{
	uint8_t out[2 + 700];
	size_t len = up_reply(q, qlen, out + 2);

	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	if (send(c->fd, out, len + 2, MSG_NOSIGNAL) == (ssize_t)(len + 2)) {
		u->answered++;
	}
}

/* Take the whole queries out of c->in. @return false when the connection is to close. */
static bool
up_queries(struct tcpup *u, struct upconn *c)
{
	for (;;) {
		size_t mlen = c->have >= 2 ? (size_t)c->in[0] << 8 | c->in[1] : 0;

		if (c->have < 2 || c->have < 2 + mlen) {
			return true;
		}
		if (mlen < 12 || mlen > sizeof(c->q[0])) {
			return false;
		}
		if (!u->hold) {
			up_answer(u, c, c->in + 2, mlen);
		} else if (c->held < u->hold) {
			memcpy(c->q[c->held], c->in + 2, mlen);
			c->qlen[c->held++] = mlen;
			for (int i = c->held == u->hold ? c->held - 1 : -1; i >= 0; i--) {
				up_answer(u, c, c->q[i], c->qlen[i]);
			}
		}
		memmove(c->in, c->in + 2 + mlen, c->have - 2 - mlen);
		c->have -= 2 + mlen;
	}
}

static void *
tcpup_run(void *arg)
{
	struct tcpup *u = arg;
	static struct upconn conns[UP_CONNS];
	struct pollfd pfd[UP_CONNS + 2];

	for (int i = 0; i < UP_CONNS; i++) {
		conns[i].fd = -1;
	}
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = u->wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = u->lfd, .events = POLLIN };
		for (int i = 0; i < UP_CONNS; i++) {
			pfd[i + 2] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		}
		if (poll(pfd, UP_CONNS + 2, -1) < 0 || pfd[0].revents) {
			break;
		}
		if (pfd[1].revents & POLLIN) {
			int fd = accept(u->lfd, NULL, NULL);

			for (int i = 0; fd >= 0 && i < UP_CONNS; i++) {
				if (conns[i].fd < 0) {
					memset(&conns[i], 0, sizeof(conns[i]));
					conns[i].fd = fd;
					fd = -1;
					u->accepted++;
					u->peak = ++u->open > u->peak ? u->open : u->peak;
				}
			}
			if (fd >= 0) {
				close(fd); /* more than UP_CONNS: the test fails on the count */
				u->accepted++;
			}
		}
		for (int i = 0; i < UP_CONNS; i++) {
			struct upconn *c = &conns[i];
			ssize_t n;

			if (c->fd < 0 || !(pfd[i + 2].revents & (POLLIN | POLLHUP | POLLERR))) {
				continue;
			}
			n = recv(c->fd, c->in + c->have, sizeof(c->in) - c->have, 0);
			if (n > 0) {
				c->have += (size_t)n;
			}
			if (n <= 0 || !up_queries(u, c)) {
				close(c->fd);
				c->fd = -1;
				u->open--;
			}
		}
	}
	for (int i = 0; i < UP_CONNS; i++) {
		if (conns[i].fd >= 0) {
			close(conns[i].fd);
		}
	}
	return NULL;
}

static void
tcpup_start(struct tcpup *u, int hold)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	memset(u, 0, sizeof(*u));
	u->hold = hold;
	u->lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(u->lfd >= 0 && bind(u->lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	          listen(u->lfd, 128) == 0 &&
	          getsockname(u->lfd, (struct sockaddr *)&a, &alen) == 0 && pipe(u->wake) == 0);
	u->port = ntohs(a.sin_port);
	cr_assert(pthread_create(&u->th, NULL, tcpup_run, u) == 0);
}

static void
tcpup_stop(struct tcpup *u)
{
	cr_assert(write(u->wake[1], "x", 1) == 1);
	pthread_join(u->th, NULL);
	close(u->lfd);
	close(u->wake[0]);
	close(u->wake[1]);
}

enum {
	CLIENTS = 5,
	PER = 1000
};

/* PER names pipelined on each of CLIENTS connections to @s; every reply read (60 s at most). */
static void
pipelined(struct sx_test_server *s, int *right, int *replies)
{
	struct pipe p[CLIENTS];
	double t0;
	bool busy = true;

	*right = *replies = 0;
	for (int c = 0; c < CLIENTS; c++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", c);
		pipe_send(&p[c], s, name, PER);
	}
	t0 = now_s();
	while (busy && now_s() - t0 < 60) {
		busy = false;
		for (int c = 0; c < CLIENTS; c++) {
			busy |= pipe_read(&p[c], "192.0.2.9", 5);
		}
	}
	for (int c = 0; c < CLIENTS; c++) {
		*right += p[c].right;
		*replies += p[c].replies;
		pipe_close(&p[c]);
	}
}

/*
 * 5,000 names pipelined on 5 client connections, forwarded over TCP: all
 * answered, on no more than 8 upstream connections in all (before: one per
 * query in flight, ~470), which stay open for reuse.
 */
Test(forward_streams, pipelined_queries_share_a_few_connections)
{
	struct tcpup u;
	struct sx_test_server *s;
	int right, replies, after;
	double t0 = now_s();

	tcpup_start(&u, 0);
	s = start("example.test {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	          "\t\texpire 600s\n\t\tread_timeout 30s\n\t}\n}\n",
	          u.port);
	pipelined(s, &right, &replies);
	after = sx_census_tcp(sx_test_pid(s), SX_TCP_ESTABLISHED, u.port);
	stop(s);
	tcpup_stop(&u);
	cr_log_info("%d pipelined TCP queries: %d replies, %d right in %.2f s; upstream "
	            "connections: %d accepted, %d at once at most, %d established after",
	            CLIENTS * PER, replies, right, now_s() - t0, u.accepted, u.peak, after);
	cr_expect_eq(right, CLIENTS * PER, "%d of %d answered right", right, CLIENTS * PER);
	cr_expect_eq(u.answered, CLIENTS * PER, "the upstream answered %ld", u.answered);
	cr_expect(u.accepted >= 1 && u.accepted <= MAX_CONNS, "%d connections to the upstream",
	          u.accepted);
	cr_expect(after >= 1 && after <= MAX_CONNS, "%d kept for reuse", after);
}

/*
 * The same load with max_idle_conns 1: once the replies are in, each worker keeps
 * one connection to the upstream and closes the others as they go idle.
 */
Test(forward_streams, max_idle_conns_closes_the_idle_connections_beyond_it)
{
	struct tcpup u;
	struct sx_test_server *s;
	int right, replies, after;
	double t0;

	tcpup_start(&u, 0);
	s = start("example.test {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	          "\t\texpire 600s\n\t\tread_timeout 30s\n\t\tmax_idle_conns 1\n\t}\n}\n",
	          u.port);
	pipelined(s, &right, &replies);
	t0 = now_s();
	while ((after = sx_census_tcp(sx_test_pid(s), SX_TCP_ESTABLISHED, u.port)) > 2 &&
	       now_s() - t0 < 10) {
		sleep_ms(20);
	}
	stop(s);
	tcpup_stop(&u);
	cr_log_info("max_idle_conns 1: %d connections accepted, %d at once at most, %d kept",
	            u.accepted, u.peak, after);
	cr_expect_eq(right, CLIENTS * PER, "%d of %d answered right", right, CLIENTS * PER);
	/* More than one a worker were open (else the test shows nothing), one each is left. */
	cr_expect_gt(u.peak, 2, "only %d connections at once", u.peak);
	cr_expect(after >= 1 && after <= 2, "%d kept idle", after);
}

Test(forward_streams, replies_out_of_order_on_one_pipelined_connection)
{
	struct tcpup u;
	struct sx_test_server *s;
	struct pipe p;
	double t0;

	tcpup_start(&u, 10);
	s = start("example.test {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	          "\t\tread_timeout 30s\n\t}\n}\n",
	          u.port);
	pipe_send(&p, s, "rev", 10);
	t0 = now_s();
	while (pipe_read(&p, "192.0.2.9", 100) && now_s() - t0 < 30) {
	}
	pipe_close(&p);
	stop(s);
	tcpup_stop(&u);
	cr_log_info("10 queries held on one connection, answered in reverse: %d replies, %d right, "
	            "%d upstream connections",
	            p.replies, p.right, u.accepted);
	cr_expect_eq(u.answered, 10, "the upstream answered %ld (on %d connections)", u.answered,
	             u.accepted);
	cr_expect_eq(p.right, 10, "%d of 10 answered right", p.right);
}

/*
 * An upstream that goes away: the server's side closes at once (no CLOSE-WAIT
 * left until later forwards happen to reap it), and the next query opens a new
 * connection to the upstream back on the same port.
 */
Test(forward_streams, a_closed_upstream_connection_is_closed_at_once)
{
	struct sx_upstream *up = sx_up_fake(1, false), *again;
	struct sx_test_server *s;
	uint16_t port = sx_up_port(up);
	struct pipe p;
	double secs;
	int held;

	s = start("example.test {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n", port);
	pipe_send(&p, s, "a", 20);
	while (pipe_read(&p, "192.0.2.1", 100)) {
	}
	pipe_close(&p);
	cr_expect_eq(p.right, 20, "%d of 20 answered right\n%s", p.right, sx_test_log(s));
	held = sx_census_tcp(sx_test_pid(s), SX_TCP_ESTABLISHED, port);
	cr_expect(held >= 1 && held <= MAX_CONNS, "%d connections kept", held);
	cr_expect_leq(sx_up_ports(up, "tcp"), MAX_CONNS, "20 queries on %d connections",
	              sx_up_ports(up, "tcp"));
	sx_up_stop(up);
	secs = wait_closed(s, port, 10000);
	cr_log_info("upstream stopped: %d connections closed by the server in %.2f s", held, secs);
	cr_expect_eq(conns_to(s, port), 0, "%d connections to the stopped upstream (CLOSE-WAIT %d)",
	             conns_to(s, port), sx_census_tcp(sx_test_pid(s), SX_TCP_CLOSE_WAIT, port));
	again = sx_up_fake_on(2, "127.0.0.1", port);
	pipe_send(&p, s, "b", 5);
	while (pipe_read(&p, "192.0.2.2", 100)) {
	}
	pipe_close(&p);
	cr_expect_eq(p.right, 5, "after the upstream came back: %d of 5 right\n%s", p.right,
	             sx_test_log(s));
	stop(s);
	sx_up_stop(again);
}

/*
 * An upstream that closes every connection after one answer: the queries
 * pipelined behind it are sent again on a new one, all answered, and nothing
 * is left half-closed.
 */
Test(forward_streams, an_upstream_closing_after_each_answer)
{
	struct sx_upstream *up = sx_up_fake(3, false);
	struct sx_test_server *s;
	uint16_t port = sx_up_port(up);
	struct pipe p;
	double secs;

	sx_up_mode(up, "close");
	s = start("example.test {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n", port);
	pipe_send(&p, s, "c", 20);
	while (pipe_read(&p, "192.0.2.3", 100)) {
	}
	pipe_close(&p);
	secs = wait_closed(s, port, 10000);
	cr_log_info("close after each answer: %d of 20 right, %d upstream connections, all closed "
	            "after %.2f s",
	            p.right, sx_up_ports(up, "tcp"), secs);
	cr_expect_eq(p.right, 20, "%d of 20 answered right\n%s", p.right, sx_test_log(s));
	cr_expect_eq(conns_to(s, port), 0, "%d connections left (CLOSE-WAIT %d)", conns_to(s, port),
	             sx_census_tcp(sx_test_pid(s), SX_TCP_CLOSE_WAIT, port));
	stop(s);
	sx_up_stop(up);
}

/* `expire`: an idle connection closes once it is that old, with no forward to notice. */
Test(forward_streams, expire_closes_idle_connections)
{
	struct sx_upstream *up = sx_up_fake(4, false);
	struct sx_test_server *s;
	uint16_t port = sx_up_port(up);
	struct pipe p;
	double t0, secs;

	s = start("example.test {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u {\n"
	          "\t\texpire 1s\n\t}\n}\n",
	          port);
	t0 = now_s();
	pipe_send(&p, s, "e", 3);
	while (pipe_read(&p, "192.0.2.4", 100)) {
	}
	pipe_close(&p);
	cr_expect_eq(p.right, 3, "%d of 3 answered right\n%s", p.right, sx_test_log(s));
	secs = wait_closed(s, port, 15000);
	cr_log_info("expire 1s: the idle connection closed %.2f s after the first query",
	            now_s() - t0);
	/* Opened by the first query: not before 1 s, and without waiting for another query. */
	cr_expect_geq(now_s() - t0, 0.9, "closed after %.2f s, before its expiry", now_s() - t0);
	cr_expect_eq(conns_to(s, port), 0, "still %d connections %.1f s after the queries",
	             conns_to(s, port), secs);
	stop(s);
	sx_up_stop(up);
}
