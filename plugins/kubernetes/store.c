/* store.c -- the control thread's side of the zone: API events and relists to views. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu.h>
#include <urcu/rculfhash.h>

#include <sextant/error.h>
#include <sextant/log.h>
#include <sextant/mem.h>
#include <sextant/time.h>

#include "podns.h"
#include "zone.h"

static void
touch(struct k8s_store *st)
{
	CMM_STORE_SHARED(st->serial, (uint32_t)time(NULL));
}

#define INITIAL_BUCKETS 64

/* Sized by the store alone (size_tables): liburcu's own resizing aims at one entry a bucket. */
static struct cds_lfht *
table(void)
{
	return cds_lfht_new(INITIAL_BUCKETS, INITIAL_BUCKETS, 0, 0, NULL);
}

int
k8s_store_new(struct k8s_store **out, const struct k8s_store_opts *opts)
{
	struct k8s_store *st = calloc(1, sizeof(*st));

	*out = NULL;
	if (st == NULL) {
		return -ENOMEM;
	}
	st->opts = *opts;
	st->opts.namespaces = NULL;
	st->opts.nnamespaces = 0;
	if (opts->nnamespaces > 0) {
		st->opts.namespaces = calloc(opts->nnamespaces, sizeof(char *));
		if (st->opts.namespaces == NULL) {
			goto fail;
		}
		for (size_t i = 0; i < opts->nnamespaces; i++) {
			st->opts.namespaces[i] = strdup(opts->namespaces[i]);
			if (st->opts.namespaces[i] == NULL) {
				goto fail;
			}
			st->opts.nnamespaces = i + 1;
		}
	}
	st->services = table();
	st->svc_rev[0] = table();
	st->svc_rev[1] = table();
	st->ep_rev = table();
	st->namespaces = table();
	st->pod_ip = table();
	st->slices = table();
	st->pods = table();
	if (!st->services || !st->svc_rev[0] || !st->svc_rev[1] || !st->ep_rev || !st->namespaces ||
	    !st->pod_ip || !st->slices || !st->pods ||
	    (opts->pod_index && k8s_podns_new(&st->podns) < 0)) {
		goto fail;
	}
	st->holding = opts->need[K8S_SERVICE] && opts->need[K8S_SLICE];
	st->serial = (uint32_t)time(NULL);
	st->t0_ns = sx_now_ns();
	*out = st;
	return 0;
fail:
	k8s_store_free(st);
	return -ENOMEM;
}

/* Namespaces: interned, and counted by the objects living in them. */

static struct k8s_ns *
ns_find(struct k8s_store *st, const char *name, size_t len)
{
	struct k8s_pair key = { NULL, 0, name, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(st->namespaces, k8s_hash_pair("", 0, name, len), k8s_match_ns, &key, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct k8s_ns, node) : NULL;
}

static bool
ns_configured(const struct k8s_store *st, const char *name, size_t len)
{
	if (st->opts.nnamespaces == 0) {
		return true;
	}
	for (size_t i = 0; i < st->opts.nnamespaces; i++) {
		if (strlen(st->opts.namespaces[i]) == len &&
		    strncasecmp(st->opts.namespaces[i], name, len) == 0) {
			return true;
		}
	}
	return false;
}

static struct k8s_ns *
ns_get(struct k8s_store *st, const char *name, size_t len)
{
	struct k8s_ns *ns = ns_find(st, name, len);

	if (ns != NULL) {
		return ns;
	}
	ns = calloc(1, sizeof(*ns) + len);
	if (ns == NULL) {
		return NULL;
	}
	ns->len = (uint8_t)len;
	memcpy(ns->name, name, len);
	ns->configured = ns_configured(st, name, len);
	cds_lfht_add(st->namespaces, k8s_hash_pair("", 0, name, len), &ns->node);
	return ns;
}

/* Recompute what workers see of @ns; drop it when nothing refers to it. */
static void
ns_update(struct k8s_store *st, struct k8s_ns *ns)
{
	CMM_STORE_SHARED(ns->exposed, ns->has_object && ns->configured);
	if (ns->refs == 0 && !ns->has_object) {
		cds_lfht_del(st->namespaces, &ns->node);
		k8s_retire(st, ns);
	}
}

static void
ns_ref(struct k8s_store *st, struct k8s_ns *ns)
{
	ns->refs++;
	ns_update(st, ns);
}

static void
ns_unref(struct k8s_store *st, struct k8s_ns *ns)
{
	ns->refs--;
	ns_update(st, ns);
}

static void
ns_set(struct k8s_store *st, const char *name, size_t len, bool present)
{
	struct k8s_ns *ns = present ? ns_get(st, name, len) : ns_find(st, name, len);

	if (ns == NULL) {
		return;
	}
	ns->stale = 0;
	if (ns->has_object != present) {
		ns->has_object = present;
		st->stats.namespaces += present ? 1 : -1u;
	}
	ns_update(st, ns);
}

/* Views (one per Service name, holding its slices). */

static struct k8s_view *
view_find(struct k8s_store *st, const struct k8s_ns *ns, const char *name, size_t len)
{
	struct k8s_pair key = { ns->name, ns->len, name, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(st->services, k8s_hash_pair(ns->name, ns->len, name, len), k8s_match_view,
	                &key, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct k8s_view, node) : NULL;
}

/*
 * Give Service @name of @ns new data (@svc, NULL when deleted) and swap slice
 * @out for @in in its group (either NULL), then publish the new view. While
 * the Services' first LIST runs, the group of a Service with no view yet is
 * held instead (held.h); a new view takes in the slices held for it.
 */
static int
view_update(struct k8s_store *st, struct k8s_ns *ns, const char *name, size_t len, bool set_svc,
            const struct k8s_svc *svc, struct k8s_slice *out, struct k8s_slice *in)
{
	struct k8s_view *old = view_find(st, ns, name, len), *nv;
	struct k8s_slice *const *was = old ? k8s_view_slices(old) : NULL;
	size_t n = 0, nold = old ? old->nslices : 0;
	size_t nheld;
	struct k8s_slice **list;
	bool had = old && old->svc_off;
	bool placed = false;

	if (old == NULL && !set_svc && st->holding) {
		if (out != NULL) {
			k8s_held_remove(&st->held, out);
		}
		return in != NULL ? k8s_held_add(&st->held, in) : 0;
	}
	nheld = old ? 0 : k8s_held_find(&st->held, ns, name, len, NULL);
	if (!set_svc) {
		svc = old ? k8s_view_svc(old) : NULL;
	}
	list = malloc((nold + nheld + 1) * sizeof(*list));
	if (list == NULL) {
		return -ENOMEM;
	}
	if (nheld > 0) {
		n = k8s_held_find(&st->held, ns, name, len, list);
	}
	for (size_t i = 0; i < nold; i++) {
		if (was[i] != out) {
			list[n++] = was[i];
		} else if (in != NULL) {
			list[n++] = in; /* keep the slice's place: answers keep their order */
			placed = true;
		}
	}
	if (in != NULL && !placed) {
		list[n++] = in;
	}
	if (svc == NULL && n == 0) {
		if (old != NULL) {
			k8s_view_publish(st, old, NULL);
			ns_unref(st, ns);
		}
		nv = NULL;
	} else {
		nv = k8s_view_new(ns, name, len, svc, list, n, st->opts.endpoint_pod_names);
		if (nv == NULL) {
			free(list);
			return -ENOMEM;
		}
		/*
		 * A slice change during a Service relist must not vouch for the
		 * Service: only the relist's own items clear the stale mark.
		 */
		if (!set_svc && old != NULL) {
			nv->stale = old->stale;
		}
		k8s_view_publish(st, old, nv);
		if (old == NULL) {
			ns_ref(st, ns);
		}
		if (nheld > 0) {
			k8s_held_drop(&st->held, ns, name, len); /* in the view now */
		}
	}
	free(list);
	st->stats.services += (unsigned)(svc != NULL) - (unsigned)had;
	return 0;
}

static int
svc_set(struct k8s_store *st, const char *nsname, size_t ns_len, const char *name, size_t len,
        const struct k8s_svc *svc)
{
	struct k8s_ns *ns = svc ? ns_get(st, nsname, ns_len) : ns_find(st, nsname, ns_len);
	struct k8s_view *old;
	int r;

	if (ns == NULL) {
		return svc ? -ENOMEM : 0;
	}
	old = view_find(st, ns, name, len);
	if (svc == NULL && (old == NULL || old->svc_off == 0)) {
		return 0;
	}
	if (svc != NULL && old != NULL && old->svc_off != 0) {
		const struct k8s_svc *was = k8s_view_svc(old);
		if (was->size == svc->size && memcmp(was, svc, svc->size) == 0) {
			old->stale = 0; /* a relist brought it back unchanged */
			return 0;
		}
	}
	r = view_update(st, ns, name, len, true, svc, NULL, NULL);
	if (r < 0) {
		ns_update(st, ns); /* nothing was published: a namespace made for it goes again */
		return r;
	}
	touch(st);
	return 0;
}

/* EndpointSlices. */

static int
match_slice(struct cds_lfht_node *node, const void *key)
{
	const struct k8s_slice *s = caa_container_of(node, struct k8s_slice, node);
	const struct k8s_pair *k = key;

	return s->name_len == k->len && s->ns->len == k->ns_len &&
	       memcmp(k8s_slice_name(s), k->name, k->len) == 0 &&
	       memcmp(s->ns->name, k->ns, k->ns_len) == 0;
}

static struct k8s_slice *
slice_find(struct k8s_store *st, const char *ns, size_t ns_len, const char *name, size_t len)
{
	struct k8s_pair key = { ns, ns_len, name, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(st->slices, k8s_hash_pair(ns, ns_len, name, len), match_slice, &key, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct k8s_slice, node) : NULL;
}

static void
slice_link(struct k8s_store *st, struct k8s_slice *sl, bool add)
{
	for (unsigned i = 0; i < sl->neps; i++) {
		if (add) {
			cds_lfht_add(st->ep_rev, k8s_hash_ip(sl->fam, k8s_slice_addr(sl, i)),
			             &sl->eps[i].rnode);
		} else {
			cds_lfht_del(st->ep_rev, &sl->eps[i].rnode);
		}
	}
	st->stats.slices += add ? 1 : -1u;
	st->stats.endpoints += add ? sl->neps : -(unsigned)sl->neps;
}

/* Replace slice @name of @nsname by @sl (owned; NULL: deleted); *@changed unless a no-op. */
static int
slice_set(struct k8s_store *st, const char *nsname, size_t ns_len, const char *name, size_t len,
          struct k8s_slice *sl, bool *changed)
{
	struct k8s_slice *old = slice_find(st, nsname, ns_len, name, len);
	int r = 0;

	if (old != NULL && sl != NULL && k8s_slice_same(old, sl)) {
		old->stale = 0;
		free(sl);
		return 0;
	}
	if (old == NULL && sl == NULL) {
		return 0;
	}
	*changed = true;
	if (sl != NULL) {
		struct k8s_pair key = { nsname, ns_len, name, len };
		sl->ns = ns_get(st, nsname, ns_len);
		if (sl->ns == NULL) {
			free(sl);
			return -ENOMEM;
		}
		ns_ref(st, sl->ns);
		cds_lfht_add_replace(st->slices, k8s_hash_pair(nsname, ns_len, name, len),
		                     match_slice, &key, &sl->node);
		slice_link(st, sl, true);
	} else {
		cds_lfht_del(st->slices, &old->node);
	}
	if (old != NULL) {
		slice_link(st, old, false);
	}
	if (old != NULL && sl != NULL && old->svc_len == sl->svc_len &&
	    memcmp(k8s_slice_svc(old), k8s_slice_svc(sl), sl->svc_len) == 0) {
		r = view_update(st, sl->ns, k8s_slice_svc(sl), sl->svc_len, false, NULL, old, sl);
	} else {
		if (old != NULL) {
			r = view_update(st, old->ns, k8s_slice_svc(old), old->svc_len, false, NULL,
			                old, NULL);
		}
		if (sl != NULL && r == 0) {
			r = view_update(st, sl->ns, k8s_slice_svc(sl), sl->svc_len, false, NULL,
			                NULL, sl);
		}
	}
	if (old != NULL) {
		ns_unref(st, old->ns);
		k8s_retire(st, old);
	}
	touch(st);
	return r;
}

/* Pods (`pods verified`). */

static int
match_pod(struct cds_lfht_node *node, const void *key)
{
	const struct k8s_pod *p = caa_container_of(node, struct k8s_pod, node);
	const struct k8s_pair *k = key;

	return p->name_len == k->len && p->ns->len == k->ns_len &&
	       memcmp(p->name, k->name, k->len) == 0 && memcmp(p->ns->name, k->ns, k->ns_len) == 0;
}

static int
pod_set(struct k8s_store *st, const char *nsname, size_t ns_len, const char *name, size_t len,
        struct k8s_pod *p)
{
	struct k8s_pair key = { nsname, ns_len, name, len };
	uint64_t h = k8s_hash_pair(nsname, ns_len, name, len);
	struct k8s_pod *old = NULL;
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(st->pods, h, match_pod, &key, &it);
	n = cds_lfht_iter_get_node(&it);
	if (n != NULL) {
		old = caa_container_of(n, struct k8s_pod, node);
	}
	if (old != NULL && p != NULL && memcmp(&old->ip, &p->ip, sizeof(p->ip)) == 0) {
		old->stale = 0;
		free(p);
		return 0;
	}
	if (old == NULL && p == NULL) {
		return 0;
	}
	if (p != NULL) {
		p->ns = ns_get(st, nsname, ns_len);
		if (p->ns == NULL) {
			free(p);
			return -ENOMEM;
		}
		ns_ref(st, p->ns);
		cds_lfht_add_replace(st->pods, h, match_pod, &key, &p->node);
		cds_lfht_add(st->pod_ip, k8s_hash_ip(p->ip.fam, p->ip.a), &p->inode);
		st->stats.pods++;
	} else {
		cds_lfht_del(st->pods, &old->node);
	}
	if (old != NULL) {
		cds_lfht_del(st->pod_ip, &old->inode);
		ns_unref(st, old->ns);
		k8s_retire(st, old);
		st->stats.pods--;
	}
	touch(st);
	return 0;
}

static void
lower(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		dst[i] = (char)tolower((unsigned char)src[i]);
	}
}

/*
 * CoreDNS's DNS programming duration: for a change to an EndpointSlice of a
 * headless service, the time from the change the endpoints controller acted on
 * (the slice's last-change-trigger-time) to now, when workers serve it.
 * @o holds the lower-case names.
 */
static void
programmed(struct k8s_store *st, const struct k8s_obj *o)
{
	char name[K8S_LABEL_MAX];
	size_t len = strlen(o->svc_name);
	const struct k8s_view *v;
	struct timespec ts;
	unsigned b = 0;
	double d;

	if (len == 0 || len > K8S_LABEL_MAX || !o->has_trigger) {
		return;
	}
	lower(name, o->svc_name, len);
	v = k8s_zone_view(st, o->ns, o->ns_len, name, len);
	if (v == NULL || k8s_view_svc(v)->type != K8S_SVC_HEADLESS) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	d = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - o->trigger;
	while (b < K8S_PROG_BUCKETS && d > 0.001 * (double)(1u << b)) {
		b++;
	}
	st->prog[b]++;
	st->prog_sum += d;
}

/* The pod address index: a running pod's address names its namespace, others' no longer. */
static int
index_pod(struct k8s_store *st, enum k8s_event ev, const struct k8s_obj *o)
{
	uint16_t tag;

	if (o->pod_ip.fam == 0) {
		return 0;
	}
	tag = k8s_podns_tag(o->ns, o->ns_len, o->name, o->name_len);
	if (ev != K8S_DELETED && o->pod_indexed) {
		return k8s_podns_set(st->podns, &o->pod_ip, o->ns, o->ns_len, tag);
	}
	return k8s_podns_del(st->podns, &o->pod_ip, o->ns, o->ns_len, tag);
}

/* Apply @o, read with K8S_READ_META for a deletion (then it holds no kept form). */
static int
apply(struct k8s_store *st, enum k8s_kind kind, enum k8s_event ev, struct k8s_obj *o)
{
	bool changed = false;
	void *taken;
	int r;

	/*
	 * Every table is keyed by the lower-case name, as the objects store it and
	 * queries ask: an object named in upper case must find itself again.
	 */
	lower(o->ns, o->ns, o->ns_len);
	lower(o->name, o->name, o->name_len);
	switch (kind) {
	case K8S_SERVICE:
		return svc_set(st, o->ns, o->ns_len, o->name, o->name_len, o->svc);
	case K8S_SLICE:
		taken = o->slice;
		o->slice = NULL;
		r = slice_set(st, o->ns, o->ns_len, o->name, o->name_len, taken, &changed);
		if (r == 0 && changed) {
			programmed(st, o);
		}
		return r;
	case K8S_POD:
		if (st->podns && (r = index_pod(st, ev, o)) < 0) {
			return r;
		}
		if (!st->opts.pod_objects) {
			return 0;
		}
		/* Read whole for the index, a deletion may still look alive: it is gone. */
		taken = ev == K8S_DELETED ? NULL : o->pod;
		o->pod = ev == K8S_DELETED ? o->pod : NULL;
		return pod_set(st, o->ns, o->ns_len, o->name, o->name_len, taken);
	case K8S_NAMESPACE:
		ns_set(st, o->name, o->name_len, ev != K8S_DELETED);
		return 0;
	case K8S_NKINDS:
		break;
	}
	return SX_EINVAL;
}

/*
 * liburcu can resize the tables itself, but lazily: from the call_rcu thread,
 * after a grace period, once their count passes a power of two. While a list
 * of 100,000 objects poured in they lagged far behind and lookups walked
 * chains of hundreds of entries (two thirds of a sync's time); after a list of
 * 10,000 Services a worker's lookup still took 235 ns instead of 110
 * (hotpath's measure). So the control thread sizes them itself, at once
 * (readers do not wait): while objects come and go, it grows a table whose
 * entries outnumber its target twice and shrinks one holding under a quarter
 * of it; after every (re)list, it fits each to its target, the power of two
 * at or above what it holds divided by its load. Outside rcu_read_lock().
 *
 * A bucket is 16 bytes; one per entry was 10 MB of the 47 MB a cluster of
 * 100,000 Services and 200,000 endpoints kept. Only the tables that forward
 * names (services, namespaces) get one: each entry more on a chain is one
 * more cache miss on the hot path. The reverse tables (PTR queries, far
 * rarer) hold 4 entries a bucket; the control thread's own indexes, 8.
 */
static void
size_tables(struct k8s_store *st, bool fit)
{
	const struct {
		struct cds_lfht *ht;
		unsigned long n, load;
	} t[] = {
		{ st->services, st->stats.services, 1 },     { st->svc_rev[0], st->nrev[0], 4 },
		{ st->svc_rev[1], st->nrev[1], 4 },          { st->ep_rev, st->stats.endpoints, 4 },
		{ st->namespaces, st->stats.namespaces, 1 }, { st->pod_ip, st->stats.pods, 4 },
		{ st->slices, st->stats.slices, 8 },         { st->pods, st->stats.pods, 8 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned long size = st->buckets[i] ? st->buckets[i] : INITIAL_BUCKETS;
		unsigned long want = t[i].n / t[i].load;

		if (fit) {
			for (size = INITIAL_BUCKETS; size < want; size *= 2) {
			}
		} else if (want > 2 * size || (size > INITIAL_BUCKETS && 4 * want < size)) {
			for (size = INITIAL_BUCKETS; size < want; size *= 2) {
			}
		}
		if (size != (st->buckets[i] ? st->buckets[i] : INITIAL_BUCKETS)) {
			cds_lfht_resize(t[i].ht, size);
			st->buckets[i] = size;
		}
	}
}

int
k8s_store_apply(struct k8s_store *st, enum k8s_kind kind, enum k8s_event ev, const char *json,
                size_t len, char *err, size_t errlen)
{
	/* A deleted pod's address is in its body: the index needs it. */
	unsigned flags = ev == K8S_DELETED && !(kind == K8S_POD && st->podns) ? K8S_READ_META : 0;
	struct k8s_obj o;
	int r;

	if (!st->opts.need[kind]) {
		return 0;
	}
	if (st->opts.endpoint_pod_names) {
		flags |= K8S_READ_POD_NAMES;
	}
	if ((r = k8s_obj_read(&o, kind, json, len, flags, err, errlen)) == 0) {
		rcu_read_lock();
		r = apply(st, kind, ev, &o);
		rcu_read_unlock();
		k8s_retire_flush(st);
		size_tables(st, false);
	}
	k8s_obj_fini(&o);
	if (r == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	return r;
}

/* Visit every object of @kind: (ns, name) and its stale flag. */
/*
 * The loops here take cds_lfht_for_each, not cds_lfht_for_each_entry: that one ends by applying
 * an offset to a null pointer, undefined behaviour that clang's UBSan stops on.
 */
static void
mark_all(struct k8s_store *st, enum k8s_kind kind, bool stale)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	struct k8s_view *v;
	struct k8s_slice *sl;
	struct k8s_pod *p;
	struct k8s_ns *ns;

	switch (kind) {
	case K8S_SERVICE:
		cds_lfht_for_each (st->services, &it, n) {
			v = caa_container_of(n, struct k8s_view, node);
			v->stale = stale && v->svc_off;
		}
		break;
	case K8S_SLICE:
		cds_lfht_for_each (st->slices, &it, n) {
			sl = caa_container_of(n, struct k8s_slice, node);
			sl->stale = stale;
		}
		break;
	case K8S_POD:
		cds_lfht_for_each (st->pods, &it, n) {
			p = caa_container_of(n, struct k8s_pod, node);
			p->stale = stale;
		}
		break;
	case K8S_NAMESPACE:
		cds_lfht_for_each (st->namespaces, &it, n) {
			ns = caa_container_of(n, struct k8s_ns, node);
			ns->stale = stale && ns->has_object;
		}
		break;
	case K8S_NKINDS:
		break;
	}
}

void
k8s_store_relist_begin(struct k8s_store *st, enum k8s_kind kind)
{
	rcu_read_lock();
	mark_all(st, kind, true);
	rcu_read_unlock();
	if (kind == K8S_POD && st->podns) {
		k8s_podns_relist_begin(st->podns);
	}
}

static void
drop_stale(struct k8s_store *st, enum k8s_kind kind)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	struct k8s_view *v;
	struct k8s_slice *sl;
	struct k8s_pod *p;
	struct k8s_ns *ns;

	/* Deleting while iterating is safe: unlinked nodes stay readable until the flush. */
	switch (kind) {
	case K8S_SERVICE:
		cds_lfht_for_each (st->services, &it, n) {
			v = caa_container_of(n, struct k8s_view, node);
			if (v->stale) {
				svc_set(st, v->ns->name, v->ns->len, k8s_view_name(v), v->name_len,
				        NULL);
			}
		}
		break;
	case K8S_SLICE:
		cds_lfht_for_each (st->slices, &it, n) {
			sl = caa_container_of(n, struct k8s_slice, node);
			if (sl->stale) {
				bool changed;
				slice_set(st, sl->ns->name, sl->ns->len, k8s_slice_name(sl),
				          sl->name_len, NULL, &changed);
			}
		}
		break;
	case K8S_POD:
		cds_lfht_for_each (st->pods, &it, n) {
			p = caa_container_of(n, struct k8s_pod, node);
			if (p->stale) {
				pod_set(st, p->ns->name, p->ns->len, p->name, p->name_len, NULL);
			}
		}
		break;
	case K8S_NAMESPACE:
		cds_lfht_for_each (st->namespaces, &it, n) {
			ns = caa_container_of(n, struct k8s_ns, node);
			if (ns->stale) {
				ns_set(st, ns->name, ns->len, false);
			}
		}
		break;
	case K8S_NKINDS:
		break;
	}
}

static void
trim(struct rcu_head *head)
{
	free(head);
	sx_mem_trim();
}

/*
 * Parsing a list's pages took far more heap than the objects kept, and glibc
 * holds on to it: hand it back, or the peak stays resident (half of it with
 * 60000 endpoints). After the views the list replaced are freed, that is
 * after a grace period, on the call_rcu thread: the control loop never waits.
 */
static void
trim_later(void)
{
	struct rcu_head *head = malloc(sizeof(*head));

	if (head != NULL) {
		call_rcu(head, trim);
	}
}

/*
 * The Services' first LIST is in: slices still held have no Service. They get
 * views of their own, as they would have had all along, for when it comes.
 */
static void
stop_holding(struct k8s_store *st)
{
	struct k8s_slice *sl;
	size_t pos = 0;

	st->holding = false; /* views again, taking in what was held */
	while ((sl = k8s_held_next(&st->held, &pos)) != NULL) {
		if (view_update(st, sl->ns, k8s_slice_svc(sl), sl->svc_len, false, NULL, NULL,
		                NULL) < 0) {
			sx_plog(SX_LOG_ERROR, "kubernetes", "endpoint slices: out of memory");
		}
	}
	k8s_held_free(&st->held);
}

void
k8s_store_relist_end(struct k8s_store *st, enum k8s_kind kind)
{
	bool all = true;

	rcu_read_lock();
	drop_stale(st, kind);
	if (kind == K8S_SERVICE && st->holding) {
		stop_holding(st);
	}
	rcu_read_unlock();
	if (kind == K8S_POD && st->podns && k8s_podns_relist_end(st->podns) < 0) {
		sx_plog(SX_LOG_ERROR, "kubernetes", "pod address index: out of memory");
	}
	size_tables(st, true);
	k8s_retire_flush(st);
	trim_later();
	st->kind_synced[kind] = true;
	for (int k = 0; k < K8S_NKINDS; k++) {
		all = all && (!st->opts.need[k] || st->kind_synced[k]);
	}
	if (all && !st->synced) {
		uint64_t ms = (sx_now_ns() - st->t0_ns) / 1000000u;
		char pods[32] = "";

		CMM_STORE_SHARED(st->synced, true);
		if (st->opts.pod_objects) {
			snprintf(pods, sizeof(pods), ", %u pods", st->stats.pods);
		} else if (st->podns) {
			snprintf(pods, sizeof(pods), ", %zu pod addresses",
			         k8s_podns_count(st->podns));
		}
		sx_plog(SX_LOG_INFO, "kubernetes",
		        "synced %u services, %u endpoint slices (%u endpoints), %u namespaces%s in "
		        "%llu.%03llus",
		        st->stats.services, st->stats.slices, st->stats.endpoints,
		        st->stats.namespaces, pods, (unsigned long long)(ms / 1000),
		        (unsigned long long)(ms % 1000));
	}
}

bool
k8s_store_synced(const struct k8s_store *st)
{
	return st != NULL && CMM_LOAD_SHARED(st->synced);
}

void
k8s_store_stats(struct k8s_store *st, struct k8s_store_stats *out)
{
	*out = st->stats;
}

static void
drain(struct cds_lfht *ht, size_t off, void (*unlink)(struct k8s_store *, void *),
      struct k8s_store *st)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	if (ht == NULL) {
		return;
	}
	cds_lfht_for_each (ht, &it, n) {
		cds_lfht_del(ht, n);
		if (unlink != NULL) {
			unlink(st, (char *)n - off);
		}
		k8s_retire(st, (char *)n - off);
	}
}

static void
unlink_pod(struct k8s_store *st, void *p)
{
	cds_lfht_del(st->pod_ip, &((struct k8s_pod *)p)->inode);
}

static void
unlink_slice(struct k8s_store *st, void *p)
{
	struct k8s_slice *sl = p;

	for (unsigned i = 0; i < sl->neps; i++) {
		cds_lfht_del(st->ep_rev, &sl->eps[i].rnode);
	}
}

static void
unlink_view(struct k8s_store *st, void *p)
{
	struct k8s_view *v = p;

	for (unsigned i = 0; i < v->nrev; i++) {
		cds_lfht_del(st->svc_rev[i], &v->rev[i]);
	}
}

void
k8s_store_free(struct k8s_store *st)
{
	struct cds_lfht *all[8];

	if (st == NULL) {
		return;
	}
	/*
	 * No worker reads the tables any more, but the tables' own resizer may still
	 * walk them (deleting everything sets off shrinks): what is unlinked is freed
	 * after a grace period, like any object.
	 */
	rcu_read_lock();
	drain(st->services, offsetof(struct k8s_view, node), unlink_view, st);
	drain(st->slices, offsetof(struct k8s_slice, node), unlink_slice, st);
	drain(st->pods, offsetof(struct k8s_pod, node), unlink_pod, st);
	drain(st->namespaces, offsetof(struct k8s_ns, node), NULL, st);
	rcu_read_unlock();
	k8s_retire_flush(st);
	rcu_barrier();
	all[0] = st->services;
	all[1] = st->svc_rev[0];
	all[2] = st->svc_rev[1];
	all[3] = st->ep_rev;
	all[4] = st->namespaces;
	all[5] = st->pod_ip;
	all[6] = st->slices;
	all[7] = st->pods;
	for (int i = 0; i < 8; i++) {
		if (all[i] != NULL) {
			cds_lfht_destroy(all[i], NULL);
		}
	}
	for (size_t i = 0; i < st->opts.nnamespaces; i++) {
		free(st->opts.namespaces[i]);
	}
	free(st->opts.namespaces);
	k8s_podns_free(st->podns);
	k8s_held_free(&st->held);
	free(st);
}
