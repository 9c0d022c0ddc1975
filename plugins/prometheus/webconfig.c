/* webconfig.c -- an exporter-toolkit web configuration file, as the OpenSSL context it asks for. */
#include "webconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <yaml.h>

#define PATH_CAP 4096

/* client_auth_type values, as Go's crypto/tls names them, in OpenSSL's terms. */
static const struct auth {
	const char *name;
	int mode;
	bool any; /* a certificate is asked for but not verified: accept whatever comes */
} auths[] = {
	{ "NoClientCert", SSL_VERIFY_NONE, false },
	{ "RequestClientCert", SSL_VERIFY_PEER, true },
	{ "RequireAnyClientCert", SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, true },
	{ "VerifyClientCertIfGiven", SSL_VERIFY_PEER, false },
	{ "RequireAndVerifyClientCert", SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, false },
};

static const struct version {
	const char *name;
	int v;
} versions[] = {
	{ "TLS10", TLS1_VERSION },
	{ "TLS11", TLS1_1_VERSION },
	{ "TLS12", TLS1_2_VERSION },
	{ "TLS13", TLS1_3_VERSION },
};

struct webconfig {
	const char *path, *dir; /* dir: the file's directory, where relative paths start */
	size_t dirlen;
	char cert[PATH_CAP], key[PATH_CAP], ca[PATH_CAP]; /* "" when not given */
	const struct auth *auth;
	int min, max;
	char *err;
	size_t errlen;
};

static int
fail(struct webconfig *w, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(struct webconfig *w, int rc, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(w->err, w->errlen, "%s: ", w->path);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < w->errlen) {
		vsnprintf(w->err + n, w->errlen - (size_t)n, fmt, ap);
	}
	va_end(ap);
	return rc;
}

/* The first queued OpenSSL error, or errno's text, for a one-line message. */
static const char *
ssl_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();

	if (e) {
		ERR_error_string_n(e, buf, cap);
	} else {
		snprintf(buf, cap, "%s", strerror(errno));
	}
	ERR_clear_error();
	return buf;
}

static const char *
scalar(yaml_document_t *doc, int id)
{
	yaml_node_t *n = yaml_document_get_node(doc, id);

	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* As exporter-toolkit does, a relative path is taken from the file's own directory. */
static int
set_path(struct webconfig *w, char *dst, const char *key, const char *v)
{
	int n;

	if (v[0] == '/' || v[0] == '\0' || w->dirlen == 0) {
		n = snprintf(dst, PATH_CAP, "%s", v);
	} else {
		n = snprintf(dst, PATH_CAP, "%.*s/%s", (int)w->dirlen, w->dir, v);
	}
	return n < 0 || n >= PATH_CAP ? fail(w, -EINVAL, "%s: path too long", key) : 0;
}

static int
set_version(struct webconfig *w, int *dst, const char *key, const char *v)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		if (!strcmp(versions[i].name, v)) {
			*dst = versions[i].v;
			return 0;
		}
	}
	return fail(w, -EINVAL, "%s: unknown TLS version \"%s\" (TLS10, TLS11, TLS12 or TLS13)",
	            key, v);
}

static int
set_auth(struct webconfig *w, const char *v)
{
	for (size_t i = 0; i < sizeof(auths) / sizeof(auths[0]); i++) {
		if (!strcmp(auths[i].name, v)) {
			w->auth = &auths[i];
			return 0;
		}
	}
	return fail(w, -EINVAL, "client_auth_type: unknown value \"%s\"", v);
}

/* The keys of tls_server_config Sextant reads; others are refused by name, whatever their value. */
static const char *const tls_keys[] = {
	"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version",
};

static int
set_tls_key(struct webconfig *w, const char *k, const char *v)
{
	if (!strcmp(k, "cert_file")) {
		return set_path(w, w->cert, k, v);
	} else if (!strcmp(k, "key_file")) {
		return set_path(w, w->key, k, v);
	} else if (!strcmp(k, "client_ca_file")) {
		return set_path(w, w->ca, k, v);
	} else if (!strcmp(k, "client_auth_type")) {
		return set_auth(w, v);
	} else if (!strcmp(k, "min_version")) {
		return set_version(w, &w->min, k, v);
	}
	return set_version(w, &w->max, k, v);
}

static int
read_tls(struct webconfig *w, yaml_document_t *doc, yaml_node_t *m)
{
	yaml_node_pair_t *p;
	int rc = 0;

	if (m->type != YAML_MAPPING_NODE) {
		return fail(w, -EINVAL, "tls_server_config: expected a mapping");
	}
	for (p = m->data.mapping.pairs.start; rc == 0 && p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(doc, p->key), *v = scalar(doc, p->value);
		size_t i;

		for (i = 0; k && i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++) {
			if (!strcmp(k, tls_keys[i])) {
				break;
			}
		}
		if (!k || i == sizeof(tls_keys) / sizeof(tls_keys[0])) {
			return fail(w, -EINVAL, "tls_server_config: %s: not supported",
			            k ? k : "a non-string key");
		}
		if (!v) {
			return fail(w, -EINVAL, "tls_server_config: %s: expected a string", k);
		}
		rc = set_tls_key(w, k, v);
	}
	return rc;
}

/* Fill @w from the YAML document; every other top-level key is refused by name. */
static int
read_doc(struct webconfig *w, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_pair_t *p;
	int rc = 0;

	if (!root || root->type != YAML_MAPPING_NODE) {
		return fail(w, -EINVAL, "expected a mapping with tls_server_config");
	}
	for (p = root->data.mapping.pairs.start; rc == 0 && p < root->data.mapping.pairs.top; p++) {
		const char *k = scalar(doc, p->key);

		if (k && !strcmp(k, "tls_server_config")) {
			rc = read_tls(w, doc, yaml_document_get_node(doc, p->value));
		} else {
			rc = fail(w, -EINVAL, "%s: not supported", k ? k : "a non-string key");
		}
	}
	return rc;
}

static int
parse(struct webconfig *w)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f;
	int rc;

	if (!(f = fopen(w->path, "r"))) {
		return fail(w, -errno, "%s", strerror(errno));
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return fail(w, -ENOMEM, "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = fail(w, -EINVAL, "line %zu: %s", parser.problem_mark.line + 1,
		          parser.problem ? parser.problem : "bad YAML");
	} else {
		rc = read_doc(w, &doc);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

/* Checks that need the whole file, as exporter-toolkit makes them. */
static int
validate(struct webconfig *w)
{
	if (!w->cert[0] || !w->key[0]) {
		return fail(w, -EINVAL, "tls_server_config needs cert_file and key_file");
	}
	if (w->min > w->max) {
		return fail(w, -EINVAL, "min_version is above max_version");
	}
	if (w->ca[0] && w->auth->mode == SSL_VERIFY_NONE) {
		return fail(w, -EINVAL,
		            "client_ca_file is set but client_auth_type is NoClientCert");
	}
	if (!w->ca[0] && w->auth->mode != SSL_VERIFY_NONE && !w->auth->any) {
		return fail(w, -EINVAL, "client_auth_type %s needs client_ca_file", w->auth->name);
	}
	return 0;
}

/* RequestClientCert and RequireAnyClientCert take a certificate without checking it. */
static int
accept_any(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

static int
build(struct webconfig *w, SSL_CTX *ssl)
{
	char why[256];

	SSL_CTX_set_min_proto_version(ssl, w->min);
	SSL_CTX_set_max_proto_version(ssl, w->max);
	if (SSL_CTX_use_certificate_chain_file(ssl, w->cert) != 1) {
		return fail(w, -EINVAL, "cannot load certificate %s: %s", w->cert,
		            ssl_reason(why, sizeof(why)));
	}
	if (SSL_CTX_use_PrivateKey_file(ssl, w->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ssl) != 1) {
		return fail(w, -EINVAL, "cannot load key %s: %s", w->key,
		            ssl_reason(why, sizeof(why)));
	}
	if (w->ca[0]) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(w->ca);

		if (!names || SSL_CTX_load_verify_locations(ssl, w->ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			return fail(w, -EINVAL, "cannot load client_ca_file %s: %s", w->ca,
			            ssl_reason(why, sizeof(why)));
		}
		SSL_CTX_set_client_CA_list(ssl, names);
	}
	SSL_CTX_set_verify(ssl, w->auth->mode, w->auth->any ? accept_any : NULL);
	if (w->auth->mode != SSL_VERIFY_NONE) {
		/* Without it OpenSSL fails the resumption of a session that presented a cert. */
		SSL_CTX_set_session_id_context(ssl, (const unsigned char *)"sextant-metrics", 15);
	}
	return 0;
}

int
prom_webconfig_load(SSL_CTX **out, const char *path, char *err, size_t errlen)
{
	/* exporter-toolkit's defaults: TLS 1.2 to 1.3, no client certificate. */
	struct webconfig w = {
		.path = path,
		.auth = &auths[0],
		.min = TLS1_2_VERSION,
		.max = TLS1_3_VERSION,
		.err = err,
		.errlen = errlen,
	};
	const char *slash = strrchr(path, '/');
	char why[256];
	SSL_CTX *ssl;
	int rc;

	*out = NULL;
	w.dir = path;
	w.dirlen = slash ? (size_t)(slash - path) + (slash == path) : 0;
	if ((rc = parse(&w)) < 0 || (rc = validate(&w)) < 0) {
		return rc;
	}
	if (!(ssl = SSL_CTX_new(TLS_server_method()))) {
		return fail(&w, -ENOMEM, "%s", ssl_reason(why, sizeof(why)));
	}
	if ((rc = build(&w, ssl)) < 0) {
		SSL_CTX_free(ssl);
		return rc;
	}
	*out = ssl;
	return 0;
}
