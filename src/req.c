/* req.c -- request pool, per-request arena and the accessors plugins use. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <sextant/plugin.h>

#include "chain.h"
#include "config.h"
#include "msg_writer.h"
#include "req_internal.h"
#include "worker.h"

struct sx_arena_chunk {
	struct sx_arena_chunk *next;
	_Alignas(16) uint8_t data[];
};

static void
arena_reset(struct sx_arena *a)
{
	struct sx_arena_chunk *c, *next;

	for (c = a->extra; c; c = next) {
		next = c->next;
		free(c);
	}
	a->extra = NULL;
	a->used = 0;
}

void *
sx_req_alloc(struct sx_req *req, size_t size)
{
	struct sx_arena *a = &req->arena;
	struct sx_arena_chunk *c;

	size = (size + 15) & ~(size_t)15;
	if (size <= SX_ARENA_INLINE - a->used) {
		void *p = a->inline_buf + a->used;
		a->used += size;
		return p;
	}
	/* Rare: big or many allocations get a chunk of their own. */
	c = malloc(sizeof(*c) + size);
	if (!c) {
		return NULL;
	}
	c->next = a->extra;
	a->extra = c;
	return c->data;
}

struct sx_req *
sx_req_get(struct sx_worker *w)
{
	struct sx_req *req = w->free_reqs;

	if (req) {
		w->free_reqs = req->next_free;
	} else {
		req = malloc(sizeof(*req));
		if (!req) {
			return NULL;
		}
		req->arena.extra = NULL;
		req->sub_buf = NULL;
		req->next_all = w->all_reqs;
		w->all_reqs = req;
	}
	req->w = w;
	req->gen = NULL;
	req->block = NULL;
	req->zone = NULL;
	req->pos = 0;
	req->nhooks = 0;
	req->q_changed = false;
	req->errmsg = NULL;
	req->writer = "";
	req->suspended = false;
	req->dropped = false;
	req->xfr_ok = false;
	req->meta_on = false;
	req->nmeta = 0;
	req->msg_bound = false;
	req->has_local = false;
	req->local.ss_family = AF_UNSPEC;
	req->conn = NULL;
	req->udp_fd = -1;
	req->lid = 0;
	req->parent = NULL;
	req->sub_cb = NULL;
	req->depth = 0;
	req->arena.used = 0;
	req->next_free = NULL;
	return req;
}

void
sx_req_put(struct sx_req *req)
{
	struct sx_worker *w = req->w;

	arena_reset(&req->arena);
	req->next_free = w->free_reqs;
	w->free_reqs = req;
}

void
sx_req_pool_free(struct sx_worker *w)
{
	struct sx_req *req, *next;

	/* Free or still suspended at shutdown: every request the worker made. */
	for (req = w->all_reqs; req; req = next) {
		next = req->next_all;
		arena_reset(&req->arena);
		/* A sub-query that never started must leave the loop before its memory goes. */
		if (req->sub_buf) {
			event_del(&req->sub_start);
		}
		free(req->sub_buf);
		free(req);
	}
	w->all_reqs = NULL;
	w->free_reqs = NULL;
}

const struct sx_query *
sx_req_query(const struct sx_req *req)
{
	return &req->q;
}

/* Length of the uncompressed wire name @name if well-formed, else 0. */
static size_t
valid_name_len(const uint8_t *name)
{
	size_t n = 0;

	while (n < SX_DNAME_MAX) {
		if (name[n] == 0) {
			return n + 1;
		}
		if (name[n] > 63) {
			return 0;
		}
		n += name[n] + 1u;
	}
	return 0;
}

/* Puts the client's question back; the copy of the reply comes from the arena, so a reply
 * that fits in it costs no allocation. */
static void
restore_question(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	(void)arg;
	req->q = req->client_q;
	req->q_changed = false;
	sx_msg_set_question(msg, &req->q, sx_req_alloc(req, msg->len));
}

int
sx_req_set_question(struct sx_req *req, const uint8_t *name, uint16_t qtype, uint16_t qclass)
{
	size_t len = valid_name_len(name);

	if (len == 0) {
		return SX_EINVAL;
	}
	if (!req->q_changed) {
		if (sx_req_on_reply(req, restore_question, NULL) < 0) {
			return SX_ETRUNC;
		}
		req->client_q = req->q;
		req->q_changed = true;
	}
	memmove(req->qname2, name, len);
	req->q.qname = req->qname2;
	req->q.qname_len = (uint8_t)len;
	req->q.lname = req->lname2;
	sx_dname_lower(req->lname2, req->qname2);
	req->q.nlabels = (uint8_t)sx_dname_labels(req->qname2);
	req->q.qtype = qtype;
	req->q.qclass = qclass;
	if (req->msg_bound) {
		struct sx_msg *msg = &req->msg;

		sx_msg_set_question(msg, &req->q, sx_req_alloc(req, msg->len));
	}
	return 0;
}

const struct sx_query *
sx_req_client_query(const struct sx_req *req)
{
	return req->q_changed ? &req->client_q : &req->q;
}

void
sx_req_set_edns_options(struct sx_req *req, const uint8_t *opt, uint16_t len)
{
	req->q.opt = opt;
	req->q.optlen = len;
}

void
sx_req_set_udp_size(struct sx_req *req, uint16_t size)
{
	size_t before, after;

	if (!req->q.edns || size >= req->q.udp_size) {
		return;
	}
	before = sx_wire_reply_limit(&req->q);
	req->q.udp_size = size < 512 ? 512 : size;
	after = sx_wire_reply_limit(&req->q);
	if (req->msg_bound && before > after) {
		size_t cut = before - after;

		req->msg.limit = req->msg.limit > req->msg.qend + cut ? req->msg.limit - cut
		                                                      : req->msg.qend;
	}
}

void
sx_req_set_flags(struct sx_req *req, uint16_t set, uint16_t clear)
{
	const uint16_t bits = SX_FLAG_RD | SX_FLAG_CD | SX_FLAG_AD;

	req->q.flags = (uint16_t)((req->q.flags | (set & bits)) & ~(clear & bits));
	if (req->msg_bound) {
		if (req->q.flags & SX_FLAG_RD) {
			sx_msg_set_flags(&req->msg, SX_FLAG_RD);
		} else {
			sx_msg_clear_flags(&req->msg, SX_FLAG_RD);
		}
	}
}

int
sx_req_meta_set(struct sx_req *req, const char *label, sx_meta_fn fn, const void *arg)
{
	unsigned i;

	if (!req->meta_on) {
		return SX_ENOTSUP;
	}
	for (i = 0; i < req->nmeta && strcmp(req->meta[i].label, label) != 0; i++) {
	}
	if (i == SX_REQ_META) {
		return SX_ETRUNC;
	}
	req->meta[i].label = label;
	req->meta[i].fn = fn;
	req->meta[i].arg = arg;
	if (i == req->nmeta) {
		req->nmeta++;
	}
	return 0;
}

int
sx_req_meta(const struct sx_req *req, const char *label, char *buf, size_t cap)
{
	for (unsigned i = 0; i < req->nmeta; i++) {
		if (strcmp(req->meta[i].label, label) == 0) {
			return req->meta[i].fn(req, req->meta[i].arg, buf, cap);
		}
	}
	return -1;
}

void
sx_req_meta_collect(struct sx_req *req)
{
	const struct sx_block *b = req->block;

	req->meta_on = true;
	for (size_t i = 0; i < b->nchain; i++) {
		if (b->chain[i].plugin->metadata) {
			b->chain[i].plugin->metadata(req, b->chain[i].inst);
		}
	}
}

void
sx_req_drop(struct sx_req *req)
{
	req->dropped = true;
}

struct sx_msg *
sx_req_msg(struct sx_req *req)
{
	if (!req->msg_bound) {
		/* Resumed after a suspension: the reply is built in the worker's spare buffer. */
		sx_worker_bind_async(req->w, req);
	}
	return &req->msg;
}

const uint8_t *
sx_req_zone(const struct sx_req *req)
{
	return req->zone;
}

bool
sx_req_local(const struct sx_req *req, struct sockaddr_storage *out)
{
	if (req->local.ss_family == AF_INET) {
		memcpy(out, &req->local, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)out)->sin_port = htons(req->q.local_port);
	} else if (req->local.ss_family == AF_INET6) {
		memcpy(out, &req->local, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)out)->sin6_port = htons(req->q.local_port);
	} else {
		return false;
	}
	return true;
}

unsigned
sx_req_worker(const struct sx_req *req)
{
	return sx_worker_id(req->w);
}

const char *
sx_req_writer(const struct sx_req *req)
{
	return req->writer;
}

uint64_t
sx_req_start_ns(const struct sx_req *req)
{
	return req->start_ns;
}

int
sx_req_on_reply(struct sx_req *req, sx_reply_hook hook, void *arg)
{
	if (req->nhooks == SX_REQ_HOOKS) {
		return SX_ETRUNC;
	}
	req->hooks[req->nhooks].fn = hook;
	req->hooks[req->nhooks].arg = arg;
	req->nhooks++;
	return 0;
}

enum sx_verdict
sx_req_error(struct sx_req *req, unsigned rcode, const char *fmt, ...)
{
	struct sx_msg *msg = sx_req_msg(req);
	char buf[512];
	va_list ap;
	char *copy;
	int n;

	sx_msg_reset(msg);
	sx_msg_set_rcode(msg, rcode);
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		return SX_DONE;
	}
	copy = sx_req_alloc(req, (size_t)n + 1 < sizeof(buf) ? (size_t)n + 1 : sizeof(buf));
	if (copy) {
		memcpy(copy, buf, strlen(buf) + 1);
		req->errmsg = copy;
	}
	return SX_DONE;
}

const char *
sx_req_errmsg(const struct sx_req *req)
{
	return req->errmsg;
}

int
sx_req_subquery(struct sx_req *req, const uint8_t *name, uint16_t type, sx_subquery_cb cb,
                void *arg)
{
	return sx_chain_subquery(req, name, type, cb, arg);
}

void
sx_req_resume(struct sx_req *req, enum sx_verdict verdict)
{
	sx_chain_resume(req, verdict);
}

bool
sx_req_is_sub(const struct sx_req *req)
{
	return req->parent != NULL;
}

void
sx_req_allow_transfer(struct sx_req *req)
{
	req->xfr_ok = true;
}

bool
sx_req_transfer_allowed(const struct sx_req *req)
{
	return req->xfr_ok;
}

int
sx_req_send_part(struct sx_req *req)
{
	struct sx_msg *msg;
	uint16_t aa;

	if (req->q.proto != SX_PROTO_TCP || req->parent || req->dropped) {
		return SX_EINVAL;
	}
	msg = sx_req_msg(req);
	aa = sx_msg_flags(msg) & SX_FLAG_AA;
	/* A record that did not fit set TC: it goes into the next message instead. */
	sx_msg_clear_flags(msg, SX_FLAG_TC);
	msg->truncated = false;
	sx_tcp_write(req, sx_msg_finish(msg, &req->q));
	sx_msg_reset(msg);
	sx_msg_set_flags(msg, aa);
	return 0;
}

int
sx_req_stream_rr(struct sx_req *req, const uint8_t *owner, uint16_t type, uint32_t ttl,
                 const uint8_t *rdata, uint16_t rdlen)
{
	struct sx_msg *msg = sx_req_msg(req);
	int rc = sx_msg_put_rr(msg, SX_SEC_ANSWER, owner, type, SX_CLASS_IN, ttl, rdata, rdlen);

	if (rc != SX_ETRUNC || sx_msg_count(msg, SX_SEC_ANSWER) == 0) {
		return rc;
	}
	rc = sx_req_send_part(req);
	if (rc < 0) {
		return rc;
	}
	return sx_msg_put_rr(msg, SX_SEC_ANSWER, owner, type, SX_CLASS_IN, ttl, rdata, rdlen);
}
