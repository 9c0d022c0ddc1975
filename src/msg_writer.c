/* msg_writer.c -- the message writer: replies built in place (compression, order, TC, OPT). */
#include "msg_writer.h"

#include <assert.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>
#include <sextant/wire.h>

#include "fold.h"
#include "msg_reader.h"

#define OPT_LEN  11 /* root owner, type, class, TTL, rdlen 0 */
#define COMP_MAX (sizeof(((struct sx_msg *)0)->comp) / sizeof(uint16_t))
#define PTR_MAX  0x3FFF /* highest offset a compression pointer can name */

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

size_t
sx_wire_reply_limit(const struct sx_query *q)
{
	if (q->proto == SX_PROTO_TCP) {
		return 65535;
	}
	size_t n = q->udp_size < SX_EDNS_MIN_UDP ? SX_EDNS_MIN_UDP : q->udp_size;
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
	/*
	 * Every suffix of the question name is a compression target, so answers echo its case.
	 * They are noted here once: sx_msg_reset() keeps them, and a cache hit resets twice.
	 */
	uint16_t n = 0;
	for (size_t off = SX_HDR_LEN; buf[off] != 0 && n < COMP_MAX; off += buf[off] + 1u) {
		msg->comp[n] = (uint16_t)off; /* below 300: always a pointer target */
		msg->comp_len[n++] = (uint8_t)(qend - 4 - off);
	}
	msg->nqcomp = n;
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
		msg->nqcomp = 0;
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

void
sx_msg_set_rcode(struct sx_msg *msg, unsigned rcode)
{
	msg->rcode = rcode & 0xFFF;
	msg->wire[3] = (uint8_t)((msg->wire[3] & 0xF0) | (rcode & 0xF));
}

unsigned
sx_msg_rcode(const struct sx_msg *msg)
{
	return msg->rcode;
}

void
sx_msg_set_flags(struct sx_msg *msg, uint16_t flags)
{
	wr16(msg->wire + 2, (uint16_t)(rd16(msg->wire + 2) | (flags & SX_HDR_FLAG_BITS)));
}

void
sx_msg_clear_flags(struct sx_msg *msg, uint16_t flags)
{
	wr16(msg->wire + 2, (uint16_t)(rd16(msg->wire + 2) & ~(flags & SX_HDR_FLAG_BITS)));
}

uint16_t
sx_msg_flags(const struct sx_msg *msg)
{
	return rd16(msg->wire + 2) & SX_HDR_FLAG_BITS;
}

uint16_t
sx_msg_count(const struct sx_msg *msg, enum sx_section sec)
{
	return rd16(msg->wire + 6 + 2 * sec);
}

/* Note the name of @len bytes (expanded) at @off as a compression target. */
static void
comp_add(struct sx_msg *msg, size_t off, size_t len)
{
	if (off <= PTR_MAX && msg->ncomp < COMP_MAX) {
		msg->comp_len[msg->ncomp] = (uint8_t)len;
		msg->comp[msg->ncomp++] = (uint16_t)off;
	}
}

void
sx_msg_reset(struct sx_msg *msg)
{
	uint8_t *w = msg->wire;
	memset(w + 6, 0, 6);
	msg->len = msg->qend;
	msg->section = SX_SEC_ANSWER;
	msg->truncated = false;
	sx_msg_clear_flags(msg, SX_FLAG_AA | SX_FLAG_TC);
	sx_msg_set_rcode(msg, SX_RCODE_NOERROR);
	/* The question's targets come first and nothing overwrites them (sx_msg_keep() keeps them). */
	msg->ncomp = msg->nqcomp;
}

void
sx_msg_keep(struct sx_msg *msg, enum sx_section last)
{
	size_t end = msg->qend;
	struct sx_rr_walk it;
	struct sx_rr rr;

	sx_rr_walk_start(&it, msg->wire, msg->len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1 && rr.section <= last) {
		end = rr.end;
	}
	msg->len = end;
	for (int s = (int)last + 1; s <= SX_SEC_ADDITIONAL; s++) {
		wr16(msg->wire + 6 + 2 * s, 0);
	}
	if (msg->section > (int)last) {
		msg->section = (int)last;
	}
	/* Names past the cut are no compression targets any more. */
	uint16_t k = 0;
	for (uint16_t i = 0; i < msg->ncomp; i++) {
		if (msg->comp[i] < end) {
			msg->comp_len[k] = msg->comp_len[i];
			msg->comp[k++] = msg->comp[i];
		}
	}
	msg->ncomp = k;
}

int
sx_msg_add_option(struct sx_msg *msg, uint16_t code, const uint8_t *data, uint16_t len)
{
	size_t need = 4u + len;

	if (msg->nopts == sizeof(msg->opts) / sizeof(msg->opts[0]) ||
	    msg->limit < msg->len + need) {
		return SX_ETRUNC;
	}
	msg->limit -= need;
	msg->opts[msg->nopts++] = (struct sx_msg_opt){ .code = code, .len = len, .data = data };
	return 0;
}

/* An uncompressed name about to be written, with where each label starts. */
struct name {
	const uint8_t *p;
	size_t len;
	unsigned nl;
	uint8_t lo[SX_DNAME_MAX / 2 + 1];
};

/* Check that @p holds a valid uncompressed name within @max bytes and note its labels. */
static bool
scan_name(struct name *n, const uint8_t *p, size_t max)
{
	size_t off = 0;
	if (max > SX_DNAME_MAX) {
		max = SX_DNAME_MAX;
	}
	n->p = p;
	n->nl = 0;
	for (;;) {
		if (off >= max) {
			return false;
		}
		uint8_t c = p[off];
		if (c == 0) {
			n->len = off + 1;
			return true;
		}
		if (c > 63 || off + c + 1 >= max) {
			return false;
		}
		n->lo[n->nl++] = (uint8_t)off;
		off += c + 1u;
	}
}

/*
 * Whether the name at @off in our own message (its pointers are ours, so valid)
 * equals @n. Label lengths are checked first, over each stretch between pointers,
 * then the stretch's bytes are compared at once.
 */
static bool
same_at(const uint8_t *w, size_t off, const uint8_t *n)
{
	for (;;) {
		while (w[off] >= 0xC0) {
			off = (size_t)(w[off] & 0x3F) << 8 | w[off + 1];
		}
		size_t start = off;
		const uint8_t *nstart = n;
		uint8_t c;
		while ((c = w[off]) < 0xC0) {
			if (c != *n) {
				return false;
			}
			if (c == 0) {
				break;
			}
			off += c + 1u;
			n += c + 1;
		}
		if (!fold_eq(w + start, nstart, off - start)) {
			return false;
		}
		if (c == 0) {
			return true;
		}
	}
}

/*
 * Write @n at *@pos, compressed against the longest suffix already written (the
 * first target in the table of those that hold it). A target can only equal the
 * suffix of @n as long as itself, so each target is compared once, with that
 * suffix, and only when it is longer than the best found so far.
 */
static int
put_name(struct sx_msg *msg, size_t *pos, const struct name *n)
{
	unsigned at = n->nl;
	size_t target = 0;
	/* Most owners are the question name itself: one compare instead of a search. */
	if (n->nl > 0 && msg->qend == SX_HDR_LEN + n->len + 4 &&
	    fold_eq(msg->wire + SX_HDR_LEN, n->p, n->len)) {
		at = 0;
		target = SX_HDR_LEN;
	} else if (n->nl > 0) {
		/* Bit L: @n has a suffix of L bytes that starts at a label. */
		uint64_t sfx[4] = { 0 };
		size_t best = 0;

		for (unsigned i = 0; i < n->nl; i++) {
			size_t l = n->len - n->lo[i];
			sfx[l >> 6] |= 1ull << (l & 63);
		}
		for (unsigned e = 0; e < msg->ncomp; e++) {
			size_t l = msg->comp_len[e];
			if (l > best && (sfx[l >> 6] >> (l & 63) & 1) &&
			    same_at(msg->wire, msg->comp[e], n->p + n->len - l)) {
				best = l;
				target = msg->comp[e];
			}
		}
		if (best > 0) {
			for (at = 0; n->lo[at] != n->len - best; at++) {
			}
		}
	}
	size_t lit = at < n->nl ? n->lo[at] : n->len;
	size_t need = lit + (at < n->nl ? 2 : 0);
	if (msg->limit - *pos < need) {
		return SX_ETRUNC;
	}
	memcpy(msg->wire + *pos, n->p, lit);
	for (unsigned i = 0; i < at; i++) {
		comp_add(msg, *pos + n->lo[i], n->len - n->lo[i]);
	}
	if (at < n->nl) {
		wr16(msg->wire + *pos + lit, (uint16_t)(0xC000 | target));
	}
	*pos += need;
	return 0;
}

static bool
put_bytes(struct sx_msg *msg, size_t *pos, const void *p, size_t n)
{
	if (msg->limit - *pos < n) {
		return false;
	}
	memcpy(msg->wire + *pos, p, n);
	*pos += n;
	return true;
}

/* A record that did not fit: dropping additional records needs no TC (RFC 2181 section 9). */
static int
rr_truncated(struct sx_msg *msg, enum sx_section sec)
{
	if (sec != SX_SEC_ADDITIONAL) {
		sx_msg_set_flags(msg, SX_FLAG_TC);
		msg->truncated = true;
	}
	return SX_ETRUNC;
}

/* A record now ends at @end in section @sec: it counts there. */
static void
rr_added(struct sx_msg *msg, enum sx_section sec, size_t end)
{
	msg->len = end;
	msg->section = (int)sec;
	wr16(msg->wire + 6 + 2 * sec, (uint16_t)(sx_msg_count(msg, sec) + 1));
}

int
sx_msg_put_rr(struct sx_msg *msg, enum sx_section sec, const uint8_t *owner, uint16_t type,
              uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	struct name own, names[2];
	size_t pre, tail;
	unsigned nn = sx_rdata_layout(type, &pre, &tail);
	if ((unsigned)sec > SX_SEC_ADDITIONAL || (int)sec < msg->section ||
	    !scan_name(&own, owner, SX_DNAME_MAX)) {
		return SX_EINVAL;
	}
	size_t r = pre;
	for (unsigned i = 0; i < nn; i++) {
		if (r >= rdlen || !scan_name(&names[i], rdata + r, rdlen - r)) {
			return SX_EINVAL;
		}
		r += names[i].len;
	}
	if (nn > 0 && (pre > rdlen || rdlen - r != tail)) {
		return SX_EINVAL;
	}

	uint16_t ncomp = msg->ncomp;
	size_t pos = msg->len;
	if (put_name(msg, &pos, &own) != 0 || msg->limit - pos < 10) {
		goto fail_trunc;
	}
	uint8_t *f = msg->wire + pos;
	wr16(f, type);
	wr16(f + 2, rclass);
	wr32(f + 4, ttl);
	pos += 10;
	if (nn == 0) {
		if (!put_bytes(msg, &pos, rdata, rdlen)) {
			goto fail_trunc;
		}
	} else {
		if (!put_bytes(msg, &pos, rdata, pre)) {
			goto fail_trunc;
		}
		for (unsigned i = 0; i < nn; i++) {
			if (put_name(msg, &pos, &names[i]) != 0) {
				goto fail_trunc;
			}
		}
		if (!put_bytes(msg, &pos, rdata + rdlen - tail, tail)) {
			goto fail_trunc;
		}
	}
	wr16(f + 8, (uint16_t)(msg->wire + pos - (f + 10)));
	rr_added(msg, sec, pos);
	return 0;

fail_trunc:
	msg->ncomp = ncomp;
	return rr_truncated(msg, sec);
}

/*
 * The name at @o of a record written at the message's end (before @end): labels, then
 * the root or a pointer at a compression target; its labels become targets in turn.
 * @return the offset after it, or 0 when it is not such a name.
 */
static size_t
wire_name(struct sx_msg *msg, size_t o, size_t end)
{
	const uint8_t *w = msg->wire;
	size_t start = o, stop, tail = 1;

	while (o < end && (unsigned)w[o] - 1u < 63u) {
		o += w[o] + 1u;
	}
	if (o >= end) {
		return 0;
	}
	stop = o;
	if (w[o] != 0) {
		unsigned e = 0;
		size_t t;

		if (w[o] < 0xC0 || o + 2 > end) {
			return 0;
		}
		t = (size_t)(w[o] & 0x3F) << 8 | w[o + 1];
		while (e < msg->ncomp && msg->comp[e] != t) {
			e++;
		}
		if (e == msg->ncomp) {
			return 0;
		}
		tail = msg->comp_len[e];
		o++;
	}
	if (stop - start + tail > SX_DNAME_MAX) {
		return 0;
	}
	for (size_t l = start; l < stop; l += w[l] + 1u) {
		comp_add(msg, l, stop - l + tail);
	}
	return o + 1;
}

int
sx_msg_put_wire_rr(struct sx_msg *msg, enum sx_section sec, const uint8_t *rr, size_t len)
{
	size_t pre, tail, at = msg->len, end = at + len, o, r;
	uint16_t ncomp = msg->ncomp;
	unsigned nn;

	if ((unsigned)sec > SX_SEC_ADDITIONAL || (int)sec < msg->section) {
		return SX_EINVAL;
	}
	if (msg->limit - at < len) {
		return rr_truncated(msg, sec);
	}
	/* Checked in place; the names it adds to the table go again if it is malformed. */
	memcpy(msg->wire + at, rr, len);
	o = wire_name(msg, at, end);
	if (o == 0 || end - o < 10 || rd16(msg->wire + o + 8) != end - o - 10) {
		goto fail_inval;
	}
	nn = sx_rdata_layout(rd16(msg->wire + o), &pre, &tail);
	r = o + 10 + pre;
	for (unsigned i = 0; i < nn; i++) {
		if (r >= end || (r = wire_name(msg, r, end)) == 0) {
			goto fail_inval;
		}
	}
	if (nn > 0 && end - r != tail) {
		goto fail_inval;
	}
	rr_added(msg, sec, end);
	return 0;

fail_inval:
	msg->ncomp = ncomp;
	return SX_EINVAL;
}

int
sx_msg_set_wire(struct sx_msg *msg, const uint8_t *wire, size_t len)
{
	const uint8_t *rdata;
	struct sx_rr_walk it;
	struct sx_rr rr;
	int rc;
	unsigned ext = 0;
	bool opt = false;

	/* Check everything first: a malformed message leaves the reply as it was. */
	sx_rr_walk_start(&it, wire, len, SX_WALK_CHECKED);
	while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		if (rr.type == SX_TYPE_OPT) {
			if (!opt) {
				ext = rr.ttl >> 24;
				opt = true;
			}
		} else if (sx_wire_rdata(wire, len, &rr, NULL, &rdata) < 0) {
			return SX_EMALF;
		}
	}
	if (rc < 0) {
		return SX_EMALF;
	}

	uint16_t opcode = rd16(msg->wire + 2) & 0x7800;
	sx_msg_reset(msg);
	wr16(msg->wire + 2, (uint16_t)(SX_FLAG_QR | opcode | (rd16(wire + 2) & SX_HDR_FLAG_BITS)));
	sx_msg_set_rcode(msg, (wire[3] & 0xFu) | ext << 4);
	sx_rr_walk_start(&it, wire, len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		/* Checked above, so the only failure left is SX_ETRUNC: keep what fits. */
		if (rr.type != SX_TYPE_OPT &&
		    sx_msg_copy_rr(msg, rr.section, wire, len, &rr) != 0) {
			break;
		}
	}
	return 0;
}

int
sx_msg_copy_rr(struct sx_msg *msg, enum sx_section sec, const uint8_t *wire, size_t len,
               const struct sx_rr *rr)
{
	uint8_t owner[SX_DNAME_MAX], buf[SX_RDATA_EXPANDED];
	const uint8_t *rdata = NULL; /* set by sx_wire_rdata(); gcc -O3 cannot tell */
	int rdlen = sx_wire_rdata(wire, len, rr, buf, &rdata);
	if (rdlen < 0 || sx_wire_name(wire, len, rr->owner_off, owner) < 0) {
		return SX_EMALF;
	}
	return sx_msg_put_rr(msg, sec, owner, rr->type, rr->rclass, rr->ttl, rdata,
	                     (uint16_t)rdlen);
}

#define TYPE_DNAME 39

/* Names inside rdata that a rename sees: the compressible ones, plus SRV and DNAME (never
 * compressed, so written back as they are). @return how many, after @pre bytes. */
static unsigned
rename_layout(uint16_t type, size_t *pre)
{
	size_t tail;

	switch (type) {
	case SX_TYPE_SRV:
		*pre = 6;
		return 1;
	case TYPE_DNAME:
		*pre = 0;
		return 1;
	default:
		return sx_rdata_layout(type, pre, &tail);
	}
}

/* Length of the uncompressed name at @p within @max bytes, or 0 when it is not one. */
static size_t
flat_name_len(const uint8_t *p, size_t max)
{
	size_t n = 0;

	while (n < max && n < SX_DNAME_MAX) {
		if (p[n] == 0) {
			return n + 1;
		}
		if (p[n] > 63) {
			return 0;
		}
		n += p[n] + 1u;
	}
	return 0;
}

static const uint8_t *
renamed(sx_rename_fn fn, void *arg, uint16_t type, bool in_rdata, const uint8_t *name, uint8_t *out)
{
	if (fn != NULL && fn(arg, type, in_rdata, name, out) && flat_name_len(out, SX_DNAME_MAX)) {
		return out;
	}
	return name;
}

/* The rdata of @rr with its names renamed, into @out (SX_RDATA_EXPANDED bytes). @return its
 * length, or -1 to keep @rdata as it is. */
static int
rename_rdata(sx_rename_fn fn, void *arg, uint16_t type, const uint8_t *rdata, size_t rdlen,
             uint8_t *out)
{
	uint8_t nname[SX_DNAME_MAX];
	size_t pre, r, n;
	unsigned nn = rename_layout(type, &pre);

	if (nn == 0 || pre > rdlen) {
		return -1;
	}
	memcpy(out, rdata, pre);
	r = n = pre;
	for (unsigned i = 0; i < nn; i++) {
		size_t l = flat_name_len(rdata + r, rdlen - r);
		if (l == 0) {
			return -1;
		}
		const uint8_t *nm = renamed(fn, arg, type, true, rdata + r, nname);
		size_t nl = sx_dname_len(nm);
		memcpy(out + n, nm, nl);
		n += nl;
		r += l;
	}
	if (n + (rdlen - r) > SX_RDATA_EXPANDED) {
		return -1;
	}
	memcpy(out + n, rdata + r, rdlen - r);
	return (int)(n + (rdlen - r));
}

/* Append the records of @w (@len bytes, a message this writer made), renamed by @fn unless NULL. */
static void
refill(struct sx_msg *msg, const uint8_t *w, size_t len, sx_rename_fn fn, void *arg)
{
	uint8_t exp[SX_RDATA_EXPANDED], ren[SX_RDATA_EXPANDED];
	uint8_t owner[SX_DNAME_MAX], nowner[SX_DNAME_MAX];
	const uint8_t *rdata = NULL;
	struct sx_rr_walk it;
	struct sx_rr rr;

	sx_rr_walk_start(&it, w, len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		int rdlen = sx_wire_rdata(w, len, &rr, exp, &rdata);
		if (rdlen < 0 || sx_wire_name(w, len, rr.owner_off, owner) < 0) {
			break;
		}
		const uint8_t *own = renamed(fn, arg, rr.type, false, owner, nowner);
		if (fn != NULL) {
			int l = rename_rdata(fn, arg, rr.type, rdata, (size_t)rdlen, ren);
			if (l >= 0) {
				rdata = ren;
				rdlen = l;
			}
		}
		if (sx_msg_put_rr(msg, rr.section, own, rr.type, rr.rclass, rr.ttl, rdata,
		                  (uint16_t)rdlen) != 0) {
			break;
		}
	}
}

void
sx_msg_rename(struct sx_msg *msg, uint8_t *scratch, sx_rename_fn fn, void *arg)
{
	unsigned rcode = msg->rcode;
	uint16_t flags = sx_msg_flags(msg);
	bool truncated = msg->truncated;
	size_t len = msg->len;

	memcpy(scratch, msg->wire, len);
	sx_msg_reset(msg);
	sx_msg_set_flags(msg, flags);
	sx_msg_set_rcode(msg, rcode);
	msg->truncated = truncated;
	refill(msg, scratch, len, fn, arg);
}

void
sx_msg_set_question(struct sx_msg *msg, const struct sx_query *q, uint8_t *scratch)
{
	struct sx_msg_opt opts[sizeof(msg->opts) / sizeof(msg->opts[0])];
	unsigned rcode = msg->rcode, nopts = msg->nopts;
	uint16_t flags = sx_msg_flags(msg);
	bool truncated = msg->truncated;
	size_t len = msg->len, limit = msg->limit;

	memcpy(opts, msg->opts, sizeof(opts));
	if (scratch != NULL) {
		memcpy(scratch, msg->wire, len);
	}
	sx_msg_init(msg, msg->wire, msg->cap, msg->cap, q);
	msg->limit = limit;
	msg->nopts = (uint8_t)nopts;
	memcpy(msg->opts, opts, sizeof(opts));
	sx_msg_clear_flags(msg, SX_HDR_FLAG_BITS);
	sx_msg_set_flags(msg, flags);
	msg->truncated = truncated;
	if (scratch == NULL) {
		sx_msg_set_rcode(msg, SX_RCODE_SERVFAIL);
		return;
	}
	sx_msg_set_rcode(msg, rcode);
	refill(msg, scratch, len, NULL, NULL);
}

static size_t
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

int
sx_wire_query(uint8_t *buf, size_t cap, const struct sx_wire_query *q)
{
	size_t n = 12;

	if (12 + q->qname_len + 4 + (q->edns ? 11u + q->optlen : 0u) > cap) {
		return SX_ETRUNC;
	}
	memset(buf, 0, 12);
	put16(buf, q->id);
	put16(buf + 2, q->flags);
	buf[5] = 1;
	buf[11] = q->edns;
	memcpy(buf + n, q->qname, q->qname_len);
	n += q->qname_len;
	n += put16(buf + n, q->qtype);
	n += put16(buf + n, q->qclass);
	if (q->edns) {
		buf[n++] = 0; /* root owner */
		n += put16(buf + n, SX_TYPE_OPT);
		n += put16(buf + n, q->udp_size);
		buf[n++] = 0; /* extended rcode, version */
		buf[n++] = 0;
		n += put16(buf + n, q->do_bit ? 0x8000 : 0);
		n += put16(buf + n, q->optlen);
		if (q->optlen > 0) {
			memcpy(buf + n, q->opts, q->optlen);
			n += q->optlen;
		}
	}
	return (int)n;
}
