/* zone.c -- the lock-free read side: hash tables, service views, deferred frees. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>
#include <urcu/rculfhash.h>

#include "zone.h"

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * FNV_PRIME;
	}
	return h;
}

/* The split-ordered table uses the hash bit-reversed: spread every bit. */
static uint64_t
mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/*
 * Names eight bytes at a time (two lookups of every query hash a pair); the tail
 * byte by byte. Lengths go in too, so that ("ab", "c") and ("a", "bc") differ.
 */
static uint64_t
words(uint64_t h, const char *p, size_t n)
{
	uint64_t w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * FNV_PRIME;
		h ^= h >> 32;
	}
	for (w = n; n > 0; n--) {
		w = w << 8 | (uint8_t)p[n - 1];
	}
	return (h ^ w) * FNV_PRIME;
}

uint64_t
k8s_hash_pair(const char *ns, size_t ns_len, const char *name, size_t len)
{
	return mix(words(words(FNV_BASIS, ns, ns_len), name, len));
}

uint64_t
k8s_hash_ip(uint8_t fam, const uint8_t *a)
{
	return mix(fnv(FNV_BASIS ^ fam, a, fam == 4 ? 4 : 16));
}

int
k8s_match_view(struct cds_lfht_node *node, const void *key)
{
	const struct k8s_view *v = caa_container_of(node, struct k8s_view, node);
	const struct k8s_pair *k = key;

	return v->name_len == k->len && v->ns->len == k->ns_len &&
	       memcmp(k8s_view_name(v), k->name, k->len) == 0 &&
	       memcmp(v->ns->name, k->ns, k->ns_len) == 0;
}

static bool
ip_eq(const struct k8s_ip *ip, uint8_t fam, const uint8_t *a)
{
	return ip->fam == fam && memcmp(ip->a, a, fam == 4 ? 4 : 16) == 0;
}

/* Key of svc_rev[i]: an address, and i. */
struct vrev_key {
	const struct k8s_ip *ip;
	unsigned i;
};

static int
match_vrev(struct cds_lfht_node *node, const void *key)
{
	const struct vrev_key *k = key;
	uint8_t fam;
	const uint8_t *a = k8s_svc_ip(k8s_view_svc(k8s_vrev_view(node, k->i)), k->i, &fam);

	return ip_eq(k->ip, fam, a);
}

static int
match_ep(struct cds_lfht_node *node, const void *key)
{
	const struct k8s_ep *ep = caa_container_of(node, struct k8s_ep, rnode);

	return ip_eq(key, k8s_ep_slice(ep)->fam, k8s_ep_addr(ep));
}

int
k8s_match_ns(struct cds_lfht_node *node, const void *key)
{
	const struct k8s_ns *ns = caa_container_of(node, struct k8s_ns, node);
	const struct k8s_pair *k = key;

	return ns->len == k->len && memcmp(ns->name, k->name, k->len) == 0;
}

static int
match_pod_ip(struct cds_lfht_node *node, const void *key)
{
	const struct k8s_pod *p = caa_container_of(node, struct k8s_pod, inode);

	return ip_eq(key, p->ip.fam, p->ip.a);
}

size_t
k8s_ep_name(char out[64], const struct k8s_ep *ep, bool pod_names)
{
	const struct k8s_slice *sl = k8s_ep_slice(ep);
	struct k8s_ip ip;

	if (ep->host_len > 0) {
		memcpy(out, k8s_slice_str(sl, ep->str_off), ep->host_len);
		return ep->host_len;
	}
	if (pod_names && ep->pod_len > 0) {
		memcpy(out, k8s_slice_str(sl, ep->str_off + ep->host_len), ep->pod_len);
		return ep->pod_len;
	}
	ip.fam = sl->fam;
	memcpy(ip.a, k8s_ep_addr(ep), sl->fam == 4 ? 4 : 16);
	return k8s_ip_dashed(out, &ip);
}

/* One endpoint while looking for duplicates. */
struct dkey {
	uint32_t idx;
	uint8_t fam, len;
	uint8_t a[16];
	char name[64];
};

static int
addr_key(const struct dkey *a, const struct dkey *b)
{
	int c = a->fam - b->fam;

	return c ? c : memcmp(a->a, b->a, sizeof(a->a));
}

static int
name_key(const struct dkey *a, const struct dkey *b)
{
	int c = a->len - b->len;

	return c ? c : memcmp(a->name, b->name, a->len);
}

static int
by_idx(const struct dkey *a, const struct dkey *b)
{
	return (a->idx > b->idx) - (a->idx < b->idx);
}

static int
cmp_addr(const void *x, const void *y)
{
	int c = addr_key(x, y);

	return c ? c : by_idx(x, y);
}

static int
cmp_name(const void *x, const void *y)
{
	int c = name_key(x, y);

	return c ? c : by_idx(x, y);
}

/* In runs of equal keys (sorted), mark every entry but the first (lowest index). */
static bool
mark(uint8_t *bits, const struct dkey *k, size_t n,
     int (*key)(const struct dkey *, const struct dkey *), unsigned flag)
{
	bool any = false;

	for (size_t i = 1; i < n; i++) {
		if (key(&k[i - 1], &k[i]) == 0) {
			bits[k[i].idx / 4] |= (uint8_t)(flag << (2 * (k[i].idx % 4)));
			any = true;
		}
	}
	return any;
}

/*
 * Endpoints of different slices (or of one) may repeat an address or a name;
 * answers must not repeat records, so mark the repeats once here rather than
 * search for them on every query. @return 0 with *@bits NULL when none repeat.
 */
static int
find_dups(uint8_t **bits, struct k8s_slice *const *slices, size_t nslices, uint32_t n,
          bool pod_names)
{
	struct dkey *k;
	uint32_t j = 0;
	bool any;

	*bits = NULL;
	if (n < 2) {
		return 0;
	}
	k = malloc(n * sizeof(*k));
	*bits = calloc((n + 3) / 4, 1);
	if (k == NULL || *bits == NULL) {
		free(k);
		free(*bits);
		*bits = NULL;
		return -ENOMEM;
	}
	for (size_t s = 0; s < nslices; s++) {
		for (unsigned e = 0; e < slices[s]->neps; e++, j++) {
			const struct k8s_ep *ep = &slices[s]->eps[e];
			k[j].idx = j;
			k[j].fam = slices[s]->fam;
			memset(k[j].a, 0, sizeof(k[j].a));
			memcpy(k[j].a, k8s_slice_addr(slices[s], e), slices[s]->fam == 4 ? 4 : 16);
			k[j].len = (uint8_t)k8s_ep_name(k[j].name, ep, pod_names);
		}
	}
	qsort(k, n, sizeof(*k), cmp_addr);
	any = mark(*bits, k, n, addr_key, K8S_DUP_ADDR);
	qsort(k, n, sizeof(*k), cmp_name);
	any |= mark(*bits, k, n, name_key, K8S_DUP_NAME);
	free(k);
	if (!any) {
		free(*bits);
		*bits = NULL;
	}
	return 0;
}

static size_t
align(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

struct k8s_view *
k8s_view_new(struct k8s_ns *ns, const char *name, size_t len, const struct k8s_svc *svc,
             struct k8s_slice *const *slices, size_t nslices, bool pod_names)
{
	size_t nrev = svc ? svc->nips : 0, off, svc_off = 0, slices_off, dup_off = 0;
	uint32_t nready = 0;
	struct k8s_view *v;
	uint8_t *dup;

	for (size_t i = 0; i < nslices; i++) {
		nready += slices[i]->neps;
	}
	if (find_dups(&dup, slices, nslices, nready, pod_names) < 0) {
		return NULL;
	}
	off = sizeof(*v) + nrev * sizeof(v->rev[0]) + len;
	if (svc != NULL) {
		svc_off = off = align(off, 4);
		off += svc->size;
	}
	slices_off = off = align(off, sizeof(void *));
	off += nslices * sizeof(void *);
	if (dup != NULL) {
		dup_off = off;
		off += (nready + 3) / 4;
	}
	v = calloc(1, off);
	if (v == NULL) {
		free(dup);
		return NULL;
	}
	v->ns = ns;
	v->svc_off = (uint16_t)svc_off;
	v->slices_off = (uint16_t)slices_off;
	v->dup_off = (uint32_t)dup_off;
	v->nslices = (uint16_t)nslices;
	v->name_len = (uint8_t)len;
	v->nrev = (uint8_t)nrev;
	memcpy((char *)k8s_view_name(v), name, len);
	if (svc != NULL) {
		memcpy((char *)v + svc_off, svc, svc->size);
	}
	memcpy((char *)v + slices_off, slices, nslices * sizeof(void *));
	if (dup != NULL) {
		memcpy((char *)v + dup_off, dup, (nready + 3) / 4);
		free(dup);
	}
	return v;
}

void
k8s_view_publish(struct k8s_store *st, struct k8s_view *old, struct k8s_view *nv)
{
	if (nv != NULL) {
		struct k8s_pair key = { nv->ns->name, nv->ns->len, k8s_view_name(nv),
			                nv->name_len };
		struct cds_lfht_node *was;

		/* The new ClusterIP entries go in first: a PTR query never misses. */
		for (unsigned i = 0; i < nv->nrev; i++) {
			uint8_t fam;
			const uint8_t *a = k8s_svc_ip(k8s_view_svc(nv), i, &fam);
			cds_lfht_add(st->svc_rev[i], k8s_hash_ip(fam, a), &nv->rev[i]);
			st->nrev[i]++;
		}
		was = cds_lfht_add_replace(st->services,
		                           k8s_hash_pair(key.ns, key.ns_len, key.name, key.len),
		                           k8s_match_view, &key, &nv->node);
		assert(was == (old ? &old->node : NULL));
		(void)was;
	} else if (old != NULL) {
		cds_lfht_del(st->services, &old->node);
	}
	if (old != NULL) {
		for (unsigned i = 0; i < old->nrev; i++) {
			cds_lfht_del(st->svc_rev[i], &old->rev[i]);
			st->nrev[i]--;
		}
		k8s_retire(st, old);
	}
}

#define RETIRE_BATCH 61

/* A batch of unlinked blocks, freed together after one grace period. */
struct k8s_retired {
	struct rcu_head rcu;
	struct k8s_retired *next;
	unsigned n;
	void *p[RETIRE_BATCH];
};

void
k8s_retire(struct k8s_store *st, void *p)
{
	struct k8s_retired *r = st->retired;

	if (r == NULL || r->n == RETIRE_BATCH) {
		r = malloc(sizeof(*r));
		if (r == NULL) {
			/* Out of memory: leaking one block beats freeing it under a reader. */
			return;
		}
		r->n = 0;
		r->next = st->retired;
		st->retired = r;
	}
	r->p[r->n++] = p;
}

static void
free_retired(struct rcu_head *head)
{
	struct k8s_retired *r = caa_container_of(head, struct k8s_retired, rcu);

	for (unsigned i = 0; i < r->n; i++) {
		free(r->p[i]);
	}
	free(r);
}

void
k8s_retire_flush(struct k8s_store *st)
{
	while (st->retired != NULL) {
		struct k8s_retired *r = st->retired;
		st->retired = r->next;
		call_rcu(&r->rcu, free_retired);
	}
}

const struct k8s_ns *
k8s_zone_ns(struct k8s_store *st, const char *name, size_t len)
{
	struct k8s_pair key = { NULL, 0, name, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	const struct k8s_ns *ns;

	cds_lfht_lookup(st->namespaces, k8s_hash_pair("", 0, name, len), k8s_match_ns, &key, &it);
	n = cds_lfht_iter_get_node(&it);
	if (n == NULL) {
		return NULL;
	}
	ns = caa_container_of(n, struct k8s_ns, node);
	return CMM_LOAD_SHARED(ns->exposed) ? ns : NULL;
}

const struct k8s_view *
k8s_zone_view(struct k8s_store *st, const char *ns, size_t ns_len, const char *name, size_t len)
{
	struct k8s_pair key = { ns, ns_len, name, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	const struct k8s_view *v;

	cds_lfht_lookup(st->services, k8s_hash_pair(ns, ns_len, name, len), k8s_match_view, &key,
	                &it);
	n = cds_lfht_iter_get_node(&it);
	if (n == NULL) {
		return NULL;
	}
	v = caa_container_of(n, struct k8s_view, node);
	return v->svc_off ? v : NULL;
}

void
k8s_zone_rev_svc(struct k8s_store *st, const struct k8s_ip *ip,
                 bool (*fn)(const struct k8s_view *v, void *arg), void *arg)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	for (unsigned i = 0; i < 2; i++) {
		struct vrev_key key = { ip, i };

		cds_lfht_lookup(st->svc_rev[i], k8s_hash_ip(ip->fam, ip->a), match_vrev, &key, &it);
		while ((n = cds_lfht_iter_get_node(&it)) != NULL) {
			if (!fn(k8s_vrev_view(n, i), arg)) {
				return;
			}
			cds_lfht_next_duplicate(st->svc_rev[i], match_vrev, &key, &it);
		}
	}
}

void
k8s_zone_rev_ep(struct k8s_store *st, const struct k8s_ip *ip,
                bool (*fn)(const struct k8s_ep *ep, void *arg), void *arg)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(st->ep_rev, k8s_hash_ip(ip->fam, ip->a), match_ep, ip, &it);
	while ((n = cds_lfht_iter_get_node(&it)) != NULL) {
		if (!fn(caa_container_of(n, struct k8s_ep, rnode), arg)) {
			return;
		}
		cds_lfht_next_duplicate(st->ep_rev, match_ep, ip, &it);
	}
}

bool
k8s_zone_pod(struct k8s_store *st, const struct k8s_ip *ip, const char *ns, size_t ns_len)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(st->pod_ip, k8s_hash_ip(ip->fam, ip->a), match_pod_ip, ip, &it);
	while ((n = cds_lfht_iter_get_node(&it)) != NULL) {
		const struct k8s_pod *p = caa_container_of(n, struct k8s_pod, inode);
		if (p->ns->len == ns_len && memcmp(p->ns->name, ns, ns_len) == 0) {
			return true;
		}
		cds_lfht_next_duplicate(st->pod_ip, match_pod_ip, ip, &it);
	}
	return false;
}

bool
k8s_zone_pod_at(struct k8s_store *st, const struct k8s_ip *ip, char ns[256], char name[256])
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	const struct k8s_pod *p;

	cds_lfht_lookup(st->pod_ip, k8s_hash_ip(ip->fam, ip->a), match_pod_ip, ip, &it);
	n = cds_lfht_iter_get_node(&it);
	if (!n) {
		return false;
	}
	p = caa_container_of(n, struct k8s_pod, inode);
	memcpy(ns, p->ns->name, p->ns->len);
	ns[p->ns->len] = '\0';
	memcpy(name, p->name, p->name_len);
	name[p->name_len] = '\0';
	return true;
}

uint32_t
k8s_zone_serial(struct k8s_store *st)
{
	return CMM_LOAD_SHARED(st->serial);
}
