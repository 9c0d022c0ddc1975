/* zone.h -- the kubernetes zone: what workers read without locks, and the plugin's config. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/plugin.h>

#include "apiclient.h"
#include "held.h"
#include "k8s.h"
#include "objects.h"

/*
 * The store (store.c, control thread) keeps every object in lock-free hash
 * tables (liburcu's cds_lfht) that workers read inside rcu_read_lock():
 *
 *   services   (namespace, name) -> struct k8s_view, the immutable DNS view of
 *              one Service: its data plus the EndpointSlices grouped under it
 *   svc_rev    ClusterIP -> the view holding it (PTR): [0] first ClusterIPs,
 *              [1] second ones (dual stack), so that an entry needs no index
 *   ep_rev     endpoint address -> struct k8s_ep (PTR)
 *   namespaces name -> struct k8s_ns (exposed or not)
 *   pod_ip     pod IP -> struct k8s_pod (`pods verified` only)
 *
 * An event replaces only the objects and views it touches; what it unlinks
 * is freed after a grace period (call_rcu). The control thread also takes
 * rcu_read_lock() around table operations and must be a registered RCU thread.
 */

struct k8s_ns {
	struct cds_lfht_node node;
	uint32_t refs;      /* control thread: views, slices and pods in it */
	uint8_t has_object; /* control thread: a Namespace object exists */
	uint8_t stale;      /* control thread: not seen in the current relist */
	uint8_t configured; /* allowed by `namespaces` (always, without it) */
	uint8_t exposed;    /* read by workers: exists and configured */
	uint8_t len;
	char name[];
};

/*
 * A Service as workers see it, replaced whole on any change. Tail: rev[nrev]
 * (ClusterIP i's entry, in table svc_rev[i]: the table tells which it is), name, the Service data (struct k8s_svc, absent while
 * only slices wait for their Service), slices[nslices], then 2 bits per
 * endpoint (all slices in order) when some endpoints repeat an address or a
 * name.
 */
struct k8s_view {
	struct cds_lfht_node node;
	struct k8s_ns *ns;
	/* 16 bits are enough: a Service's data is at most 255 ports and their names. */
	uint16_t svc_off; /* 0: no Service object */
	uint16_t slices_off;
	uint32_t dup_off; /* 0: no duplicates */
	uint16_t nslices; /* each with a ready address: none means no endpoint at all */
	uint8_t name_len;
	uint8_t nrev;
	uint8_t stale; /* control thread: not seen in the current relist */
	struct cds_lfht_node rev[];
};

static inline const char *
k8s_view_name(const struct k8s_view *v)
{
	return (const char *)&v->rev[v->nrev];
}

/** The view of @r, the entry of its ClusterIP @i. */
static inline const struct k8s_view *
k8s_vrev_view(const struct cds_lfht_node *r, unsigned i)
{
	return (const struct k8s_view *)((const char *)(r - i) - offsetof(struct k8s_view, rev));
}

#define K8S_DUP_ADDR 1 /* same address as an earlier endpoint of the view */
#define K8S_DUP_NAME 2 /* same endpoint name as an earlier one */

static inline const struct k8s_svc *
k8s_view_svc(const struct k8s_view *v)
{
	return v->svc_off ? (const struct k8s_svc *)((const char *)v + v->svc_off) : NULL;
}

static inline struct k8s_slice *const *
k8s_view_slices(const struct k8s_view *v)
{
	return (struct k8s_slice *const *)((const char *)v + v->slices_off);
}

/** Duplicate bits (K8S_DUP_*) of endpoint @i of the view (counted over all slices). */
static inline unsigned
k8s_view_dup(const struct k8s_view *v, uint32_t i)
{
	if (v->dup_off == 0) {
		return 0;
	}
	const uint8_t *bits = (const uint8_t *)v + v->dup_off;
	return (bits[i / 4] >> (2 * (i % 4))) & 3;
}

enum k8s_pods {
	K8S_PODS_DISABLED,
	K8S_PODS_INSECURE,
	K8S_PODS_VERIFIED
};

/* What the store needs from the options. */
struct k8s_store_opts {
	bool endpoint_pod_names;
	bool need[K8S_NKINDS]; /* kinds that are watched and must sync */
	bool pod_objects;      /* `pods verified`: Pod objects by name and address */
	bool pod_index;        /* `autopath @kubernetes`: pod address -> namespace only */
	char **namespaces;     /* `namespaces` list, or NULL for all */
	size_t nnamespaces;
};

/** @return 0 and a new empty store, or -ENOMEM. Control thread. */
int k8s_store_new(struct k8s_store **out, const struct k8s_store_opts *opts);
/** Free the store and all it holds; no reader may still use it. NULL is a no-op. */
void k8s_store_free(struct k8s_store *st);

/** Counts for logs and tests. */
struct k8s_store_stats {
	unsigned services, slices, endpoints, namespaces, pods;
};
void k8s_store_stats(struct k8s_store *st, struct k8s_store_stats *out);

/* Store internals, shared by zone.c (tables, views) and store.c (events). */
struct k8s_retired;

/* Programming duration buckets: 0.001 s doubling, 20 bounds, as CoreDNS's. */
#define K8S_PROG_BUCKETS 20

struct k8s_store {
	struct cds_lfht *services, *svc_rev[2], *ep_rev, *namespaces, *pod_ip; /* read by workers */
	struct cds_lfht *slices, *pods;                                        /* control thread */
	struct k8s_store_opts opts;
	uint32_t serial; /* CMM_STORE_SHARED / CMM_LOAD_SHARED */
	bool synced;     /* every needed kind listed once; idem */
	bool kind_synced[K8S_NKINDS];
	uint64_t t0_ns; /* creation, for the sync log line */
	struct k8s_store_stats stats;
	/* coredns_kubernetes_dns_programming_duration_seconds: observations per bucket, then
	 * above the last bound, and their sum (control thread, like the scrape). */
	uint64_t prog[K8S_PROG_BUCKETS + 1];
	double prog_sum;
	struct k8s_retired *retired; /* unlinked objects waiting for a grace period */
	struct k8s_podns *podns;     /* with opts.pod_index, else NULL (podns.h) */
	unsigned long buckets[8];    /* per table, the size last asked for (store.c) */
	unsigned long nrev[2];       /* entries in svc_rev[0] and [1] */
	bool holding;                /* the Services' first LIST runs: slices may wait in held */
	struct k8s_held held;        /* control thread (held.h) */
};

uint64_t k8s_hash_pair(const char *ns, size_t ns_len, const char *name, size_t len);
uint64_t k8s_hash_ip(uint8_t fam, const uint8_t *a);

/** Key of the services, slices, pods and namespaces tables (ns NULL for namespaces). */
struct k8s_pair {
	const char *ns;
	size_t ns_len;
	const char *name;
	size_t len;
};
int k8s_match_view(struct cds_lfht_node *node, const void *key);
int k8s_match_ns(struct cds_lfht_node *node, const void *key);

/**
 * Build a view of Service @name in @ns from its data @svc (NULL: none yet)
 * and its ready slices. @return the new view, or NULL when out of memory.
 */
struct k8s_view *
k8s_view_new(struct k8s_ns *ns, const char *name, size_t len, const struct k8s_svc *svc,
             struct k8s_slice *const *slices, size_t nslices, bool pod_names);

/**
 * Publish @nv in place of @old (either may be NULL) in the services and
 * ClusterIP tables, and retire @old. Inside rcu_read_lock().
 */
void k8s_view_publish(struct k8s_store *st, struct k8s_view *old, struct k8s_view *nv);

/** Free @p (one malloc'ed block) once no reader can hold it. */
void k8s_retire(struct k8s_store *st, void *p);
/** Hand what k8s_retire() collected to call_rcu(). Outside rcu_read_lock() or in it. */
void k8s_retire_flush(struct k8s_store *st);

/* Read side: call inside rcu_read_lock(); results live until rcu_read_unlock(). */

/** Namespace @name (lower case, @len bytes) if it is exposed, else NULL. */
const struct k8s_ns *k8s_zone_ns(struct k8s_store *st, const char *name, size_t len);

/** Service @name in namespace @ns (lower case), or NULL (also when only slices exist). */
const struct k8s_view *
k8s_zone_view(struct k8s_store *st, const char *ns, size_t ns_len, const char *name, size_t len);

/** Visit every view holding ClusterIP @ip; stop when @fn returns false. */
void k8s_zone_rev_svc(struct k8s_store *st, const struct k8s_ip *ip,
                      bool (*fn)(const struct k8s_view *v, void *arg), void *arg);
/** Visit every ready endpoint with address @ip. */
void k8s_zone_rev_ep(struct k8s_store *st, const struct k8s_ip *ip,
                     bool (*fn)(const struct k8s_ep *ep, void *arg), void *arg);

/**
 * Copy the namespace and name of a pod with IP @ip (`pods verified`; the first
 * found) into @ns and @name. Call inside rcu_read_lock(). @return whether one exists.
 */
bool k8s_zone_pod_at(struct k8s_store *st, const struct k8s_ip *ip, char ns[256], char name[256]);

/** Whether a pod with IP @ip lives in namespace @ns (`pods verified`). */
bool k8s_zone_pod(struct k8s_store *st, const struct k8s_ip *ip, const char *ns, size_t ns_len);

/** SOA serial: unix time of the last change. */
uint32_t k8s_zone_serial(struct k8s_store *st);

/**
 * The name of endpoint @ep as CoreDNS forms it: hostname, else the pod name
 * (with endpoint_pod_names), else the dashed address. @return its length.
 */
size_t k8s_ep_name(char out[64], const struct k8s_ep *ep, bool pod_names);

/**
 * <@ep>.<@svc>.<ns>.svc.<@tail>, no endpoint label when @ep is NULL.
 * @return its length, or 0 when it is too long.
 */
size_t
k8s_svc_target(uint8_t out[SX_DNAME_MAX], const char *ep, size_t ep_len, const struct k8s_ns *ns,
               const char *svc, size_t svc_len, const uint8_t *tail);

/* The plugin instance: options (kubernetes.c) and what start() creates. */
struct k8s {
	struct sx_zones zones; /* the plugin's zones */
	size_t primary;        /* first non-reverse zone: PTR targets */
	struct sx_zones fall;  /* fallthrough zones; n == 0: none */
	char *endpoint, *tls_cert, *tls_key, *tls_ca, *kubeconfig, *context, *manifests;
	char *labels, *namespace_labels;
	char **namespaces;
	size_t nnamespaces;
	unsigned ttl;
	bool ttl_set;
	uint64_t startup_ms; /* `startup_timeout`: how long the first start waits for a sync */
	bool startup_set;
	double qps;                   /* `apiserver_qps`; 0: none */
	unsigned burst, max_inflight; /* `apiserver_burst`, `apiserver_max_inflight`; 0: none */
	enum k8s_pods pods;
	bool endpoint_pod_names;
	bool noendpoints;
	bool ignore_empty;
	/* Non-loopback addresses of this host, for ns.dns.<zone>. */
	struct k8s_ip local[16];
	size_t nlocal;

	/* `autopath @kubernetes` in the block: the pod address index, and search paths. */
	bool autopath;
	uint8_t (*svc_zones)[SX_DNAME_MAX];   /* svc.<zone> of each zone */
	uint8_t (*host_search)[SX_DNAME_MAX]; /* this host's resolv.conf search domains */
	unsigned nhost_search;

	struct k8s_store *st;
	struct k8s_source *src;
	struct k8s_rest_stats rest; /* API calls, counted by the client for /metrics */
};

#define K8S_HOST_SEARCH 6 /* resolv.conf search domains kept, as glibc reads at most */

/** The search path tables of an instance with autopath (search.c). @return 0 or -ENOMEM. */
int k8s_search_init(struct k8s *k);
void k8s_search_fini(struct k8s *k);
/** The plugin's search_path hook: a client pod's search path (search.c). */
int k8s_search_path(struct sx_req *req, void *inst, struct sx_search *out);

/** The plugin's metadata hook (metadata.c): labels for what the name means, and who asks. */
void k8s_metadata(struct sx_req *req, void *inst);

#define K8S_MAX_CNAMES 8 /* CoreDNS follows at most 8 ExternalName CNAMEs */

/* The CNAMEs of an answer whose last target lies outside the plugin's zone. */
struct k8s_chain {
	unsigned n;                             /* 1..K8S_MAX_CNAMES */
	const uint8_t *targets[K8S_MAX_CNAMES]; /* lower case; the first is the query's */
};

/**
 * Answer @q for plugin instance @k into @msg (started with sx_msg_init).
 * Per query: no allocation, no lock. Call inside rcu_read_lock().
 * @param chain where an ExternalName target outside the zone is handed back,
 *        or NULL to answer such a query with its CNAMEs alone.
 * @return SX_NEXT when the name is not in the plugin's zones or falls through;
 * SX_SUSPEND when @chain was filled (nothing written: the caller looks the
 * last target up); else SX_DONE with the reply in @msg.
 */
enum sx_verdict k8s_answer(const struct k8s *k, const struct sx_query *q, struct sx_msg *msg,
                           struct k8s_chain *chain);

/* Longest SOA rdata: two names and five numbers. */
#define K8S_SOA_MAX (2 * SX_DNAME_MAX + 20)

/**
 * The SOA of zone @zone (wire) of @k: its rdata into @rd, its TTL into *@ttl.
 * @return the rdata's length, or 0 when the names do not fit.
 */
size_t k8s_soa(const struct k8s *k, const uint8_t *zone, uint8_t rd[K8S_SOA_MAX], uint32_t *ttl);

/**
 * Answer an AXFR or IXFR of zone @zi of @k: the whole zone streamed over TCP
 * (IXFR in AXFR form) when the transfer plugin allowed it and the zone is not
 * a reverse one; else REFUSED. Inside rcu_read_lock(). @return SX_DONE.
 */
enum sx_verdict k8s_transfer(struct sx_req *req, const struct k8s *k, int zi);

/**
 * The per-request handler: k8s_answer(), and for a target outside the zone a
 * sub-query through the server's chain whose answer follows the CNAMEs.
 */
enum sx_verdict k8s_serve(struct sx_req *req, const struct k8s *k);
