/* req.h -- one DNS request as a plugin sees it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sextant/error.h>
#include <sextant/msg.h>

/*
 * What a handler (or a resumed request) says happens next. Not an error code:
 * the values start at 1, apart from SX_EOK (0) and the negative SX_E*, so an
 * error code returned as a verdict is an unknown verdict, which the chain
 * answers with SERVFAIL.
 */
enum sx_verdict {
	SX_NEXT = 1, /* not mine: run the next plugin in the chain */
	SX_DONE,     /* the reply in sx_req_msg() is complete */
	SX_SUSPEND,  /* an answer will come later through sx_req_resume() */
};

struct sx_req;
struct sx_zone;

enum sx_proto {
	SX_PROTO_UDP = 0,
	SX_PROTO_TCP = 1
};

/* The parsed question and transport facts. Valid until the reply is sent. */
struct sx_query {
	const uint8_t *qname; /* wire, as received (case preserved) */
	const uint8_t *lname; /* wire, lower-cased: use this to look things up */
	uint8_t qname_len;
	uint8_t nlabels; /* labels, root not counted */
	uint16_t qtype, qclass;
	uint16_t id;
	uint16_t flags; /* header flag bits of the query (SX_FLAG_RD, _CD, _AD) */
	uint16_t opcode;
	bool edns;          /* the query had an OPT record */
	bool do_bit;        /* DNSSEC OK */
	uint16_t udp_size;  /* client's advertised buffer; 512 without EDNS */
	const uint8_t *opt; /* the OPT's options (its RDATA), @optlen bytes; NULL without */
	uint16_t optlen;
	enum sx_proto proto;
	size_t size; /* request bytes */
	struct sockaddr_storage client;
	socklen_t client_len;
	uint16_t local_port; /* the listener's port */
};

/** The question. The pointer lives as long as @req. */
const struct sx_query *sx_req_query(const struct sx_req *req);

/**
 * The data of the first EDNS option @code of the query (*@len bytes), or NULL
 * when the query has none. Valid as long as @q.
 */
const uint8_t *sx_query_edns_option(const struct sx_query *q, uint16_t code, uint16_t *len);

/**
 * Change the question the plugins after this one see (as CoreDNS's rewrite does): name
 * @name (uncompressed wire; its case is kept), @qtype and @qclass. The reply is started
 * anew for it (records written so far are kept). When the reply is sent, the client's own
 * question is put back in it, at the point of the reply hooks where this was called: hooks
 * registered before see the client's question in sx_req_query() and in the reply, hooks
 * registered after see the new one. Records keep the names they were written with (see
 * sx_msg_rename() to change them).
 * @return 0; SX_EINVAL for a malformed name; SX_ETRUNC when the request has no room left
 * for the reply hook that restores the question (the question is then unchanged).
 */
SX_MUST_USE int
sx_req_set_question(struct sx_req *req, const uint8_t *name, uint16_t qtype, uint16_t qclass);

/** The question as the client sent it, whatever sx_req_set_question() did. Lives as @req. */
const struct sx_query *sx_req_client_query(const struct sx_req *req);

/**
 * Replace the EDNS options the plugins after this one see (sx_query.opt / optlen, which
 * forward passes upstream) by @len bytes at @opt (options in wire form; borrowed, e.g.
 * from sx_req_alloc()). The reply is not affected.
 */
void sx_req_set_edns_options(struct sx_req *req, const uint8_t *opt, uint16_t len);

/**
 * Lower the UDP payload size the query advertised (EDNS) to @size, as if the
 * client had asked for it: the reply is truncated to it and the plugins after
 * this one see it. No effect without EDNS, nor when the size is already smaller.
 */
void sx_req_set_udp_size(struct sx_req *req, uint16_t size);

/**
 * Set then clear query header bits (SX_FLAG_RD, _CD, _AD) as the plugins after
 * this one see them; RD is mirrored into the reply, which echoes it.
 */
void sx_req_set_flags(struct sx_req *req, uint16_t set, uint16_t clear);

/**
 * Send no reply at all: the handler then returns SX_DONE. Reply hooks do not
 * run; a sub-query's caller gets no answer (its callback sees NULL).
 */
void sx_req_drop(struct sx_req *req);

/*
 * Metadata: labels ("plugin/name") with text values, set for a request by
 * the plugins that provide them and read by others (log's {/label}). Values
 * are computed when read, so a provider costs little when nobody asks.
 */

/**
 * Write the value into @buf (@cap bytes, NUL-terminated, cut to fit).
 * @return its length, or -1 for "no value".
 */
typedef int (*sx_meta_fn)(const struct sx_req *req, const void *arg, char *buf, size_t cap);

/**
 * Give @req label @label (borrowed; it must outlive the request, e.g. a
 * string constant), valued by @fn(@arg). An existing label is replaced.
 * @return 0; SX_ENOTSUP when no metadata is collected for @req (no metadata
 * plugin, or not for its zone), as CoreDNS ignores it then; SX_ETRUNC when
 * the request holds SX_REQ_META labels already.
 */
int sx_req_meta_set(struct sx_req *req, const char *label, sx_meta_fn fn, const void *arg);
#define SX_REQ_META 32

/** The value of @label into @buf. @return its length, or -1 when @req has no such label. */
int sx_req_meta(const struct sx_req *req, const char *label, char *buf, size_t cap);

/**
 * Start collecting metadata for @req and call the metadata hook of every
 * plugin instance of its server block that has one (the metadata plugin's
 * handler does this).
 */
void sx_req_meta_collect(struct sx_req *req);

/** The reply being built: plugins add records to it and return SX_DONE. */
struct sx_msg *sx_req_msg(struct sx_req *req);

/**
 * Memory that lives until the reply is sent; freed all at once. Never fails
 * for small sizes short of the process running out of memory (then NULL).
 */
void *sx_req_alloc(struct sx_req *req, size_t size);

/** The server block zone the query matched (uncompressed wire, lower case). */
const uint8_t *sx_req_zone(const struct sx_req *req);

/**
 * The server's address the query was sent to, port included, into @out: the
 * destination of the datagram on a wildcard socket, else the listener's or
 * the TCP connection's address (CoreDNS's {local}). A sub-query has its
 * parent's. @return false when it is not known.
 */
bool sx_req_local(const struct sx_req *req, struct sockaddr_storage *out);

/** Index of the worker running this request (0 .. workers-1). */
unsigned sx_req_worker(const struct sx_req *req);

/** Name of the plugin that wrote the reply ("" when the server itself did). For reply hooks. */
const char *sx_req_writer(const struct sx_req *req);

/** Monotonic time the request was received, in nanoseconds. */
uint64_t sx_req_start_ns(const struct sx_req *req);

/**
 * Called when the reply is about to be sent, after the chain is done, in the
 * reverse order of registration. The hook may change @msg (loadbalance) or read
 * it (cache, log, errors).
 */
typedef void (*sx_reply_hook)(struct sx_req *req, struct sx_msg *msg, void *arg);
/**
 * Register @hook(@req, msg, @arg).
 * @return 0; SX_ETRUNC when @req holds 16 hooks already: the hook will not
 * run, so the caller answers SERVFAIL rather than a reply it should have
 * changed, logged or cached.
 */
SX_MUST_USE int sx_req_on_reply(struct sx_req *req, sx_reply_hook hook, void *arg);

/**
 * Fail the request: the reply becomes empty with @rcode, and @fmt is kept as
 * the error the `errors` plugin logs. @return SX_DONE, for `return sx_req_error(...)`.
 */
enum sx_verdict sx_req_error(struct sx_req *req, unsigned rcode, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** The error recorded by sx_req_error(), or NULL. */
const char *sx_req_errmsg(const struct sx_req *req);

/**
 * Continue a request whose handler returned SX_SUSPEND, on the same worker
 * thread: SX_NEXT runs the rest of the chain, SX_DONE sends the reply in
 * sx_req_msg(); any other value answers SERVFAIL. The request must not be
 * touched afterwards. Never call it from inside the handler that is about to
 * return SX_SUSPEND: only from a later event (a socket, a timer, a sub-query's
 * callback).
 */
void sx_req_resume(struct sx_req *req, enum sx_verdict verdict);

/**
 * Called with the reply to a sub-query: @wire (@len bytes, a complete DNS
 * message, valid only during the call), or NULL when it could not be resolved.
 */
typedef void (*sx_subquery_cb)(struct sx_req *req, const uint8_t *wire, size_t len, void *arg);

/**
 * Resolve @name (uncompressed wire) / @type, class IN, through this server's own
 * chain: the server block that serves @name on the listener @req came in on,
 * from its first plugin (as CoreDNS's upstream lookups for ExternalName targets
 * do). The sub-query starts after the current handler returns, which must then
 * return SX_SUSPEND; @cb runs later on this worker and ends by calling
 * sx_req_resume(). Sub-queries nest at most 8 deep (CNAME loops end there).
 * @return 0, or an error (then @cb is never called and the handler goes on).
 */
SX_MUST_USE int sx_req_subquery(struct sx_req *req, const uint8_t *name, uint16_t type,
                                sx_subquery_cb cb, void *arg);

/**
 * As sx_req_subquery(), for @req's own question name with @type, through the
 * plugins after the calling one only (its server block's rest of the chain,
 * as a CoreDNS plugin calling its Next with a writer that keeps the reply).
 */
SX_MUST_USE int
sx_req_subquery_next(struct sx_req *req, uint16_t type, sx_subquery_cb cb, void *arg);

/**
 * As sx_req_subquery_next(), for @name (uncompressed wire; its case is kept in
 * the sub-query's question) instead of @req's own question name: the rest of
 * the chain asked about another name, as CoreDNS's autopath calls its Next
 * with a changed question.
 */
SX_MUST_USE int sx_req_subquery_next_name(struct sx_req *req, const uint8_t *name, uint16_t type,
                                          sx_subquery_cb cb, void *arg);

/* A client's DNS search path: domains (uncompressed wire names) in the order it tries them. */
#define SX_SEARCH_MAX 16
struct sx_search {
	unsigned n;
	const uint8_t *dom[SX_SEARCH_MAX]; /* borrowed; see the provider's hook */
};

/**
 * The search path of @req's client as the instance of plugin @plugin in @req's
 * server block knows it, through that plugin's search_path hook (kubernetes:
 * from the namespace of the pod that has the client's address).
 * @return 1 with *@out filled; 0 when the plugin knows none for this client,
 * is not in the block, or has no such hook.
 */
int sx_req_search_path(struct sx_req *req, const char *plugin, struct sx_search *out);

/**
 * Whether @req is a sub-query or a refresh (no client waits for it: plugins may
 * skip work that only clients need, e.g. logging).
 */
bool sx_req_is_sub(const struct sx_req *req);

/**
 * From a handler: run @req's question once more in the background, detached
 * from the client, from the calling plugin on (its handler sees the copy, where
 * sx_req_is_refresh() is true), as CoreDNS's cache prefetches. The copy starts
 * after the handler returns, on this worker; its reply goes through the reply
 * hooks registered on the copy and is then dropped. @req itself goes on as if
 * nothing happened (its reply is not delayed).
 * @return 0, or an error (nothing started).
 */
SX_MUST_USE int sx_req_refresh(struct sx_req *req);

/** Whether @req is a copy started by sx_req_refresh(). */
bool sx_req_is_refresh(const struct sx_req *req);

/*
 * Zone transfers (AXFR, IXFR): the `transfer` plugin decides who may have a
 * zone and marks the request; the plugin holding the zone then streams it over
 * TCP as several messages. Without the mark, zone plugins answer REFUSED.
 */

/** Let the plugins after this one answer @req's zone transfer. */
void sx_req_allow_transfer(struct sx_req *req);
/** Whether sx_req_allow_transfer() was called for @req. */
bool sx_req_transfer_allowed(const struct sx_req *req);

/**
 * TCP only: send the reply built so far as one message of a multi-message
 * answer (no reply hooks run for it), then empty the reply (header flags and
 * question kept) for the next message. The last message is the reply the
 * handler finishes as usual.
 * @return 0, or SX_EINVAL over UDP and for sub-queries.
 */
SX_MUST_USE int sx_req_send_part(struct sx_req *req);

/**
 * Append one IN record to the answer of a streamed reply, sending the
 * messages filled so far (sx_req_send_part()) when it does not fit.
 * @return 0, or an error (a record too large for any message, UDP).
 */
SX_MUST_USE int sx_req_stream_rr(struct sx_req *req, const uint8_t *owner, uint16_t type,
                                 uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);
