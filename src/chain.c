/* chain.c -- route a query to its server block and walk the plugin chain. */
#include <string.h>

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
	struct sx_msg *msg = sx_req_msg(req);
	unsigned i;

	for (i = req->nhooks; i-- > 0;) {
		req->hooks[i].fn(req, msg, req->hooks[i].arg);
	}
	sx_worker_reply(req, sx_msg_finish(msg, &req->q));
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

/* CoreDNS answers classes other than IN only where a plugin may serve them. */
static bool
serves_any_class(const struct sx_block *b)
{
	size_t i;

	for (i = 0; i < b->nchain; i++) {
		const char *name = b->chain[i].plugin->name;

		if (!strcmp(name, "chaos") || !strcmp(name, "forward")) {
			return true;
		}
	}
	return false;
}

void
sx_chain_process(struct sx_req *req, struct sx_gen *gen, unsigned lid)
{
	req->gen = gen;
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
sx_chain_resume(struct sx_req *req, int verdict)
{
	rcu_read_lock();
	if (verdict == SX_NEXT) {
		req->pos++;
		sx_req_msg(req);
		run(req);
	} else {
		finish(req);
	}
	rcu_read_unlock();
}
