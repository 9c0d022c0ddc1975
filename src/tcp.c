/* tcp.c -- DNS over TCP: length-prefixed, pipelined queries on bufferevents. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <urcu.h>

#include "chain.h"
#include "server.h"
#include "worker.h"

#define TCP_OUT_HIGH (256 * 1024) /* stop reading while this much output is queued */

struct sx_tcp_conn {
	struct bufferevent *bev; /* NULL once closed */
	struct sx_worker *w;
	unsigned lid;
	uint16_t port;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct sockaddr_storage local; /* the server's end, for sx_req_local() */
	unsigned refs;                 /* open connection + suspended requests */
	uint64_t partial_ns; /* when the message now in the input began (0: none pending) */
	uint64_t useful_ns;  /* accept, or the last whole message read: eviction picks the oldest */
	uint64_t read_ns;    /* the listener's read timeout, taken at accept */
	bool closing;        /* reads nothing more; closes once its replies are written */
	struct sx_tcp_conn *prev, *next;
};

static void
conn_unref(struct sx_tcp_conn *c)
{
	if (--c->refs > 0) {
		return;
	}
	if (c->prev) {
		c->prev->next = c->next;
	} else {
		c->w->conns = c->next;
	}
	if (c->next) {
		c->next->prev = c->prev;
	}
	free(c);
}

static void
conn_close(struct sx_tcp_conn *c)
{
	if (!c->bev) {
		return;
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->w->tcp_conns--;
	conn_unref(c);
}

/*
 * A frame too short to be a message ends the connection, but the queries read
 * before it in the same segment have their answers queued: those go out first.
 */
static void
conn_close_after_replies(struct sx_tcp_conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c);
		return;
	}
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(c->bev),
	               evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0); /* on_write once all is written */
}

void
sx_tcp_hold(struct sx_req *req)
{
	req->conn->refs++;
}

void
sx_tcp_write(struct sx_req *req, size_t len)
{
	struct sx_tcp_conn *c = req->conn;
	uint8_t *frame = req->out - 2;

	/* Replies are built 2 bytes into the buffer so the length prefix fits in front. */
	if (c->bev && len) {
		frame[0] = (uint8_t)(len >> 8);
		frame[1] = (uint8_t)len;
		bufferevent_write(c->bev, frame, len + 2);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > TCP_OUT_HIGH) {
			bufferevent_disable(c->bev, EV_READ);
		}
	}
}

void
sx_tcp_reply(struct sx_req *req, size_t len)
{
	struct sx_tcp_conn *c = req->conn;

	sx_tcp_write(req, len);
	if (req->suspended) {
		conn_unref(c);
	}
}

static void
one_query(struct sx_tcp_conn *c, struct evbuffer *in, size_t len, struct sx_gen *gen)
{
	struct sx_worker *w = c->w;
	struct sx_req *req = sx_req_get(w);
	enum sx_parse pr;

	__atomic_store_n(&w->received, w->received + 1, __ATOMIC_RELAXED);
	if (!req) {
		evbuffer_drain(in, len);
		return;
	}
	if (len > sizeof(req->qwire)) {
		/* Keep the header so the FORMERR carries the client's ID. */
		evbuffer_remove(in, req->qwire, SX_HDR_LEN);
		evbuffer_drain(in, len - SX_HDR_LEN);
		pr = sx_wire_parse_query(req->qwire, SX_HDR_LEN, &req->q, req->lname);
		if (pr != SX_PARSE_DROP) {
			pr = SX_PARSE_FORMERR;
		}
	} else {
		evbuffer_remove(in, req->qwire, len);
		pr = sx_wire_parse_query(req->qwire, len, &req->q, req->lname);
	}
	if (pr == SX_PARSE_DROP) {
		sx_req_put(req);
		return;
	}
	req->q.proto = SX_PROTO_TCP;
	memcpy(&req->q.client, &c->peer, c->peerlen);
	req->q.client_len = c->peerlen;
	req->q.local_port = c->port;
	req->local = c->local;
	req->start_ns = sx_now_ns();
	req->conn = c;
	req->out = w->big + 2;
	req->out_cap = sizeof(w->big) - 2;
	if (pr != SX_PARSE_OK) {
		sx_worker_reject(req, pr);
		return;
	}
	sx_chain_process(req, gen, c->lid);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct sx_tcp_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t lenbuf[2];
	size_t len;

	/* The connection may close while its queries run; keep the struct until we are done. */
	c->refs++;
	rcu_read_lock();
	struct sx_gen *gen = sx_gen_current();
	bool whole = false;
	while (c->bev && !c->closing && evbuffer_copyout(in, lenbuf, 2) == 2) {
		len = (size_t)lenbuf[0] << 8 | lenbuf[1];
		if (evbuffer_get_length(in) < len + 2) {
			break;
		}
		evbuffer_drain(in, 2);
		if (len < SX_HDR_LEN) {
			conn_close_after_replies(c); /* not even a header: nothing to answer */
			break;
		}
		whole = true;
		one_query(c, in, len, gen);
		if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) > TCP_OUT_HIGH) {
			break;
		}
	}
	rcu_read_unlock();
	if (c->bev) {
		/*
		 * The idle timer restarts on every byte, so alone it lets one byte every few
		 * seconds hold a slot for ever: a message must also arrive whole within
		 * the read timeout of its first byte. Unread input behind a full output is the
		 * client not reading, which the write timeout bounds instead.
		 */
		uint64_t now = sx_now_ns();
		if (whole) {
			c->useful_ns = now;
			c->partial_ns = 0;
		}
		if (evbuffer_get_length(in) == 0 || !(bufferevent_get_enabled(bev) & EV_READ)) {
			c->partial_ns = 0;
		} else if (c->partial_ns == 0) {
			c->partial_ns = now;
			if (!evtimer_pending(c->w->tcp_sweep, NULL)) {
				struct timeval tick = { 1, 0 };
				evtimer_add(c->w->tcp_sweep, &tick);
			}
		}
	}
	conn_unref(c);
}

/* Once a second while messages are pending: close those that missed their deadline. */
static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct sx_worker *w = arg;
	uint64_t now = sx_now_ns();
	bool pending = false;

	(void)fd;
	(void)what;
	for (struct sx_tcp_conn *c = w->conns, *next; c; c = next) {
		next = c->next; /* conn_close() may free c, never another connection */
		if (!c->bev || c->partial_ns == 0) {
			continue;
		}
		if (now - c->partial_ns >= c->read_ns) {
			conn_close(c);
		} else {
			pending = true;
		}
	}
	if (pending) {
		struct timeval tick = { 1, 0 };
		evtimer_add(w->tcp_sweep, &tick);
	}
}

/*
 * All slots taken: close the connection that has been of least use the longest (no
 * whole message since it was accepted, or none for the longest time), so that a new
 * client is served rather than refused while idle or slow ones hold every slot.
 */
static void
evict_one(struct sx_worker *w)
{
	struct sx_tcp_conn *victim = NULL;

	for (struct sx_tcp_conn *c = w->conns; c; c = c->next) {
		if (c->bev && (!victim || c->useful_ns < victim->useful_ns)) {
			victim = c;
		}
	}
	if (victim) {
		conn_close(victim);
	}
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct sx_tcp_conn *c = arg;

	if (c->closing) {
		conn_close(c); /* its last replies are written */
		return;
	}
	/* Output drained below the watermark: read again, starting with what is buffered. */
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		on_read(bev, arg);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn_close(arg); /* EOF, error or idle timeout */
}

static void
on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct sx_wsock *s = arg;
	struct sx_worker *w = s->w;
	uint64_t read_ms, write_ms, idle_ms;
	struct timeval idle, wr;
	struct sx_tcp_conn *c;

	(void)evl;
	if (w->tcp_conns >= SX_TCP_MAX_CONNS) {
		evict_one(w);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->w = w;
	c->lid = s->l->id;
	c->port = ntohs(((struct sockaddr_in *)&s->l->addr)->sin_port);
	memcpy(&c->peer, sa, (size_t)salen);
	c->peerlen = (socklen_t)salen;
	/* A wildcard listener's connections each know their own local address. */
	if (getsockname(fd, (struct sockaddr *)&c->local, &(socklen_t){ sizeof(c->local) }) < 0) {
		c->local.ss_family = AF_UNSPEC;
	}
	c->refs = 1;
	c->useful_ns = sx_now_ns();
	/* The running configuration's timeouts; a reload leaves open connections theirs. */
	rcu_read_lock();
	sx_gen_tcp_timeouts(sx_gen_current(), c->lid, &read_ms, &write_ms, &idle_ms);
	rcu_read_unlock();
	c->read_ns = read_ms * 1000000u;
	idle = (struct timeval){ (time_t)(idle_ms / 1000), (suseconds_t)(idle_ms % 1000) * 1000 };
	wr = (struct timeval){ (time_t)(write_ms / 1000), (suseconds_t)(write_ms % 1000) * 1000 };
	c->next = w->conns;
	if (w->conns) {
		w->conns->prev = c;
	}
	w->conns = c;
	w->tcp_conns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, TCP_OUT_HIGH / 2, 0);
	bufferevent_set_timeouts(c->bev, &idle, &wr);
	bufferevent_enable(c->bev, EV_READ);
}

int
sx_tcp_init(struct sx_worker *w)
{
	w->tcp_sweep = evtimer_new(w->base, on_sweep, w);
	return w->tcp_sweep ? 0 : -ENOMEM;
}

struct evconnlistener *
sx_tcp_listen(struct sx_wsock *s)
{
	/* Not LEV_OPT_CLOSE_ON_FREE: the socket is the listener's, closed when it is retired. */
	return evconnlistener_new(s->w->base, on_accept, s, 0, -1, s->fd);
}

void
sx_tcp_close_all(struct sx_worker *w)
{
	if (w->tcp_sweep) {
		event_free(w->tcp_sweep);
		w->tcp_sweep = NULL;
	}
	while (w->conns) {
		struct sx_tcp_conn *c = w->conns;

		if (c->bev) {
			conn_close(c);
		} else {
			/* Only suspended requests hold it; they are gone with the workers. */
			c->refs = 1;
			conn_unref(c);
		}
	}
}
