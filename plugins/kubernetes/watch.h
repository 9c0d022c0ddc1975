/* watch.h -- LIST then WATCH one kind of API object, feeding the store. */
#pragma once

#include "k8s.h"

struct k8s_api;
struct k8s_watch;

/** Tunables; zero fields take the defaults. Tests shorten them. */
struct k8s_watch_opts {
	int page_limit;       /* LIST page size (`limit`); default 500 */
	int watch_timeout_s;  /* `timeoutSeconds` of a WATCH; default random in [300, 600) */
	int list_timeout_s;   /* a LIST page (or discovery) must end within this; default 300 */
	double backoff_min_s; /* first retry delay; default 0.5 s, doubling... */
	double backoff_max_s; /* ...up to this; default 30 s. Each delay gets +-25% jitter. */
	double backoff_unreachable_s; /* ...or up to this while no response comes at all
	                                 (refused, reset, timed out); default 3 s */
};

/**
 * Keep @st's objects of @kind in step with the API server: a paged LIST
 * (limit/continue) inside k8s_store_relist_begin/_end, then a WATCH from the
 * list's resourceVersion with bookmarks, re-watched when the server ends it,
 * relisted on 410 Gone, retried with backoff on errors (one log line per
 * change of error, one when it works again). Starts at once. For a kind of a
 * named API group (EndpointSlices), each full LIST first asks the server
 * which versions of the group it serves and uses the best one it reads.
 * @param labels label selector for the kind, or NULL. Pods also get the field
 *        selector that leaves out finished pods, as CoreDNS does.
 * @param opts NULL for the defaults.
 * @return 0 and the new watch in *@out, or -ENOMEM.
 */
int k8s_watch_new(struct k8s_watch **out, struct k8s_api *api, struct k8s_store *st,
                  enum k8s_kind kind, const char *labels, const struct k8s_watch_opts *opts);

/**
 * Why @w has not applied a full LIST yet: the failure last logged, or that it
 * is still waiting. NULL once it has. Valid until the watch's next callback.
 */
const char *k8s_watch_why(const struct k8s_watch *w);

/** Stop watching: cancels the call in flight and the retry timer. */
void k8s_watch_free(struct k8s_watch *w);

/** The kind as client-go names it in logs when served as v1: "*v1.Service". */
const char *k8s_kind_name(enum k8s_kind kind);
