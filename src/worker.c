/* worker.c -- worker threads: one event loop each, listener sockets, request release. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <urcu.h>

#include <sextant/log.h>

#include "loop.h"
#include "server.h"
#include "worker.h"

static _Thread_local struct sx_worker *current;

struct event_base *
sx_worker_current_base(void)
{
	return current ? current->base : NULL;
}

unsigned
sx_worker_id(const struct sx_worker *w)
{
	return w->id;
}

struct event_base *
sx_worker_base(const struct sx_worker *w)
{
	return w->base;
}

void
sx_worker_bind_async(struct sx_worker *w, struct sx_req *req)
{
	/* A sub-query keeps its own buffer: its parent's reply is built in the spare one. */
	if (!req->parent) {
		req->out = w->big + 2;
		req->out_cap = sizeof(w->big) - 2;
	}
	sx_msg_init(&req->msg, req->out, req->out_cap, sx_wire_reply_limit(&req->q), &req->q);
	req->msg_bound = true;
}

void
sx_worker_hold(struct sx_req *req)
{
	req->w->held++;
	if (req->conn) {
		sx_tcp_hold(req);
	}
}

void
sx_worker_reply(struct sx_req *req, size_t len)
{
	struct sx_worker *w = req->w;
	bool suspended = req->suspended;
	struct sx_gen *gen = req->gen;

	/* A length of 0 is a dropped request (sx_req_drop()): nothing goes out. */
	if (req->parent) {
		req->sub_cb(req->parent, len ? req->out : NULL, len, req->sub_arg);
	} else if (req->q.proto == SX_PROTO_TCP) {
		sx_tcp_reply(req, len);
	} else if (len == 0) {
		/* dropped */
	} else if (suspended) {
		sx_udp_send_late(req, len);
	} else if (!w->batching) {
		sx_udp_send_one(req, len);
	} else {
		sx_udp_queue(req, len);
	}
	if (suspended) {
		w->held--;
		sx_gen_unref(gen);
	}
	sx_req_put(req);
}

void
sx_worker_reject(struct sx_req *req, enum sx_parse pr)
{
	static const unsigned rcode[] = {
		[SX_PARSE_FORMERR] = SX_RCODE_FORMERR,
		[SX_PARSE_NOTIMP] = SX_RCODE_NOTIMP,
		[SX_PARSE_BADVERS] = SX_RCODE_BADVERS,
	};

	sx_msg_init_error(&req->msg, req->out, req->out_cap, &req->q, rcode[pr]);
	sx_worker_reply(req, sx_msg_finish(&req->msg, &req->q));
}

static void *
worker_main(void *arg)
{
	struct sx_worker *w = arg;

	current = w;
	sx_loop_bind(w->base);
	rcu_register_thread();
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	rcu_unregister_thread();
	return NULL;
}

struct sx_worker *
sx_workers_new(unsigned n)
{
	struct sx_worker *ws;
	unsigned i;

	ws = calloc(n, sizeof(*ws));
	if (!ws) {
		return NULL;
	}
	for (i = 0; i < n; i++) {
		ws[i].id = i;
		ws[i].base = event_base_new();
		if (ws[i].base) {
			ws[i].late_ev = event_new(ws[i].base, -1, 0, sx_udp_flush_late, &ws[i]);
		}
		if (!ws[i].base || !ws[i].late_ev || sx_tcp_init(&ws[i]) < 0) {
			sx_workers_free(ws, i + 1);
			return NULL;
		}
	}
	return ws;
}

int
sx_workers_run(struct sx_worker *ws, unsigned n)
{
	unsigned i;
	int rc;

	for (i = 0; i < n; i++) {
		char name[16];

		rc = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
		if (rc != 0) {
			return -rc;
		}
		/* For top -H and perf, and how a test tells the workers apart. */
		snprintf(name, sizeof(name), "sx-worker-%u", ws[i].id);
		pthread_setname_np(ws[i].thread, name);
	}
	return 0;
}

/*
 * The socket is the listener's: only the event watching it goes. Called on the
 * control thread while the worker's loop runs, it must wait for a callback in
 * progress, which has @s: event_free() does. evconnlistener_free() does not:
 * during an accept it only drops a reference, and the worker's on_accept() would
 * go on with @s freed. Disabling the listener deletes its event, which waits.
 */
static void
wsock_free(struct sx_wsock *s)
{
	if (s->ev) {
		event_free(s->ev);
	}
	if (s->evl) {
		evconnlistener_disable(s->evl);
		evconnlistener_free(s->evl);
	}
	free(s);
}

int
sx_workers_attach(struct sx_worker *ws, unsigned n, struct sx_listener *l)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct sx_wsock *s = calloc(1, sizeof(*s));

		if (!s) {
			goto fail;
		}
		s->l = l;
		s->w = &ws[i];
		s->fd = l->fds[i];
		if (l->proto == SX_LISTEN_UDP) {
			s->ev = event_new(ws[i].base, s->fd, EV_READ | EV_PERSIST, sx_udp_readable,
			                  s);
			if (!s->ev || event_add(s->ev, NULL) < 0) {
				wsock_free(s);
				goto fail;
			}
		} else if (!(s->evl = sx_tcp_listen(s))) {
			wsock_free(s);
			goto fail;
		}
		s->next = ws[i].socks;
		ws[i].socks = s;
	}
	return 0;
fail:
	/* All or nothing: the workers already polling @l stop. */
	sx_workers_detach(ws, i, l);
	return -ENOMEM;
}

void
sx_workers_detach(struct sx_worker *ws, unsigned n, struct sx_listener *l)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct sx_wsock **pp = &ws[i].socks;

		while (*pp) {
			struct sx_wsock *s = *pp;

			if (s->l == l) {
				*pp = s->next;
				wsock_free(s); /* libevent waits for a running callback */
			} else {
				pp = &s->next;
			}
		}
	}
}

void
sx_workers_stop(struct sx_worker *ws, unsigned n)
{
	unsigned i;

	for (i = 0; ws && i < n; i++) {
		if (ws[i].thread) {
			/*
			 * Not loopbreak: a loop clears its break flag when it starts, so a worker
			 * whose thread had not yet entered its loop would never stop. loopexit
			 * leaves an event in the loop, which ends it whenever the loop runs.
			 */
			event_base_loopexit(ws[i].base, NULL);
			pthread_join(ws[i].thread, NULL);
			ws[i].thread = 0;
		}
	}
}

void
sx_workers_free(struct sx_worker *ws, unsigned n)
{
	unsigned i;

	if (!ws) {
		return;
	}
	sx_workers_stop(ws, n);
	for (i = 0; i < n; i++) {
		while (ws[i].socks) {
			struct sx_wsock *s = ws[i].socks;

			ws[i].socks = s->next;
			wsock_free(s);
		}
		sx_tcp_close_all(&ws[i]);
		sx_req_pool_free(&ws[i]);
		if (ws[i].late_ev) {
			event_free(ws[i].late_ev);
		}
		if (ws[i].base) {
			event_base_free(ws[i].base);
		}
	}
	free(ws);
}
