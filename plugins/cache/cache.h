/* cache.h -- the cache plugin's private declarations: instance, entries, the shared table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu.h>
#include <urcu/lfstack.h>

#include <sextant/plugin.h>

#define CACHE_DEFAULT_CAP      9984 /* per table, as CoreDNS (256 shards x 39) */
#define CACHE_MIN_CAP          1024 /* smaller capacities are raised to this, as CoreDNS */
#define CACHE_MAX_TTL          3600 /* success */
#define CACHE_MAX_NTTL         1800 /* denial */
#define CACHE_MIN_TTL          5    /* both; also the TTL of replies without records */
#define CACHE_SERVFAIL_MS      5000 /* SERVFAIL replies are cached this long by default */
#define CACHE_SERVFAIL_MAX_MS  300000
#define CACHE_STALE_MS         3600000 /* serve_stale default */
#define CACHE_PREFETCH_MS      60000   /* prefetch DURATION default */
#define CACHE_PREFETCH_PCT     10
#define CACHE_WIRE_MAX         4096 /* larger replies are not cached */
#define CACHE_WAYS             7    /* entries per set: the set fits one cache line */
#define CACHE_REFRESH_RETRY_NS (5 * 1000000000ull) /* one refresh of an entry at a time */

/* What a reply is to the cache (CoreDNS's response types). */
enum cache_kind {
	CACHE_SUCCESS,  /* NOERROR with answers, a delegation, or no records at all */
	CACHE_DENIAL,   /* NXDOMAIN or NODATA, with a SOA */
	CACHE_SERVFAIL, /* SERVFAIL or NOTIMP: kept `servfail` long, in the denial table */
	CACHE_OTHER,    /* not cached (REFUSED, NXDOMAIN without SOA, ...) */
	CACHE_META,     /* zone transfers, other opcodes: left alone entirely */
};

/* The lookup key: lower-case name, type, class, DO and CD. */
struct cache_key {
	const uint8_t *name; /* uncompressed wire, lower case */
	uint8_t len;
	uint8_t flags; /* CACHE_KEY_DO | CACHE_KEY_CD */
	uint16_t type, rclass;
	uint64_t hash;
};
#define CACHE_KEY_DO 1u
#define CACHE_KEY_CD 2u

/*
 * One cached reply, in a single allocation: this header, the offsets of the
 * TTL fields of its records, the key's name, then the reply as it was sent
 * (header, question, records; no OPT). Immutable once published, but for the
 * prefetch bookkeeping (hits, last_hit_ns, refresh_ns), updated racily by
 * workers: those only ever decide when to refresh.
 */
struct pool_class;
struct cache_entry {
	union {
		struct rcu_head rcu;           /* while it waits for a grace period */
		struct cds_lfs_node free_node; /* while it waits in a pool */
	};
	struct pool_class *home; /* the pool it goes back to; NULL: free() it */
	uint64_t hash;
	uint64_t stored_ns; /* monotonic */
	uint64_t last_hit_ns;
	uint64_t refresh_ns; /* no refresh before this */
	uint32_t ttl;        /* seconds the entry lives */
	uint32_t hits;
	uint16_t type, rclass;
	uint16_t wire_len;
	uint16_t nttl;
	uint8_t key_len;
	uint8_t key_flags;
	uint8_t kind; /* enum cache_kind */
	bool answers; /* serve_stale_policy prefer_positive: it answers its question */
	_Alignas(2) uint8_t data[];
};

static inline const uint16_t *
cache_entry_ttls(const struct cache_entry *e)
{
	return (const uint16_t *)(const void *)e->data;
}

static inline const uint8_t *
cache_entry_name(const struct cache_entry *e)
{
	return e->data + 2u * e->nttl;
}

static inline const uint8_t *
cache_entry_wire(const struct cache_entry *e)
{
	return e->data + 2u * e->nttl + e->key_len;
}

/* struct cache's per-worker counters, summed when metrics are scraped. */
enum cache_counter {
	CACHE_C_HITS, /* + CACHE_SUCCESS or CACHE_DENIAL (SERVFAIL: denial) */
	CACHE_C_EVICTIONS = CACHE_C_HITS + 2, /* + CACHE_SUCCESS or CACHE_DENIAL */
	CACHE_C_MISSES = CACHE_C_EVICTIONS + 2,
	CACHE_C_PREFETCHES,
	CACHE_C_STALE,
	CACHE_C_N
};

/* ---- table.c: the shared, lock-free, bounded table ---- */

/*
 * A set-associative table: the hash picks a set of CACHE_WAYS slots, an entry
 * lives in one of them. Readers (inside rcu_read_lock) take no lock and write
 * nothing; writers swap slot pointers with compare-and-swap and free what they
 * replaced after a grace period (call_rcu), so any number of workers may read
 * and write at once. Memory is bounded by the slot count.
 */
struct cache_table;

/** A table of at most @capacity entries (rounded down to whole sets). NULL: out of memory. */
struct cache_table *cache_table_new(size_t capacity);
/** Free the table and its entries; no reader or writer may be left. NULL is a no-op. */
void cache_table_free(struct cache_table *t);
/** Slots in the table (its real capacity). */
size_t cache_table_slots(const struct cache_table *t);
/** Entries now in the table (a scan: for metrics and tests, not per query). */
size_t cache_table_count(const struct cache_table *t);

/** Hash of a key, seeded per instance so names cannot be picked to collide. */
uint64_t cache_hash(uint64_t seed, const uint8_t *name, size_t len, uint16_t type, uint16_t rclass,
                    uint8_t flags);

/** The entry for @k, or NULL. Call inside rcu_read_lock; valid until rcu_read_unlock. */
struct cache_entry *cache_table_get(const struct cache_table *t, const struct cache_key *k);

/**
 * Publish @e (takes ownership). It replaces an entry with the same key, else
 * takes an empty slot, else evicts the entry of its set that dies first (its
 * TTL plus @keep_ns, the serve_stale window, run out soonest). Prefetch hit
 * counts carry over from a replaced entry with the same key. Call inside
 * rcu_read_lock, from a registered RCU thread. @return 1 if a live entry of
 * another key was evicted, else 0.
 */
int cache_table_put(struct cache_table *t, struct cache_entry *e, uint64_t keep_ns);

/** Remove the entry for @k, if any. Same context as cache_table_put(). */
void cache_table_del(struct cache_table *t, const struct cache_key *k);

/* ---- pool.c: entries recycled per worker ---- */

/* The largest entry: the header, a TTL offset per record (11 bytes at least each), key, reply. */
#define CACHE_ENTRY_MAX \
	(sizeof(struct cache_entry) + 2 * (CACHE_WIRE_MAX / 11) + 255 + CACHE_WIRE_MAX)
#define CACHE_POOL_CLASSES 5

/* One worker's entries of each size class that are free to be used again. */
struct cache_pool;

struct cache_pool *cache_pool_new(void);
/** Free @p and the entries in it; call it after rcu_barrier(), when none can come back. */
void cache_pool_free(struct cache_pool *p);
/** An entry of at least @size bytes, from @p or else malloc(). Only @p's worker calls it. */
struct cache_entry *cache_pool_get(struct cache_pool *p, size_t size);
/** Give @e back to the pool it came from (any thread), or free() it. */
void cache_pool_put(struct cache_entry *e);

/* ---- entry.c: replies to entries and back ---- */

/* A reply as the cache sees it. */
struct cache_reply {
	enum cache_kind kind;
	uint32_t ttl; /* the lowest TTL of its records (CoreDNS's MinimalTTL), before clamping */
};

/**
 * Classify the reply @wire (@len bytes, no OPT needed) with full rcode
 * @rcode to question type @qtype and opcode @opcode.
 * @return 0, or SX_EMALF.
 */
int cache_classify(const uint8_t *wire, size_t len, unsigned rcode, uint16_t qtype, unsigned opcode,
                   struct cache_reply *out);

/**
 * Whether the answer section of @wire (@len bytes) answers question @lname
 * (lower-case wire name) type @qtype: a record of that type (any, for ANY) at
 * the name, or at the end of a chain of CNAMEs from it; a CNAME itself answers
 * a CNAME question. Malformed replies answer nothing.
 */
bool cache_answers(const uint8_t *wire, size_t len, const uint8_t *lname, uint16_t qtype);

/** Set the TTL of every record of @wire but OPT to @ttl. @return 0 or SX_EMALF. */
int cache_set_ttls(uint8_t *wire, size_t len, uint32_t ttl);

/**
 * A new entry for @k holding @wire (@len bytes, at most CACHE_WIRE_MAX, no
 * OPT) that lives @ttl seconds from @now_ns, taken from @pool (NULL: from
 * malloc). NULL when out of memory or @wire is malformed or too big.
 */
struct cache_entry *
cache_entry_new(struct cache_pool *pool, const struct cache_key *k, const uint8_t *wire, size_t len,
                enum cache_kind kind, uint32_t ttl, uint64_t now_ns);
/** Give @e back to its pool, or free it. NULL is a no-op. */
void cache_entry_free(struct cache_entry *e);

/** Whether @e holds key @k. */
bool cache_entry_match(const struct cache_entry *e, const struct cache_key *k);

/** Seconds left to live at @now_ns: negative once expired. */
static inline int64_t
cache_entry_left(const struct cache_entry *e, uint64_t now_ns)
{
	uint64_t age = now_ns > e->stored_ns ? (now_ns - e->stored_ns) / 1000000000u : 0;
	return (int64_t)e->ttl - (int64_t)age;
}

/** Copy the reply of @e into @buf (CACHE_WIRE_MAX bytes) with every TTL @ttl. @return length. */
size_t cache_entry_render(const struct cache_entry *e, uint32_t ttl, uint8_t *buf);
/** Set every TTL of a copy of @e's reply in @buf (laid out as @e's) to @ttl. */
void cache_entry_put_ttls(const struct cache_entry *e, uint8_t *buf, uint32_t ttl);

/* ---- cache.c: the plugin instance ---- */

struct cache_wait;
/* Each worker's state starts a cache line of its own: no false sharing between workers. */
struct cache_worker {
	_Alignas(64) struct cache_pool *pool;
	struct cache_wait *waiting; /* serve_stale verify TIMEOUT: clients waiting on a refresh */
	uint8_t scratch[CACHE_WIRE_MAX];
};

struct cache {
	struct sx_zones zones;     /* names cached */
	struct sx_zones except[2]; /* `disable success|denial` zones */
	bool except_set[2];
	unsigned cap[2]; /* capacities: [CACHE_SUCCESS], [CACHE_DENIAL] */
	uint32_t max_ttl[2], min_ttl[2];
	bool min_set[2];
	uint64_t servfail_ms;
	bool servfail_set;
	unsigned prefetch; /* AMOUNT; 0: no prefetch */
	uint64_t prefetch_ms;
	unsigned prefetch_pct;
	uint64_t stale_ms; /* 0: no serve_stale */
	bool stale_verify;
	uint64_t stale_wait_ms; /* verify's VERIFY_TIMEOUT; 0: wait as long as the chain takes */
	bool prefer_positive;   /* serve_stale_policy prefer_positive */
	bool keepttl;

	uint64_t seed;
	struct cache_table *table[2];
	struct cache_worker *workers; /* from start() on */
	unsigned nworkers;
	struct sx_wcounters counters; /* CACHE_C_N per worker, from start() on */
	uint16_t port;                /* the block's first port, for the `server` label */
	struct sx_runtime *rt;
};
