/* msg_reader.h -- the message reader: bounded query parse, records of any message (private). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sextant/dname.h>
#include <sextant/msg.h>
#include <sextant/req.h>

#define SX_HDR_LEN        12
#define SX_HDR_FLAG_BITS  0x87F0u /* QR, AA, TC, RD, RA, Z, AD, CD: no opcode, no rcode */
#define SX_EDNS_MIN_UDP   512
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
 * Where the names sit in the rdata of the types whose names are compressed:
 * @pre bytes before the first, @tail bytes after the last. @return how many (0: none).
 */
unsigned sx_rdata_layout(uint16_t type, size_t *pre, size_t *tail);
