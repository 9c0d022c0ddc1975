/* msg_writer.h -- the message writer: starting and finishing a reply around its records (private). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sextant/msg.h>
#include <sextant/req.h>

/**
 * Start the reply to @q in @buf (@cap bytes): header (id, QR, opcode, RD and
 * CD copied), the question as received, no records. @limit is the most the
 * finished reply may take (room for an OPT is kept back when q->edns).
 */
void
sx_msg_init(struct sx_msg *msg, uint8_t *buf, size_t cap, size_t limit, const struct sx_query *q);

/**
 * Start an error reply (FORMERR, NOTIMP, BADVERS) to what sx_wire_parse_query() could read of
 * a query: id, opcode and RD from @q, and the question when it parsed (q->qname not NULL).
 * sx_msg_finish() adds the OPT when one was read (q->edns), as RFC 6891 asks.
 */
void sx_msg_init_error(struct sx_msg *msg, uint8_t *buf, size_t cap, const struct sx_query *q,
                       unsigned rcode);

/**
 * Finish the reply: append an OPT record when q->edns (payload size
 * SX_EDNS_ADVERTISE, extended rcode bits, version 0, DO echoed) and fix the
 * header counts. @return the reply length.
 */
size_t sx_msg_finish(struct sx_msg *msg, const struct sx_query *q);

/** Size limit for a reply to @q over its transport (client buffer, at least 512, at most SX_UDP_MAX). */
size_t sx_wire_reply_limit(const struct sx_query *q);

/**
 * Put question @q in place of the reply's, keeping its records (compressed again), header
 * flags, rcode, EDNS options and limit. @scratch must hold msg->len bytes; NULL drops the
 * records and makes the reply SERVFAIL.
 */
void sx_msg_set_question(struct sx_msg *msg, const struct sx_query *q, uint8_t *scratch);
