/* forward.c -- the forward plugin: pick upstreams by policy and health, try until an answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/uatomic.h>

#include <sextant/plugin.h>

#include "fwd.h"

#define FWD_DEADLINE_MS 5000 /* CoreDNS's defaultTimeout: the whole query, every try */
#define FWD_CHUNK       32   /* pending slots allocated at once when a worker runs out */

static void pend_done(struct fwd_x *x, int err, const uint8_t *wire, size_t len);

static struct fwd_pend *
pend_get(struct fwd *f, struct fwd_worker *w)
{
	struct fwd_pend *p;

	if (!w->free) {
		/* Rare: the pool only grows to the most queries this worker had in flight. */
		struct fwd_chunk *c = calloc(1, sizeof(*c) + FWD_CHUNK * sizeof(c->p[0]));
		size_t i;

		if (!c) {
			return NULL;
		}
		for (i = 0; i < FWD_CHUNK; i++) {
			c->p[i].x.f = f;
			c->p[i].x.w = w;
			c->p[i].x.done = pend_done;
			if (fwd_x_init(&c->p[i].x) < 0) {
				for (size_t k = 0; k < i; k++) {
					fwd_x_fini(&c->p[k].x);
				}
				free(c);
				return NULL;
			}
		}
		c->n = FWD_CHUNK;
		c->next = w->chunks;
		w->chunks = c;
		for (i = 0; i < c->n; i++) {
			c->p[i].next_free = w->free;
			w->free = &c->p[i];
		}
	}
	p = w->free;
	w->free = p->next_free;
	return p;
}

static void
pend_put(struct fwd_pend *p)
{
	struct fwd *f = p->x.f;
	struct fwd_worker *w = p->x.w;

	if (f->max_concurrent) {
		uatomic_dec(&f->inflight);
	}
	p->req = NULL;
	p->next_free = w->free;
	w->free = p;
}

/*
 * The client's question as received, its RD/CD/AD bits, and an OPT with its
 * DO and our size, or the client's when smaller (a bufsize plugin lowers it),
 * carrying the client's EDNS options as CoreDNS does (those a rewrite set),
 * unless they are too long to pass.
 */
static void
build_query(struct fwd_pend *p, const struct sx_query *q, struct fwd_worker *w)
{
	const struct sx_wire_query wq = {
		.id = (uint16_t)fwd_rand(w->rng),
		.flags = (uint16_t)((q->opcode & 0xF) << 11) |
		         (q->flags & (SX_FLAG_RD | SX_FLAG_CD | SX_FLAG_AD)),
		.qname = q->qname,
		.qname_len = q->qname_len,
		.qtype = q->qtype,
		.qclass = q->qclass,
		.edns = true,
		.udp_size = q->edns && q->udp_size < FWD_EDNS_SIZE ? q->udp_size : FWD_EDNS_SIZE,
		.do_bit = q->do_bit,
		.opts = q->opt,
		.optlen = q->opt != NULL && q->optlen <= FWD_OPTS_MAX ? q->optlen : 0,
	};

	/* FWD_QBUF holds the longest: it cannot fail. */
	p->x.qlen = (size_t)sx_wire_query(p->x.q + 2, sizeof(p->x.q) - 2, &wq);
}

/* The upstreams in the order this query tries them. */
static void
plan(struct fwd_pend *p, struct fwd *f, struct fwd_worker *w)
{
	unsigned i, start;

	switch (f->policy) {
	case FWD_POLICY_ROUND_ROBIN:
		start = w->rr++;
		for (i = 0; i < f->nup; i++) {
			p->order[i] = (uint8_t)((start + i) % f->nup);
		}
		break;
	case FWD_POLICY_SEQUENTIAL:
		for (i = 0; i < f->nup; i++) {
			p->order[i] = (uint8_t)i;
		}
		break;
	default: /* random: a fresh shuffle per query (Fisher-Yates) */
		for (i = 0; i < f->nup; i++) {
			p->order[i] = (uint8_t)i;
		}
		for (i = f->nup - 1; i > 0; i--) {
			unsigned j = (unsigned)(fwd_rand(w->rng) % (i + 1));
			uint8_t t = p->order[i];

			p->order[i] = p->order[j];
			p->order[j] = t;
		}
		break;
	}
}

static bool
is_down(const struct fwd *f, struct fwd_up *up)
{
	return f->max_fails && uatomic_read(&up->fails) > f->max_fails;
}

/*
 * Next upstream, skipping those marked down; all down means the checks are
 * broken: any will do, or none with failfast_all_unhealthy_upstreams (NULL).
 */
static struct fwd_up *
pick(struct fwd_pend *p, struct fwd *f)
{
	for (;;) {
		struct fwd_up *up;

		if (p->pos >= f->nup) {
			p->pos = 0;
			p->downs = 0;
		}
		up = &f->up[p->order[p->pos++]];
		if (!is_down(f, up)) {
			return up;
		}
		if (++p->downs < f->nup) {
			continue;
		}
		fwd_metrics_broken(f, p->x.w->idx);
		if (f->failfast) {
			return NULL;
		}
		return &f->up[fwd_rand(p->x.w->rng) % f->nup];
	}
}

static enum fwd_proto
transport(const struct fwd *f, const struct fwd_up *up, const struct sx_req *req)
{
	if (up->tls) {
		return FWD_TLS;
	}
	if (f->force_tcp) {
		return FWD_TCP;
	}
	if (f->prefer_udp) {
		return FWD_UDP;
	}
	/* As CoreDNS: the client's own transport. */
	return sx_req_query(req)->proto == SX_PROTO_TCP ? FWD_TCP : FWD_UDP;
}

static uint64_t
try_timeout(const struct fwd_pend *p, const struct fwd *f)
{
	uint64_t now = sx_now_ms(), left = p->deadline_ms > now ? p->deadline_ms - now : 0;

	return left < f->read_timeout_ms ? left : f->read_timeout_ms;
}

/* Out of time or tries: SERVFAIL with the last reason, for the errors plugin. */
static bool
pend_fail(struct fwd_pend *p)
{
	sx_req_error(p->req, SX_RCODE_SERVFAIL, "%s",
	             p->last_err ? p->x.err : "no healthy proxies");
	p->verdict = SX_DONE;
	return false;
}

/*
 * Start the next try. @return true when one is in flight, false when the
 * query is finished (p->verdict and the reply are set).
 */
static bool
pend_try(struct fwd_pend *p)
{
	struct fwd *f = p->x.f;

	for (;;) {
		struct fwd_up *up;

		/* Two rounds over the upstreams at most, within the deadline. */
		if (sx_now_ms() >= p->deadline_ms || p->attempts >= 2 * f->nup) {
			return pend_fail(p);
		}
		up = pick(p, f);
		if (!up) {
			return pend_fail(p);
		}
		p->attempts++;
		if (fwd_x_start(&p->x, up, transport(f, up, p->req), try_timeout(p, f)) == 0) {
			return true;
		}
		p->last_err = true;
		fwd_health_kick(up);
	}
}

/* NODATA, for next_on_nodata: the answer section is empty (ANCOUNT, bytes 6-7). */
static bool
has_answer(const uint8_t *wire)
{
	return wire[6] != 0 || wire[7] != 0;
}

/* A verified reply from the upstream asked. @return as pend_try(). */
static bool
pend_reply(struct fwd_pend *p, const uint8_t *wire, size_t len)
{
	struct fwd *f = p->x.f;
	const struct sx_query *q = sx_req_query(p->req);
	unsigned rcode = wire[3] & 0xF;
	bool hand_on;

	/* Truncated: over TCP when the client can take more than what fitted. */
	if ((wire[2] & 0x02) && p->x.proto == FWD_UDP &&
	    (f->prefer_udp || q->proto == SX_PROTO_TCP || q->udp_size > FWD_EDNS_SIZE)) {
		if (fwd_x_start(&p->x, p->x.up, FWD_TCP, try_timeout(p, f)) == 0) {
			return true;
		}
		p->last_err = true;
		return pend_try(p);
	}
	if (((f->failover_rcodes >> rcode) & 1u) && p->attempts < f->nup) {
		return pend_try(p);
	}
	hand_on = ((f->next_rcodes >> rcode) & 1u) ||
	          (f->next_nodata && rcode == SX_RCODE_NOERROR && !has_answer(wire));
	if (hand_on && f->next_forward) {
		p->verdict = SX_NEXT;
		return false;
	}
	if (sx_msg_set_wire(sx_req_msg(p->req), wire, len) < 0) {
		snprintf(p->x.err, sizeof(p->x.err), "malformed reply from %s", p->x.up->name);
		p->last_err = true;
		return pend_try(p);
	}
	p->verdict = SX_DONE;
	return false;
}

static void
pend_done(struct fwd_x *x, int err, const uint8_t *wire, size_t len)
{
	struct fwd_pend *p = (struct fwd_pend *)x;
	struct sx_req *req;
	bool busy;
	enum sx_verdict verdict;

	if (err < 0) {
		p->last_err = true;
		fwd_health_kick(x->up);
		busy = pend_try(p);
	} else {
		busy = pend_reply(p, wire, len);
	}
	if (busy || p->in_handler) {
		return;
	}
	req = p->req;
	verdict = p->verdict;
	pend_put(p);
	sx_req_resume(req, verdict);
}

/* CoreDNS: names under an except zone are not ours, but FROM itself always is. */
static bool
excepted(const struct fwd *f, const uint8_t *name)
{
	size_t i;

	if (f->except.n == 0 || sx_dname_eq(name, f->from.z[0].wire)) {
		return false;
	}
	for (i = 0; i < f->except.n; i++) {
		if (sx_dname_is_sub(name, f->except.z[i].wire)) {
			return true;
		}
	}
	return false;
}

static enum sx_verdict
fwd_handle(struct sx_req *req, void *inst)
{
	struct fwd *f = inst;
	const struct sx_query *q = sx_req_query(req);
	struct fwd_worker *w;
	struct fwd_pend *p;
	enum sx_verdict verdict;

	if (!sx_dname_is_sub(q->lname, f->from.z[0].wire) || excepted(f, q->lname)) {
		return SX_NEXT;
	}
	if (f->max_concurrent && uatomic_add_return(&f->inflight, 1) > f->max_concurrent) {
		uatomic_dec(&f->inflight);
		fwd_metrics_reject(f, sx_req_worker(req));
		return sx_req_error(req, SX_RCODE_REFUSED, "concurrent queries exceeded maximum %u",
		                    f->max_concurrent);
	}
	w = f->w[sx_req_worker(req)];
	p = pend_get(f, w);
	if (!p) {
		if (f->max_concurrent) {
			uatomic_dec(&f->inflight);
		}
		return sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/forward: out of memory");
	}
	p->req = req;
	build_query(p, q, w);
	plan(p, f, w);
	p->deadline_ms = sx_now_ms() + FWD_DEADLINE_MS;
	p->pos = p->downs = p->attempts = 0;
	p->last_err = false;
	p->in_handler = true;
	if (pend_try(p)) {
		p->in_handler = false;
		return SX_SUSPEND;
	}
	p->in_handler = false;
	verdict = p->verdict;
	pend_put(p);
	return verdict;
}

static int
fwd_start(void *inst, struct sx_runtime *rt)
{
	(void)rt;
	return fwd_health_start(inst);
}

static void
fwd_teardown(void *inst)
{
	struct fwd *f = inst;
	unsigned i;

	fwd_health_stop(f);
	for (i = 0; f->w && i < f->nworkers; i++) {
		struct fwd_worker *w = f->w[i];
		struct fwd_chunk *c;

		if (!w) {
			continue;
		}
		while ((c = w->chunks)) {
			size_t k;

			w->chunks = c->next;
			for (k = 0; k < c->n; k++) {
				fwd_x_fini(&c->p[k].x);
			}
			free(c);
		}
		fwd_worker_close_idle(w, f->nup);
		free(w);
	}
	free(f->w);
	fwd_tls_free(f);
	sx_zones_fini(&f->from);
	sx_zones_fini(&f->except);
	free(f->tls_cert);
	free(f->tls_key);
	free(f->tls_ca);
	free(f->tls_servername);
}

const struct sx_plugin sx_plugin_forward = {
	.name = "forward",
	.flags = SX_PLUGIN_ANY_CLASS,
	.inst_size = sizeof(struct fwd),
	.directives = fwd_directives,
	.repeat = true,
	.setup = fwd_setup,
	.start = fwd_start,
	.handle = fwd_handle,
	.collect_all = fwd_metrics_collect,
	.teardown = fwd_teardown,
};
