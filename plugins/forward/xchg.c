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

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
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
 * Streams are locked: the last reference to a configuration generation may be
 * dropped inside one of their callbacks (the reply resumes the request, which
 * ends it), and the control thread then tears the plugin down while the worker
 * is still unwinding through libevent's bufferevent code. The lock (held around
 * every callback) and the reference count make bufferevent_free() from the
 * control thread wait for that. UDP events need nothing: event_del() waits for
 * a running callback by itself.
 */
#define STREAM_OPTS (BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE)

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
	int fd = c->proto == FWD_UDP ? c->fd : (int)bufferevent_getfd(c->bev);

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
 * teardown's bufferevent_free() waits for a running callback (the stream's
 * lock), its event_del() for a running expiry.
 */
static void
stream_close(struct fwd_conn *c)
{
	struct bufferevent *b = uatomic_xchg(&c->bev, NULL);

	if (b) {
		bufferevent_free(b);
	}
}

static void
stream_idle_close(struct fwd_conn *c)
{
	c->dead = true;
	if (c->expire_added) {
		event_del(&c->expire_ev);
	}
	stream_close(c);
}

static void
conn_free(struct fwd_worker *w, struct fwd_conn *c)
{
	if (c->proto == FWD_UDP) {
		if (c->ev_added) {
			event_del(&c->ev);
		}
		if (c->fd >= 0) {
			close(c->fd);
		}
	} else {
		if (c->expire_added) {
			event_del(&c->expire_ev);
		}
		stream_close(c);
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

static void udp_readable(evutil_socket_t fd, short what, void *arg);
static void stream_read(struct bufferevent *bev, void *arg);
static void stream_event(struct bufferevent *bev, short what, void *arg);
static void stream_expired(evutil_socket_t fd, short what, void *arg);

static struct fwd_conn *
cache_take(struct fwd_x *x, struct fwd_up *up)
{
	struct fwd_conn **list, *c;
	uint64_t now;

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
		conn_free(x->w, c);
	}
	return NULL;
}

static void
conn_release(struct fwd_x *x, struct fwd_conn *c)
{
	struct fwd_conn **list;

	if (!x->w || sx_now_ms() - c->born_ms >= x->f->expire_ms) {
		conn_free(x->w, c);
		return;
	}
	/*
	 * An idle UDP socket stays registered: two epoll_ctl calls less per query.
	 * Its callback only drains stray datagrams and touches nothing shared, so
	 * teardown may still free it from the control thread (event_del waits for
	 * a running callback).
	 */
	list = &x->w->idle[c->up->idx];
	c->next = *list;
	*list = c;
}

/* Close @c once it is retired and idle (not from inside its own read loop). */
static void
stream_settle(struct fwd_conn *c)
{
	struct fwd_conn **pp;

	if (c->in_read || c->nx > 0 || !c->retired) {
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
tls_session(struct fwd_x *x, struct fwd_up *up, int fd, struct bufferevent **out)
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
	*out = bufferevent_openssl_socket_new(x->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                      STREAM_OPTS);
	if (!*out) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	return 0;
}

/* Open a connection; the stream's connect completes in the background. */
static struct fwd_conn *
conn_open(struct fwd_x *x, struct fwd_up *up, enum fwd_proto proto)
{
	int type = proto == FWD_UDP ? SOCK_DGRAM : SOCK_STREAM;
	const struct fwd *f = x->f;
	struct fwd_conn *c = conn_alloc(x->w);
	char eb[64];
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
	fd = socket(up->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && f->srclen && bind(fd, (struct sockaddr *)&f->src, f->srclen) < 0) {
		/* Another family than the upstream's gives EINVAL: "bind: invalid argument". */
		snprintf(x->err, sizeof(x->err), "dial %s %s: bind: %s", proto_net(proto), up->name,
		         errstr(errno, eb));
		close(fd);
		goto fail;
	}
	if (fd < 0 ||
	    (connect(fd, (struct sockaddr *)&up->addr, up->addrlen) < 0 && errno != EINPROGRESS)) {
		snprintf(x->err, sizeof(x->err), "dial %s %s: %s%s", proto_net(proto), up->name,
		         fd < 0 ? "socket: " : "connect: ", errstr(errno, eb));
		if (fd >= 0) {
			close(fd);
		}
		goto fail;
	}
	if (proto == FWD_UDP) {
		c->fd = fd;
		return c;
	}
	if (proto == FWD_TLS) {
		if (tls_session(x, up, fd, &c->bev) < 0) {
			close(fd);
			snprintf(x->err, sizeof(x->err), "dial tcp %s: out of memory", up->name);
			goto fail;
		}
	} else {
		c->bev = bufferevent_socket_new(x->base, fd, STREAM_OPTS);
		if (!c->bev) {
			close(fd);
			snprintf(x->err, sizeof(x->err), "dial tcp %s: out of memory", up->name);
			goto fail;
		}
	}
	bufferevent_setcb(c->bev, stream_read, NULL, stream_event, c);
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
	struct timeval tv;
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
	tv.tv_sec = (time_t)(x->f->expire_ms / 1000);
	tv.tv_usec = (suseconds_t)(x->f->expire_ms % 1000) * 1000;
	evtimer_assign(&c->expire_ev, x->base, stream_expired, c);
	if (evtimer_add(&c->expire_ev, &tv) < 0) {
		c->retired = true; /* not pooled: it lives for this exchange only */
		return c;
	}
	c->expire_added = true;
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
	if (bufferevent_write(c->bev, x->q, x->qlen + 2) < 0 ||
	    bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0) {
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
x_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fwd_x *x = arg;
	struct fwd_conn *c = x->conn;

	(void)fd;
	(void)what;
	if (!c) {
		return;
	}
	if (x->proto == FWD_TCP && !c->connected) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);

		/* A plain TCP socket reports no connect event: ask the kernel. */
		c->connected = getpeername((int)bufferevent_getfd(c->bev), (struct sockaddr *)&peer,
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

	if (!c->ev_added) {
		event_assign(&c->ev, x->base, c->fd, EV_READ | EV_PERSIST, udp_readable, c);
		if (event_add(&c->ev, NULL) < 0) {
			snprintf(x->err, sizeof(x->err), "dial udp %s: cannot poll", c->up->name);
			return -ENOMEM;
		}
		c->ev_added = true;
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
	struct fwd_conn *c = cache_take(x, x->up);
	int rc;

	if (x->w) {
		fwd_metrics_conn(x->up, x->w->idx, FWD_UDP, c != NULL);
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
	struct timeval tv = { (time_t)(timeout_ms / 1000),
		              (suseconds_t)(timeout_ms % 1000) * 1000 };
	int rc;

	x->up = up;
	x->proto = proto;
	x->err[0] = '\0';
	x->sent_ns = sx_now_ns();
	rc = proto == FWD_UDP ? udp_start(x) : stream_send(x);
	if (rc < 0) {
		return rc;
	}
	evtimer_assign(&x->timer, x->base, x_timeout, x);
	evtimer_add(&x->timer, &tv);
	return 0;
}

void
fwd_x_cancel(struct fwd_x *x)
{
	struct fwd_conn *c;

	if (event_initialized(&x->timer)) {
		evtimer_del(&x->timer);
	}
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
	evtimer_del(&x->timer);
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
	evtimer_del(&x->timer);
	x_end(x, true);
	x->done(x, 0, wire, len);
}

static void
udp_readable(evutil_socket_t fd, short what, void *arg)
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
stream_read(struct bufferevent *bev, void *arg)
{
	struct fwd_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct fwd_x *x;
	uint8_t hdr[2];
	size_t mlen;

	c->connected = true;
	if (!c->xs) {
		/* Idle: a late reply to a try given up on. Nothing else may be touched. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	c->in_read = true;
	while (evbuffer_get_length(in) >= 2) {
		evbuffer_copyout(in, hdr, 2);
		mlen = (size_t)hdr[0] << 8 | hdr[1];
		if (evbuffer_get_length(in) < 2 + mlen) {
			break;
		}
		evbuffer_drain(in, 2);
		evbuffer_remove(in, rbuf, mlen);
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
stream_expired(evutil_socket_t fd, short what, void *arg)
{
	struct fwd_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->xs) {
		c->retired = true; /* closed with its last exchange */
	} else {
		stream_idle_close(c);
	}
}

static void
stream_event(struct bufferevent *bev, short what, void *arg)
{
	struct fwd_conn *c = arg;
	struct fwd_x *x, *next, *list = NULL;
	int err = EVUTIL_SOCKET_ERROR();
	unsigned long ssl_err = c->proto == FWD_TLS ? bufferevent_get_openssl_error(bev) : 0;
	char pair[128], why[160], eb[64];
	bool connected = c->connected, tls = c->proto == FWD_TLS, again = c->answered > 0;
	const char *up = c->up->name;

	if (what & BEV_EVENT_CONNECTED) {
		c->connected = true;
		return;
	}
	if (!c->xs) {
		stream_idle_close(c);
		return;
	}
	if (ssl_err) {
		ERR_error_string_n(ssl_err, why, sizeof(why));
	} else if (what & BEV_EVENT_EOF) {
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
			evtimer_del(&x->timer);
			x->done(x, -EIO, NULL, 0);
		} else if (!connected && !(what & BEV_EVENT_EOF) && !ssl_err) {
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
