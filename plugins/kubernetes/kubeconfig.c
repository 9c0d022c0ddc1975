/* kubeconfig.c -- where the API server is and how to authenticate to it. */
#include "kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <sextant/error.h>

#include "yaml2json.h"

#define SA_DIR    "/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_TOKEN (64u << 10)

void
k8s_conn_free(struct k8s_conn *c)
{
	if (!c) {
		return;
	}
	free(c->server);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca.data);
	free(c->cert.data);
	/* Key material: do not leave it in freed memory. */
	if (c->key.data) {
		explicit_bzero(c->key.data, c->key.len);
	}
	free(c->key.data);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
	}
	free(c->token);
	free(c->token_file);
	free(c);
}

static int
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

/* "host:port" means https, as kubectl reads it; drop trailing slashes. */
static int
set_server(struct k8s_conn *c, const char *url, char *err, size_t errlen)
{
	size_t n = strlen(url);
	int r;

	while (n && url[n - 1] == '/') {
		n--;
	}
	if (!n) {
		snprintf(err, errlen, "empty server URL");
		return SX_EINVAL;
	}
	if (strstr(url, "://")) {
		if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
			snprintf(err, errlen, "server URL \"%s\" is neither http:// nor https://",
			         url);
			return SX_EINVAL;
		}
		r = asprintf(&c->server, "%.*s", (int)n, url);
	} else {
		r = asprintf(&c->server, "https://%.*s", (int)n, url);
	}
	if (r < 0) {
		c->server = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int
b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z') {
		return ch - 'A';
	}
	if (ch >= 'a' && ch <= 'z') {
		return ch - 'a' + 26;
	}
	if (ch >= '0' && ch <= '9') {
		return ch - '0' + 52;
	}
	if (ch == '+') {
		return 62;
	}
	if (ch == '/') {
		return 63;
	}
	return -1;
}

/* Standard base64; whitespace is skipped and padding is optional. */
static int
b64decode(struct k8s_blob *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(n / 4 * 3 + 3);
	unsigned acc = 0;
	int bits = 0, pad = 0;
	size_t len = 0;

	if (!out) {
		return -ENOMEM;
	}
	for (; *s; s++) {
		int v;
		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') {
			continue;
		}
		if (*s == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val((unsigned char)*s)) < 0) {
			free(out);
			return SX_EINVAL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (bits >= 6 || pad > 2) {
		free(out);
		return SX_EINVAL;
	}
	free(b->data);
	b->data = out;
	b->len = len;
	return 0;
}

static int
check_readable(const char *path, const char *what, char *err, size_t errlen)
{
	if (access(path, R_OK)) {
		int e = errno;
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
		return -e;
	}
	return 0;
}

/* @path relative to @dir unless absolute; a new string. */
static int
resolve_path(char **out, const char *dir, const char *path)
{
	if (path[0] == '/' || !dir) {
		*out = strdup(path);
	} else if (asprintf(out, "%s/%s", dir, path) < 0) {
		*out = NULL;
	}
	return *out ? 0 : -ENOMEM;
}

/* Read the token file once now, so that a bad path fails at start-up. */
static int
load_token(struct k8s_conn *c, char *err, size_t errlen)
{
	const char *tok;
	char why[256];
	int r;

	if ((r = k8s_conn_token(c, &tok, why, sizeof(why)))) {
		snprintf(err, errlen, "token file %s: %s", c->token_file, why);
		return r;
	}
	return 0;
}

int
k8s_conn_token(struct k8s_conn *c, const char **tok, char *err, size_t errlen)
{
	size_t len, start = 0;
	char *buf;
	int r;

	*tok = c->token;
	if (!c->token_file) {
		return 0;
	}
	if ((r = k8s_read_file(&buf, &len, c->token_file, MAX_TOKEN, err, errlen))) {
		return r;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
	               buf[len - 1] == '\t')) {
		buf[--len] = '\0';
	}
	while (buf[start] == ' ' || buf[start] == '\n' || buf[start] == '\t') {
		start++;
	}
	if (start == len || strpbrk(buf + start, "\r\n")) {
		explicit_bzero(buf, len);
		free(buf);
		snprintf(err, errlen, "%s", start == len ? "empty token" : "token is not one line");
		return SX_EINVAL;
	}
	if (start) {
		memmove(buf, buf + start, len - start + 1);
	}
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = buf;
	*tok = c->token;
	return 0;
}

/* The "cluster"/"user"/"context" object of the entry named @name in @list. */
static json_t *
find_named(json_t *root, const char *list, const char *field, const char *name)
{
	json_t *arr = json_object_get(root, list), *e;
	size_t i;

	json_array_foreach(arr, i, e)
	{
		json_t *n = json_object_get(e, "name");
		if (json_is_string(n) && !strcmp(json_string_value(n), name)) {
			json_t *v = json_object_get(e, field);
			return json_is_object(v) ? v : NULL;
		}
	}
	return NULL;
}

/* A string field; NULL when absent. A field of another type is an error. */
static int
get_str(json_t *o, const char *key, const char **out, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s: %s must be a string", where, key);
		return SX_EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int
file_or_data(json_t *o, const char *key, char **file, struct k8s_blob *blob, const char *dir,
             const char *where, char *err, size_t errlen)
{
	char datakey[64];
	const char *path, *data;
	int r;

	snprintf(datakey, sizeof(datakey), "%s-data", key);
	if ((r = get_str(o, key, &path, where, err, errlen)) ||
	    (r = get_str(o, datakey, &data, where, err, errlen))) {
		return r;
	}
	/* As client-go: inline data wins over a file name. */
	if (data && *data) {
		if ((r = b64decode(blob, data))) {
			snprintf(err, errlen, "%s: %s is not valid base64", where, datakey);
			return r;
		}
		return 0;
	}
	if (path && *path) {
		if ((r = resolve_path(file, dir, path))) {
			return r;
		}
		char what[128];
		snprintf(what, sizeof(what), "%s: %s", where, key);
		return check_readable(*file, what, err, errlen);
	}
	return 0;
}

static int
read_cluster(struct k8s_conn *c, json_t *cl, const char *dir, const char *where, char *err,
             size_t errlen)
{
	const char *server;
	json_t *v;
	char why[256];
	int r;

	if ((r = get_str(cl, "server", &server, where, err, errlen))) {
		return r;
	}
	if (!server || !*server) {
		snprintf(err, errlen, "%s: no server", where);
		return SX_EINVAL;
	}
	if ((r = set_server(c, server, why, sizeof(why)))) {
		snprintf(err, errlen, "%s: %s", where, why);
		return r;
	}
	if (json_object_get(cl, "proxy-url") || json_object_get(cl, "tls-server-name")) {
		snprintf(err, errlen, "%s: %s is not supported", where,
		         json_object_get(cl, "proxy-url") ? "proxy-url" : "tls-server-name");
		return SX_ENOTSUP;
	}
	v = json_object_get(cl, "insecure-skip-tls-verify");
	if (v && !json_is_boolean(v) && !json_is_null(v)) {
		snprintf(err, errlen, "%s: insecure-skip-tls-verify must be true or false", where);
		return SX_EINVAL;
	}
	c->insecure = json_is_true(v);
	if ((r = file_or_data(cl, "certificate-authority", &c->ca_file, &c->ca, dir, where, err,
	                      errlen))) {
		return r;
	}
	if (c->insecure && (c->ca_file || c->ca.data)) {
		snprintf(err, errlen,
		         "%s: a certificate authority and insecure-skip-tls-verify "
		         "exclude each other",
		         where);
		return SX_EINVAL;
	}
	return 0;
}

static int
read_user(struct k8s_conn *c, json_t *u, const char *dir, const char *where, char *err,
          size_t errlen)
{
	static const char *const refused[] = { "exec", "auth-provider", "username", "password",
		                               "as",   "as-groups",     NULL };
	const char *token, *token_file;
	int r;

	for (size_t i = 0; refused[i]; i++) {
		json_t *v = json_object_get(u, refused[i]);
		if (v && !json_is_null(v)) {
			snprintf(err, errlen,
			         "%s: %s is not supported (use a token, a tokenFile "
			         "or a client certificate)",
			         where, refused[i]);
			return SX_ENOTSUP;
		}
	}
	if ((r = get_str(u, "token", &token, where, err, errlen)) ||
	    (r = get_str(u, "tokenFile", &token_file, where, err, errlen))) {
		return r;
	}
	if (token && *token) {
		if ((r = set_str(&c->token, token))) {
			return r;
		}
	} else if (token_file && *token_file) {
		if ((r = resolve_path(&c->token_file, dir, token_file))) {
			return r;
		}
		char why[512];
		if ((r = load_token(c, why, sizeof(why)))) {
			snprintf(err, errlen, "%s: %s", where, why);
			return r;
		}
	}
	if ((r = file_or_data(u, "client-certificate", &c->cert_file, &c->cert, dir, where, err,
	                      errlen)) ||
	    (r = file_or_data(u, "client-key", &c->key_file, &c->key, dir, where, err, errlen))) {
		return r;
	}
	if (!(c->cert_file || c->cert.data) != !(c->key_file || c->key.data)) {
		snprintf(err, errlen, "%s: client-certificate and client-key go together", where);
		return SX_EINVAL;
	}
	return 0;
}

int
k8s_conn_kubeconfig(struct k8s_conn **out, const char *path, const char *context, char *err,
                    size_t errlen)
{
	struct k8s_conn *c = calloc(1, sizeof(*c));
	const char *ctxname, *clname, *uname;
	json_t *docs = NULL, *root, *ctx, *cl, *u = NULL;
	char where[256], why[512];
	char *dir = NULL, *slash;
	int r;

	*out = NULL;
	if (!c || !(dir = strdup(path))) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	slash = strrchr(dir, '/');
	if (slash) {
		slash[slash == dir ? 1 : 0] = '\0';
	} else {
		free(dir);
		dir = NULL;
	}
	if ((r = k8s_yaml_load_file(&docs, path, why, sizeof(why)))) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto fail;
	}
	root = json_array_get(docs, 0);
	if (json_array_size(docs) != 1 || !json_is_object(root)) {
		r = SX_EINVAL;
		snprintf(err, errlen, "%s: not a kubeconfig (one YAML mapping expected)", path);
		goto fail;
	}
	if ((r = get_str(root, "current-context", &ctxname, path, err, errlen))) {
		goto fail;
	}
	if (context && *context) {
		ctxname = context;
	}
	if (!ctxname || !*ctxname) {
		r = SX_EINVAL;
		snprintf(err, errlen, "%s: no current-context and no context given", path);
		goto fail;
	}
	if (!(ctx = find_named(root, "contexts", "context", ctxname))) {
		r = SX_EINVAL;
		snprintf(err, errlen, "%s: context \"%s\" not found", path, ctxname);
		goto fail;
	}
	snprintf(where, sizeof(where), "%s: context \"%s\"", path, ctxname);
	if ((r = get_str(ctx, "cluster", &clname, where, err, errlen)) ||
	    (r = get_str(ctx, "user", &uname, where, err, errlen))) {
		goto fail;
	}
	if (!clname || !*clname) {
		r = SX_EINVAL;
		snprintf(err, errlen, "%s has no cluster", where);
		goto fail;
	}
	if (!(cl = find_named(root, "clusters", "cluster", clname))) {
		r = SX_EINVAL;
		snprintf(err, errlen, "%s: cluster \"%s\" not found", path, clname);
		goto fail;
	}
	if (uname && *uname && !(u = find_named(root, "users", "user", uname))) {
		r = SX_EINVAL;
		snprintf(err, errlen, "%s: user \"%s\" not found", path, uname);
		goto fail;
	}
	snprintf(where, sizeof(where), "%s: cluster \"%s\"", path, clname);
	if ((r = read_cluster(c, cl, dir, where, err, errlen))) {
		goto fail;
	}
	snprintf(where, sizeof(where), "%s: user \"%s\"", path, uname ? uname : "");
	if (u && (r = read_user(c, u, dir, where, err, errlen))) {
		goto fail;
	}
	json_decref(docs);
	free(dir);
	*out = c;
	return 0;
fail:
	if (r == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	json_decref(docs);
	free(dir);
	k8s_conn_free(c);
	return r;
}

int
k8s_conn_incluster(struct k8s_conn **out, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("SEXTANT_SA_DIR");
	struct k8s_conn *c;
	int r;

	*out = NULL;
	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen,
		         "no endpoint, kubeconfig or manifests, and not in a cluster "
		         "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)");
		return SX_EINVAL;
	}
	if (!dir || !*dir) {
		dir = SA_DIR;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
	             port);
	if (r < 0 || asprintf(&c->token_file, "%s/token", dir) < 0 ||
	    asprintf(&c->ca_file, "%s/ca.crt", dir) < 0) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((r = load_token(c, err, errlen))) {
		goto fail;
	}
	if ((r = check_readable(c->ca_file, "service account CA", err, errlen))) {
		goto fail;
	}
	*out = c;
	return 0;
fail:
	k8s_conn_free(c);
	return r;
}

int
k8s_conn_endpoint(struct k8s_conn **out, const char *url, const char *cert, const char *key,
                  const char *ca, char *err, size_t errlen)
{
	struct k8s_conn *c = calloc(1, sizeof(*c));
	char why[256];
	int r;

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((r = set_server(c, url, why, sizeof(why)))) {
		snprintf(err, errlen, "endpoint: %s", why);
		goto fail;
	}
	if (!cert != !key || !cert != !ca) {
		r = SX_EINVAL;
		snprintf(err, errlen, "tls needs CERT, KEY and CACERT");
		goto fail;
	}
	if (cert) {
		if ((r = set_str(&c->cert_file, cert)) || (r = set_str(&c->key_file, key)) ||
		    (r = set_str(&c->ca_file, ca))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if ((r = check_readable(cert, "tls certificate", err, errlen)) ||
		    (r = check_readable(key, "tls key", err, errlen)) ||
		    (r = check_readable(ca, "tls CA certificate", err, errlen))) {
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	k8s_conn_free(c);
	return r;
}
