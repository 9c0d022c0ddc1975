/* test_hostile.c -- hostile clients, and the share of legitimate queries answered meanwhile. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/*
 * Each test starts sextant (two workers) on a small hosts zone, then attacks
 * it while two probers, one over UDP and one over new TCP connections, ask
 * www.example.test every 10 ms with a 2 s timeout, as a stub resolver would.
 * The attack lasts until each prober has asked SX_HOSTILE_ASKS questions
 * (default 300, about 5 s; the figures of docs/reliability.md come from
 * longer runs). Then: at least 99% of the probes of each transport answered
 * right, and memory bounded. Every test prints its figures (criterion info).
 */

#define NAME "www.example.test."
#define WANT NAME "\t3600\tIN\tA\t192.0.2.7"

static const struct sx_probe probe[] = {
	{ NAME, LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, WANT },
};

struct run {
	struct sx_test_server *s;
	struct sx_prober *udp, *tcp;
	struct sockaddr_in to;
	long rss0;
	long asks;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
start(struct run *r)
{
	const char *env = getenv("SX_HOSTILE_ASKS");

	/* Thousands of connections on both sides; sextant inherits the limit. */
	cr_assert_geq(sx_census_raise_nofile(16384), 8192, "RLIMIT_NOFILE cannot be raised");
	r->s = sx_test_start(NULL, "example.test {\n"
	                           "\tbind 127.0.0.1\n"
	                           "\thosts {\n"
	                           "\t\t192.0.2.7 www.example.test\n"
	                           "\t}\n"
	                           "}\n");
	r->asks = env ? atol(env) : 300;
	r->to.sin_family = AF_INET;
	r->to.sin_port = htons(sx_test_port(r->s));
	r->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->rss0 = sx_census_rss_kb(sx_test_pid(r->s));
}

static void
probe_start(struct run *r)
{
	r->udp = sx_prober_start("127.0.0.1", sx_test_port(r->s), probe, 1, 0, 10, 2000);
	r->tcp = sx_prober_start("127.0.0.1", sx_test_port(r->s), probe, 1, SX_PROBE_TCP, 10, 2000);
}

/* Whether both probers have asked their questions. */
static bool
probed_enough(struct run *r)
{
	struct sx_probe_stats u, t;

	sx_prober_stats(r->udp, &u);
	sx_prober_stats(r->tcp, &t);
	return u.sent >= r->asks && t.sent >= r->asks;
}

/* Stop the probers, print the figures and check them; @attack names the attack. */
static void
probe_check(struct run *r, const char *attack, const char *detail)
{
	struct sx_probe_stats u, t;
	pid_t pid = sx_test_pid(r->s);
	long hwm = sx_census_hwm_kb(pid), rss = sx_census_rss_kb(pid);
	char ub[200], tb[200];

	sx_prober_stop(r->udp, &u);
	sx_prober_stop(r->tcp, &t);
	cr_log_info("hostile %s: UDP %s; TCP %s; RSS %ld KiB before, %ld peak, %ld now; %s", attack,
	            sx_probe_str(&u, ub, sizeof(ub)), sx_probe_str(&t, tb, sizeof(tb)), r->rss0,
	            hwm, rss, detail);
	cr_expect(u.sent > 0 && (double)u.right >= 0.99 * (double)u.sent, "%s: UDP probes %s\n%s",
	          attack, ub, u.wrong);
	cr_expect(t.sent > 0 && (double)t.right >= 0.99 * (double)t.sent, "%s: TCP probes %s\n%s",
	          attack, tb, t.wrong);
	/* Bounded: well under what one buffer per attacking connection and byte would take. */
	cr_expect_lt(hwm - r->rss0, 256 * 1024, "%s: RSS grew from %ld to %ld KiB", attack, r->rss0,
	             hwm);
}

static void
finish(struct run *r)
{
	cr_expect_eq(sx_test_stop(r->s), 0);
}

/* A non-blocking TCP connection to the server, or -1. */
static int
tcp_open(struct run *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&r->to, sizeof(r->to)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A query for @name with ID @id, length-prefixed, into @buf; @return its length. */
static size_t
tcp_query(uint8_t *buf, uint16_t id, const char *name)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;

	cr_assert(ldns_pkt_query_new_frm_str(&q, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD) ==
	          LDNS_STATUS_OK);
	ldns_pkt_set_id(q, id);
	cr_assert(ldns_pkt2wire(&wire, q, &len) == LDNS_STATUS_OK);
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, wire, len);
	free(wire);
	ldns_pkt_free(q);
	return len + 2;
}

/*
 * A horde of attacking connections, kept at @n: one the server closes is
 * opened again at once, as an attacker would. Each behaves as @style says.
 */
enum style {
	IDLE, /* connects and sends nothing */
	LIAR, /* sends one of the lies below once connected */
	SLOW, /* sends a query one byte every SLOW_SEC, beginning once connected */
};

#define SLOW_SEC 5

struct horde {
	enum style style;
	int n;
	int *fd;
	bool *up;      /* connected (the connect completed) */
	double *last;  /* SLOW: when it sent its last byte */
	size_t *sent;  /* SLOW: bytes of the query sent */
	long reopened; /* connections the server closed (or refused) and the horde reopened */
	int held_min, held_max; /* the server's established TCP sockets, as sampled */
};

/* Each LIAR connection tells one of these. */
static const struct {
	uint8_t bytes[16];
	size_t len;
} lies[] = {
	{ { 0xff, 0xff, 0, 1, 1, 0, 0, 1 }, 8 },                    /* 65535 promised, 6 given */
	{ { 0x00, 0x00 }, 2 },                                      /* an empty message */
	{ { 0x00, 0x05, 1, 2, 3, 4, 5, 0xff, 0xff, 9, 9, 9 }, 12 }, /* shorter than the header */
	{ { 0x00, 0x0c, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, 14 }, /* a header, no question */
	{ { 0x01 }, 1 },                                            /* half a prefix */
};

static void
horde_init(struct horde *h, enum style style, int n)
{
	memset(h, 0, sizeof(*h));
	h->style = style;
	h->n = n;
	h->fd = malloc((size_t)n * sizeof(*h->fd));
	h->up = calloc((size_t)n, sizeof(*h->up));
	h->last = calloc((size_t)n, sizeof(*h->last));
	h->sent = calloc((size_t)n, sizeof(*h->sent));
	cr_assert(h->fd && h->up && h->last && h->sent);
	for (int i = 0; i < n; i++) {
		h->fd[i] = -1;
	}
	h->held_min = 1 << 30;
}

/* One round: notice closed connections, reopen them, send what is due. */
static void
horde_tick(struct run *r, struct horde *h)
{
	struct pollfd *pfd = calloc((size_t)h->n, sizeof(*pfd));
	double now = now_s();
	uint8_t q[64];
	size_t qlen = tcp_query(q, 1, NAME);
	int held;

	cr_assert(pfd);
	for (int i = 0; i < h->n; i++) {
		pfd[i].fd = h->fd[i];
		pfd[i].events = h->up[i] ? POLLIN : POLLOUT;
	}
	poll(pfd, (nfds_t)h->n, 0);
	for (int i = 0; i < h->n; i++) {
		char sink[4096];
		int err = 0;
		socklen_t el = sizeof(err);

		if (h->fd[i] >= 0 && !h->up[i] &&
		    (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
			getsockopt(h->fd[i], SOL_SOCKET, SO_ERROR, &err, &el);
			h->up[i] = err == 0;
			if (h->up[i] && h->style == LIAR) {
				send(h->fd[i], lies[i % 5].bytes, lies[i % 5].len, MSG_NOSIGNAL);
			}
			h->last[i] = now - SLOW_SEC;
			h->sent[i] = 0;
		}
		if (h->up[i] && h->style == SLOW && now - h->last[i] >= SLOW_SEC &&
		    h->sent[i] < qlen &&
		    send(h->fd[i], q + h->sent[i], 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
			h->sent[i]++;
			h->last[i] = now;
		}
		if (h->fd[i] >= 0 &&
		    (err != 0 || (h->up[i] && (pfd[i].revents & (POLLIN | POLLHUP)) &&
		                  recv(h->fd[i], sink, sizeof(sink), 0) <= 0))) {
			close(h->fd[i]);
			h->fd[i] = -1;
			h->up[i] = false;
			h->reopened++;
		}
		if (h->fd[i] < 0) {
			h->fd[i] = tcp_open(r);
		}
	}
	free(pfd);
	held = sx_census_tcp(sx_test_pid(r->s), SX_TCP_ESTABLISHED, 0);
	h->held_min = held < h->held_min ? held : h->held_min;
	h->held_max = held > h->held_max ? held : h->held_max;
}

/* Keep the horde up until the probers are done; describe it in @detail. */
static void
horde_run(struct run *r, struct horde *h, char *detail, size_t size)
{
	/* Let it take its slots before the legitimate clients come. */
	for (int i = 0; i < 10; i++) {
		horde_tick(r, h);
		usleep(100000);
	}
	h->held_min = 1 << 30;
	h->held_max = 0;
	probe_start(r);
	while (!probed_enough(r)) {
		horde_tick(r, h);
		usleep(100000);
	}
	snprintf(detail, size,
	         "%d attacking connections, %ld closed by the server and reopened, server held "
	         "%d..%d TCP connections",
	         h->n, h->reopened, h->held_min, h->held_max);
}

static void
horde_free(struct horde *h)
{
	for (int i = 0; i < h->n; i++) {
		if (h->fd[i] >= 0) {
			close(h->fd[i]);
		}
	}
	free(h->fd);
	free(h->up);
	free(h->last);
	free(h->sent);
}

TestSuite(hostile, .timeout = 600);

/*
 * 2,000: the kernel spreads connections over the two workers' listeners by
 * hash, unevenly, so one worker's 1,024 slots fill about half of the time; a
 * new client then takes the slot of the idle connection of least use.
 */
Test(hostile, idle_tcp_connections)
{
	struct horde h;
	struct run r;
	char detail[256];

	start(&r);
	horde_init(&h, IDLE, 2000);
	horde_run(&r, &h, detail, sizeof(detail));
	probe_check(&r, "idle connections", detail);
	horde_free(&h);
	finish(&r);
}

/*
 * Slowloris: 2,000 connections each sending a query one byte every 5 s. Each
 * byte restarts the idle timer; the 3 s deadline to read a whole message, and
 * eviction when a worker is full, keep slots for new clients.
 */
Test(hostile, one_byte_every_five_seconds)
{
	struct horde h;
	struct run r;
	char detail[256];

	start(&r);
	horde_init(&h, SLOW, 2000);
	horde_run(&r, &h, detail, sizeof(detail));
	probe_check(&r, "one byte every 5 s", detail);
	horde_free(&h);
	finish(&r);
}

Test(hostile, length_prefixes_that_lie)
{
	struct horde h;
	struct run r;
	char detail[256];

	start(&r);
	horde_init(&h, LIAR, 1000);
	horde_run(&r, &h, detail, sizeof(detail));
	probe_check(&r, "lying length prefixes", detail);
	horde_free(&h);
	finish(&r);
}

Test(hostile, ten_thousand_pipelined_queries_never_read)
{
	enum {
		CONNS = 10,
		QUERIES = 10000
	};
	struct run r;
	int fds[CONNS];
	size_t qlen, total = 0;
	uint8_t *buf;
	char detail[160];

	start(&r);
	buf = malloc((size_t)QUERIES * 64);
	cr_assert(buf);
	qlen = 0;
	for (int i = 0; i < QUERIES; i++) {
		qlen += tcp_query(buf + qlen, (uint16_t)i, NAME);
	}
	for (int c = 0; c < CONNS; c++) {
		size_t off = 0;

		fds[c] = tcp_open(&r);
		cr_assert(fds[c] >= 0);
		/* Write all it takes; the server stops reading once its replies pile up. */
		for (int tries = 0; off < qlen && tries < 40; tries++) {
			struct pollfd w = { .fd = fds[c], .events = POLLOUT };
			ssize_t n;

			if (poll(&w, 1, 50) != 1) {
				continue;
			}
			n = send(fds[c], buf + off, qlen - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
			}
		}
		total += off;
	}
	probe_start(&r);
	while (!probed_enough(&r)) {
		usleep(50000);
	}
	snprintf(detail, sizeof(detail),
	         "%d connections, %zu of %zu query bytes written, none read", CONNS, total,
	         (size_t)CONNS * qlen);
	probe_check(&r, "pipelined unread", detail);
	for (int c = 0; c < CONNS; c++) {
		close(fds[c]);
	}
	free(buf);
	finish(&r);
}

Test(hostile, a_flood_of_garbage_udp)
{
	struct run r;
	int fd[4];
	long sent = 0;
	uint64_t x = 88172645463325252ull;
	double t0;
	char detail[128];

	start(&r);
	for (int i = 0; i < 4; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		cr_assert(fd[i] >= 0);
	}
	probe_start(&r);
	t0 = now_s();
	while (!probed_enough(&r)) {
		for (int k = 0; k < 500; k++) {
			uint8_t pkt[512];
			size_t len;

			/* xorshift: lengths 0..511, random bytes; a third look like queries. */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			len = (size_t)(x % 512);
			for (size_t i = 0; i < len; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				pkt[i] = (uint8_t)x;
			}
			if (len >= 12 && k % 3 == 0) {
				pkt[2] = 1; /* RD, opcode QUERY, a question count of one */
				pkt[3] = 0;
				pkt[4] = 0;
				pkt[5] = 1;
			}
			if (sendto(fd[k % 4], pkt, len, 0, (struct sockaddr *)&r.to,
			           sizeof(r.to)) >= 0) {
				sent++;
			}
		}
		usleep(1000);
	}
	snprintf(detail, sizeof(detail), "%ld garbage datagrams in %.1f s", sent, now_s() - t0);
	probe_check(&r, "garbage UDP flood", detail);
	for (int i = 0; i < 4; i++) {
		close(fd[i]);
	}
	finish(&r);
}
