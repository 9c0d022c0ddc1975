/* wire.c -- bounded parse of queries; start and finish of the reply around the records. */
#include "wire.h"

#include <assert.h>
#include <string.h>

#include <sextant/dname.h>

#define OPT_LEN       11      /* root owner, type, class, TTL, rdlen 0 */
#define HDR_FLAG_BITS 0x87F0u /* QR, AA, TC, RD, RA, Z, AD, CD: no opcode, no rcode */
#define EDNS_MIN_UDP  512

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Skip a name in a record of the query. Pointers are never followed, only
 * checked to point backwards, so a hostile query costs one pass at most.
 * @return offset after the name, or 0 when malformed.
 */
static size_t
skip_name(const uint8_t *w, size_t len, size_t off)
{
	size_t start = off;
	for (;;) {
		if (off >= len) {
			return 0;
		}
		uint8_t c = w[off];
		if (c == 0) {
			return off + 1;
		}
		if (c >= 0xC0) {
			if (off + 2 > len || (size_t)((c & 0x3F) << 8 | w[off + 1]) >= off) {
				return 0;
			}
			return off + 2;
		}
		if (c > 63 || off + c + 2 - start > SX_DNAME_MAX) {
			return 0;
		}
		off += c + 1u;
	}
}

#define OPT_ECS    8  /* RFC 7871 client subnet */
#define OPT_COOKIE 10 /* RFC 7873 */

/* An OPT's rdata must be a sequence of whole options (code, length, data). */
static bool
opt_options_ok(const uint8_t *w, size_t off, size_t end)
{
	while (off < end) {
		if (end - off < 4 || end - off - 4 < rd16(w + off + 2)) {
			return false;
		}
		off += 4u + rd16(w + off + 2);
	}
	return true;
}

/*
 * ECS in a query (RFC 7871 section 6): a known family, a source prefix the
 * family can hold, exactly the address bytes that prefix needs, no bits set
 * beyond it. Scope must be 0 in queries, but that is not ours to refuse.
 */
static bool
ecs_ok(const uint8_t *d, size_t n)
{
	if (n < 4) {
		return false;
	}
	unsigned family = rd16(d), source = d[2];
	unsigned max = family == 1 ? 32 : family == 2 ? 128 : 0;
	if (max == 0) {
		return true; /* another family: nothing we can check */
	}
	if (source > max || n - 4 != (source + 7) / 8) {
		return false;
	}
	return source % 8 == 0 || (d[n - 1] & (0xFFu >> (source % 8))) == 0;
}

/* The options whose malformation RFC 7871 and RFC 7873 answer with FORMERR. */
static bool
opt_options_valid(const uint8_t *w, size_t off, size_t end)
{
	for (; off < end; off += 4u + rd16(w + off + 2)) {
		uint16_t code = rd16(w + off), n = rd16(w + off + 2);
		/* A client cookie is 8 bytes; with a server cookie (8 to 32) it is 16 to 40. */
		if (code == OPT_COOKIE && n != 8 && (n < 16 || n > 40)) {
			return false;
		}
		if (code == OPT_ECS && !ecs_ok(w + off + 4, n)) {
			return false;
		}
	}
	return true;
}

/*
 * The question: a name with no pointers, copied lower-cased into @lname, type and class.
 * @return offset after it, or 0 (and @q's question left unset).
 */
static size_t
parse_question(const uint8_t *w, size_t len, struct sx_query *q, uint8_t *lname)
{
	size_t off = SX_HDR_LEN;
	unsigned labels = 0;
	for (;;) {
		if (off >= len) {
			return 0;
		}
		uint8_t c = w[off];
		if (c == 0) {
			break;
		}
		/* Above 63 is a pointer or an extended label type; both are refused here. */
		if (c > 63 || off + c + 2 - SX_HDR_LEN > SX_DNAME_MAX) {
			return 0;
		}
		off += c + 1u;
		labels++;
	}
	off++;
	if (len - off < 4) {
		return 0;
	}
	q->qname = w + SX_HDR_LEN;
	q->lname = lname;
	q->qname_len = (uint8_t)sx_dname_lower(lname, q->qname);
	q->nlabels = (uint8_t)labels;
	q->qtype = rd16(w + off);
	q->qclass = rd16(w + off + 2);
	return off + 4;
}

/* One record of the additional section; only OPT is looked into. @return offset after it, or 0. */
static size_t
parse_additional(const uint8_t *w, size_t len, size_t off, struct sx_query *q, bool *badvers)
{
	size_t owner = off;
	off = skip_name(w, len, off);
	if (off == 0 || len - off < 10) {
		return 0;
	}
	uint16_t type = rd16(w + off);
	size_t rdata = off + 10;
	size_t end = rdata + rd16(w + off + 8);
	if (end > len) {
		return 0;
	}
	if (type != SX_TYPE_OPT) {
		return end;
	}
	if (q->edns || w[owner] != 0 || !opt_options_ok(w, rdata, end)) {
		return 0;
	}
	uint16_t size = rd16(w + off + 2);
	uint32_t ttl = rd32(w + off + 4);
	q->edns = true;
	q->opt = w + rdata;
	q->optlen = (uint16_t)(end - rdata);
	q->udp_size = size < EDNS_MIN_UDP ? EDNS_MIN_UDP : size;
	q->do_bit = (ttl & 0x8000u) != 0;
	*badvers = ((ttl >> 16) & 0xFF) != 0;
	/* Well framed but invalid options: FORMERR, and the reply still carries our OPT. */
	return opt_options_valid(w, rdata, end) ? end : 0;
}

enum sx_parse
sx_wire_parse_query(const uint8_t *wire, size_t len, struct sx_query *q,
                    uint8_t lname[SX_DNAME_MAX])
{
	if (len < SX_HDR_LEN) {
		return SX_PARSE_DROP;
	}
	uint16_t flags = rd16(wire + 2);
	if (flags & SX_FLAG_QR) {
		return SX_PARSE_DROP;
	}
	q->id = rd16(wire);
	q->flags = flags & HDR_FLAG_BITS;
	q->opcode = (flags >> 11) & 0xF;
	q->qname = NULL;
	q->lname = NULL;
	q->qname_len = 0;
	q->nlabels = 0;
	q->qtype = 0;
	q->qclass = 0;
	q->edns = false;
	q->do_bit = false;
	q->udp_size = EDNS_MIN_UDP;
	q->opt = NULL;
	q->optlen = 0;
	q->size = len;

	/*
	 * Read as much as is well formed even when the answer will be an error,
	 * so that NOTIMP and FORMERR can echo the question and OPT (RFC 6891 7).
	 */
	uint16_t qdcount = rd16(wire + 4);
	if (qdcount > 1) {
		return SX_PARSE_FORMERR;
	}
	size_t off = SX_HDR_LEN;
	if (qdcount == 1) {
		off = parse_question(wire, len, q, lname);
		if (off == 0) {
			return SX_PARSE_FORMERR;
		}
	}
	unsigned skip = (unsigned)rd16(wire + 6) + rd16(wire + 8);
	for (unsigned i = 0; i < skip; i++) {
		off = skip_name(wire, len, off);
		if (off == 0 || len - off < 10 || len - off - 10 < rd16(wire + off + 8)) {
			return SX_PARSE_FORMERR;
		}
		off += 10u + rd16(wire + off + 8);
	}
	bool badvers = false;
	for (unsigned i = rd16(wire + 10); i > 0; i--) {
		off = parse_additional(wire, len, off, q, &badvers);
		if (off == 0) {
			return SX_PARSE_FORMERR;
		}
	}
	if (off != len) {
		return SX_PARSE_FORMERR;
	}
	if (q->opcode != 0) {
		return SX_PARSE_NOTIMP;
	}
	if (qdcount != 1) {
		return SX_PARSE_FORMERR;
	}
	return badvers ? SX_PARSE_BADVERS : SX_PARSE_OK;
}

const uint8_t *
sx_query_edns_option(const struct sx_query *q, uint16_t code, uint16_t *len)
{
	/* The parser checked that the options are whole. */
	for (size_t off = 0; q->opt && off + 4 <= q->optlen; off += 4u + rd16(q->opt + off + 2)) {
		if (rd16(q->opt + off) == code) {
			*len = rd16(q->opt + off + 2);
			return q->opt + off + 4;
		}
	}
	return NULL;
}

size_t
sx_wire_reply_limit(const struct sx_query *q)
{
	if (q->proto == SX_PROTO_TCP) {
		return 65535;
	}
	size_t n = q->udp_size < EDNS_MIN_UDP ? EDNS_MIN_UDP : q->udp_size;
	return n > SX_UDP_MAX ? SX_UDP_MAX : n;
}

static void
write_header(uint8_t *buf, const struct sx_query *q, uint16_t keep, uint16_t qdcount)
{
	wr16(buf, q->id);
	wr16(buf + 2, (uint16_t)(SX_FLAG_QR | (q->opcode & 0xF) << 11 | (q->flags & keep)));
	wr16(buf + 4, qdcount);
	memset(buf + 6, 0, 6);
}

/* Room for the OPT is taken off the limit here, so no record can crowd it out. */
static size_t
usable(size_t limit, size_t cap, const struct sx_query *q)
{
	size_t n = limit < cap ? limit : cap;
	return q->edns ? n - OPT_LEN : n;
}

void
sx_msg_init(struct sx_msg *msg, uint8_t *buf, size_t cap, size_t limit, const struct sx_query *q)
{
	size_t qend = SX_HDR_LEN + q->qname_len + 4u;
	assert(cap >= qend + OPT_LEN && limit >= qend + OPT_LEN);
	write_header(buf, q, SX_FLAG_RD | SX_FLAG_CD, 1);
	memcpy(buf + SX_HDR_LEN, q->qname, q->qname_len);
	wr16(buf + SX_HDR_LEN + q->qname_len, q->qtype);
	wr16(buf + SX_HDR_LEN + q->qname_len + 2, q->qclass);
	msg->wire = buf;
	msg->cap = cap;
	msg->limit = usable(limit, cap, q);
	msg->qend = qend;
	msg->nopts = 0;
	sx_msg_reset(msg);
}

void
sx_msg_init_error(struct sx_msg *msg, uint8_t *buf, size_t cap, const struct sx_query *q,
                  unsigned rcode)
{
	if (q->qname != NULL) {
		sx_msg_init(msg, buf, cap, sx_wire_reply_limit(q), q);
	} else {
		assert(cap >= SX_HDR_LEN + OPT_LEN);
		write_header(buf, q, SX_FLAG_RD, 0);
		msg->wire = buf;
		msg->cap = cap;
		msg->limit = usable(cap, cap, q);
		msg->qend = SX_HDR_LEN;
		msg->nopts = 0;
		sx_msg_reset(msg);
	}
	sx_msg_set_rcode(msg, rcode);
}

size_t
sx_msg_finish(struct sx_msg *msg, const struct sx_query *q)
{
	uint8_t *w = msg->wire;
	if (!q->edns) {
		/* An extended rcode cannot be said without OPT; "no error" would be a lie. */
		if (msg->rcode > 15) {
			w[3] = (uint8_t)((w[3] & 0xF0) | SX_RCODE_SERVFAIL);
		}
		return msg->len;
	}
	uint8_t *o = w + msg->len;
	o[0] = 0;
	wr16(o + 1, SX_TYPE_OPT);
	wr16(o + 3, SX_EDNS_ADVERTISE);
	o[5] = (uint8_t)(msg->rcode >> 4);
	o[6] = 0;
	o[7] = q->do_bit ? 0x80 : 0;
	o[8] = 0;
	/* Plugins' options; sx_msg_add_option() kept their room off the limit. */
	size_t olen = 0;
	for (unsigned i = 0; i < msg->nopts; i++) {
		const struct sx_msg_opt *op = &msg->opts[i];
		wr16(o + OPT_LEN + olen, op->code);
		wr16(o + OPT_LEN + olen + 2, op->len);
		memcpy(o + OPT_LEN + olen + 4, op->data, op->len);
		olen += 4u + op->len;
	}
	wr16(o + 9, (uint16_t)olen);
	msg->len += OPT_LEN + olen;
	wr16(w + 10, (uint16_t)(rd16(w + 10) + 1));
	return msg->len;
}
