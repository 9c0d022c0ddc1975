/* manifests.h -- a directory of YAML/JSON manifests as the source of API objects. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "k8s.h"

struct k8s_manifests;

/** Tunables; zero fields take the defaults. */
struct k8s_manifests_opts {
	bool poll;     /* poll the directory, never use inotify */
	int poll_ms;   /* poll period; default 1000 */
	int settle_ms; /* wait after a change notice before reading; default 100 */
};

/**
 * Load every *.yaml, *.yml and *.json file of @conf->manifests (as `kubectl
 * get -o yaml|json` writes them: single objects, Lists, multi-document files)
 * into @st, one full relist per watched kind, and again whenever the
 * directory changes (inotify, or polling). Services, EndpointSlices
 * (discovery.k8s.io/v1), Namespaces and Pods are used; other kinds are
 * ignored. An object without a namespace is in "default". Every namespace an
 * object is in exists implicitly (as a Namespace with only its
 * kubernetes.io/metadata.name label) unless a manifest defines it. The
 * `labels` and `namespace_labels` selectors apply as the API server would
 * apply them, and finished pods are left out. A file that cannot be read or
 * parsed is logged with its reason; its previous content, if any, stays in
 * effect and the other files still load.
 * @return 0 and the new source in *@out, or an error (bad directory, bad
 *         selector) with the reason in @err.
 */
int k8s_manifests_new(struct k8s_manifests **out, const struct k8s_source_conf *conf,
                      struct k8s_store *st, const struct k8s_manifests_opts *opts, char *err,
                      size_t errlen);

void k8s_manifests_free(struct k8s_manifests *m);

/** A parsed label selector (`labels`, `namespace_labels`). */
struct k8s_selector;

/**
 * Parse a Kubernetes label selector: comma-separated `k`, `!k`, `k=v`,
 * `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`.
 * @return 0 and a new selector (NULL for an empty one, which matches all),
 *         or SX_EINVAL with the reason in @err.
 */
int k8s_selector_parse(struct k8s_selector **out, const char *text, char *err, size_t errlen);

/** Whether the labels object @labels (may be NULL) satisfies @sel (NULL: yes). */
bool k8s_selector_match(const struct k8s_selector *sel, const json_t *labels);

void k8s_selector_free(struct k8s_selector *sel);
