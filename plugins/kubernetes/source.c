/* source.c -- pick the source of API objects: manifests, endpoint, kubeconfig or in-cluster. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>
#include <sextant/log.h>

#include "apiclient.h"
#include "k8s.h"
#include "kubeconfig.h"
#include "manifests.h"
#include "watch.h"

struct k8s_source {
	struct k8s_manifests *manifests;
	struct k8s_conn *conn;
	struct k8s_api *api;
	struct k8s_watch *watches[K8S_NKINDS];
};

/* As CoreDNS: a kubeconfig wins over `endpoint`; neither means in-cluster. */
static int
make_conn(struct k8s_conn **out, const struct k8s_source_conf *conf, char *err, size_t errlen)
{
	if (conf->kubeconfig) {
		return k8s_conn_kubeconfig(out, conf->kubeconfig, conf->context, err, errlen);
	}
	if (conf->endpoint) {
		return k8s_conn_endpoint(out, conf->endpoint, conf->tls_cert, conf->tls_key,
		                         conf->tls_ca, err, errlen);
	}
	return k8s_conn_incluster(out, err, errlen);
}

/* @name, when set, into *@out: 1 to 3600 seconds. */
static int
env_seconds(const char *name, int *out, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	long t;

	if (!v || !*v) {
		return 0;
	}
	errno = 0;
	t = strtol(v, &end, 10);
	if (errno || *end || t < 1 || t > 3600) {
		snprintf(err, errlen, "%s must be 1 to 3600 seconds, not \"%s\"", name, v);
		return SX_EINVAL;
	}
	*out = (int)t;
	return 0;
}

/*
 * Settings from the environment, for tests and for working around a proxy:
 * SEXTANT_K8S_HTTP_VERSION (1.1 or 2), SEXTANT_K8S_WATCH_TIMEOUT (the
 * timeoutSeconds of every WATCH, 1 to 3600; default random in [300, 600)) and
 * SEXTANT_K8S_LIST_TIMEOUT (the time a LIST page may take, 1 to 3600; default 300).
 */
static int
env_settings(enum k8s_http *http, struct k8s_watch_opts *wo, char *err, size_t errlen)
{
	const char *v = getenv("SEXTANT_K8S_HTTP_VERSION");
	int r;

	*http = K8S_HTTP_ANY;
	if (v && *v) {
		if (!strcmp(v, "1.1")) {
			*http = K8S_HTTP_1_1;
		} else if (!strcmp(v, "2")) {
			*http = K8S_HTTP_2;
		} else {
			snprintf(err, errlen,
			         "SEXTANT_K8S_HTTP_VERSION must be 1.1 or 2, not \"%s\"", v);
			return SX_EINVAL;
		}
	}
	if ((r = env_seconds("SEXTANT_K8S_WATCH_TIMEOUT", &wo->watch_timeout_s, err, errlen)) ||
	    (r = env_seconds("SEXTANT_K8S_LIST_TIMEOUT", &wo->list_timeout_s, err, errlen))) {
		return r;
	}
	return 0;
}

int
k8s_source_start(struct k8s_source **out, const struct k8s_source_conf *conf, struct k8s_store *st,
                 char *err, size_t errlen)
{
	struct k8s_source *src = calloc(1, sizeof(*src));
	struct k8s_watch_opts wo = { 0 };
	enum k8s_http http;
	int r;

	*out = NULL;
	if (!src) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (conf->manifests) {
		if ((r = k8s_manifests_new(&src->manifests, conf, st, NULL, err, errlen))) {
			goto fail;
		}
		*out = src;
		return 0;
	}
	if ((r = env_settings(&http, &wo, err, errlen)) ||
	    (r = make_conn(&src->conn, conf, err, errlen)) ||
	    (r = k8s_api_new(&src->api, src->conn, err, errlen))) {
		goto fail;
	}
	k8s_api_set_stats(src->api, conf->rest_stats);
	k8s_api_set_http(src->api, http);
	k8s_api_set_rate(src->api, conf->qps, conf->burst, conf->max_inflight);
	sx_plog(SX_LOG_INFO, "kubernetes", "watching the API server at %s", src->conn->server);
	for (int k = 0; k < K8S_NKINDS; k++) {
		if (!conf->watch[k]) {
			continue;
		}
		r = k8s_watch_new(&src->watches[k], src->api, st, (enum k8s_kind)k,
		                  k == K8S_NAMESPACE ? conf->namespace_labels : conf->labels, &wo);
		if (r) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	*out = src;
	return 0;
fail:
	k8s_source_free(src);
	return r;
}

void
k8s_source_why(const struct k8s_source *src, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int k = 0; src && k < K8S_NKINDS; k++) {
		const char *why = src->watches[k] ? k8s_watch_why(src->watches[k]) : NULL;

		if (why && len < cap) {
			len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? "; " : "", why);
		}
	}
}

void
k8s_source_free(struct k8s_source *src)
{
	if (!src) {
		return;
	}
	/* Watches first: they hold calls of the client, which borrows the connection. */
	for (int k = 0; k < K8S_NKINDS; k++) {
		k8s_watch_free(src->watches[k]);
	}
	k8s_api_free(src->api);
	k8s_conn_free(src->conn);
	k8s_manifests_free(src->manifests);
	free(src);
}
