/* chain.c -- route a query to its server block and walk the plugin chain. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <urcu.h>

#include <sextant/plugin.h>

#include "chain.h"
#include "config.h"
#include "server.h"
#include "worker.h"

/* Runs the reply hooks (last registered first), then hands the reply to the transport. */
static void
finish(struct sx_req *req)
{
	struct sx_msg *msg;
	unsigned i, rcode;

	if (req->dropped) {
		sx_worker_reply(req, 0);
		return;
	}
	msg = sx_req_msg(req);
	rcode = sx_msg_rcode(msg);

	/* CoreDNS counts these rcodes as written by the server, not by a plugin. */
	if (rcode == SX_RCODE_SERVFAIL || rcode == SX_RCODE_REFUSED || rcode == SX_RCODE_FORMERR ||
	    rcode == SX_RCODE_NOTIMP) {
		req->writer = "";
	}
	for (i = req->nhooks; i-- > 0;) {
		req->hooks[i].fn(req, msg, req->hooks[i].arg);
	}
	sx_worker_reply(req, sx_msg_finish(msg, &req->q));
}

/*
 * A verdict that is none of enum sx_verdict's (an error code returned as one):
 * SERVFAIL, with the error for the errors plugin, rather than going on as if
 * the plugin had passed.
 */
static void
bad_verdict(struct sx_req *req, const char *plugin, int v)
{
	sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/%s: invalid verdict %d", plugin, v);
	finish(req);
}

static void
run(struct sx_req *req)
{
	const struct sx_block *b = req->block;
	const char *last = NULL;

	for (; req->pos < b->nchain; req->pos++) {
		const struct sx_instance *in = &b->chain[req->pos];
		enum sx_verdict v;

		if (!in->plugin->handle) {
			continue;
		}
		v = in->plugin->handle(req, in->inst);
		if (v == SX_DONE) {
			req->writer = in->plugin->name;
			finish(req);
			return;
		}
		if (v == SX_SUSPEND) {
			if (!req->suspended) {
				req->suspended = true;
				req->msg_bound = false; /* the batch buffer is reused meanwhile */
				sx_gen_ref(req->gen);
				sx_worker_hold(req);
			}
			return;
		}
		if (v != SX_NEXT) {
			bad_verdict(req, in->plugin->name, (int)v);
			return;
		}
		last = in->plugin->name;
	}
	/* Fell off the end: as CoreDNS, SERVFAIL; no handler at all: REFUSED. */
	if (last) {
		sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/%s: no next plugin found", last);
	} else {
		sx_msg_set_rcode(sx_req_msg(req), SX_RCODE_REFUSED);
	}
	finish(req);
}

/* CoreDNS answers classes other than IN only where a plugin may serve them (or rewrite them). */
static bool
serves_any_class(const struct sx_block *b)
{
	size_t i;

	for (i = 0; i < b->nchain; i++) {
		if (b->chain[i].plugin->flags & SX_PLUGIN_ANY_CLASS) {
			return true;
		}
	}
	return false;
}

void
sx_chain_process(struct sx_req *req, struct sx_gen *gen, unsigned lid)
{
	req->gen = gen;
	req->lid = lid;
	req->block = sx_gen_route(gen, lid, &req->q, &req->zone);
	sx_msg_init(&req->msg, req->out, req->out_cap, sx_wire_reply_limit(&req->q), &req->q);
	req->msg_bound = true;
	if (!req->block || (req->q.qclass != SX_CLASS_IN && !serves_any_class(req->block))) {
		sx_msg_set_rcode(&req->msg, SX_RCODE_REFUSED);
		finish(req);
		return;
	}
	run(req);
}

void
sx_chain_resume(struct sx_req *req, enum sx_verdict verdict)
{
	const char *name;

	rcu_read_lock();
	name = req->block->chain[req->pos].plugin->name;
	if (verdict == SX_NEXT) {
		req->pos++;
		sx_req_msg(req);
		run(req);
	} else if (verdict == SX_DONE) {
		req->writer = name;
		finish(req);
	} else {
		bad_verdict(req, name, (int)verdict);
	}
	rcu_read_unlock();
}

#define SUB_MAX_DEPTH 8

static void
sub_start(evutil_socket_t fd, short what, void *arg)
{
	struct sx_req *sub = arg;

	(void)fd;
	(void)what;
	rcu_read_lock();
	sx_chain_process(sub, sub->parent->gen, sub->parent->lid);
	rcu_read_unlock();
}

/* Runs a sub-query of sx_req_subquery_next() from the plugin after its parent's. */
static void
sub_next_start(evutil_socket_t fd, short what, void *arg)
{
	struct sx_req *sub = arg;

	(void)fd;
	(void)what;
	rcu_read_lock();
	sx_msg_init(&sub->msg, sub->out, sub->out_cap, sx_wire_reply_limit(&sub->q), &sub->q);
	sub->msg_bound = true;
	run(sub);
	rcu_read_unlock();
}

/* A sub-query of @req for @name / @type, started by @start once the caller's handler returned. */
static int
sub_new(struct sx_req *req, const uint8_t *name, uint16_t type, sx_subquery_cb cb, void *arg,
        event_callback_fn start, struct sx_req **out)
{
	/* A plain query for the name, RD set, with EDNS so big answers fit. */
	const struct sx_wire_query wq = { .flags = SX_FLAG_RD,
		                          .qname = name,
		                          .qname_len = sx_dname_len(name),
		                          .qtype = type,
		                          .qclass = SX_CLASS_IN,
		                          .edns = true,
		                          .udp_size = SX_SUB_BUF };
	struct sx_req *sub;
	int len;

	if (req->depth >= SUB_MAX_DEPTH) {
		return SX_ETRUNC;
	}
	sub = sx_req_get(req->w);
	if (!sub) {
		return -ENOMEM;
	}
	len = sx_wire_query(sub->qwire, sizeof(sub->qwire), &wq);
	if (len < 0 ||
	    sx_wire_parse_query(sub->qwire, (size_t)len, &sub->q, sub->lname) != SX_PARSE_OK) {
		sx_req_put(sub);
		return SX_EINVAL;
	}
	sub->q.id = req->q.id;
	sub->q.proto = req->q.proto;
	sub->q.client = req->q.client;
	sub->q.client_len = req->q.client_len;
	sub->q.local_port = req->q.local_port;
	sub->local = req->local;
	sub->start_ns = req->start_ns;
	sub->parent = req;
	sub->sub_cb = cb;
	sub->sub_arg = arg;
	sub->depth = req->depth + 1;
	/* Assigned before the buffer exists: a request with a buffer has an event (req.c). */
	if (event_assign(&sub->sub_start, sx_worker_base(req->w), -1, 0, start, sub) < 0 ||
	    (!sub->sub_buf && (sub->sub_buf = malloc(SX_SUB_BUF)) == NULL)) {
		sx_req_put(sub);
		return -ENOMEM;
	}
	sub->out = sub->sub_buf;
	sub->out_cap = SX_SUB_BUF;
	/* Start after the caller's handler has returned SX_SUSPEND. */
	event_active(&sub->sub_start, EV_TIMEOUT, 1);
	*out = sub;
	return 0;
}

int
sx_chain_subquery(struct sx_req *req, const uint8_t *name, uint16_t type, sx_subquery_cb cb,
                  void *arg)
{
	struct sx_req *sub;

	return sub_new(req, name, type, cb, arg, sub_start, &sub);
}

int
sx_req_subquery_next(struct sx_req *req, uint16_t type, sx_subquery_cb cb, void *arg)
{
	/* The question as the client wrote it, so the reply echoes its case. */
	return sx_req_subquery_next_name(req, req->q.qname, type, cb, arg);
}

int
sx_req_subquery_next_name(struct sx_req *req, const uint8_t *name, uint16_t type, sx_subquery_cb cb,
                          void *arg)
{
	struct sx_req *sub;
	int rc = sub_new(req, name, type, cb, arg, sub_next_start, &sub);

	if (rc < 0) {
		return rc;
	}
	sub->gen = req->gen;
	sub->lid = req->lid;
	sub->block = req->block;
	sub->zone = req->zone;
	sub->pos = req->pos + 1;
	return 0;
}

/*
 * A refresh has no client. It is its own parent, so sx_worker_reply() hands
 * its reply to refresh_done() (after the hooks) instead of a socket, and
 * sx_worker_bind_async() leaves it its own buffer. It is counted as
 * suspended from birth: it holds the generation until it ends, even if the
 * request it copies finishes first.
 */
static void
refresh_done(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	(void)req;
	(void)wire;
	(void)len;
	(void)arg;
}

static void
refresh_start(evutil_socket_t fd, short what, void *arg)
{
	struct sx_req *r = arg;

	(void)fd;
	(void)what;
	rcu_read_lock();
	sx_msg_init(&r->msg, r->out, r->out_cap, sx_wire_reply_limit(&r->q), &r->q);
	r->msg_bound = true;
	run(r);
	rcu_read_unlock();
}

int
sx_req_refresh(struct sx_req *req)
{
	struct sx_req *r = sx_req_get(req->w);

	if (!r) {
		return -ENOMEM;
	}
	r->q = req->q;
	memcpy(r->qwire + SX_HDR_LEN, req->q.qname, req->q.qname_len);
	r->q.qname = r->qwire + SX_HDR_LEN;
	memcpy(r->lname, req->q.lname, req->q.qname_len);
	r->q.lname = r->lname;
	r->gen = req->gen;
	r->lid = req->lid;
	r->block = req->block;
	r->zone = req->zone;
	r->pos = req->pos;
	r->start_ns = req->start_ns;
	r->depth = req->depth;
	r->parent = r;
	r->sub_cb = refresh_done;
	r->out_cap = sx_wire_reply_limit(&r->q);
	r->out = sx_req_alloc(r, r->out_cap);
	if (!r->out ||
	    event_base_once(sx_worker_base(req->w), -1, EV_TIMEOUT, refresh_start, r, NULL) < 0) {
		sx_req_put(r);
		return -ENOMEM;
	}
	r->suspended = true;
	sx_gen_ref(r->gen);
	sx_worker_hold(r);
	return 0;
}

bool
sx_req_is_refresh(const struct sx_req *req)
{
	return req->parent == req;
}

int
sx_req_search_path(struct sx_req *req, const char *plugin, struct sx_search *out)
{
	const struct sx_block *b = req->block;

	out->n = 0;
	for (size_t i = 0; b && i < b->nchain; i++) {
		const struct sx_instance *in = &b->chain[i];

		if (in->plugin->search_path && strcmp(in->plugin->name, plugin) == 0) {
			return in->plugin->search_path(req, in->inst, out) > 0 && out->n > 0;
		}
	}
	return 0;
}
