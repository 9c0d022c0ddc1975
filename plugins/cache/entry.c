/* entry.c -- what a reply is to the cache, its TTL, and entries built from replies and back. */
#include <stdlib.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/wire.h>

#include "cache.h"

static inline void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * CoreDNS's response.Typify and dnsutil.MinimalTTL, plus RFC 2308 section 5:
 * a negative answer lives no longer than its SOA's MINIMUM field.
 */
int
cache_classify(const uint8_t *wire, size_t len, unsigned rcode, uint16_t qtype, unsigned opcode,
               struct cache_reply *out)
{
	uint32_t min_ttl = CACHE_MAX_TTL, soa_min = UINT32_MAX;
	unsigned answers = 0, ns = 0, records = 0;
	bool soa = false;
	struct sx_rr_walk it;
	struct sx_rr rr;
	int rc;

	out->ttl = CACHE_MIN_TTL;
	if (opcode != 0 || qtype == SX_TYPE_AXFR || qtype == SX_TYPE_IXFR) {
		out->kind = CACHE_META;
		return 0;
	}
	/* The core wrote the reply: its names need no following. */
	if (sx_rr_walk_start(&it, wire, len, 0) < 0) {
		return SX_EMALF;
	}
	while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		if (rr.type == SX_TYPE_OPT) {
			continue;
		}
		records++;
		min_ttl = rr.ttl < min_ttl ? rr.ttl : min_ttl;
		if (rr.section == SX_SEC_ANSWER) {
			answers++;
		} else if (rr.section == SX_SEC_AUTHORITY && rr.type == SX_TYPE_SOA &&
		           rr.rdlen >= 22) {
			uint32_t m = rd32(wire + rr.rdata_off + rr.rdlen - 4);

			soa = true;
			soa_min = m < soa_min ? m : soa_min;
		} else if (rr.section == SX_SEC_AUTHORITY && rr.type == SX_TYPE_NS) {
			ns++;
		}
	}
	if (rc < 0) {
		return rc;
	}
	if (rcode == SX_RCODE_NOERROR && answers > 0) {
		out->kind = CACHE_SUCCESS;
	} else if (soa && (rcode == SX_RCODE_NOERROR || rcode == SX_RCODE_NXDOMAIN)) {
		out->kind = CACHE_DENIAL;
		min_ttl = soa_min < min_ttl ? soa_min : min_ttl;
	} else if (rcode == SX_RCODE_SERVFAIL || rcode == SX_RCODE_NOTIMP) {
		out->kind = CACHE_SERVFAIL;
		return 0;
	} else if (rcode == SX_RCODE_NOERROR && ns > 0) {
		out->kind = CACHE_SUCCESS; /* a delegation: CoreDNS gives it the default TTL */
		return 0;
	} else if (rcode == SX_RCODE_NOERROR) {
		out->kind = CACHE_SUCCESS;
	} else {
		out->kind = CACHE_OTHER;
		return 0;
	}
	if (records > 0) {
		out->ttl = min_ttl;
	}
	return 0;
}

/* A CNAME chain longer than this is taken as a loop: CoreDNS cuts chains at 10 too. */
#define CHAIN_MAX 10

bool
cache_answers(const uint8_t *wire, size_t len, const uint8_t *lname, uint16_t qtype)
{
	uint8_t target[SX_DNAME_MAX], owner[SX_DNAME_MAX], buf[SX_RDATA_EXPANDED];

	memcpy(target, lname, sx_dname_len(lname));
	/* Each pass either finds the answer, follows one CNAME, or ends the search. */
	for (int hop = 0; hop <= CHAIN_MAX; hop++) {
		const uint8_t *rdata = NULL;
		struct sx_rr_walk it;
		struct sx_rr rr;
		bool next = false;

		if (sx_rr_walk_start(&it, wire, len, 0) < 0) {
			return false;
		}
		while (!next && sx_rr_walk_next(&it, &rr) == 1 && rr.section == SX_SEC_ANSWER) {
			if (sx_wire_name(wire, len, rr.owner_off, owner) < 0 ||
			    !sx_dname_eq(owner, target)) {
				continue;
			}
			if (rr.type == qtype || qtype == SX_TYPE_ANY) {
				return true;
			}
			if (rr.type == SX_TYPE_CNAME &&
			    sx_wire_rdata(wire, len, &rr, buf, &rdata) > 0) {
				memcpy(target, rdata, sx_dname_len(rdata));
				next = true;
			}
		}
		if (!next) {
			return false;
		}
	}
	return false;
}

int
cache_set_ttls(uint8_t *wire, size_t len, uint32_t ttl)
{
	struct sx_rr_walk it;
	struct sx_rr rr;
	int rc;

	sx_rr_walk_start(&it, wire, len, 0);
	while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		if (rr.type != SX_TYPE_OPT) {
			wr32(wire + rr.ttl_off, ttl);
		}
	}
	return rc;
}

struct cache_entry *
cache_entry_new(struct cache_pool *pool, const struct cache_key *k, const uint8_t *wire, size_t len,
                enum cache_kind kind, uint32_t ttl, uint64_t now_ns)
{
	struct cache_entry *e;
	struct sx_rr_walk it;
	struct sx_rr rr;
	size_t n = 0;
	uint16_t *ttls;
	int rc;

	if (len > CACHE_WIRE_MAX || sx_rr_walk_start(&it, wire, len, 0) < 0) {
		return NULL;
	}
	while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		n += rr.type != SX_TYPE_OPT;
	}
	if (rc < 0) {
		return NULL;
	}
	size_t size = sizeof(*e) + 2 * n + k->len + len;

	e = pool ? cache_pool_get(pool, size) : malloc(size);
	if (!e) {
		return NULL;
	}
	if (!pool) {
		e->home = NULL;
	}
	e->hash = k->hash;
	e->stored_ns = now_ns;
	e->last_hit_ns = 0;
	e->refresh_ns = 0;
	e->ttl = ttl;
	e->hits = 0;
	e->type = k->type;
	e->rclass = k->rclass;
	e->wire_len = (uint16_t)len;
	e->nttl = (uint16_t)n;
	e->key_len = k->len;
	e->key_flags = k->flags;
	e->kind = (uint8_t)kind;
	e->answers = false;
	ttls = (uint16_t *)(void *)e->data;
	n = 0;
	sx_rr_walk_start(&it, wire, len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		if (rr.type != SX_TYPE_OPT) {
			ttls[n++] = (uint16_t)rr.ttl_off;
		}
	}
	memcpy((uint8_t *)cache_entry_name(e), k->name, k->len);
	memcpy((uint8_t *)cache_entry_wire(e), wire, len);
	return e;
}

void
cache_entry_free(struct cache_entry *e)
{
	if (e) {
		cache_pool_put(e);
	}
}

bool
cache_entry_match(const struct cache_entry *e, const struct cache_key *k)
{
	return e->hash == k->hash && e->type == k->type && e->rclass == k->rclass &&
	       e->key_flags == k->flags && e->key_len == k->len &&
	       memcmp(cache_entry_name(e), k->name, k->len) == 0;
}

void
cache_entry_put_ttls(const struct cache_entry *e, uint8_t *buf, uint32_t ttl)
{
	const uint16_t *ttls = cache_entry_ttls(e);

	for (unsigned i = 0; i < e->nttl; i++) {
		wr32(buf + ttls[i], ttl);
	}
}

size_t
cache_entry_render(const struct cache_entry *e, uint32_t ttl, uint8_t *buf)
{
	memcpy(buf, cache_entry_wire(e), e->wire_len);
	cache_entry_put_ttls(e, buf, ttl);
	return e->wire_len;
}
