/* table.c -- the cache's shared table: lock-free reads, CAS writes, bounded sets, RCU frees. */
#include <stdlib.h>
#include <string.h>

#include <urcu.h>
#include <urcu/uatomic.h>

#include "cache.h"

/*
 * One set is one cache line: a byte of hash per slot (so a lookup dereferences
 * only the entries that are likely to match) and the slot pointers. A slot's
 * tag is written after its pointer; a reader seeing a stale tag only misses.
 */
struct set {
	_Alignas(64) uint8_t tag[CACHE_WAYS];
	struct cache_entry *e[CACHE_WAYS];
};

struct cache_table {
	size_t nsets;
	struct set sets[];
};

_Static_assert(sizeof(struct set) == 64, "a set is one cache line");

struct cache_table *
cache_table_new(size_t capacity)
{
	size_t nsets = capacity / CACHE_WAYS;
	struct cache_table *t;

	if (nsets == 0) {
		nsets = 1;
	}
	t = aligned_alloc(64, (sizeof(*t) + nsets * sizeof(struct set) + 63) & ~(size_t)63);
	if (!t) {
		return NULL;
	}
	memset(t->sets, 0, nsets * sizeof(struct set));
	t->nsets = nsets;
	return t;
}

void
cache_table_free(struct cache_table *t)
{
	if (!t) {
		return;
	}
	for (size_t i = 0; i < t->nsets; i++) {
		for (unsigned w = 0; w < CACHE_WAYS; w++) {
			cache_entry_free(t->sets[i].e[w]);
		}
	}
	free(t);
}

size_t
cache_table_slots(const struct cache_table *t)
{
	return t->nsets * CACHE_WAYS;
}

size_t
cache_table_count(const struct cache_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nsets; i++) {
		for (unsigned w = 0; w < CACHE_WAYS; w++) {
			n += uatomic_read(&t->sets[i].e[w]) != NULL;
		}
	}
	return n;
}

static inline uint64_t
mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint64_t
cache_hash(uint64_t seed, const uint8_t *name, size_t len, uint16_t type, uint16_t rclass,
           uint8_t flags)
{
	uint64_t h = seed ^
	             ((uint64_t)len << 56 | (uint64_t)type << 32 | (uint64_t)rclass << 16 | flags);
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, name + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	if (i < len) {
		uint64_t w = 0;

		memcpy(&w, name + i, len - i);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	return mix(h);
}

/* The set from the low half of the hash (multiply-shift, no division); the tag from the top. */
static inline struct set *
set_of(const struct cache_table *t, uint64_t hash)
{
	return (struct set *)&t->sets[((hash & 0xffffffffu) * t->nsets) >> 32];
}

static inline uint8_t
tag_of(uint64_t hash)
{
	return (uint8_t)(hash >> 56);
}

struct cache_entry *
cache_table_get(const struct cache_table *t, const struct cache_key *k)
{
	struct set *s = set_of(t, k->hash);
	uint8_t tag = tag_of(k->hash);

	for (unsigned w = 0; w < CACHE_WAYS; w++) {
		if (uatomic_read(&s->tag[w]) == tag) {
			struct cache_entry *e = rcu_dereference(s->e[w]);

			if (e && cache_entry_match(e, k)) {
				return e;
			}
		}
	}
	return NULL;
}

static inline bool
same_key(const struct cache_entry *a, const struct cache_entry *b)
{
	return a->hash == b->hash && a->type == b->type && a->rclass == b->rclass &&
	       a->key_flags == b->key_flags && a->key_len == b->key_len &&
	       memcmp(cache_entry_name(a), cache_entry_name(b), a->key_len) == 0;
}

/* When @e stops being worth keeping: its TTL and the serve_stale window are over. */
static inline uint64_t
dies(const struct cache_entry *e, uint64_t keep_ns)
{
	return e->stored_ns + (uint64_t)e->ttl * 1000000000u + keep_ns;
}

static void
free_rcu(struct rcu_head *head)
{
	cache_entry_free(caa_container_of(head, struct cache_entry, rcu));
}

/* Writers racing for one set retry a few times, then drop their entry: it is only a cache. */
#define PUT_TRIES 4

int
cache_table_put(struct cache_table *t, struct cache_entry *e, uint64_t keep_ns)
{
	struct set *s = set_of(t, e->hash);

	for (int tries = 0; tries < PUT_TRIES; tries++) {
		struct cache_entry *seen[CACHE_WAYS], *old;
		int empty = -1, same = -1, first = -1, victim;

		for (int w = 0; w < CACHE_WAYS && same < 0; w++) {
			seen[w] = rcu_dereference(s->e[w]);
			if (!seen[w]) {
				empty = empty < 0 ? w : empty;
			} else if (same_key(seen[w], e)) {
				same = w;
			} else if (first < 0 ||
			           dies(seen[w], keep_ns) < dies(seen[first], keep_ns)) {
				first = w;
			}
		}
		victim = same >= 0 ? same : empty >= 0 ? empty : first;
		old = seen[victim];
		if (same >= 0) {
			e->hits = uatomic_read(&old->hits);
			e->last_hit_ns = uatomic_read(&old->last_hit_ns);
		}
		if (rcu_cmpxchg_pointer(&s->e[victim], old, e) != old) {
			continue;
		}
		uatomic_set(&s->tag[victim], tag_of(e->hash));
		if (old) {
			call_rcu(&old->rcu, free_rcu);
		}
		return old && same < 0;
	}
	cache_entry_free(e);
	return 0;
}

void
cache_table_del(struct cache_table *t, const struct cache_key *k)
{
	struct set *s = set_of(t, k->hash);

	for (unsigned w = 0; w < CACHE_WAYS; w++) {
		struct cache_entry *cur = rcu_dereference(s->e[w]);

		if (cur && cache_entry_match(cur, k) &&
		    rcu_cmpxchg_pointer(&s->e[w], cur, NULL) == cur) {
			call_rcu(&cur->rcu, free_rcu);
		}
	}
}
