/* wire.h -- DNS messages outside a reply: building a query, skipping a name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A query of one question, as sx_wire_query() writes it. */
struct sx_wire_query {
	uint16_t id;
	uint16_t flags;       /* the header's flags word: opcode, RD, CD, AD (SX_FLAG_*) */
	const uint8_t *qname; /* uncompressed wire name */
	size_t qname_len;
	uint16_t qtype, qclass;
	bool edns;           /* add an OPT record */
	uint16_t udp_size;   /* its payload size */
	bool do_bit;         /* its DO bit */
	const uint8_t *opts; /* its rdata: whole options (code, length, data), or NULL */
	uint16_t optlen;
};

/** Most bytes sx_wire_query() writes: header, question, OPT without options. */
#define SX_WIRE_QUERY_MAX (12 + 255 + 4 + 11)

/**
 * Write query @q into @buf (@cap bytes).
 * @return its length, or SX_ETRUNC when it does not fit.
 */
int sx_wire_query(uint8_t *buf, size_t cap, const struct sx_wire_query *q);

/**
 * Skip the possibly compressed name at @off of @wire (@len bytes) without
 * following pointers; a pointer must point backwards.
 * @return the offset just after the name, or 0 when it is malformed.
 */
size_t sx_wire_skip_name(const uint8_t *wire, size_t len, size_t off);
