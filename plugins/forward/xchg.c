/* xchg.c -- one query to one upstream over UDP, TCP or TLS, with a per-worker connection cache. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <urcu/uatomic.h>

#include "fwd.h"

/*
 * A UDP socket is taken from the worker's cache, used by one exchange at a
 * time and put back when the exchange ended with a good reply, for at most
 * `expire` after it was opened: each new socket has a kernel-chosen random
 * source port, so a port serves at most `expire` worth of queries, each with
 * its own random ID. A socket that failed is closed. Reuse matters: a new
 * connected socket per query (expire 0s) cost two thirds of the throughput in
 * our measurements.
 *
 * TCP and TLS streams stay in the worker's pool, busy or idle, and carry
 * several exchanges at once (pipelined, the replies matched by ID, in any
 * order): at most FWD_STREAMS per upstream take new queries, so a burst of
 * queries no longer opens a connection for each. A stream is retired (takes no
 * new query, closes with its last) at `expire`, or when a query on it timed
 * out; it closes at once when the upstream closes it.
 */
/*
 * The last reference to a configuration generation may be dropped inside a
 * connection's callback (the reply resumes the request, which ends it), and
 * the control thread then tears the plugin down while the worker is still in
 * that callback: sx_stream_free(), sx_io_free() and sx_timer_free() wait for
 * it to return.
 */

/* Replies are read here: valid only during the done callback. */
static _Thread_local uint8_t rbuf[65536];

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoroshiro128+: fast, and its seed comes from getrandom(). */
uint64_t
fwd_rand(uint64_t s[2])
{
	uint64_t s0 = s[0], s1 = s[1], r = s0 + s1;

	s1 ^= s0;
	s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
	s[1] = rotl(s1, 37);
	return r;
}

void
fwd_rand_seed(uint64_t s[2])
{
	struct timespec ts;

	if (getrandom(s, 2 * sizeof(uint64_t), 0) != 2 * sizeof(uint64_t)) {
		/* No entropy source: the kernel's random ports carry the unpredictability. */
		clock_gettime(CLOCK_REALTIME, &ts);
		s[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
		s[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ull;
	}
	if (s[0] == 0 && s[1] == 0) {
		s[0] = 1;
	}
}

/* strerror() as Go words it: lower case ("connection refused"). */
static const char *
errstr(int err, char buf[64])
{
	snprintf(buf, 64, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z')) {
		buf[0] = (char)(buf[0] + 32);
	}
	return buf;
}

static const char *
proto_net(enum fwd_proto p)
{
	return p == FWD_UDP ? "udp" : "tcp";
}

static void
sa_str(const struct sockaddr_storage *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)a;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, cap, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)a;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, cap, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* "LOCAL->REMOTE", as Go prints a connection in its errors. */
static void
conn_pair(const struct fwd_conn *c, char *buf, size_t cap)
{
	struct sockaddr_storage local = { 0 };
	socklen_t len = sizeof(local);
	char l[INET6_ADDRSTRLEN + 8];
	struct sx_stream *s = c->proto == FWD_UDP ? NULL : uatomic_read(&c->stream);
	int fd = c->proto == FWD_UDP ? c->fd : s ? sx_stream_fd(s) : -1;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&local, &len) < 0) {
		snprintf(buf, cap, "%s", c->up->name);
		return;
	}
	sa_str(&local, l, sizeof(l));
	snprintf(buf, cap, "%s->%s", l, c->up->name);
}

static void xfail(struct fwd_x *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- connections ---- */

static struct fwd_conn *
conn_alloc(struct fwd_worker *w)
{
	struct fwd_conn *c;

	if (w && w->spare) {
		c = w->spare;
		w->spare = c->next;
		memset(c, 0, sizeof(*c));
		return c;
	}
	return calloc(1, sizeof(*c));
}

/*
 * A pooled stream with nothing in flight keeps reading, so that it closes as
 * soon as the upstream closes it (no socket left in CLOSE-WAIT), and its expiry
 * closes it on time. Those callbacks may run after the configuration is gone,
 * while its teardown frees the pool on the control thread: so they close only
 * the socket, swapping the pointer out, and never touch @c again; the worker
 * frees the struct when it next walks the pool, or the teardown does. The
 * teardown's sx_stream_free() waits for a running callback (the stream's
 * lock), its sx_timer_free() for a running expiry.
 */
static void
stream_close(struct fwd_conn *c)
{
	sx_stream_free(uatomic_xchg(&c->stream, NULL));
}

static void
stream_idle_close(struct fwd_conn *c)
{
	c->dead = true;
	if (c->expire) {
		sx_timer_cancel(c->expire);
	}
	stream_close(c);
}

static void
conn_free(struct fwd_worker *w, struct fwd_conn *c)
{
	if (c->proto == FWD_UDP) {
		sx_io_free(c->io);
		if (c->fd >= 0) {
			close(c->fd);
		}
	} else {
		/*
		 * From the teardown, the worker may still run the expiry or the
		 * stream's callback (stream_idle_close: cancel, then close). Cancel
		 * first, which waits for a running expiry; then close, which waits
		 * for a running stream callback; free the timer only when neither
		 * can reach it any more.
		 */
		if (c->expire) {
			sx_timer_cancel(c->expire);
		}
		stream_close(c);
		sx_timer_free(c->expire);
	}
	if (w) {
		c->next = w->spare;
		w->spare = c;
	} else {
		free(c);
	}
}

void
fwd_worker_close_idle(struct fwd_worker *w, unsigned nup)
{
	struct fwd_conn *c;
	unsigned i;

	for (i = 0; i < nup; i++) {
		while ((c = w->idle[i])) {
			w->idle[i] = c->next;
			conn_free(NULL, c);
		}
		while ((c = w->streams[i])) {
			w->streams[i] = c->next;
			conn_free(NULL, c);
		}
	}
	while ((c = w->spare)) {
		w->spare = c->next;
		free(c);
	}
}

static void
conn_attach(struct fwd_conn *c, struct fwd_x *x)
{
	x->conn = c;
	x->cnext = c->xs;
	x->cprev = &c->xs;
	if (c->xs) {
		c->xs->cprev = &x->cnext;
	}
	c->xs = x;
	c->nx++;
}

static struct fwd_conn *
conn_detach(struct fwd_x *x)
{
	struct fwd_conn *c = x->conn;

	*x->cprev = x->cnext;
	if (x->cnext) {
		x->cnext->cprev = x->cprev;
	}
	c->nx--;
	x->conn = NULL;
	x->cnext = NULL;
	x->cprev = NULL;
	return c;
}

/* The exchange on @c that @r (@rlen bytes) answers, or NULL. */
static struct fwd_x *
conn_find(const struct fwd_conn *c, const uint8_t *r, size_t rlen)
{
	struct fwd_x *x;

	for (x = c->xs; x; x = x->cnext) {
		if (fwd_reply_matches(x->q + 2, x->qlen, r, rlen)) {
			return x;
		}
	}
	return NULL;
}

static void udp_readable(int fd, unsigned what, void *arg);
static void stream_ready(struct sx_stream *s, unsigned what, int err, void *arg);
static void stream_expired(void *arg);
static void x_end(struct fwd_x *x, bool ok);
static int dial(struct fwd_x *x, struct fwd_up *up, enum fwd_proto proto);

/*
 * An idle UDP socket past `expire` is replaced by a new one in the same
 * connection and watch, so that in steady state a query allocates nothing:
 * freeing and making them again cost four allocations a socket every expiry.
 */
static int
udp_renew(struct fwd_x *x, struct fwd_conn *c, uint64_t now)
{
	int fd = dial(x, c->up, FWD_UDP);

	if (fd < 0) {
		return -1;
	}
	if (c->io && sx_io_rebind(c->io, fd) < 0) {
		close(fd);
		return -1;
	}
	close(c->fd);
	c->fd = fd;
	c->born_ms = now;
	return 0;
}

/* An idle UDP socket to @up, or NULL; *@renewed when it is a new socket (a cache miss). */
static struct fwd_conn *
cache_take(struct fwd_x *x, struct fwd_up *up, bool *renewed)
{
	struct fwd_conn **list, *c;
	uint64_t now;

	*renewed = false;
	if (!x->w) {
		return NULL;
	}
	list = &x->w->idle[up->idx];
	now = sx_now_ms();
	while ((c = *list)) {
		*list = c->next;
		if (now - c->born_ms < x->f->expire_ms) {
			return c;
		}
		if (udp_renew(x, c, now) == 0) {
			*renewed = true;
			return c;
		}
		conn_free(x->w, c);
	}
	return NULL;
}

static void
conn_release(struct fwd_x *x, struct fwd_conn *c)
{
	struct fwd_conn **list;

	if (!x->w) {
		conn_free(x->w, c);
		return;
	}
	/*
	 * An idle UDP socket stays registered: two epoll_ctl calls less per query.
	 * One past `expire` is renewed when next taken.
	 * Its callback only drains stray datagrams and touches nothing shared, so
	 * teardown may still free it from the control thread (sx_io_free waits for
	 * a running callback).
	 */
	list = &x->w->idle[c->up->idx];
	if (x->f->max_idle_conns > 0) {
		unsigned n = 0;

		for (struct fwd_conn *i = *list; i; i = i->next) {
			n++;
		}
		if (n >= x->f->max_idle_conns) {
			conn_free(x->w, c);
			return;
		}
	}
	c->next = *list;
	*list = c;
}

/*
 * Whether pooled stream @c, just idle, is one too many under `max_idle_conns`:
 * the others of its upstream and protocol on this worker already idle count.
 */
static bool
stream_over_idle_cap(const struct fwd_conn *c)
{
	unsigned max = c->up->f->max_idle_conns, n = 0;

	if (!c->pooled || max == 0) {
		return false;
	}
	for (const struct fwd_conn *i = c->w->streams[c->up->idx]; i; i = i->next) {
		n += i->nx == 0 && !i->retired && !i->dead && i->proto == c->proto;
	}
	return n > max;
}

/* Close @c once it is retired and idle (not from inside its own read loop). */
static void
stream_settle(struct fwd_conn *c)
{
	struct fwd_conn **pp;

	if (c->in_read || c->nx > 0) {
		return;
	}
	if (!c->retired && !stream_over_idle_cap(c)) {
		return;
	}
	if (c->pooled) {
		for (pp = &c->w->streams[c->up->idx]; *pp != c; pp = &(*pp)->next) {
		}
		*pp = c->next;
	}
	conn_free(c->w, c);
}

static int
tls_session(struct fwd_x *x, struct fwd_up *up, int fd, struct fwd_conn *c)
{
	struct fwd *f = x->f;
	SSL *ssl = SSL_new((SSL_CTX *)f->ssl);
	char host[INET6_ADDRSTRLEN];

	if (!ssl) {
		return -ENOMEM;
	}
	if (f->tls_servername) {
		SSL_set_tlsext_host_name(ssl, f->tls_servername);
		SSL_set1_host(ssl, f->tls_servername);
	} else {
		/* No name given: the certificate must carry the upstream's IP address. */
		if (up->addr.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&up->addr)->sin6_addr, host,
			          sizeof(host));
		} else {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&up->addr)->sin_addr, host,
			          sizeof(host));
		}
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	}
	c->stream = sx_stream_new(fd, ssl, stream_ready, c);
	if (!c->stream) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	return 0;
}

/* A socket connected (or connecting) to @up over @proto, or -1 with x->err set. */
static int
dial(struct fwd_x *x, struct fwd_up *up, enum fwd_proto proto)
{
	int type = proto == FWD_UDP ? SOCK_DGRAM : SOCK_STREAM;
	const struct fwd *f = x->f;
	char eb[64];
	int fd = socket(up->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0 && f->srclen && bind(fd, (struct sockaddr *)&f->src, f->srclen) < 0) {
		/* Another family than the upstream's gives EINVAL: "bind: invalid argument". */
		snprintf(x->err, sizeof(x->err), "dial %s %s: bind: %s", proto_net(proto), up->name,
		         errstr(errno, eb));
		close(fd);
		return -1;
	}
	if (fd < 0 ||
	    (connect(fd, (struct sockaddr *)&up->addr, up->addrlen) < 0 && errno != EINPROGRESS)) {
		snprintf(x->err, sizeof(x->err), "dial %s %s: %s%s", proto_net(proto), up->name,
		         fd < 0 ? "socket: " : "connect: ", errstr(errno, eb));
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	return fd;
}

/* Open a connection; the stream's connect completes in the background. */
static struct fwd_conn *
conn_open(struct fwd_x *x, struct fwd_up *up, enum fwd_proto proto)
{
	struct fwd_conn *c = conn_alloc(x->w);
	int fd;

	if (!c) {
		snprintf(x->err, sizeof(x->err), "dial %s %s: out of memory", proto_net(proto),
		         up->name);
		return NULL;
	}
	c->up = up;
	c->w = x->w;
	c->proto = proto;
	c->fd = -1;
	c->born_ms = sx_now_ms();
	fd = dial(x, up, proto);
	if (fd < 0) {
		goto fail;
	}
	if (proto == FWD_UDP) {
		c->fd = fd;
		return c;
	}
	if (proto == FWD_TLS) {
		if (tls_session(x, up, fd, c) < 0) {
			close(fd);
			snprintf(x->err, sizeof(x->err), "dial tcp %s: out of memory", up->name);
			goto fail;
		}
	} else {
		c->stream = sx_stream_new(fd, NULL, stream_ready, c);
		if (!c->stream) {
			close(fd);
			snprintf(x->err, sizeof(x->err), "dial tcp %s: out of memory", up->name);
			goto fail;
		}
	}
	return c;
fail:
	conn_free(x->w, c);
	return NULL;
}

/*
 * The stream for @x to @up: the least busy of the worker's, unless all have
 * FWD_PIPELINE in flight and fewer than FWD_STREAMS take queries, then a new
 * one. Without a worker (probes) or with `expire 0s`, a stream of its own.
 */
static struct fwd_conn *
stream_pick(struct fwd_x *x, struct fwd_up *up, enum fwd_proto proto)
{
	struct fwd_conn **pp, *c, *best = NULL;
	uint64_t now = sx_now_ms();
	unsigned n = 0;

	if (!x->w || x->f->expire_ms == 0) {
		c = conn_open(x, up, proto);
		if (c) {
			c->retired = true;
		}
		return c;
	}
	for (pp = &x->w->streams[up->idx]; (c = *pp);) {
		if (c->dead) {
			*pp = c->next;
			conn_free(x->w, c);
			continue;
		}
		if (!c->retired && now - c->born_ms >= x->f->expire_ms) {
			c->retired = true; /* its timer is late: the loop is busy */
		}
		if (!c->retired && c->proto == proto) {
			n++;
			best = !best || c->nx < best->nx ? c : best;
		}
		pp = &c->next;
	}
	if (best && (best->nx < FWD_PIPELINE || n >= FWD_STREAMS)) {
		fwd_metrics_conn(up, x->w->idx, proto, true);
		return best;
	}
	fwd_metrics_conn(up, x->w->idx, proto, false);
	c = conn_open(x, up, proto);
	if (!c) {
		return NULL;
	}
	c->expire = sx_timer_new(stream_expired, c);
	if (!c->expire || sx_timer_once(c->expire, x->f->expire_ms) < 0) {
		c->retired = true; /* not pooled: it lives for this exchange only */
		return c;
	}
	c->pooled = true;
	c->next = x->w->streams[up->idx];
	x->w->streams[up->idx] = c;
	return c;
}

/* Replies on a stream are told apart by ID: no two exchanges on @c share one. */
static void
stream_unique_id(const struct fwd_conn *c, struct fwd_x *x)
{
	const struct fwd_x *y;

	for (y = c->xs; y;) {
		if (y->q[2] == x->q[2] && y->q[3] == x->q[3]) {
			uint16_t id = (uint16_t)fwd_rand(x->w->rng);

			x->q[2] = (uint8_t)(id >> 8);
			x->q[3] = (uint8_t)id;
			y = c->xs;
			continue;
		}
		y = y->cnext;
	}
}

/* Send @x on a stream to x->up (a pooled one or a new one). @return 0, or an error in x->err. */
static int
stream_send(struct fwd_x *x)
{
	struct fwd_conn *c = stream_pick(x, x->up, x->proto);

	if (!c) {
		return -EIO;
	}
	if (c->pooled) {
		stream_unique_id(c, x);
	}
	x->q[0] = (uint8_t)(x->qlen >> 8);
	x->q[1] = (uint8_t)x->qlen;
	if (sx_stream_write(c->stream, x->q, x->qlen + 2) < 0 ||
	    sx_stream_reading(c->stream, true) < 0) {
		snprintf(x->err, sizeof(x->err), "write tcp %s: out of memory", c->up->name);
		c->retired = true;
		stream_settle(c);
		return -ENOMEM;
	}
	conn_attach(c, x);
	return 0;
}

/* ---- one exchange ---- */

static void
x_timeout(void *arg)
{
	struct fwd_x *x = arg;
	struct fwd_conn *c = x->conn;

	if (!c) {
		return;
	}
	if (x->proto == FWD_TCP && !c->connected) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);

		/* A plain TCP socket reports no connect event: ask the kernel. */
		c->connected = getpeername(sx_stream_fd(c->stream), (struct sockaddr *)&peer,
		                           &len) == 0;
	}
	if (x->proto != FWD_UDP) {
		/* Unanswered: the stream may be stuck; new queries go to another. */
		c->retired = true;
	}
	if (x->proto != FWD_UDP && !c->connected) {
		xfail(x, "dial tcp %s: i/o timeout", x->up->name);
	} else {
		char pair[128];

		conn_pair(c, pair, sizeof(pair));
		xfail(x, "read %s %s: i/o timeout", proto_net(x->proto), pair);
	}
}

static int
udp_send(struct fwd_x *x)
{
	struct fwd_conn *c = x->conn;
	char pair[128], eb[64];

	if (!c->io && !(c->io = sx_io_new(c->fd, SX_IO_READ, udp_readable, c))) {
		snprintf(x->err, sizeof(x->err), "dial udp %s: cannot poll", c->up->name);
		return -ENOMEM;
	}
	if (send(c->fd, x->q + 2, x->qlen, 0) < 0) {
		conn_pair(c, pair, sizeof(pair));
		snprintf(x->err, sizeof(x->err), "write udp %s: write: %s", pair,
		         errstr(errno, eb));
		return -errno;
	}
	return 0;
}

static int
udp_start(struct fwd_x *x)
{
	bool renewed;
	struct fwd_conn *c = cache_take(x, x->up, &renewed);
	int rc;

	if (x->w) {
		fwd_metrics_conn(x->up, x->w->idx, FWD_UDP, c != NULL && !renewed);
	}
	if (!c) {
		c = conn_open(x, x->up, FWD_UDP);
		if (!c) {
			return -EIO;
		}
	}
	conn_attach(c, x);
	rc = udp_send(x);
	if (rc < 0) {
		conn_detach(x);
		conn_free(x->w, c);
	}
	return rc;
}

int
fwd_x_start(struct fwd_x *x, struct fwd_up *up, enum fwd_proto proto, uint64_t timeout_ms)
{
	int rc;

	x->up = up;
	x->proto = proto;
	x->err[0] = '\0';
	x->sent_ns = sx_now_ns();
	rc = proto == FWD_UDP ? udp_start(x) : stream_send(x);
	if (rc < 0) {
		return rc;
	}
	/* Only once the query is out: a failed send leaves no timer pending. */
	if (sx_timer_once(x->timer, timeout_ms) < 0) {
		snprintf(x->err, sizeof(x->err), "dial %s %s: out of memory", proto_net(proto),
		         up->name);
		x_end(x, false);
		return -ENOMEM;
	}
	return 0;
}

int
fwd_x_init(struct fwd_x *x)
{
	x->timer = sx_timer_new(x_timeout, x);
	return x->timer ? 0 : -ENOMEM;
}

void
fwd_x_fini(struct fwd_x *x)
{
	struct fwd_conn *c;

	sx_timer_free(x->timer);
	x->timer = NULL;
	if (x->conn) {
		c = conn_detach(x);
		/* A pooled stream goes with its pool (fwd_worker_close_idle). */
		if (!c->pooled) {
			conn_free(NULL, c);
		}
	}
}

/* The exchange has ended: a UDP socket goes back to the cache after a reply, a stream stays. */
static void
x_end(struct fwd_x *x, bool ok)
{
	struct fwd_conn *c = conn_detach(x);

	if (c->proto != FWD_UDP) {
		stream_settle(c);
	} else if (ok) {
		conn_release(x, c);
	} else {
		conn_free(x->w, c);
	}
}

static void
xfail(struct fwd_x *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	sx_timer_cancel(x->timer);
	if (x->conn) {
		x_end(x, false);
	}
	x->done(x, -EIO, NULL, 0);
}

static void
xok(struct fwd_x *x, const uint8_t *wire, size_t len)
{
	if (x->w) {
		fwd_metrics_duration(x->up, x->w->idx, wire[3] & 0xFu, sx_now_ns() - x->sent_ns);
	}
	sx_timer_cancel(x->timer);
	x_end(x, true);
	x->done(x, 0, wire, len);
}

static void
udp_readable(int fd, unsigned what, void *arg)
{
	struct fwd_conn *c = arg;
	struct fwd_x *x = c->xs;
	char pair[128], eb[64];
	ssize_t n;

	(void)what;
	for (;;) {
		n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR || !x) {
				return;
			}
			conn_pair(c, pair, sizeof(pair));
			xfail(x, "read udp %s: read: %s", pair, errstr(errno, eb));
			return;
		}
		/* Anything that is not the answer to our question is ignored; keep waiting. */
		if (x && fwd_reply_matches(x->q + 2, x->qlen, rbuf, (size_t)n)) {
			xok(x, rbuf, (size_t)n);
			return;
		}
	}
}

static void
stream_read(struct fwd_conn *c, struct sx_stream *in)
{
	struct fwd_x *x;
	uint8_t hdr[2];
	size_t mlen;

	c->connected = true;
	if (!c->xs) {
		/* Idle: a late reply to a try given up on. Nothing else may be touched. */
		while (sx_stream_copy(in, rbuf, sizeof(rbuf), true) > 0) {
		}
		return;
	}
	c->in_read = true;
	while (sx_stream_buffered(in) >= 2) {
		sx_stream_copy(in, hdr, 2, false);
		mlen = (size_t)hdr[0] << 8 | hdr[1];
		if (sx_stream_buffered(in) < 2 + mlen) {
			break;
		}
		sx_stream_copy(in, hdr, 2, true);
		sx_stream_copy(in, rbuf, mlen, true);
		/* Anything that answers none of the exchanges in flight is ignored. */
		x = conn_find(c, rbuf, mlen);
		if (x) {
			c->answered++;
			xok(x, rbuf, mlen);
		}
	}
	c->in_read = false;
	stream_settle(c);
}

static void
stream_expired(void *arg)
{
	struct fwd_conn *c = arg;

	if (c->xs) {
		c->retired = true; /* closed with its last exchange */
	} else {
		stream_idle_close(c);
	}
}

static void
stream_ready(struct sx_stream *s, unsigned what, int err, void *arg)
{
	struct fwd_conn *c = arg;
	struct fwd_x *x, *next, *list = NULL;
	unsigned long ssl_err;
	char pair[128], why[160], eb[64];
	bool connected = c->connected, tls = c->proto == FWD_TLS, again = c->answered > 0;
	const char *up = c->up->name;

	if (what & SX_STREAM_READ) {
		stream_read(c, s);
		return;
	}
	ssl_err = c->proto == FWD_TLS ? sx_stream_tls_error(s) : 0;
	if (what & SX_STREAM_CONNECTED) {
		c->connected = true;
		return;
	}
	if (!c->xs) {
		stream_idle_close(c);
		return;
	}
	if (ssl_err) {
		ERR_error_string_n(ssl_err, why, sizeof(why));
	} else if (what & SX_STREAM_EOF) {
		snprintf(why, sizeof(why), "EOF");
	} else {
		snprintf(why, sizeof(why), "%s", errstr(err ? err : ECONNRESET, eb));
	}
	conn_pair(c, pair, sizeof(pair));
	/* Every exchange on it ends here; take them off before it closes. */
	while ((x = c->xs)) {
		conn_detach(x);
		x->cnext = list;
		list = x;
	}
	c->retired = true;
	stream_settle(c);
	for (x = list; x; x = next) {
		next = x->cnext;
		x->cnext = NULL;
		/*
		 * A stream that answered before and then closed: the upstream ends
		 * connections it has served (idle, or after some queries), not its
		 * failure. Once more on another; each round needs an answer first.
		 */
		if (again && stream_send(x) == 0) {
			continue;
		}
		if (again) {
			sx_timer_cancel(x->timer);
			x->done(x, -EIO, NULL, 0);
		} else if (!connected && !(what & SX_STREAM_EOF) && !ssl_err) {
			xfail(x, "dial tcp %s: connect: %s", up, why);
		} else if (tls && !connected) {
			xfail(x, "tls handshake with %s: %s", up, why);
		} else {
			xfail(x, "read tcp %s: %s", pair, why);
		}
	}
}

/* ---- reply check ---- */

static inline uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

bool
fwd_reply_matches(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen)
{
	size_t qo = 12, ro = 12;

	if (rlen < 12 || r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80) ||
	    (r[2] & 0x78) != (q[2] & 0x78) || r[4] != 0 || r[5] != 1) {
		return false;
	}
	/* Our question is uncompressed; the echo must be the same name, any case. */
	for (;;) {
		uint8_t l;

		if (qo >= qlen || ro >= rlen || q[qo] != r[ro]) {
			return false;
		}
		l = q[qo];
		if (l == 0) {
			break;
		}
		if (l > 63 || qo + 1 + l > qlen || ro + 1 + l > rlen) {
			return false;
		}
		for (size_t i = 1; i <= l; i++) {
			if (lower(q[qo + i]) != lower(r[ro + i])) {
				return false;
			}
		}
		qo += 1u + l;
		ro += 1u + l;
	}
	qo++;
	ro++;
	return qo + 4 <= qlen && ro + 4 <= rlen && memcmp(q + qo, r + ro, 4) == 0;
}

/* ---- TLS ---- */

static void
ssl_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();

	if (e) {
		ERR_error_string_n(e, buf, cap);
	} else {
		snprintf(buf, cap, "%s", strerror(errno));
	}
	ERR_clear_error();
}

int
fwd_tls_init(struct fwd *f, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char why[256];

	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return -ENOMEM;
	}
	f->ssl = (struct ssl_ctx_st *)ctx;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (f->tls_ca) {
		if (SSL_CTX_load_verify_locations(ctx, f->tls_ca, NULL) != 1) {
			ssl_reason(why, sizeof(why));
			snprintf(err, errlen, "cannot load CA %s: %s", f->tls_ca, why);
			return SX_EINVAL;
		}
	} else {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	if (f->tls_cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, f->tls_cert) != 1) {
			ssl_reason(why, sizeof(why));
			snprintf(err, errlen, "cannot load certificate %s: %s", f->tls_cert, why);
			return SX_EINVAL;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, f->tls_key, SSL_FILETYPE_PEM) != 1) {
			ssl_reason(why, sizeof(why));
			snprintf(err, errlen, "cannot load key %s: %s", f->tls_key, why);
			return SX_EINVAL;
		}
	}
	return 0;
}

void
fwd_tls_free(struct fwd *f)
{
	if (f->ssl) {
		SSL_CTX_free((SSL_CTX *)f->ssl);
		f->ssl = NULL;
	}
}
