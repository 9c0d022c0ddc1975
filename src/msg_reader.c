/* msg_reader.c -- the message reader: bounded query parse; names, records, rdata of any message. */
#include "msg_reader.h"

#include <stdbool.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/wire.h>

#include "fold.h"

#define NAME_HOPS 128 /* pointers followed in one name, at most */

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

/*
 * Pointers are never followed, only checked to point backwards, so a hostile
 * query costs one pass at most.
 */
size_t
sx_wire_skip_name(const uint8_t *w, size_t len, size_t off)
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

/* sx_dname_lower() of a name whose length the walk above already knows. */
static void
lower(uint8_t *dst, const uint8_t *src, size_t len)
{
	uint64_t x;
	size_t i = 0;

	if (len < 8) {
		for (; i < len; i++) {
			dst[i] = (uint8_t)(src[i] - 'A') < 26u ? src[i] | 0x20 : src[i];
		}
		return;
	}
	for (; i + 8 <= len; i += 8) {
		memcpy(&x, src + i, 8);
		x = fold8(x);
		memcpy(dst + i, &x, 8);
	}
	if (i < len) {
		memcpy(&x, src + len - 8, 8);
		x = fold8(x);
		memcpy(dst + len - 8, &x, 8);
	}
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
	q->qname_len = (uint8_t)(off - SX_HDR_LEN);
	lower(lname, q->qname, q->qname_len);
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
	off = sx_wire_skip_name(w, len, off);
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
	q->udp_size = size < SX_EDNS_MIN_UDP ? SX_EDNS_MIN_UDP : size;
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
	q->flags = flags & SX_HDR_FLAG_BITS;
	q->opcode = (flags >> 11) & 0xF;
	q->qname = NULL;
	q->lname = NULL;
	q->qname_len = 0;
	q->nlabels = 0;
	q->qtype = 0;
	q->qclass = 0;
	q->edns = false;
	q->do_bit = false;
	q->udp_size = SX_EDNS_MIN_UDP;
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
		off = sx_wire_skip_name(wire, len, off);
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

unsigned
sx_rdata_layout(uint16_t type, size_t *pre, size_t *tail)
{
	*pre = 0;
	*tail = 0;
	switch (type) {
	case SX_TYPE_NS:
	case SX_TYPE_CNAME:
	case SX_TYPE_PTR:
		return 1;
	case SX_TYPE_MX:
		*pre = 2;
		return 1;
	case SX_TYPE_SOA:
		*tail = 20;
		return 2;
	default:
		return 0;
	}
}

/*
 * Expand the name at @off of a foreign message. Each pointer must go below
 * the start of the stretch of labels it ends, so offsets strictly decrease
 * and loops are impossible; the hop limit bounds the work besides. @out may be
 * NULL to check only. @return the expanded length, or SX_EMALF; *@end is the
 * offset after the name in place.
 */
static int
walk_name(const uint8_t *w, size_t len, size_t off, uint8_t *out, size_t *end)
{
	size_t n = 0, seg = off, after = 0;
	unsigned hops = 0;
	if (off >= len) {
		return SX_EMALF;
	}
	for (;;) {
		uint8_t c = w[off]; /* off < len: checked above, after each label, and t < seg */
		if (c == 0) {
			if (out != NULL) {
				out[n] = 0;
			}
			*end = after != 0 ? after : off + 1;
			return (int)n + 1;
		}
		if (c <= 63) {
			/* The label and at least one byte after it must be there. */
			if (n + c + 1 >= SX_DNAME_MAX || off + c + 1 >= len) {
				return SX_EMALF;
			}
			/* Labels are short: a loop beats a call to memcpy here. */
			if (out != NULL) {
				for (unsigned i = 0; i <= c; i++) {
					out[n + i] = w[off + i];
				}
			}
			n += c + 1u;
			off += c + 1u;
			continue;
		}
		if (c < 0xC0 || off + 1 >= len) {
			return SX_EMALF;
		}
		size_t t = (size_t)(c & 0x3F) << 8 | w[off + 1];
		if (t >= seg || t < SX_HDR_LEN || ++hops > NAME_HOPS) {
			return SX_EMALF;
		}
		if (after == 0) {
			after = off + 2;
		}
		off = seg = t;
	}
}

int
sx_wire_name(const uint8_t *wire, size_t len, size_t off, uint8_t out[SX_DNAME_MAX])
{
	size_t end;
	return walk_name(wire, len, off, out, &end);
}

int
sx_rr_walk_start(struct sx_rr_walk *it, const uint8_t *wire, size_t len, unsigned flags)
{
	size_t o = SX_HDR_LEN;
	it->wire = wire;
	it->len = len;
	it->flags = flags;
	it->idx = 0;
	it->bad = len < SX_HDR_LEN || len > 0xFFFF;
	if (it->bad) {
		return SX_EMALF;
	}
	it->an = rd16(wire + 6);
	it->ns = rd16(wire + 8);
	it->total = it->an + it->ns + rd16(wire + 10);
	for (unsigned i = rd16(wire + 4); i > 0; i--) {
		if (flags & SX_WALK_CHECKED) {
			it->bad = walk_name(wire, len, o, NULL, &o) < 0;
		} else {
			o = sx_wire_skip_name(wire, len, o);
			it->bad = o == 0;
		}
		if (it->bad || len - o < 4) {
			it->bad = true;
			return SX_EMALF;
		}
		o += 4;
	}
	it->off = o;
	return 0;
}

int
sx_rr_walk_next(struct sx_rr_walk *it, struct sx_rr *rr)
{
	const uint8_t *w = it->wire;
	size_t len = it->len, o;
	if (it->bad) {
		return SX_EMALF;
	}
	if (it->idx >= it->total) {
		return 0;
	}
	if (it->flags & SX_WALK_CHECKED) {
		if (walk_name(w, len, it->off, NULL, &o) < 0) {
			return SX_EMALF;
		}
	} else if ((o = sx_wire_skip_name(w, len, it->off)) == 0) {
		return SX_EMALF;
	}
	if (len - o < 10 || len - o - 10 < rd16(w + o + 8)) {
		return SX_EMALF;
	}
	rr->owner_off = it->off;
	rr->type = rd16(w + o);
	rr->rclass = rd16(w + o + 2);
	rr->ttl_off = o + 4;
	rr->ttl = rd32(w + o + 4);
	rr->rdlen = rd16(w + o + 8);
	rr->rdata_off = o + 10;
	rr->end = rr->rdata_off + rr->rdlen;
	rr->section = it->idx < it->an            ? SX_SEC_ANSWER
	              : it->idx < it->an + it->ns ? SX_SEC_AUTHORITY
	                                          : SX_SEC_ADDITIONAL;
	it->idx++;
	it->off = rr->end;
	return 1;
}

int
sx_wire_rdata(const uint8_t *w, size_t len, const struct sx_rr *rr, uint8_t *buf,
              const uint8_t **rdata)
{
	size_t pre, tail;
	unsigned nn = sx_rdata_layout(rr->type, &pre, &tail);
	size_t off = rr->rdata_off;
	if (nn == 0) {
		*rdata = w + off;
		return rr->rdlen;
	}
	if (rr->rdlen < pre) {
		return SX_EMALF;
	}
	size_t n = pre;
	off += pre;
	for (unsigned i = 0; i < nn; i++) {
		int l = walk_name(w, len, off, buf != NULL ? buf + n : NULL, &off);
		if (l < 0 || off > rr->end) {
			return SX_EMALF;
		}
		n += (size_t)l;
	}
	if (rr->end - off != tail) {
		return SX_EMALF;
	}
	if (buf != NULL) {
		memcpy(buf, w + rr->rdata_off, pre);
		memcpy(buf + n, w + off, tail);
	}
	*rdata = buf;
	return (int)(n + tail);
}
