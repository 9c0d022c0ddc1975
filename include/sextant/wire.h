/* wire.h -- DNS messages of any origin: walking their records, expanding names and rdata,
 * building a query, skipping a name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/dname.h>

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

/* One record of a message, as sx_rr_walk_next() reads it. */
struct sx_rr {
	size_t owner_off; /* offset of the (maybe compressed) owner name */
	uint16_t type, rclass;
	uint32_t ttl;
	size_t ttl_off; /* offset of the TTL field, to rewrite it in place */
	size_t rdata_off;
	uint16_t rdlen;
	uint8_t section; /* enum sx_section: answer, authority or additional */
	size_t end;      /* offset just past this record */
};

/* A walk over the records of one message, after its question. */
struct sx_rr_walk {
	const uint8_t *wire;
	size_t len;
	size_t off; /* the next record */
	size_t idx, an, ns, total;
	unsigned flags;
	bool bad; /* the header or the question is malformed */
};

/*
 * Follow every name of the question and every owner name to its end, so that a
 * record is returned only when its owner expands (sx_wire_name()): for messages
 * from elsewhere. Without it names are skipped, checked only to lie in bounds and
 * to point backwards, which costs less: for messages this server wrote.
 */
#define SX_WALK_CHECKED 1u

/**
 * Start walking the records of message @wire (@len bytes, at most 65535) with
 * SX_WALK_* @flags.
 * @return 0, or SX_EMALF when the header or the question is malformed (then
 * sx_rr_walk_next() says so too).
 */
int sx_rr_walk_start(struct sx_rr_walk *it, const uint8_t *wire, size_t len, unsigned flags);

/**
 * The next record, in order across the answer, authority and additional
 * sections (an OPT record included), into @rr.
 * @return 1 for a record, 0 at the end, SX_EMALF on a malformed message.
 */
int sx_rr_walk_next(struct sx_rr_walk *it, struct sx_rr *rr);

/**
 * Expand the possibly compressed name at @off in @wire into @out (uncompressed).
 * @return wire length of the expanded name, or SX_EMALF.
 */
int sx_wire_name(const uint8_t *wire, size_t len, size_t off, uint8_t out[SX_DNAME_MAX]);

/** Most bytes of an rdata with its names expanded: an SOA, two names and 20 bytes. */
#define SX_RDATA_EXPANDED (2 * SX_DNAME_MAX + 20)

/**
 * The rdata of record @rr of message @wire (@len bytes) with its compressed names
 * expanded into @buf (SX_RDATA_EXPANDED bytes), and *@rdata pointing at it: the
 * names of NS, CNAME, PTR, MX and SOA rdata, which a message may compress (RFC
 * 3597 section 4). Other rdata is taken as it is: *@rdata points into @wire. A
 * NULL @buf only checks.
 * @return the rdata's length, or SX_EMALF.
 */
int sx_wire_rdata(const uint8_t *wire, size_t len, const struct sx_rr *rr, uint8_t *buf,
                  const uint8_t **rdata);
