/* kube.h -- the tests' side of a real API server started by apiserver.sh: requests and objects. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

/*
 * run.sh starts the control plane (apiserver.sh start DIR) and exports
 * SX_K8S_DIR=DIR; these helpers read DIR/env and talk to the API server as
 * the admin (token in the token file, CA of DIR/pki), with libcurl. Every
 * helper fails the running criterion test when something is not as it must be.
 */
struct kube;

/** The control plane of $SX_K8S_DIR. */
struct kube *kube_open(void);
void kube_close(struct kube *k);

/** A value of DIR/env (K8S_URL, K8S_CA, ...); the test fails when it is absent. */
const char *kube_env(const struct kube *k, const char *key);

/** Use API server @n (1 or 2, both on the same etcd) for later requests. */
void kube_use(struct kube *k, int n);

/**
 * One request as the admin. PATCH bodies are JSON merge patches.
 * @param body JSON, or NULL.
 * @param reply if not NULL, the decoded reply (NULL when it is not JSON).
 * @return the HTTP status, 0 when no answer came (connection refused...).
 */
long
kube_req(struct kube *k, const char *method, const char *path, const char *body, json_t **reply);

/** kube_req() with bearer @token instead of the admin's, without a reply. */
long kube_req_as(struct kube *k, const char *token, const char *method, const char *path);

/** kube_req() that must answer 2xx. @return the decoded reply (caller decrefs). */
json_t *kube_must(struct kube *k, const char *method, const char *path, const char *body);

/**
 * Create @obj (JSON, any kind the tests use) in its collection; must answer 2xx.
 * @return the new object's resourceVersion.
 */
long long kube_create(struct kube *k, const char *obj);

/** kube_create() of every document of a YAML file (python3-yaml converts it). */
void kube_create_yaml(struct kube *k, const char *path);

/** A namespace, once its "default" ServiceAccount exists (pods need it). */
void kube_namespace(struct kube *k, const char *name);

/** The Node "node1" that test pods are bound to (no kubelet: only an object). */
void kube_node(struct kube *k);

/**
 * A Pod bound to node1 with label app=@app, Running with @ip (and @ip6 when
 * not NULL) as its addresses, Ready or not: the controllers then write its
 * EndpointSlices as for a real pod. @hostname/@subdomain may be NULL.
 */
void kube_pod(struct kube *k, const char *ns, const char *name, const char *app, const char *ip,
              const char *ip6, bool ready, const char *hostname, const char *subdomain);

/** Flip the Ready condition of a pod made by kube_pod(). */
void kube_pod_ready(struct kube *k, const char *ns, const char *name, bool ready);

/** Delete a pod at once (no kubelet confirms a graceful delete). */
void kube_pod_delete(struct kube *k, const char *ns, const char *name);

/**
 * Run `apiserver.sh CMD DIR ARG` (kill-apiserver, start-apiserver, compact).
 * @return its stdout's first line (malloc'ed).
 */
char *kube_fixture(struct kube *k, const char *cmd, const char *arg);

/**
 * Lines of API server @n's audit log from line @from on (0-based) whose user
 * agent starts with "sextant/", as JSON objects; *@next gets the line count.
 */
json_t *kube_audit(struct kube *k, int n, long from, long *next);

/** Every line of API server @n's audit log, as JSON objects. */
json_t *kube_audit_all(struct kube *k, int n);

/** Write a kubeconfig at @path for API server @n with the fixture's CA and bearer @token. */
void kube_kubeconfig(struct kube *k, const char *path, int n, const char *token);

/** The metadata.resourceVersion of @obj as a number (0 when absent). */
long long kube_rv(json_t *obj);

/** A token of ServiceAccount @ns/@sa from the TokenRequest API (1 h), malloc'ed. */
char *kube_sa_token(struct kube *k, const char *ns, const char *sa, const char *bound_secret);
