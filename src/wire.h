/* wire.h -- bounded parsing of queries and framing of replies (private to the core). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sextant/dname.h>
#include <sextant/msg.h>
#include <sextant/req.h>

#define SX_HDR_LEN        12
#define SX_EDNS_ADVERTISE 1232 /* our UDP payload size in OPT */
#define SX_UDP_MAX        4096 /* largest UDP reply we send, whatever the client offers */

enum sx_parse {
	SX_PARSE_OK,
	SX_PARSE_DROP,    /* not worth an answer: shorter than a header, or QR set */
	SX_PARSE_FORMERR, /* header readable, the rest malformed */
	SX_PARSE_NOTIMP,  /* opcode other than QUERY */
	SX_PARSE_BADVERS, /* EDNS version above 0: answer BADVERS with an OPT */
};

/**
 * Parse a query: header, exactly one question (no compression pointers in it),
 * answer and authority records skipped with bounds checks, at most one OPT in
 * the additional section (owner root). Fills every field of @q except proto,
 * client and local_port; q->qname points into @wire, q->lname into @lname.
 * For FORMERR/NOTIMP/BADVERS the id, flags, opcode and whatever was read
 * before the fault (the question, the OPT's EDNS fields) are filled, so that an
 * error reply can echo them; q->qname stays NULL when the question was not read.
 * Options that RFC 7871/7873 say to refuse (ECS prefix too long for its family,
 * a COOKIE of a wrong length) are FORMERR.
 */
enum sx_parse sx_wire_parse_query(const uint8_t *wire, size_t len, struct sx_query *q,
                                  uint8_t lname[SX_DNAME_MAX]);

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
