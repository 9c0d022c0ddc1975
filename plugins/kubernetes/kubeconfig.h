/* kubeconfig.h -- where the API server is and how to authenticate to it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/** Bytes decoded from a kubeconfig `*-data` field (handed to libcurl as a blob). */
struct k8s_blob {
	unsigned char *data;
	size_t len;
};

/** How to reach and authenticate to one API server. */
struct k8s_conn {
	char *server;                         /* scheme://host[:port][/prefix], no trailing '/' */
	char *ca_file, *cert_file, *key_file; /* PEM files, or NULL */
	struct k8s_blob ca, cert, key; /* PEM bytes from *-data fields; used before the files */
	char *token;                   /* bearer token, or NULL for none */
	char *token_file;              /* if set, the token is re-read from here */
	bool insecure;                 /* do not verify the server certificate */
};

/**
 * Read a kubeconfig file: the cluster and user of @context, or of its
 * current-context when @context is NULL. Relative file names in it are taken
 * against the kubeconfig's directory. Supports server,
 * certificate-authority(-data), insecure-skip-tls-verify, token, tokenFile,
 * client-certificate(-data) and client-key(-data); exec and auth-provider
 * users, username/password, proxy-url and tls-server-name are refused.
 * @return 0 and a new connection in *@out, or an error with "FILE: reason" in @err.
 */
int k8s_conn_kubeconfig(struct k8s_conn **out, const char *path, const char *context, char *err,
                        size_t errlen);

/**
 * The in-cluster configuration: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 * with the service account's token (re-read before each request) and ca.crt
 * from /var/run/secrets/kubernetes.io/serviceaccount, or from the directory
 * named by the environment variable SEXTANT_SA_DIR when it is set.
 * @return 0 and a new connection in *@out, or an error with the reason in @err.
 */
int k8s_conn_incluster(struct k8s_conn **out, char *err, size_t errlen);

/**
 * `endpoint URL` with, optionally, `tls CERT KEY CACERT` (all three or none).
 * @return 0 and a new connection in *@out, or an error with the reason in @err.
 */
int k8s_conn_endpoint(struct k8s_conn **out, const char *url, const char *cert, const char *key,
                      const char *ca, char *err, size_t errlen);

/**
 * The bearer token to send now, re-reading token_file (service-account
 * tokens rotate). When the file cannot be read, the last token read stays in
 * use and the reason is returned.
 * @param tok set to the token (valid until the next call), or NULL for none.
 * @return 0, or -errno with the reason in @err (*@tok is still set).
 */
int k8s_conn_token(struct k8s_conn *c, const char **tok, char *err, size_t errlen);

void k8s_conn_free(struct k8s_conn *c);
