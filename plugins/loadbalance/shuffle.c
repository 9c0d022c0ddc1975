/* shuffle.c -- CoreDNS's round_robin order for a reply's records, without allocating. */
#include <string.h>

#include "lb.h"

/* xorshift64*: a few cycles, state per worker, no lock. */
static inline uint64_t
next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n) by multiply-shift (n is small). */
unsigned
lb_below(uint64_t *s, unsigned n)
{
	return (unsigned)(((next(s) >> 32) * n) >> 32);
}

static void
shuffle(uint16_t *a, unsigned n, uint64_t *s)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = lb_below(s, i);
		uint16_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

static inline bool
is_addr(uint16_t type)
{
	return type == SX_TYPE_A || type == SX_TYPE_AAAA;
}

void
lb_order_by_kind(uint16_t *o, const struct sx_rr *rr, unsigned first, unsigned n, unsigned *from,
                 unsigned *to)
{
	unsigned i, k = 0;

	for (i = 0; i < n; i++) {
		if (rr[i].type == SX_TYPE_CNAME) {
			o[k++] = (uint16_t)(first + i);
		}
	}
	for (i = 0; i < n; i++) {
		if (rr[i].type != SX_TYPE_CNAME && !is_addr(rr[i].type) &&
		    rr[i].type != SX_TYPE_MX) {
			o[k++] = (uint16_t)(first + i);
		}
	}
	*from = k;
	for (i = 0; i < n; i++) {
		if (is_addr(rr[i].type)) {
			o[k++] = (uint16_t)(first + i);
		}
	}
	*to = k;
	for (i = 0; i < n; i++) {
		if (rr[i].type == SX_TYPE_MX) {
			o[k++] = (uint16_t)(first + i);
		}
	}
}

/*
 * The new order of the @n records from @first on: all A (or all AAAA)
 * shuffled; anything else as CNAMEs, other types, addresses shuffled, MX
 * shuffled. @return whether any record moves.
 */
static bool
order_section(struct lb_worker *w, unsigned first, unsigned n)
{
	uint16_t *o = w->order + first;
	const struct sx_rr *rr = w->rr + first;
	bool same = true;
	unsigned i, from, to;

	for (i = 0; i < n; i++) {
		o[i] = (uint16_t)(first + i);
		same = same && rr[i].type == rr[0].type;
	}
	if (n <= 1) {
		return false;
	}
	if (same && is_addr(rr[0].type)) {
		shuffle(o, n, &w->rng);
	} else {
		lb_order_by_kind(o, rr, first, n, &from, &to);
		shuffle(o + from, to - from, &w->rng);
		shuffle(o + to, n - to, &w->rng);
	}
	for (i = 0; i < n; i++) {
		if (o[i] != first + i) {
			return true;
		}
	}
	return false;
}

/*
 * Whether record @a may take @b's place by swapping rdata alone: both
 * addresses (no names inside to point into) with the same owner bytes, type,
 * class, TTL and length, so the records differ in their rdata only.
 */
static bool
swappable(const uint8_t *wire, const struct sx_rr *a, const struct sx_rr *b)
{
	size_t la = a->ttl_off - a->owner_off, lb = b->ttl_off - b->owner_off;

	return is_addr(a->type) && a->type == b->type && a->ttl == b->ttl && a->rdlen == b->rdlen &&
	       la == lb && memcmp(wire + a->owner_off, wire + b->owner_off, la) == 0;
}

/* Write every record again in the new order (names compressed anew). */
static void
rewrite(struct sx_msg *msg, struct lb_worker *w, const unsigned count[3])
{
	uint16_t flags = sx_msg_flags(msg);
	bool truncated = msg->truncated;
	size_t len = msg->len;
	unsigned i = 0;

	memcpy(w->copy, msg->wire, len);
	sx_msg_reset(msg);
	sx_msg_set_flags(msg, flags & (SX_FLAG_AA | SX_FLAG_TC));
	msg->truncated = truncated;
	for (int sec = SX_SEC_ANSWER; sec <= SX_SEC_ADDITIONAL; sec++) {
		for (unsigned end = i + count[sec]; i < end; i++) {
			if (sx_msg_copy_rr(msg, (enum sx_section)sec, w->copy, len,
			                   &w->rr[w->order[i]]) != 0) {
				return;
			}
		}
	}
}

/* Constant sizes, so the copies compile to a load and a store. */
static inline void
copy_addr(uint8_t *dst, const uint8_t *src, uint16_t len)
{
	if (len == 4) {
		memcpy(dst, src, 4);
	} else {
		memcpy(dst, src, 16);
	}
}

/* The records of our own reply, names skipped. @return how many, or 0 if there are too many. */
unsigned
lb_records(const struct sx_msg *msg, struct sx_rr *rr, const unsigned count[3])
{
	struct sx_rr_walk it;
	unsigned n = count[0] + count[1] + count[2];

	if (n > LB_MAX_RR || sx_rr_walk_start(&it, msg->wire, msg->len, 0) < 0) {
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		if (sx_rr_walk_next(&it, &rr[i]) != 1) {
			return 0;
		}
	}
	return n;
}

/* Put the @n records of @msg in w->order: in place when only addresses swap, else written anew. */
void
lb_apply(struct sx_msg *msg, struct lb_worker *w, unsigned n, const unsigned count[3])
{
	bool in_place = true;

	for (unsigned i = 0; i < n && in_place; i++) {
		in_place = w->order[i] == i || swappable(msg->wire, &w->rr[i], &w->rr[w->order[i]]);
	}
	if (!in_place) {
		rewrite(msg, w, count);
		return;
	}
	/* Addresses (4 or 16 bytes) changing places: gather, then scatter. */
	for (unsigned i = 0; i < n; i++) {
		if (w->order[i] != i) {
			copy_addr(w->copy + 16u * i, msg->wire + w->rr[w->order[i]].rdata_off,
			          w->rr[i].rdlen);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (w->order[i] != i) {
			copy_addr(msg->wire + w->rr[i].rdata_off, w->copy + 16u * i,
			          w->rr[i].rdlen);
		}
	}
}

void
lb_shuffle(struct sx_msg *msg, struct lb_worker *w)
{
	unsigned count[3], n, first = 0;
	bool moved = false;

	for (int s = 0; s < 3; s++) {
		count[s] = sx_msg_count(msg, (enum sx_section)s);
	}
	/* Most replies have no section with two records: nothing to shuffle. */
	if (count[0] < 2 && count[1] < 2 && count[2] < 2) {
		return;
	}
	n = lb_records(msg, w->rr, count);
	if (n == 0) {
		return;
	}
	for (int s = 0; s < 3; s++) {
		moved |= order_section(w, first, count[s]);
		first += count[s];
	}
	if (moved) {
		lb_apply(msg, w, n, count);
	}
}

static bool
in_net(const uint8_t *wire, const struct sx_rr *rr, const struct lb_net *net)
{
	const uint8_t *a = wire + rr->rdata_off;
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (rr->type != net->type || rr->rdlen != (net->type == SX_TYPE_A ? 4 : 16) ||
	    memcmp(a, net->addr, full) != 0) {
		return false;
	}
	return rest == 0 || ((a[full] ^ net->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* The new order of a section's @n records from @first on, by `prefer`. */
static bool
prefer_section(struct lb_worker *w, unsigned first, unsigned n, const uint8_t *wire,
               const struct lb_net *nets, size_t nnets)
{
	uint16_t *o = w->order + first;
	const struct sx_rr *rr = w->rr + first;
	uint8_t placed[LB_MAX_RR] = { 0 };
	unsigned i, k = 0;

	for (i = 0; i < n; i++) {
		if (rr[i].type == SX_TYPE_CNAME) {
			o[k++] = (uint16_t)(first + i);
		}
	}
	for (size_t j = 0; j < nnets; j++) {
		for (i = 0; i < n; i++) {
			if (!placed[i] && in_net(wire, &rr[i], &nets[j])) {
				placed[i] = 1;
				o[k++] = (uint16_t)(first + i);
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (!placed[i] && is_addr(rr[i].type)) {
			o[k++] = (uint16_t)(first + i);
		}
	}
	for (i = 0; i < n; i++) {
		if (rr[i].type == SX_TYPE_MX) {
			o[k++] = (uint16_t)(first + i);
		}
	}
	for (i = 0; i < n; i++) {
		if (rr[i].type != SX_TYPE_CNAME && !is_addr(rr[i].type) &&
		    rr[i].type != SX_TYPE_MX) {
			o[k++] = (uint16_t)(first + i);
		}
	}
	for (i = 0; i < n; i++) {
		if (o[i] != first + i) {
			return true;
		}
	}
	return false;
}

void
lb_prefer(struct sx_msg *msg, struct lb_worker *w, const struct lb_net *nets, size_t nnets)
{
	unsigned count[3], n;
	bool moved;

	for (int s = 0; s < 3; s++) {
		count[s] = sx_msg_count(msg, (enum sx_section)s);
	}
	if (count[SX_SEC_ANSWER] < 2 && count[SX_SEC_ADDITIONAL] < 2) {
		return;
	}
	n = lb_records(msg, w->rr, count);
	if (n == 0) {
		return;
	}
	/* As CoreDNS: the authority section keeps its order. */
	for (unsigned i = 0; i < n; i++) {
		w->order[i] = (uint16_t)i;
	}
	moved = prefer_section(w, 0, count[SX_SEC_ANSWER], msg->wire, nets, nnets);
	moved |= prefer_section(w, count[SX_SEC_ANSWER] + count[SX_SEC_AUTHORITY],
	                        count[SX_SEC_ADDITIONAL], msg->wire, nets, nnets);
	if (moved) {
		lb_apply(msg, w, n, count);
	}
}
