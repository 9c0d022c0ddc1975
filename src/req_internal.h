/* req_internal.h -- the request object behind include/sextant/req.h (private to the core). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event_struct.h>

#include <sextant/req.h>

#include "msg_reader.h"

#define SX_QUERY_MAX    4096 /* larger queries get FORMERR */
#define SX_REQ_HOOKS    16
#define SX_ARENA_INLINE 1024
#define SX_SUB_BUF      16384 /* a sub-query's reply buffer */

struct sx_worker;
struct sx_gen;
struct sx_block;
struct sx_tcp_conn;

/* Bump allocator: an inline chunk, then heap chunks freed when the request ends. */
struct sx_arena {
	size_t used;
	struct sx_arena_chunk *extra;
	_Alignas(16) uint8_t inline_buf[SX_ARENA_INLINE];
};

struct sx_req {
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	uint8_t qwire[SX_QUERY_MAX];

	/* sx_req_set_question(): the client's question, and the new name that q points at. */
	bool q_changed;
	struct sx_query client_q;
	uint8_t qname2[SX_DNAME_MAX];
	uint8_t lname2[SX_DNAME_MAX];

	struct sx_msg msg;
	bool msg_bound; /* msg points at a live buffer */
	uint8_t *out;   /* where the reply is built while not suspended */
	size_t out_cap;

	struct sx_worker *w;
	struct sx_gen *gen; /* referenced while suspended */
	const struct sx_block *block;
	const uint8_t *zone;
	size_t pos; /* chain position of the running plugin */

	struct {
		sx_reply_hook fn;
		void *arg;
	} hooks[SX_REQ_HOOKS];
	unsigned nhooks;
	const char *errmsg;
	const char *writer; /* plugin that wrote the reply, "" for the core */
	uint64_t start_ns;
	bool suspended;
	bool dropped; /* sx_req_drop(): no reply */
	bool xfr_ok;  /* sx_req_allow_transfer() */
	bool meta_on; /* metadata is collected for this request */
	uint8_t nmeta;
	struct {
		const char *label;
		sx_meta_fn fn;
		const void *arg;
	} meta[SX_REQ_META];

	/* Where the reply goes. */
	int udp_fd;
	struct sockaddr_storage local; /* destination address of the query */
	int ifindex;
	bool has_local; /* @local came from a wildcard socket: the reply goes out from it */
	struct sx_tcp_conn *conn;
	unsigned lid; /* listener it came in on */

	/* Sub-queries: the request waiting for this one's reply. */
	struct sx_req *parent;
	sx_subquery_cb sub_cb;
	void *sub_arg;
	unsigned depth;
	/*
	 * As a sub-query: the event that starts it once its parent's handler has
	 * returned, and its reply buffer (SX_SUB_BUF bytes), kept while the request
	 * waits in the worker's pool so that a sub-query costs no heap allocation.
	 */
	struct event sub_start;
	uint8_t *sub_buf;

	struct sx_arena arena;
	struct sx_req *next_free;
	struct sx_req *next_all; /* the worker's list of every request it allocated */
};

/** Take a request from the worker's pool (reset), or NULL if out of memory. */
struct sx_req *sx_req_get(struct sx_worker *w);
/** Return @req to its worker's pool, freeing its arena chunks. */
void sx_req_put(struct sx_req *req);
/** Free a worker's pool. */
void sx_req_pool_free(struct sx_worker *w);
