/* test_cache_table.c -- the shared table (bounds, eviction, threads) and reply classification. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include <urcu.h>

#include "../cache.h"

#define SEC 1000000000ull

/* A reply to NAME/TYPE with the records in @an and @ns (presentation lines, NULL-ended). */
static size_t
reply(uint8_t *out, size_t cap, const char *name, ldns_rr_type type, ldns_pkt_rcode rcode,
      const char *const *an, const char *const *ns)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();
	uint8_t *wire;
	size_t len;

	ldns_rr_set_owner(q, ldns_dname_new_frm_str(name));
	ldns_rr_set_type(q, type);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	for (int i = 0; an && an[i]; i++) {
		ldns_rr *rr;

		cr_assert_eq(ldns_rr_new_frm_str(&rr, an[i], 0, NULL, NULL), LDNS_STATUS_OK, "%s",
		             an[i]);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	for (int i = 0; ns && ns[i]; i++) {
		ldns_rr *rr;

		cr_assert_eq(ldns_rr_new_frm_str(&rr, ns[i], 0, NULL, NULL), LDNS_STATUS_OK, "%s",
		             ns[i]);
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr);
	}
	cr_assert_eq(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	cr_assert_leq(len, cap);
	memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(p);
	return len;
}

static void
key_for(struct cache_key *k, uint8_t *lname, const char *name, uint16_t type, uint8_t flags)
{
	int len = sx_dname_from_str(lname, name);

	sx_dname_lower(lname, lname);
	k->name = lname;
	k->len = (uint8_t)(len > 0 ? len : 1);
	k->type = type;
	k->rclass = SX_CLASS_IN;
	k->flags = flags;
	k->hash = cache_hash(42, lname, k->len, type, SX_CLASS_IN, flags);
}

/*
 * A NOERROR reply to @name/A with one A record, its owner a pointer to the
 * question: built by hand, without criterion asserts, so threads may call it.
 */
static size_t
a_reply(uint8_t *out, const uint8_t *qname, size_t qlen, uint32_t ttl)
{
	static const uint8_t hdr[12] = { 0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0 };
	const uint8_t rr[] = { 0xc0,
		               12,
		               0,
		               1,
		               0,
		               1,
		               (uint8_t)(ttl >> 24),
		               (uint8_t)(ttl >> 16),
		               (uint8_t)(ttl >> 8),
		               (uint8_t)ttl,
		               0,
		               4,
		               10,
		               0,
		               0,
		               1 };
	size_t n = 0;

	memcpy(out, hdr, 12);
	n = 12;
	memcpy(out + n, qname, qlen);
	n += qlen;
	memcpy(out + n, "\0\1\0\1", 4);
	n += 4;
	memcpy(out + n, rr, sizeof(rr));
	return n + sizeof(rr);
}

/* Put an A reply for @name with TTL @ttl stored at @now into @t; -1 if it could not be built. */
static int
put_a(struct cache_table *t, const char *name, uint32_t ttl, uint64_t now)
{
	uint8_t wire[512], lname[SX_DNAME_MAX];
	struct cache_key k;
	struct cache_entry *e;

	key_for(&k, lname, name, SX_TYPE_A, 0);
	e = cache_entry_new(NULL, &k, wire, a_reply(wire, lname, k.len, ttl), CACHE_SUCCESS, ttl,
	                    now);
	return e ? cache_table_put(t, e, 0) : -1;
}

static struct cache_entry *
get(struct cache_table *t, const char *name, uint16_t type, uint8_t flags)
{
	uint8_t lname[SX_DNAME_MAX];
	struct cache_key k;

	key_for(&k, lname, name, type, flags);
	return cache_table_get(t, &k);
}

static void
setup(void)
{
	rcu_register_thread();
}

static void
teardown(void)
{
	rcu_barrier();
	rcu_unregister_thread();
}

TestSuite(cache_table, .init = setup, .fini = teardown);

Test(cache_table, get_matches_name_case_insensitively_and_type_class_do_cd)
{
	struct cache_table *t = cache_table_new(1024);
	struct cache_entry *e;

	rcu_read_lock();
	cr_expect_eq(put_a(t, "www.Example.org.", 60, 1 * SEC), 0);
	e = get(t, "WWW.example.ORG.", SX_TYPE_A, 0);
	cr_assert(e);
	cr_expect_eq(e->ttl, 60);
	cr_expect_eq(e->kind, CACHE_SUCCESS);
	cr_expect_null(get(t, "www.example.org.", SX_TYPE_AAAA, 0));
	cr_expect_null(get(t, "www.example.org.", SX_TYPE_A, CACHE_KEY_DO));
	cr_expect_null(get(t, "www.example.org.", SX_TYPE_A, CACHE_KEY_CD));
	cr_expect_null(get(t, "ww.example.org.", SX_TYPE_A, 0));
	/* The same key again replaces, it does not add. */
	cr_expect_eq(put_a(t, "www.example.org.", 30, 2 * SEC), 0);
	cr_expect_eq(cache_table_count(t), 1);
	cr_expect_eq(get(t, "www.example.org.", SX_TYPE_A, 0)->ttl, 30);
	rcu_read_unlock();
	cache_table_free(t);
}

Test(cache_table, render_sets_every_ttl_and_keeps_the_rest)
{
	uint8_t wire[512], out[CACHE_WIRE_MAX], lname[SX_DNAME_MAX];
	const char *an[] = { "a.example. 300 IN CNAME b.example.", "b.example. 60 IN A 10.0.0.9",
		             NULL };
	const char *ns[] = { "example. 3600 IN NS ns.example.", NULL };
	size_t len = reply(wire, sizeof(wire), "a.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, an,
	                   ns);
	struct cache_key k;
	struct cache_entry *e;
	ldns_pkt *p;

	key_for(&k, lname, "a.example.", SX_TYPE_A, 0);
	e = cache_entry_new(NULL, &k, wire, len, CACHE_SUCCESS, 60, 0);
	cr_assert(e);
	cr_expect_eq(e->nttl, 3);
	cr_assert_eq(cache_entry_render(e, 17, out), len);
	cr_assert_eq(ldns_wire2pkt(&p, out, len), LDNS_STATUS_OK);
	cr_expect_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 17);
	cr_expect_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 1)), 17);
	cr_expect_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 17);
	cr_expect_eq(memcmp(out + 12, wire + 12, len - 12) != 0, 1, "TTLs changed");
	ldns_pkt_free(p);
	/* The stored copy is untouched. */
	cr_expect_eq(memcmp(cache_entry_wire(e), wire, len), 0);
	cache_entry_free(e);
}

Test(cache_table, a_full_set_evicts_the_entry_that_dies_first)
{
	/* Capacity 7: one set, so every name competes for the same slots. */
	struct cache_table *t = cache_table_new(CACHE_WAYS);
	char name[64];

	cr_assert_eq(cache_table_slots(t), CACHE_WAYS);
	rcu_read_lock();
	for (int i = 0; i < CACHE_WAYS; i++) {
		snprintf(name, sizeof(name), "n%d.example.", i);
		/* n3 dies first: TTL 5 against 100 + i for the others. */
		cr_expect_eq(put_a(t, name, i == 3 ? 5 : 100 + (uint32_t)i, 0), 0);
	}
	cr_expect_eq(cache_table_count(t), CACHE_WAYS);
	cr_expect_eq(put_a(t, "new.example.", 50, 1 * SEC), 1, "a live entry was evicted");
	cr_expect_eq(cache_table_count(t), CACHE_WAYS);
	cr_expect_null(get(t, "n3.example.", SX_TYPE_A, 0));
	cr_expect_not_null(get(t, "new.example.", SX_TYPE_A, 0));
	for (int i = 0; i < CACHE_WAYS; i++) {
		snprintf(name, sizeof(name), "n%d.example.", i);
		if (i != 3) {
			cr_expect_not_null(get(t, name, SX_TYPE_A, 0), "%s", name);
		}
	}
	/* Next to go: new (dies at 51 s), before n0 (100 s). */
	cr_expect_eq(put_a(t, "newer.example.", 500, 2 * SEC), 1);
	cr_expect_null(get(t, "new.example.", SX_TYPE_A, 0));
	rcu_read_unlock();
	cache_table_free(t);
}

Test(cache_table, del_removes_only_its_key)
{
	struct cache_table *t = cache_table_new(1024);
	uint8_t lname[SX_DNAME_MAX];
	struct cache_key k;

	rcu_read_lock();
	put_a(t, "a.example.", 60, 0);
	put_a(t, "b.example.", 60, 0);
	key_for(&k, lname, "a.example.", SX_TYPE_A, 0);
	cache_table_del(t, &k);
	cr_expect_null(get(t, "a.example.", SX_TYPE_A, 0));
	cr_expect_not_null(get(t, "b.example.", SX_TYPE_A, 0));
	cr_expect_eq(cache_table_count(t), 1);
	rcu_read_unlock();
	cache_table_free(t);
}

/* The check: a million distinct names into the default capacity stay bounded. */
Test(cache_table, a_million_names_stay_within_capacity_and_memory, .timeout = 120)
{
	struct cache_table *t;
	struct mallinfo2 before, after;
	size_t slots, count, evicted = 0, peak = 0;
	char name[64];

	rcu_barrier();
	before = mallinfo2();
	t = cache_table_new(CACHE_DEFAULT_CAP);
	slots = cache_table_slots(t);
	cr_assert_leq(slots, CACHE_DEFAULT_CAP);
	for (int i = 0; i < 1000000; i++) {
		snprintf(name, sizeof(name), "host-%d.ns%d.svc.cluster.local.", i, i % 97);
		rcu_read_lock();
		evicted += (size_t)put_a(t, name, 30, (uint64_t)i * 1000);
		rcu_read_unlock();
		if (i % 100000 == 99999) {
			/* Entries replaced are freed a grace period later: wait for those. */
			rcu_barrier();
			after = mallinfo2();
			peak = after.uordblks > peak ? after.uordblks : peak;
		}
	}
	count = cache_table_count(t);
	cr_expect_leq(count, slots);
	cr_expect_geq(count, slots * 9 / 10, "the table fills up: %zu of %zu", count, slots);
	cr_expect_eq(evicted + count, 1000000, "every put either filled a slot or evicted");
	/* Each entry is one malloc of ~150 bytes here; allow 512 each plus the set array. */
	cr_expect_lt(peak - before.uordblks, slots * 512 + slots / CACHE_WAYS * 64 + 65536,
	             "%zu bytes in use for %zu slots", peak - before.uordblks, slots);
	cache_table_free(t);
	rcu_barrier();
	after = mallinfo2();
	cr_expect_lt(after.uordblks - before.uordblks, 65536, "everything freed");
}

/* Readers and writers on one small table at once: nothing torn, nothing freed under a reader. */
struct hammer {
	struct cache_table *t;
	int id;
	unsigned long found, bad;
};

static void *
hammer(void *arg)
{
	struct hammer *h = arg;
	char name[64];

	rcu_register_thread();
	for (int i = 0; i < 200000; i++) {
		int n = (i * 7 + h->id * 13) % 3000;

		snprintf(name, sizeof(name), "n%d.example.", n);
		rcu_read_lock();
		if (i % 3 == 0) {
			put_a(h->t, name, 30, (uint64_t)i);
		} else {
			struct cache_entry *e = get(h->t, name, SX_TYPE_A, 0);

			if (e) {
				/* The entry is whole: its name is the one asked. */
				uint8_t lname[SX_DNAME_MAX];

				sx_dname_from_str(lname, name);
				if (memcmp(cache_entry_name(e), lname, e->key_len) != 0 ||
				    e->ttl != 30 ||
				    memcmp(cache_entry_wire(e) + 12, lname, e->key_len) != 0) {
					h->bad++;
				}
				h->found++;
			}
		}
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	return NULL;
}

Test(cache_table, concurrent_readers_and_writers, .timeout = 120)
{
	struct cache_table *t = cache_table_new(1024);
	pthread_t th[4];
	struct hammer h[4];
	unsigned long found = 0;

	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ t, i, 0, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, hammer, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		found += h[i].found;
		cr_expect_eq(h[i].bad, 0, "thread %d saw a torn entry", i);
	}
	cr_expect_gt(found, 0);
	cr_expect_leq(cache_table_count(t), cache_table_slots(t));
	rcu_barrier();
	cache_table_free(t);
}

/* ---- what a reply is ---- */

static struct cache_reply
classify(ldns_pkt_rcode rcode, ldns_rr_type qtype, const char *const *an, const char *const *ns)
{
	uint8_t wire[1024];
	size_t len = reply(wire, sizeof(wire), "q.example.", qtype, rcode, an, ns);
	struct cache_reply r;

	cr_assert_eq(cache_classify(wire, len, rcode, (uint16_t)qtype, 0, &r), 0);
	return r;
}

#define SOA(ttl, min) "example. " #ttl " IN SOA ns.example. h.example. 1 7200 3600 1209600 " #min

Test(cache_table, classify_follows_corednss_response_types)
{
	const char *a[] = { "q.example. 300 IN A 10.0.0.1", "q.example. 20 IN A 10.0.0.2", NULL };
	const char *soa[] = { SOA(3600, 60), NULL };
	const char *soa_low[] = { SOA(30, 600), NULL };
	const char *ns[] = { "sub.example. 3600 IN NS ns.sub.example.", NULL };
	struct cache_reply r;

	r = classify(LDNS_RCODE_NOERROR, LDNS_RR_TYPE_A, a, NULL);
	cr_expect_eq(r.kind, CACHE_SUCCESS);
	cr_expect_eq(r.ttl, 20, "the lowest TTL");
	r = classify(LDNS_RCODE_NXDOMAIN, LDNS_RR_TYPE_A, NULL, soa);
	cr_expect_eq(r.kind, CACHE_DENIAL);
	cr_expect_eq(r.ttl, 60, "capped by the SOA MINIMUM (RFC 2308)");
	r = classify(LDNS_RCODE_NOERROR, LDNS_RR_TYPE_A, NULL, soa_low);
	cr_expect_eq(r.kind, CACHE_DENIAL, "NODATA");
	cr_expect_eq(r.ttl, 30, "the SOA's own TTL when lower");
	r = classify(LDNS_RCODE_SERVFAIL, LDNS_RR_TYPE_A, NULL, NULL);
	cr_expect_eq(r.kind, CACHE_SERVFAIL);
	r = classify(LDNS_RCODE_NOTIMPL, LDNS_RR_TYPE_A, NULL, NULL);
	cr_expect_eq(r.kind, CACHE_SERVFAIL);
	r = classify(LDNS_RCODE_REFUSED, LDNS_RR_TYPE_A, NULL, NULL);
	cr_expect_eq(r.kind, CACHE_OTHER);
	r = classify(LDNS_RCODE_NXDOMAIN, LDNS_RR_TYPE_A, NULL, NULL);
	cr_expect_eq(r.kind, CACHE_OTHER, "NXDOMAIN without a SOA is not cached");
	r = classify(LDNS_RCODE_NOERROR, LDNS_RR_TYPE_A, NULL, ns);
	cr_expect_eq(r.kind, CACHE_SUCCESS, "a delegation");
	cr_expect_eq(r.ttl, CACHE_MIN_TTL);
	r = classify(LDNS_RCODE_NOERROR, LDNS_RR_TYPE_A, NULL, NULL);
	cr_expect_eq(r.kind, CACHE_SUCCESS, "NOERROR without records");
	cr_expect_eq(r.ttl, CACHE_MIN_TTL);
	r = classify(LDNS_RCODE_NOERROR, LDNS_RR_TYPE_AXFR, a, NULL);
	cr_expect_eq(r.kind, CACHE_META);
}

/* prefer_positive's test of a success entry: does its answer section answer the question? */
static bool
answers(ldns_rr_type qtype, const char *const *an, const char *const *ns)
{
	uint8_t wire[1024], lname[SX_DNAME_MAX];
	size_t len = reply(wire, sizeof(wire), "Q.example.", qtype, LDNS_RCODE_NOERROR, an, ns);

	sx_dname_from_str(lname, "q.example.");
	return cache_answers(wire, len, lname, (uint16_t)qtype);
}

Test(cache_table, answers_follows_the_cname_chain_to_the_type_asked)
{
	const char *a[] = { "q.example. 30 IN A 10.0.0.1", NULL };
	const char *chain[] = { "q.example. 30 IN CNAME b.example.", "c.example. 30 IN A 10.0.0.3",
		                "B.example. 30 IN CNAME c.example.", NULL };
	const char *cut[] = { "q.example. 30 IN CNAME b.example.", "x.example. 30 IN A 10.0.0.9",
		              NULL };
	const char *loop[] = { "q.example. 30 IN CNAME b.example.",
		               "b.example. 30 IN CNAME q.example.", NULL };
	const char *other[] = { "other.example. 30 IN A 10.0.0.1", NULL };
	const char *soa[] = { SOA(30, 30), NULL };
	const char *ns[] = { "sub.example. 3600 IN NS ns.sub.example.", NULL };

	cr_expect(answers(LDNS_RR_TYPE_A, a, NULL), "the name, case aside");
	cr_expect(!answers(LDNS_RR_TYPE_AAAA, a, NULL), "another type");
	cr_expect(answers(LDNS_RR_TYPE_ANY, a, NULL));
	cr_expect(answers(LDNS_RR_TYPE_A, chain, NULL), "a chain in any order");
	cr_expect(answers(LDNS_RR_TYPE_CNAME, cut, NULL), "a CNAME answers a CNAME question");
	cr_expect(!answers(LDNS_RR_TYPE_A, cut, NULL), "a chain that ends nowhere");
	cr_expect(!answers(LDNS_RR_TYPE_A, loop, NULL), "a loop");
	cr_expect(!answers(LDNS_RR_TYPE_A, other, NULL), "another name");
	cr_expect(!answers(LDNS_RR_TYPE_A, NULL, soa), "NODATA");
	cr_expect(!answers(LDNS_RR_TYPE_A, NULL, ns), "a referral");
}

Test(cache_table, set_ttls_rewrites_every_record)
{
	uint8_t wire[1024];
	const char *a[] = { "q.example. 300 IN A 10.0.0.1", "q.example. 20 IN A 10.0.0.2", NULL };
	const char *soa[] = { SOA(3600, 60), NULL };
	size_t len = reply(wire, sizeof(wire), "q.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, a,
	                   soa);
	ldns_pkt *p;

	cr_assert_eq(cache_set_ttls(wire, len, 7), 0);
	cr_assert_eq(ldns_wire2pkt(&p, wire, len), LDNS_STATUS_OK);
	for (size_t i = 0; i < 2; i++) {
		cr_expect_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), i)), 7);
	}
	cr_expect_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 7);
	ldns_pkt_free(p);
}

Test(cache_table, entries_left_count_down_in_whole_seconds)
{
	uint8_t wire[512], lname[SX_DNAME_MAX];
	const char *a[] = { "q.example. 30 IN A 10.0.0.1", NULL };
	size_t len = reply(wire, sizeof(wire), "q.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, a,
	                   NULL);
	struct cache_key k;
	struct cache_entry *e;

	key_for(&k, lname, "q.example.", SX_TYPE_A, 0);
	e = cache_entry_new(NULL, &k, wire, len, CACHE_SUCCESS, 30, 100 * SEC);
	cr_assert(e);
	cr_expect_eq(cache_entry_left(e, 100 * SEC), 30);
	cr_expect_eq(cache_entry_left(e, 100 * SEC + SEC - 1), 30);
	cr_expect_eq(cache_entry_left(e, 101 * SEC), 29);
	cr_expect_eq(cache_entry_left(e, 130 * SEC), 0);
	cr_expect_eq(cache_entry_left(e, 140 * SEC), -10);
	cache_entry_free(e);
	/* Too big to cache. */
	cr_expect_null(cache_entry_new(NULL, &k, wire, CACHE_WIRE_MAX + 1, CACHE_SUCCESS, 30, 0));
}

Test(cache_table, cut_replies_are_refused)
{
	uint8_t wire[512], lname[SX_DNAME_MAX];
	const char *a[] = { "q.example. 30 IN A 10.0.0.1", "q.example. 30 IN A 10.0.0.2", NULL };
	size_t len = reply(wire, sizeof(wire), "q.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, a,
	                   NULL);
	struct cache_reply r;
	struct cache_key k;

	key_for(&k, lname, "q.example.", SX_TYPE_A, 0);
	for (size_t cut = 0; cut < len; cut++) {
		cr_expect_lt(cache_classify(wire, cut, 0, SX_TYPE_A, 0, &r), 0, "cut at %zu", cut);
		cr_expect_lt(cache_set_ttls(wire, cut, 1), 0, "cut at %zu", cut);
		cr_expect_null(cache_entry_new(NULL, &k, wire, cut, CACHE_SUCCESS, 30, 0),
		               "cut at %zu", cut);
	}
	cr_expect_eq(cache_classify(wire, len, 0, SX_TYPE_A, 0, &r), 0);
}

/* What a worker's insert gets back: the entry freed last of its size class, not a new one. */
Test(cache_table, freed_entries_are_used_again_by_their_size)
{
	uint8_t small[512], big[CACHE_WIRE_MAX], lname[SX_DNAME_MAX];
	const char *a[] = { "q.example. 30 IN A 10.0.0.1", NULL };
	size_t len = reply(small, sizeof(small), "q.example.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
	                   a, NULL);
	struct cache_pool *pool = cache_pool_new();
	struct cache_entry *e1, *e2, *e3, *e4;
	struct cache_key k;

	cr_assert(pool);
	key_for(&k, lname, "q.example.", SX_TYPE_A, 0);
	/* The same reply and a TXT record of eight 249-byte strings: another size class. */
	const uint8_t txt[] = { 0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 30, 2000 >> 8, 2000 & 0xff };
	size_t blen = len;

	memcpy(big, small, len);
	memcpy(big + blen, txt, sizeof(txt));
	blen += sizeof(txt);
	memset(big + blen, 'x', 2000);
	for (size_t i = 0; i < 2000; i += 250) {
		big[blen + i] = 249;
	}
	blen += 2000;
	big[7] = 2; /* two answers */

	e1 = cache_entry_new(pool, &k, small, len, CACHE_SUCCESS, 30, 0);
	e2 = cache_entry_new(pool, &k, big, blen, CACHE_SUCCESS, 30, 0);
	cr_assert(e1 && e2);
	cr_expect_neq(e1, e2);
	cache_entry_free(e1);
	cache_entry_free(e2);
	e3 = cache_entry_new(pool, &k, small, len, CACHE_SUCCESS, 30, 0);
	e4 = cache_entry_new(pool, &k, big, blen, CACHE_SUCCESS, 30, 0);
	cr_expect_eq(e3, e1, "the small entry came back");
	cr_expect_eq(e4, e2, "the big entry came back");
	cr_expect_eq(e3->wire_len, len);
	cr_expect_eq(memcmp(cache_entry_wire(e4), big, blen), 0);
	cache_entry_free(e3);
	cache_entry_free(e4);
	cache_pool_free(pool);
}
