/* k8s.h -- private interfaces between the parts of the kubernetes plugin. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct k8s_rest_stats;

/*
 * Data flow: a source (the API client, or a manifests directory) turns API
 * objects into calls on the store; the store converts each JSON object into a
 * compact struct at once (JSON is never kept), and republishes only the DNS
 * data of the names that object touches; workers read that data without locks.
 */

enum k8s_kind {
	K8S_SERVICE,
	K8S_SLICE,
	K8S_NAMESPACE,
	K8S_POD,
	K8S_NKINDS
};
enum k8s_event {
	K8S_ADDED,
	K8S_MODIFIED,
	K8S_DELETED
};

struct k8s_store;

/**
 * Apply one watch event or list item: an object of @kind, @len bytes of JSON
 * (borrowed, read in place, never kept). An object that cannot be used
 * returns SX_EINVAL with the reason in @err; the caller logs it and goes on
 * (one bad object never stops the rest). Control thread only.
 */
int k8s_store_apply(struct k8s_store *st, enum k8s_kind kind, enum k8s_event ev, const char *json,
                    size_t len, char *err, size_t errlen);

/**
 * A full (re)list of @kind: begin marks every object of that kind stale,
 * applying list items refreshes them, end deletes those still stale (objects
 * that vanished while the watch was down) and, on the first call, marks the
 * kind synced.
 */
void k8s_store_relist_begin(struct k8s_store *st, enum k8s_kind kind);
void k8s_store_relist_end(struct k8s_store *st, enum k8s_kind kind);

/** Whether every kind the plugin needs has completed one full list. */
bool k8s_store_synced(const struct k8s_store *st);

/* What a source needs from the plugin's options. */
struct k8s_source_conf {
	const char *endpoint;                    /* `endpoint URL`, or NULL */
	const char *tls_cert, *tls_key, *tls_ca; /* `tls CERT KEY CACERT` */
	const char *kubeconfig, *context;        /* `kubeconfig FILE [CONTEXT]` */
	const char *manifests;                   /* `manifests DIR` (Sextant only) */
	const char *labels;                      /* `labels SELECTOR` for services, slices, pods */
	const char *namespace_labels;            /* `namespace_labels SELECTOR` for namespaces */
	bool watch[K8S_NKINDS];                  /* which kinds to list and watch */
	struct k8s_rest_stats *rest_stats;       /* where API calls are counted, or NULL */
	double qps;                              /* `apiserver_qps`, 0: no rate limit */
	unsigned burst, max_inflight;            /* `apiserver_burst`, `apiserver_max_inflight` */
};

struct k8s_source;

/**
 * Start feeding @st from the API server (endpoint+tls, kubeconfig, or
 * in-cluster config when neither is set) or from a manifests directory, on the
 * calling (control) thread's loop. Never blocks: connection errors are retried with
 * backoff and logged, the last good data keeps serving.
 * @return 0, or an error (bad kubeconfig, unreadable files) with a message in @err.
 */
int k8s_source_start(struct k8s_source **out, const struct k8s_source_conf *conf,
                     struct k8s_store *st, char *err, size_t errlen);
void k8s_source_free(struct k8s_source *src);

/**
 * Why the source has not loaded everything yet, into @buf: for each kind not
 * fully listed, the failure last logged (or that it is still waiting), joined
 * with "; ". Empty when there is nothing to say. @src may be NULL.
 */
void k8s_source_why(const struct k8s_source *src, char *buf, size_t cap);
