/* cache.c -- the cache plugin: options, lookups on the way in, storing replies on the way out. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <urcu.h>
#include <urcu/uatomic.h>

#include <sextant/time.h>

#include "cache.h"

#define CAP_MAX 100000000 /* entries per table; beyond, the slot array alone passes a gigabyte */

/* ---- options ---- */

/* A whole decimal integer, sign allowed, as Go's strconv.Atoi takes it. */
static bool
parse_int(const char *s, long long *out)
{
	char *end;

	*out = 0; /* set on failure too, which gcc -O3 cannot otherwise see */
	if (!s || !*s) {
		return false;
	}
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' && !(*s == ' ' || *s == '\t');
}

static int
arg_int(struct sx_cf *cf, int i, const char *what, long long *out)
{
	if (!parse_int(sx_cf_arg(cf, i), out)) {
		return sx_cf_err(cf, "%s must be a number, not '%s'", what, sx_cf_arg(cf, i));
	}
	return 0;
}

static int
arg_ttl(struct sx_cf *cf, int i, uint32_t *out)
{
	long long v;
	int rc = arg_int(cf, i, "TTL", &v);

	if (rc < 0) {
		return rc;
	}
	if (v <= 0) {
		return sx_cf_err(cf, "cache TTL can not be zero or negative: %lld", v);
	}
	if (v > INT32_MAX) {
		return sx_cf_err(cf, "cache TTL can not be above %d: %lld", INT32_MAX, v);
	}
	*out = (uint32_t)v;
	return 0;
}

/* success|denial CAPACITY [TTL] [MINTTL] */
static int
set_table(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct cache *c = inst;
	int k = strcmp(d->name, "success") == 0 ? CACHE_SUCCESS : CACHE_DENIAL;
	int n = sx_cf_nargs(cf), rc;
	long long v;

	rc = arg_int(cf, 1, "capacity", &v);
	if (rc < 0) {
		return rc;
	}
	if (v > CAP_MAX) {
		return sx_cf_err(cf, "capacity can not be above %d: %lld", CAP_MAX, v);
	}
	c->cap[k] = v < CACHE_MIN_CAP ? CACHE_MIN_CAP : (unsigned)v;
	if (n > 2) {
		rc = arg_ttl(cf, 2, &c->max_ttl[k]);
		if (rc < 0) {
			return rc;
		}
	}
	if (n > 3) {
		rc = arg_int(cf, 3, "min TTL", &v);
		if (rc < 0) {
			return rc;
		}
		if (v < 0) {
			return sx_cf_err(cf, "cache min TTL can not be negative: %lld", v);
		}
		c->min_ttl[k] = v > INT32_MAX ? INT32_MAX : (uint32_t)v;
		c->min_set[k] = true;
	}
	return 0;
}

/* prefetch AMOUNT [[DURATION] [PERCENTAGE%]] */
static int
set_prefetch(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct cache *c = inst;
	int n = sx_cf_nargs(cf), rc;
	long long v;

	rc = arg_int(cf, 1, "prefetch amount", &v);
	if (rc < 0) {
		return rc;
	}
	if (v < 0) {
		return sx_cf_err(cf, "prefetch amount should be positive: %lld", v);
	}
	c->prefetch = v > UINT_MAX ? UINT_MAX : (unsigned)v;
	if (n > 2 && sx_parse_duration(sx_cf_arg(cf, 2), &c->prefetch_ms) < 0) {
		return sx_cf_err(cf, "prefetch: invalid duration '%s'", sx_cf_arg(cf, 2));
	}
	if (n > 3) {
		const char *pct = sx_cf_arg(cf, 3);
		size_t len = strlen(pct);
		char num[32];

		if (len == 0) {
			return sx_cf_err(cf, "percentage must be a number, not ''");
		}
		if (pct[len - 1] != '%') {
			return sx_cf_err(cf,
			                 "last character of percentage should be `%%`, "
			                 "but is: '%c'",
			                 pct[len - 1]);
		}
		if (len > sizeof(num)) {
			return sx_cf_err(cf, "percentage must be a number, not '%s'", pct);
		}
		memcpy(num, pct, len - 1);
		num[len - 1] = '\0';
		if (!parse_int(num, &v)) {
			return sx_cf_err(cf, "percentage must be a number, not '%s'", pct);
		}
		if (v < 10 || v > 90) {
			return sx_cf_err(cf, "percentage should fall in range [10, 90]: %lld", v);
		}
		c->prefetch_pct = (unsigned)v;
	}
	(void)d;
	return 0;
}

/* serve_stale [DURATION] [immediate|verify [VERIFY_TIMEOUT]] */
static int
set_stale(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct cache *c = inst;
	int n = sx_cf_nargs(cf);

	c->stale_ms = CACHE_STALE_MS;
	if (n > 1 && sx_parse_duration(sx_cf_arg(cf, 1), &c->stale_ms) < 0) {
		return sx_cf_err(cf, "serve_stale: invalid duration '%s'", sx_cf_arg(cf, 1));
	}
	if (n > 2) {
		const char *mode = sx_cf_arg(cf, 2);

		if (strcasecmp(mode, "verify") == 0) {
			c->stale_verify = true;
		} else if (strcasecmp(mode, "immediate") != 0) {
			char low[64];
			size_t i;

			for (i = 0; mode[i] && i + 1 < sizeof(low); i++) {
				char ch = mode[i];

				low[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
			}
			low[i] = '\0';
			return sx_cf_err(cf, "invalid value for serve_stale refresh mode: %s", low);
		}
	}
	if (n > 3) {
		if (!c->stale_verify) {
			return sx_cf_err(cf, "serve_stale: only the verify mode takes a timeout");
		}
		if (sx_parse_duration(sx_cf_arg(cf, 3), &c->stale_wait_ms) < 0) {
			return sx_cf_err(cf, "serve_stale: invalid verify timeout '%s'",
			                 sx_cf_arg(cf, 3));
		}
	}
	(void)d;
	return 0;
}

/*
 * serve_stale_policy prefer_positive: CoreDNS 1.14.7's only policy. The
 * default (no line) needs no name of its own there, so none is taken here.
 */
static int
set_policy(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct cache *c = inst;

	if (strcmp(sx_cf_arg(cf, 1), "prefer_positive") != 0) {
		return sx_cf_err(cf, "invalid value for serve_stale_policy: %s", sx_cf_arg(cf, 1));
	}
	c->prefer_positive = true;
	(void)d;
	return 0;
}

/* servfail DURATION */
static int
set_servfail(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct cache *c = inst;

	if (sx_parse_duration(sx_cf_arg(cf, 1), &c->servfail_ms) < 0) {
		return sx_cf_err(cf, "servfail: invalid duration '%s'", sx_cf_arg(cf, 1));
	}
	if (c->servfail_ms > CACHE_SERVFAIL_MAX_MS) {
		/* RFC 2308 section 7.1 */
		return sx_cf_err(cf, "caching SERVFAIL responses over 5 minutes is not permitted");
	}
	c->servfail_set = true;
	(void)d;
	return 0;
}

/* disable success|denial [ZONES...]: no zones means every name. As CoreDNS, the last line wins. */
static int
set_disable(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	static struct sx_zone root = { .wire = { 0 }, .len = 1 };
	static const struct sx_zones everything = { 1, &root };
	struct cache *c = inst;
	const char *kind = sx_cf_arg(cf, 1);
	int k;

	if (strcmp(kind, "success") == 0) {
		k = CACHE_SUCCESS;
	} else if (strcmp(kind, "denial") == 0) {
		k = CACHE_DENIAL;
	} else {
		return sx_cf_err(cf, "cache type for disable must be \"success\" or \"denial\"");
	}
	sx_zones_fini(&c->except[k]);
	c->except_set[k] = true;
	(void)d;
	return sx_cf_zones(cf, 2, &everything, NULL, &c->except[k]);
}

static const struct sx_directive cache_directives[] = {
	{ "success", 1, 3, set_table },
	{ "denial", 1, 3, set_table },
	{ "prefetch", 1, 3, set_prefetch },
	{ "serve_stale", 0, 3, set_stale },
	{ "serve_stale_policy", 1, 1, set_policy },
	{ "servfail", 1, 1, set_servfail },
	{ "disable", 1, -1, set_disable, .repeat = true },
	SX_DIR_FLAG("keepttl", struct cache, keepttl),
	{ NULL },
};

/*
 * cache [TTL] [ZONES...]. The block's lines were read first, so a TTL here
 * sets only the maximums a `success` or `denial` line left alone.
 */
static int
cache_setup(struct sx_cf *cf, void *inst)
{
	struct cache *c = inst;
	int first = 1;
	long long v;

	if (sx_cf_nargs(cf) > 1 && parse_int(sx_cf_arg(cf, 1), &v)) {
		uint32_t ttl;
		int rc = arg_ttl(cf, 1, &ttl);

		if (rc < 0) {
			return rc;
		}
		for (int k = 0; k < 2; k++) {
			c->max_ttl[k] = c->max_ttl[k] ? c->max_ttl[k] : ttl;
		}
		first = 2;
	}
	for (int k = 0; k < 2; k++) {
		c->cap[k] = c->cap[k] ? c->cap[k] : CACHE_DEFAULT_CAP;
		if (!c->min_set[k]) {
			c->min_ttl[k] = CACHE_MIN_TTL;
		}
	}
	c->max_ttl[CACHE_SUCCESS] = c->max_ttl[CACHE_SUCCESS] ? c->max_ttl[CACHE_SUCCESS]
	                                                      : CACHE_MAX_TTL;
	c->max_ttl[CACHE_DENIAL] = c->max_ttl[CACHE_DENIAL] ? c->max_ttl[CACHE_DENIAL]
	                                                    : CACHE_MAX_NTTL;
	if (c->prefer_positive && !c->stale_ms) {
		/* The policy only chooses among entries serve_stale keeps: alone it would do nothing. */
		return sx_cf_err(cf, "serve_stale_policy needs serve_stale");
	}
	if (!c->servfail_set) {
		c->servfail_ms = CACHE_SERVFAIL_MS;
	}
	if (c->prefetch_ms == 0) {
		c->prefetch_ms = CACHE_PREFETCH_MS;
	}
	if (c->prefetch_pct == 0) {
		c->prefetch_pct = CACHE_PREFETCH_PCT;
	}
	c->port = sx_cf_block_port(cf, 0);
	return sx_cf_zones(cf, first, sx_cf_block_zones(cf), NULL, &c->zones);
}

static int
cache_start(void *inst, struct sx_runtime *rt)
{
	struct cache *c = inst;

	c->rt = rt;
	if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed)) {
		c->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
	}
	c->nworkers = sx_rt_workers(rt);
	if (sx_wcounters_init(&c->counters, CACHE_C_N, c->nworkers) < 0) {
		return -ENOMEM;
	}
	c->workers = aligned_alloc(64, c->nworkers * sizeof(*c->workers));
	if (!c->workers) {
		return -ENOMEM;
	}
	memset(c->workers, 0, c->nworkers * sizeof(*c->workers));
	for (unsigned i = 0; i < c->nworkers; i++) {
		c->workers[i].pool = cache_pool_new();
		if (!c->workers[i].pool) {
			return -ENOMEM;
		}
	}
	for (int k = 0; k < 2; k++) {
		c->table[k] = cache_table_new(c->cap[k]);
		if (!c->table[k]) {
			return -ENOMEM;
		}
	}
	return 0;
}

static void
cache_teardown(void *inst)
{
	struct cache *c = inst;

	rcu_barrier(); /* entries replaced in the tables go back to the pools first */
	for (int k = 0; k < 2; k++) {
		cache_table_free(c->table[k]);
		sx_zones_fini(&c->except[k]);
	}
	sx_zones_fini(&c->zones);
	for (unsigned i = 0; c->workers && i < c->nworkers; i++) {
		cache_pool_free(c->workers[i].pool);
	}
	free(c->workers);
	sx_wcounters_fini(&c->counters);
}

/* ---- per query ---- */

static void
key_of(const struct cache *c, const struct sx_query *q, struct cache_key *k)
{
	k->name = q->lname;
	k->len = q->qname_len;
	k->type = q->qtype;
	k->rclass = q->qclass;
	k->flags = (uint8_t)((q->do_bit ? CACHE_KEY_DO : 0) |
	                     (q->flags & SX_FLAG_CD ? CACHE_KEY_CD : 0));
	k->hash = cache_hash(c->seed, k->name, k->len, k->type, k->rclass, k->flags);
}

static bool
disabled(const struct cache *c, int k, const uint8_t *lname)
{
	return c->except_set[k] && sx_zones_match(&c->except[k], lname) >= 0;
}

/* The table an entry of @kind goes to: SERVFAIL replies share the denial table, as in CoreDNS. */
static inline int
table_of(enum cache_kind kind)
{
	return kind == CACHE_SUCCESS ? CACHE_SUCCESS : CACHE_DENIAL;
}

/* Whether @e may still answer at @now: fresh, or stale within the serve_stale window. */
static bool
servable(const struct cache *c, const struct cache_entry *e, uint64_t now)
{
	int64_t left = cache_entry_left(e, now);

	return left > 0 || (c->stale_ms && (uint64_t)-left * 1000 < c->stale_ms);
}

/*
 * Header flags @f of a stored reply as client @q sees them: its own RD and CD; AD only for
 * clients that asked for DNSSEC or AD (RFC 6840 5.7-5.8).
 */
static uint16_t
client_flags(uint16_t f, const struct sx_query *q)
{
	const uint16_t mine = SX_FLAG_RD | SX_FLAG_CD;

	f = (uint16_t)((f & ~mine) | (q->flags & mine));
	if (!q->do_bit && !(q->flags & SX_FLAG_AD)) {
		f &= (uint16_t)~SX_FLAG_AD;
	}
	return f;
}

/* Write client_flags() of @f as @msg's flags: one clear and one set, not one per flag. */
static void
set_client_flags(struct sx_msg *msg, const struct sx_query *q, uint16_t f)
{
	sx_msg_clear_flags(msg, 0xFFFF);
	sx_msg_set_flags(msg, client_flags(f, q));
}

/* The entry's TTL for a reply of @r: CoreDNS's clamp (min first, then max). */
static uint32_t
ttl_for(const struct cache *c, const struct cache_reply *r)
{
	int k = r->kind == CACHE_DENIAL ? CACHE_DENIAL : CACHE_SUCCESS;
	uint32_t ttl = r->ttl;

	if (r->kind == CACHE_SERVFAIL) {
		return (uint32_t)(c->servfail_ms / 1000);
	}
	ttl = ttl < c->min_ttl[k] ? c->min_ttl[k] : ttl;
	return ttl > c->max_ttl[k] ? c->max_ttl[k] : ttl;
}

/*
 * serve_stale_policy prefer_positive: the success entry for @k that answers
 * its question and may still be served (fresh or stale), if there is one.
 */
static const struct cache_entry *
last_known_good(const struct cache *c, const struct cache_key *k, uint64_t now)
{
	const struct cache_entry *e = cache_table_get(c->table[CACHE_SUCCESS], k);

	return e && e->answers && servable(c, e, now) ? e : NULL;
}

static void
store(struct cache *c, struct sx_req *req, const struct sx_msg *msg, const struct cache_reply *r,
      uint32_t ttl)
{
	const struct sx_query *q = sx_req_query(req);
	int t = table_of(r->kind);
	unsigned w = sx_req_worker(req);
	struct cache_entry *e;
	const struct cache_entry *lkg = NULL;
	struct cache_key k;
	uint64_t now = sx_now_ns();
	bool answers = false;

	if (r->kind == CACHE_OTHER || ttl == 0 || msg->truncated ||
	    (sx_msg_flags(msg) & SX_FLAG_TC) || msg->len > CACHE_WIRE_MAX ||
	    disabled(c, t, q->lname)) {
		return;
	}
	key_of(c, q, &k);
	if (r->kind == CACHE_SERVFAIL && c->stale_ms) {
		/* A failure must not push out an answer serve_stale can still give. */
		for (int i = 0; i < 2; i++) {
			const struct cache_entry *old = cache_table_get(c->table[i], &k);

			if (old && old->kind != CACHE_SERVFAIL && servable(c, old, now)) {
				return;
			}
		}
	}
	if (c->prefer_positive) {
		answers = r->kind == CACHE_SUCCESS &&
		          cache_answers(msg->wire, msg->len, q->lname, q->qtype);
		lkg = last_known_good(c, &k, now);
		if (lkg && !answers && t == CACHE_SUCCESS) {
			return; /* a NOERROR that answers nothing would overwrite it */
		}
	}
	e = cache_entry_new(c->workers[w].pool, &k, msg->wire, msg->len, r->kind, ttl, now);
	if (!e) {
		return;
	}
	e->answers = answers;
	sx_wcounters_add(&c->counters, w, CACHE_C_EVICTIONS + (size_t)t,
	                 (uint64_t)cache_table_put(c->table[t], e, c->stale_ms * 1000000u));
	if (!lkg || t == CACHE_SUCCESS) {
		/* With prefer_positive, a denial lives beside the answer it may not hide. */
		cache_table_del(c->table[!t], &k);
	}
}

/* serve_stale verify: the stale reply, kept in the request's arena while the chain runs. */
struct stale {
	struct cache *c;
	uint8_t *wire;
	size_t len;
	bool positive; /* prefer_positive, and the entry answers: only an answer replaces it */
};

/*
 * Whether the reply @msg to @req's question refreshes a stale entry, so the
 * client gets it rather than the entry: NOERROR or NXDOMAIN (RFC 8767 section
 * 4); with prefer_positive and an entry that answers, only another answer.
 */
static bool
refreshes(const struct stale *s, struct sx_req *req, const struct sx_msg *msg)
{
	const struct sx_query *q = sx_req_query(req);
	unsigned rcode = sx_msg_rcode(msg);

	if (s->positive) {
		return rcode == SX_RCODE_NOERROR &&
		       cache_answers(msg->wire, msg->len, q->lname, q->qtype);
	}
	return rcode == SX_RCODE_NOERROR || rcode == SX_RCODE_NXDOMAIN;
}

/*
 * serve_stale verify with a timeout: the client waits, suspended, for a
 * refresh of its question (started in the background, so a late reply still
 * refreshes the entry) or for its timer, whichever comes first. Waiters are
 * per worker, as is the refresh they wait on.
 */
struct cache_wait {
	struct stale s;
	struct sx_req *req;
	struct cache_key k; /* its name is the request's */
	struct sx_timer *timer;
	bool answered; /* the refresh's reply is in the request's message */
	struct cache_wait *next;
};

static bool
same_key(const struct cache_key *a, const struct cache_key *b)
{
	return a->hash == b->hash && a->len == b->len && a->type == b->type &&
	       a->rclass == b->rclass && a->flags == b->flags && !memcmp(a->name, b->name, a->len);
}

/* The timer: either the refresh answered (fired at once by wake()) or time is up. */
static void
wait_over(void *arg)
{
	struct cache_wait *w = arg, **pp;
	struct cache *c = w->s.c;
	struct cache_worker *wk = &c->workers[sx_req_worker(w->req)];
	struct sx_msg *msg = sx_req_msg(w->req);

	for (pp = &wk->waiting; *pp != w; pp = &(*pp)->next) {
	}
	*pp = w->next;
	sx_timer_free(w->timer);
	if (!w->answered) {
		if (sx_msg_set_wire(msg, w->s.wire, w->s.len) == 0) {
			sx_wcounters_add(&c->counters, sx_req_worker(w->req), CACHE_C_STALE, 1);
		} else {
			sx_req_error(w->req, SX_RCODE_SERVFAIL, "cache: stale entry unreadable");
		}
	}
	set_client_flags(msg, sx_req_query(w->req), sx_msg_flags(msg));
	sx_req_resume(w->req, SX_DONE);
}

/*
 * A refresh's reply @msg: every client of this worker waiting on the same
 * question gets it, or its stale entry when the reply does not refresh it
 * (refreshes()), through its timer, fired now: a request is
 * resumed from its own event, not from inside another one's reply.
 */
static void
wake(struct cache *c, struct sx_req *req, const struct sx_msg *msg)
{
	struct cache_wait *w;
	struct cache_key k;

	key_of(c, sx_req_query(req), &k);
	for (w = c->workers[sx_req_worker(req)].waiting; w; w = w->next) {
		if (w->answered || !sx_timer_pending(w->timer) || !same_key(&w->k, &k)) {
			continue;
		}
		if (refreshes(&w->s, req, msg) &&
		    sx_msg_set_wire(sx_req_msg(w->req), msg->wire, msg->len) == 0) {
			w->answered = true;
		}
		sx_timer_once(w->timer, 0);
	}
}

/* Start the refresh and the clock; @return 0 (the handler suspends), or an error. */
static int
wait_refresh(struct cache *c, struct sx_req *req, const struct stale *s)
{
	struct cache_worker *wk = &c->workers[sx_req_worker(req)];
	struct cache_wait *w = sx_req_alloc(req, sizeof(*w));

	if (!w) {
		return -ENOMEM;
	}
	*w = (struct cache_wait){ .s = *s, .req = req };
	key_of(c, sx_req_query(req), &w->k);
	w->timer = sx_timer_new(wait_over, w);
	if (!w->timer || sx_timer_once(w->timer, c->stale_wait_ms) < 0 || sx_req_refresh(req) < 0) {
		sx_timer_free(w->timer);
		return -ENOMEM;
	}
	w->next = wk->waiting;
	wk->waiting = w;
	return 0;
}

/*
 * A refresh is over: whatever it brought, the entry it was for (if it is still
 * there, i.e. the refresh failed) may be refreshed again by the next hit.
 */
static void
refreshed(struct cache *c, const struct sx_query *q)
{
	struct cache_key k;

	key_of(c, q, &k);
	for (int t = 0; t < 2; t++) {
		struct cache_entry *e = cache_table_get(c->table[t], &k);

		if (e) {
			uatomic_set(&e->refresh_ns, 0);
		}
	}
}

/*
 * On the way out, for every reply under the cache's zones (as CoreDNS's
 * ResponseWriter): all TTLs become the entry's, even when it is not stored,
 * and the reply is stored when it may be.
 */
static void
store_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	struct cache *c = arg;
	const struct sx_query *q = sx_req_query(req);
	struct cache_reply r;
	uint32_t ttl;

	if (cache_classify(msg->wire, msg->len, sx_msg_rcode(msg), q->qtype, q->opcode, &r) < 0 ||
	    r.kind == CACHE_META) {
		return;
	}
	ttl = ttl_for(c, &r);
	cache_set_ttls(msg->wire, msg->len, ttl);
	store(c, req, msg, &r, ttl);
	if (sx_req_is_refresh(req)) {
		refreshed(c, q);
		wake(c, req, msg);
	}
	if (!q->do_bit && !(q->flags & SX_FLAG_AD)) {
		sx_msg_clear_flags(msg, SX_FLAG_AD);
	}
}

static void
verify_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	struct stale *s = arg;

	store_reply(req, msg, s->c);
	if (refreshes(s, req, msg)) {
		return;
	}
	if (sx_msg_set_wire(msg, s->wire, s->len) == 0) {
		set_client_flags(msg, sx_req_query(req), sx_msg_flags(msg));
		sx_wcounters_add(&s->c->counters, sx_req_worker(req), CACHE_C_STALE, 1);
	}
}

/*
 * Reply with @e, every TTL set to @ttl. The entry answers the same question
 * (its key is the lower-cased name, so the name has the same length): its
 * records, compression pointers included, fit after the client's question byte
 * for byte, and the owner names that point at the question take the client's
 * case. That costs a copy, where sx_msg_set_wire() checks, expands and
 * compresses every name again (some 2,800 instructions for three A records);
 * it is left for replies that must be truncated to the client's buffer.
 */
static bool
serve(struct cache *c, struct sx_req *req, const struct cache_entry *e, uint32_t ttl)
{
	struct sx_msg *msg = sx_req_msg(req);
	const uint8_t *wire = cache_entry_wire(e);
	size_t len = e->wire_len;

	if (len <= msg->limit && len <= msg->cap && msg->qend == 12u + e->key_len + 4u) {
		sx_msg_reset(msg);
		memcpy(msg->wire + msg->qend, wire + msg->qend, len - msg->qend);
		memcpy(msg->wire + 6, wire + 6, 6); /* section counts */
		cache_entry_put_ttls(e, msg->wire, ttl);
		msg->len = len;
		msg->section = wire[10] | wire[11] ? SX_SEC_ADDITIONAL
		               : wire[8] | wire[9] ? SX_SEC_AUTHORITY
		                                   : SX_SEC_ANSWER;
		set_client_flags(msg, sx_req_query(req), (uint16_t)(wire[2] << 8 | wire[3]));
		sx_msg_set_rcode(msg, wire[3] & 0xFu); /* cached rcodes all fit the header */
	} else {
		uint8_t *buf = c->workers[sx_req_worker(req)].scratch;

		if (sx_msg_set_wire(msg, buf, cache_entry_render(e, ttl, buf)) < 0) {
			return false;
		}
		set_client_flags(msg, sx_req_query(req), sx_msg_flags(msg));
	}
	return true;
}

/* At most one refresh of an entry in flight (or per retry interval, when refreshes fail). */
static bool
claim_refresh(struct cache_entry *e, uint64_t now)
{
	uint64_t after = uatomic_read(&e->refresh_ns);

	return now >= after &&
	       uatomic_cmpxchg(&e->refresh_ns, after, now + CACHE_REFRESH_RETRY_NS) == after;
}

/*
 * CoreDNS's prefetch rule: AMOUNT hits with no gap of DURATION between them,
 * and at most PERCENTAGE of the TTL left (rounded up: the last second at least).
 */
static bool
wants_prefetch(const struct cache *c, struct cache_entry *e, int64_t left, uint64_t now)
{
	uint64_t last = uatomic_read(&e->last_hit_ns);
	uint32_t hits = uatomic_read(&e->hits);
	uint64_t threshold;

	hits = last == 0 || now - last > c->prefetch_ms * 1000000u ? 1 : hits + 1;
	uatomic_set(&e->hits, hits);
	uatomic_set(&e->last_hit_ns, now);
	threshold = ((uint64_t)c->prefetch_pct * e->ttl + 99) / 100;
	return hits >= c->prefetch && (uint64_t)left <= threshold;
}

static enum sx_verdict
cache_handle(struct sx_req *req, void *inst)
{
	struct cache *c = inst;
	const struct sx_query *q = sx_req_query(req);
	unsigned w;
	struct cache_entry *e = NULL;
	struct cache_key k;
	uint64_t now;
	int64_t left;
	bool off[2];

	if (sx_zones_match(&c->zones, q->lname) < 0) {
		return SX_NEXT;
	}
	if (sx_req_is_refresh(req)) {
		if (sx_req_on_reply(req, store_reply, c) < 0) {
			return sx_req_error(req, SX_RCODE_SERVFAIL,
			                    "plugin/cache: too many reply hooks");
		}
		return SX_NEXT;
	}
	w = sx_req_worker(req);
	off[CACHE_SUCCESS] = disabled(c, CACHE_SUCCESS, q->lname);
	off[CACHE_DENIAL] = disabled(c, CACHE_DENIAL, q->lname);
	if (!off[CACHE_SUCCESS] || !off[CACHE_DENIAL]) {
		key_of(c, q, &k);
		for (int t = 0; t < 2 && !e; t++) {
			e = off[t] ? NULL : cache_table_get(c->table[t], &k);
		}
	}
	now = sx_req_start_ns(req);
	if (c->prefer_positive && e && e->kind == CACHE_SUCCESS && !off[CACHE_DENIAL] &&
	    !last_known_good(c, &k, now)) {
		/*
		 * The success table is read first, so an answer still servable goes
		 * before the denial or failure stored beside it; past its window, the
		 * denial is the answer.
		 */
		struct cache_entry *d = cache_table_get(c->table[CACHE_DENIAL], &k);

		e = d ? d : e;
	}
	if (e && servable(c, e, now)) {
		sx_wcounters_add(&c->counters, w, CACHE_C_HITS + (size_t)table_of(e->kind), 1);
		left = cache_entry_left(e, now);
		if (left > 0) {
			if (c->prefetch && wants_prefetch(c, e, left, now) &&
			    claim_refresh(e, now) && sx_req_refresh(req) == 0) {
				sx_wcounters_add(&c->counters, w, CACHE_C_PREFETCHES, 1);
			}
			if (serve(c, req, e, c->keepttl ? e->ttl : (uint32_t)left)) {
				return SX_DONE;
			}
		} else if (c->stale_verify) {
			struct stale *s = sx_req_alloc(req, sizeof(*s) + e->wire_len);

			if (s) {
				s->c = c;
				s->wire = (uint8_t *)(s + 1);
				s->len = cache_entry_render(e, c->keepttl ? e->ttl : 0, s->wire);
				s->positive = c->prefer_positive && e->answers;
				if (c->stale_wait_ms && wait_refresh(c, req, s) == 0) {
					return SX_SUSPEND;
				}
				if (sx_req_on_reply(req, verify_reply, s) == 0) {
					return SX_NEXT;
				}
			}
		} else {
			/* As CoreDNS: the stale answer goes out at once, refreshed behind it. */
			if (claim_refresh(e, now) && sx_req_refresh(req) == 0) {
				sx_wcounters_add(&c->counters, w, CACHE_C_PREFETCHES, 1);
			}
			if (serve(c, req, e, c->keepttl ? e->ttl : 0)) {
				sx_wcounters_add(&c->counters, w, CACHE_C_STALE, 1);
				return SX_DONE;
			}
		}
	}
	sx_wcounters_add(&c->counters, w, CACHE_C_MISSES, 1);
	if (sx_req_on_reply(req, store_reply, c) < 0) {
		return sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/cache: too many reply hooks");
	}
	return SX_NEXT;
}

/* CoreDNS's cache metrics, labelled by server, the cache's zones and the entry type. */
static void
cache_collect(void *inst, struct sx_metrics *m)
{
	static const char *const kind[2] = { "success", "denial" };
	struct cache *c = inst;
	uint64_t sum[CACHE_C_N];
	char zones[1024] = "", base[1200], l[1300];
	size_t i, n = 0;

	for (i = 0; i < c->zones.n && n < sizeof(zones); i++) {
		n += (size_t)snprintf(zones + n, sizeof(zones) - n, "%s%s", i ? "," : "",
		                      c->zones.z[i].name);
	}
	for (i = 0; i < CACHE_C_N; i++) {
		sum[i] = sx_wcounters_sum(&c->counters, i);
	}
	snprintf(base, sizeof(base), "server=\"dns://:%u\",zones=\"%s\",view=\"\"",
	         sx_rt_port(c->rt, c->port), zones);
	for (int k = 0; k < 2; k++) {
		snprintf(l, sizeof(l), "%s,type=\"%s\"", base, kind[k]);
		sx_metrics_add(m, "coredns_cache_entries", SX_METRIC_GAUGE,
		               "The number of elements in the cache.", l,
		               (double)cache_table_count(c->table[k]));
		sx_metrics_add(m, "coredns_cache_hits_total", SX_METRIC_COUNTER,
		               "The count of cache hits.", l, (double)sum[CACHE_C_HITS + k]);
		sx_metrics_add(m, "coredns_cache_evictions_total", SX_METRIC_COUNTER,
		               "The count of cache evictions.", l,
		               (double)sum[CACHE_C_EVICTIONS + k]);
	}
	sx_metrics_add(
	        m, "coredns_cache_misses_total", SX_METRIC_COUNTER,
	        "The count of cache misses. Deprecated, derive misses from cache hits/requests "
	        "counters.",
	        base, (double)sum[CACHE_C_MISSES]);
	sx_metrics_add(m, "coredns_cache_requests_total", SX_METRIC_COUNTER,
	               "The count of cache requests.", base,
	               (double)(sum[CACHE_C_HITS + CACHE_SUCCESS] +
	                        sum[CACHE_C_HITS + CACHE_DENIAL] + sum[CACHE_C_MISSES]));
	sx_metrics_add(m, "coredns_cache_prefetch_total", SX_METRIC_COUNTER,
	               "The number of times the cache has prefetched a cached item.", base,
	               (double)sum[CACHE_C_PREFETCHES]);
	sx_metrics_add(m, "coredns_cache_served_stale_total", SX_METRIC_COUNTER,
	               "The number of requests served from stale cache entries.", base,
	               (double)sum[CACHE_C_STALE]);
}

const struct sx_plugin sx_plugin_cache = {
	.name = "cache",
	.inst_size = sizeof(struct cache),
	.directives = cache_directives,
	.setup = cache_setup,
	.start = cache_start,
	.handle = cache_handle,
	.collect = cache_collect,
	.teardown = cache_teardown,
};
