/* podns.c -- pod address -> namespace: sorted arrays, copied on change, published under RCU. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>

#include "podns.h"

struct e4 {
	uint32_t ip; /* host order, so that arrays sort as numbers */
	uint16_t ns; /* index into the snapshot's names */
	uint16_t tag;
};

struct e6 {
	uint8_t ip[16];
	uint16_t ns;
	uint16_t tag;
};

/* What workers read: one allocation, entries after the header. */
struct snap {
	struct rcu_head rcu;
	char **names;    /* namespace names by id: the index's array when published */
	char **old;      /* an array this snapshot outlived: freed with it */
	uint32_t n4, n6; /* entries: e4[n4] then e6[n6] after the header */
	struct e4 v4[];
};

static inline struct e6 *
snap_v6(const struct snap *s)
{
	return (struct e6 *)(uintptr_t)(s->v4 + s->n4);
}

struct k8s_podns {
	struct snap *cur; /* rcu_dereference() */
	/* Control thread: namespace names interned once, never moved while readers see them. */
	char **names;
	size_t nnames, capnames, name_bytes;
	/* A relist under way: what it gathered, unsorted. */
	int relisting;
	struct e4 *b4;
	struct e6 *b6;
	size_t nb4, nb6, capb4, capb6;
};

static struct snap *
snap_new(uint32_t n4, uint32_t n6)
{
	struct snap *s = malloc(sizeof(*s) + n4 * sizeof(struct e4) + n6 * sizeof(struct e6));

	if (s) {
		s->n4 = n4;
		s->n6 = n6;
		s->old = NULL;
	}
	return s;
}

static void
snap_free(struct rcu_head *head)
{
	struct snap *s = caa_container_of(head, struct snap, rcu);

	free(s->old);
	free(s);
}

/* Publish @s with the current names; the one it replaces goes after a grace period. */
static void
publish(struct k8s_podns *ix, struct snap *s)
{
	struct snap *old = ix->cur;

	s->names = ix->names;
	rcu_assign_pointer(ix->cur, s);
	if (old) {
		if (old->names != ix->names) {
			old->old = old->names;
		}
		call_rcu(&old->rcu, snap_free);
	}
}

int
k8s_podns_new(struct k8s_podns **out)
{
	struct k8s_podns *ix = calloc(1, sizeof(*ix));
	struct snap *s = snap_new(0, 0);

	if (!ix || !s) {
		free(ix);
		free(s);
		return -ENOMEM;
	}
	publish(ix, s);
	*out = ix;
	return 0;
}

void
k8s_podns_free(struct k8s_podns *ix)
{
	if (!ix) {
		return;
	}
	for (size_t i = 0; i < ix->nnames; i++) {
		free(ix->names[i]);
	}
	if (ix->cur && ix->cur->names != ix->names) {
		free(ix->cur->names);
	}
	free(ix->names);
	free(ix->cur);
	free(ix->b4);
	free(ix->b6);
	free(ix);
}

uint16_t
k8s_podns_tag(const char *ns, size_t ns_len, const char *name, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < ns_len; i++) {
		h = (h ^ (uint8_t)ns[i]) * 16777619u;
	}
	h = (h ^ '/') * 16777619u;
	for (size_t i = 0; i < len; i++) {
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	}
	return (uint16_t)(h ^ (h >> 16));
}

/*
 * The id of namespace @ns, interned if new. The array grows by copy: the
 * published snapshot keeps the old one, which goes with it.
 * @return the id, or -1 (out of memory, or 65536 names already).
 */
static int
ns_id(struct k8s_podns *ix, const char *ns, size_t len, bool add)
{
	char **v, *name;

	for (size_t i = 0; i < ix->nnames; i++) {
		if (strlen(ix->names[i]) == len && memcmp(ix->names[i], ns, len) == 0) {
			return (int)i;
		}
	}
	if (!add || ix->nnames == 65536) {
		return -1;
	}
	if (ix->nnames == ix->capnames) {
		size_t cap = ix->capnames ? 2 * ix->capnames : 16;

		if ((v = malloc(cap * sizeof(*v))) == NULL) {
			return -1;
		}
		if (ix->nnames) {
			memcpy(v, ix->names, ix->nnames * sizeof(*v));
		}
		/* Readers may hold the old array: the published snapshot frees it. */
		if (ix->cur->names != ix->names) {
			free(ix->names);
		}
		ix->names = v;
		ix->capnames = cap;
	}
	if ((name = strndup(ns, len)) == NULL) {
		return -1;
	}
	ix->names[ix->nnames] = name;
	ix->name_bytes += len + 1;
	return (int)ix->nnames++;
}

static uint32_t
v4key(const struct k8s_ip *ip)
{
	return (uint32_t)ip->a[0] << 24 | (uint32_t)ip->a[1] << 16 | (uint32_t)ip->a[2] << 8 |
	       ip->a[3];
}

/* Position of @key in @v[0..@n): where it is, or where it would go; *@hit when there. */
static size_t
find4(const struct e4 *v, size_t n, uint32_t key, bool *hit)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].ip < key) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*hit = lo < n && v[lo].ip == key;
	return lo;
}

static size_t
find6(const struct e6 *v, size_t n, const uint8_t *key, bool *hit)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(v[mid].ip, key, 16) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*hit = lo < n && memcmp(v[lo].ip, key, 16) == 0;
	return lo;
}

/*
 * A new snapshot from the current one: entry @at of the family of @ip
 * replaced by @e (@hit), inserted before @at (!@hit), or removed (@e NULL).
 */
static int
change(struct k8s_podns *ix, const struct k8s_ip *ip, size_t at, bool hit, const void *e)
{
	const struct snap *o = ix->cur;
	int d = e == NULL ? -1 : hit ? 0 : 1;
	bool four = ip->fam == 4;
	struct snap *s = snap_new(o->n4 + (four ? (uint32_t)d : 0),
	                          o->n6 + (four ? 0 : (uint32_t)d));
	size_t n = four ? o->n4 : o->n6, sz = four ? sizeof(struct e4) : sizeof(struct e6);
	const char *from = four ? (const char *)o->v4 : (const char *)snap_v6(o);
	char *to;

	if (!s) {
		return -ENOMEM;
	}
	/* The other family as it is. */
	if (four) {
		memcpy(snap_v6(s), snap_v6(o), o->n6 * sizeof(struct e6));
	} else {
		memcpy(s->v4, o->v4, o->n4 * sizeof(struct e4));
	}
	to = four ? (char *)s->v4 : (char *)snap_v6(s);
	memcpy(to, from, at * sz);
	if (e) {
		memcpy(to + at * sz, e, sz);
	}
	memcpy(to + (at + (e ? 1 : 0)) * sz, from + (at + (hit ? 1 : 0)) * sz,
	       (n - at - (hit ? 1 : 0)) * sz);
	publish(ix, s);
	return 0;
}

static int
gather(struct k8s_podns *ix, const struct k8s_ip *ip, uint16_t ns, uint16_t tag)
{
	if (ip->fam == 4) {
		if (ix->nb4 == ix->capb4) {
			size_t cap = ix->capb4 ? 2 * ix->capb4 : 1024;
			struct e4 *v = realloc(ix->b4, cap * sizeof(*v));

			if (!v) {
				return -ENOMEM;
			}
			ix->b4 = v;
			ix->capb4 = cap;
		}
		ix->b4[ix->nb4++] = (struct e4){ v4key(ip), ns, tag };
		return 0;
	}
	if (ix->nb6 == ix->capb6) {
		size_t cap = ix->capb6 ? 2 * ix->capb6 : 256;
		struct e6 *v = realloc(ix->b6, cap * sizeof(*v));

		if (!v) {
			return -ENOMEM;
		}
		ix->b6 = v;
		ix->capb6 = cap;
	}
	memcpy(ix->b6[ix->nb6].ip, ip->a, 16);
	ix->b6[ix->nb6].ns = ns;
	ix->b6[ix->nb6++].tag = tag;
	return 0;
}

int
k8s_podns_set(struct k8s_podns *ix, const struct k8s_ip *ip, const char *ns, size_t ns_len,
              uint16_t tag)
{
	int id = ns_id(ix, ns, ns_len, true);
	const struct snap *o = ix->cur;
	size_t at;
	bool hit;

	if (id < 0) {
		return -ENOMEM;
	}
	if (ix->relisting) {
		return gather(ix, ip, (uint16_t)id, tag);
	}
	if (ip->fam == 4) {
		struct e4 e = { v4key(ip), (uint16_t)id, tag };

		at = find4(o->v4, o->n4, e.ip, &hit);
		if (hit && o->v4[at].ns == e.ns && o->v4[at].tag == tag) {
			return 0;
		}
		return change(ix, ip, at, hit, &e);
	}
	struct e6 e = { .ns = (uint16_t)id, .tag = tag };

	memcpy(e.ip, ip->a, 16);
	at = find6(snap_v6(o), o->n6, ip->a, &hit);
	if (hit && snap_v6(o)[at].ns == e.ns && snap_v6(o)[at].tag == tag) {
		return 0;
	}
	return change(ix, ip, at, hit, &e);
}

int
k8s_podns_del(struct k8s_podns *ix, const struct k8s_ip *ip, const char *ns, size_t ns_len,
              uint16_t tag)
{
	int id = ns_id(ix, ns, ns_len, false);
	const struct snap *o = ix->cur;
	size_t at;
	bool hit;

	if (id < 0 || ix->relisting) {
		return 0; /* never indexed; or the relist's end decides */
	}
	if (ip->fam == 4) {
		at = find4(o->v4, o->n4, v4key(ip), &hit);
		hit = hit && o->v4[at].ns == id && o->v4[at].tag == tag;
	} else {
		at = find6(snap_v6(o), o->n6, ip->a, &hit);
		hit = hit && snap_v6(o)[at].ns == id && snap_v6(o)[at].tag == tag;
	}
	return hit ? change(ix, ip, at, true, NULL) : 0;
}

void
k8s_podns_relist_begin(struct k8s_podns *ix)
{
	ix->relisting = 1;
	ix->nb4 = ix->nb6 = 0;
}

static int
cmp4(const void *a, const void *b)
{
	const struct e4 *x = a, *y = b;

	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static int
cmp6(const void *a, const void *b)
{
	return memcmp(((const struct e6 *)a)->ip, ((const struct e6 *)b)->ip, 16);
}

int
k8s_podns_relist_end(struct k8s_podns *ix)
{
	size_t n4 = 0, n6 = 0;
	struct snap *s;

	ix->relisting = 0;
	/* A family with no pod has no buffer: qsort() and memcpy() take no NULL, even for 0. */
	if (ix->nb4) {
		qsort(ix->b4, ix->nb4, sizeof(*ix->b4), cmp4);
	}
	if (ix->nb6) {
		qsort(ix->b6, ix->nb6, sizeof(*ix->b6), cmp6);
	}
	/* One entry an address: two running pods never share one (host-network pods aside). */
	for (size_t i = 0; i < ix->nb4; i++) {
		if (n4 == 0 || ix->b4[i].ip != ix->b4[n4 - 1].ip) {
			ix->b4[n4++] = ix->b4[i];
		}
	}
	for (size_t i = 0; i < ix->nb6; i++) {
		if (n6 == 0 || memcmp(ix->b6[i].ip, ix->b6[n6 - 1].ip, 16) != 0) {
			ix->b6[n6++] = ix->b6[i];
		}
	}
	s = snap_new((uint32_t)n4, (uint32_t)n6);
	if (s) {
		if (n4) {
			memcpy(s->v4, ix->b4, n4 * sizeof(struct e4));
		}
		if (n6) {
			memcpy(snap_v6(s), ix->b6, n6 * sizeof(struct e6));
		}
		publish(ix, s);
	}
	/* The gathering buffers are only needed again at the next relist. */
	free(ix->b4);
	free(ix->b6);
	ix->b4 = NULL;
	ix->b6 = NULL;
	ix->nb4 = ix->nb6 = ix->capb4 = ix->capb6 = 0;
	return s ? 0 : -ENOMEM;
}

const char *
k8s_podns_lookup(const struct k8s_podns *ix, const struct k8s_ip *ip, size_t *len)
{
	const struct snap *s = rcu_dereference(ix->cur);
	const char *name;
	size_t at;
	bool hit;
	unsigned id;

	if (ip->fam == 4) {
		at = find4(s->v4, s->n4, v4key(ip), &hit);
		id = hit ? s->v4[at].ns : 0;
	} else {
		at = find6(snap_v6(s), s->n6, ip->a, &hit);
		id = hit ? snap_v6(s)[at].ns : 0;
	}
	if (!hit) {
		return NULL;
	}
	name = s->names[id];
	*len = strlen(name);
	return name;
}

size_t
k8s_podns_count(const struct k8s_podns *ix)
{
	return (size_t)ix->cur->n4 + ix->cur->n6;
}

size_t
k8s_podns_bytes(const struct k8s_podns *ix)
{
	const struct snap *s = ix->cur;

	return sizeof(*s) + s->n4 * sizeof(struct e4) + s->n6 * sizeof(struct e6) +
	       ix->capnames * sizeof(char *) + ix->name_bytes;
}
