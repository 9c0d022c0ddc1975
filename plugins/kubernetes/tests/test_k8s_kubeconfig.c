/* test_k8s_kubeconfig.c -- kubeconfig, in-cluster and endpoint connection settings. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sextant/error.h>

#include "../kubeconfig.h"

static char dir[64];
static char err[1024];

static void
mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/k8s-kc-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(kubeconfig, .init = mkdir_tmp, .fini = rm_tmp);

/* Write @text to DIR/@name; return the full path (static buffer per call slot). */
static const char *
put(const char *name, const char *text)
{
	static char paths[8][256];
	static int slot;
	char *p = paths[slot++ % 8];
	FILE *f;

	snprintf(p, 256, "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static struct k8s_conn *
load_ok(const char *path, const char *context)
{
	struct k8s_conn *c = NULL;
	int r = k8s_conn_kubeconfig(&c, path, context, err, sizeof(err));

	cr_assert_eq(r, 0, "load failed: %s", err);
	cr_assert_not_null(c);
	return c;
}

static void
load_fails(const char *path, const char *context, const char *fragment)
{
	struct k8s_conn *c = (void *)1;
	int r = k8s_conn_kubeconfig(&c, path, context, err, sizeof(err));

	cr_assert_lt(r, 0, "no error, wanted \"%s\"", fragment);
	cr_assert_null(c);
	cr_assert(strstr(err, fragment), "error \"%s\" lacks \"%s\"", err, fragment);
}

#define TWO_CONTEXTS                                                                    \
	"apiVersion: v1\nkind: Config\n"                                                \
	"clusters:\n"                                                                   \
	"- name: prod\n  cluster:\n    server: https://10.0.0.1:6443/\n"                \
	"    insecure-skip-tls-verify: true\n"                                          \
	"- name: dev\n  cluster:\n    server: 127.0.0.1:8443\n"                         \
	"    certificate-authority: certs/ca.pem\n"                                     \
	"users:\n"                                                                      \
	"- name: admin\n  user:\n    token: s3cret\n"                                   \
	"- name: robot\n  user:\n    tokenFile: tok\n"                                  \
	"contexts:\n"                                                                   \
	"- name: p\n  context:\n    cluster: prod\n    user: admin\n    namespace: x\n" \
	"- name: d\n  context: {cluster: dev, user: robot}\n"                           \
	"current-context: p\n"

Test(kubeconfig, current_context_with_token)
{
	const char *kc = put("config", TWO_CONTEXTS);
	struct k8s_conn *c = load_ok(kc, NULL);
	const char *tok;

	cr_assert_str_eq(c->server, "https://10.0.0.1:6443");
	cr_assert(c->insecure);
	cr_assert_null(c->ca_file);
	cr_assert_null(c->token_file);
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "s3cret");
	k8s_conn_free(c);
}

Test(kubeconfig, named_context_relative_paths_and_token_file_rotation)
{
	char p[256];
	const char *kc, *tok;
	struct k8s_conn *c;

	snprintf(p, sizeof(p), "%s/certs", dir);
	cr_assert_eq(mkdir(p, 0700), 0);
	put("certs/ca.pem", "-----BEGIN CERTIFICATE-----\n");
	put("tok", "first-token\n");
	kc = put("config", TWO_CONTEXTS);
	c = load_ok(kc, "d");
	cr_assert_str_eq(c->server, "https://127.0.0.1:8443", "no scheme means https");
	snprintf(p, sizeof(p), "%s/certs/ca.pem", dir);
	cr_assert_str_eq(c->ca_file, p);
	snprintf(p, sizeof(p), "%s/tok", dir);
	cr_assert_str_eq(c->token_file, p);
	cr_assert_not(c->insecure);
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "first-token");

	/* Rotation: the next request sees the new token. */
	put("tok", "  second-token \n");
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "second-token");

	/* The file vanishing keeps the last token and says why. */
	unlink(p);
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(tok, "second-token");
	put("tok", "\n");
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), SX_EINVAL);
	cr_assert_str_eq(err, "empty token");
	cr_assert_str_eq(tok, "second-token");
	k8s_conn_free(c);
}

Test(kubeconfig, inline_data_is_base64_decoded)
{
	/* "CA-PEM\n", "CERT-PEM", "KEY-PEM!" */
	const char *kc = put("config",
	                     "clusters:\n- name: c\n  cluster:\n    server: https://[::1]:6443\n"
	                     "    certificate-authority-data: Q0EtUEVNCg==\n"
	                     "    certificate-authority: /nonexistent/ignored-when-data-is-given\n"
	                     "users:\n- name: u\n  user:\n"
	                     "    client-certificate-data: |\n      Q0VSVC1Q\n      RU0=\n"
	                     "    client-key-data: S0VZLVBFTSE\n"
	                     "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
	                     "current-context: x\n");
	struct k8s_conn *c = load_ok(kc, NULL);
	const char *tok;

	cr_assert_str_eq(c->server, "https://[::1]:6443");
	cr_assert_eq(c->ca.len, 7);
	cr_assert_eq(memcmp(c->ca.data, "CA-PEM\n", 7), 0);
	cr_assert_null(c->ca_file);
	cr_assert_eq(c->cert.len, 8);
	cr_assert_eq(memcmp(c->cert.data, "CERT-PEM", 8), 0);
	cr_assert_eq(c->key.len, 8);
	cr_assert_eq(memcmp(c->key.data, "KEY-PEM!", 8), 0);
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), 0);
	cr_assert_null(tok);
	k8s_conn_free(c);
}

Test(kubeconfig, client_certificate_files)
{
	const char *kc;
	struct k8s_conn *c;
	char p[256];

	put("crt.pem", "x");
	put("key.pem", "y");
	kc = put("config",
	         "clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:8080'}\n"
	         "users:\n- name: u\n  user: {client-certificate: crt.pem, client-key: key.pem}\n"
	         "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
	         "current-context: x\n");
	c = load_ok(kc, NULL);
	snprintf(p, sizeof(p), "%s/crt.pem", dir);
	cr_assert_str_eq(c->cert_file, p);
	snprintf(p, sizeof(p), "%s/key.pem", dir);
	cr_assert_str_eq(c->key_file, p);
	cr_assert_str_eq(c->server, "http://127.0.0.1:8080");
	k8s_conn_free(c);
}

#define KC(cluster, user)                                                                \
	"clusters:\n- name: c\n  cluster:\n" cluster "users:\n- name: u\n  user:\n" user \
	"contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"

Test(kubeconfig, errors_are_clear)
{
	load_fails("/nonexistent/kubeconfig", NULL, "/nonexistent/kubeconfig: No such file");
	load_fails(put("a", TWO_CONTEXTS), "nope", "context \"nope\" not found");
	load_fails(put("b", "clusters: []\n"), NULL, "no current-context");
	load_fails(put("c", "clusters: [\n"), NULL, "/c: line 2");
	load_fails(put("d", "- a\n- b\n"), NULL, "not a kubeconfig");
	load_fails(put("e", "a: 1\n---\nb: 2\n"), NULL, "not a kubeconfig");
	load_fails(put("f", KC("    server: https://h\n", "    exec: {command: aws}\n")), NULL,
	           "user \"u\": exec is not supported");
	load_fails(put("g", KC("    server: https://h\n", "    auth-provider: {name: gcp}\n")),
	           NULL, "auth-provider is not supported");
	load_fails(put("h", KC("    insecure-skip-tls-verify: true\n"
	                       "    certificate-authority-data: QQ==\n"
	                       "    server: https://h\n",
	                       "    token: t\n")),
	           NULL, "exclude each other");
	load_fails(put("i", KC("    server: https://h\n", "    client-certificate: nofile\n"
	                                                  "    client-key: nofile\n")),
	           NULL, "client-certificate ");
	load_fails(put("j", KC("    server: https://h\n", "    client-key-data: QQ==\n")), NULL,
	           "go together");
	load_fails(put("k", KC("    certificate-authority-data: '!!'\n    server: https://h\n",
	                       "    token: t\n")),
	           NULL, "certificate-authority-data is not valid base64");
	load_fails(put("l", KC("    server: ftp://h\n", "    token: t\n")), NULL,
	           "neither http:// nor https://");
	load_fails(put("m", KC("    server: 5\n", "    token: t\n")), NULL,
	           "server must be a string");
	load_fails(put("n", KC("    {}\n", "    token: t\n")), NULL, "no server");
	load_fails(put("o", KC("    server: https://h\n", "    tokenFile: missing-token\n")), NULL,
	           "missing-token: No such file");
	load_fails(put("p", "clusters: []\nusers: []\ncontexts:\n"
	                    "- name: x\n  context: {cluster: gone}\ncurrent-context: x\n"),
	           NULL, "cluster \"gone\" not found");
	load_fails(
	        put("q", KC("    server: https://h\n    proxy-url: http://p\n", "    token: t\n")),
	        NULL, "proxy-url is not supported");
}

Test(kubeconfig, user_is_optional)
{
	struct k8s_conn *c = load_ok(put("config", "clusters:\n- name: c\n  cluster:\n"
	                                           "    server: https://h:1\ncontexts:\n- name: x\n"
	                                           "  context: {cluster: c}\ncurrent-context: x\n"),
	                             NULL);

	cr_assert_null(c->token);
	cr_assert_null(c->cert_file);
	k8s_conn_free(c);
}

Test(kubeconfig, in_cluster)
{
	struct k8s_conn *c = NULL;
	const char *tok;
	char p[256];

	setenv("SEXTANT_SA_DIR", dir, 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	cr_assert_eq(k8s_conn_incluster(&c, err, sizeof(err)), SX_EINVAL);
	cr_assert(strstr(err, "KUBERNETES_SERVICE_HOST"), "%s", err);

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	cr_assert_eq(k8s_conn_incluster(&c, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/token: No such file"), "%s", err);

	put("token", "sa-token-1");
	cr_assert_eq(k8s_conn_incluster(&c, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "ca.crt"), "%s", err);

	put("ca.crt", "pem");
	cr_assert_eq(k8s_conn_incluster(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c->server, "https://10.96.0.1:443");
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	cr_assert_str_eq(c->ca_file, p);
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "sa-token-1");
	put("token", "sa-token-2");
	cr_assert_eq(k8s_conn_token(c, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "sa-token-2");
	k8s_conn_free(c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	cr_assert_eq(k8s_conn_incluster(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c->server, "https://[fd00::1]:443");
	k8s_conn_free(c);
}

Test(kubeconfig, endpoint_and_tls)
{
	struct k8s_conn *c = NULL;
	const char *crt = put("crt", "c"), *key = put("key", "k"), *ca = put("ca", "a");

	cr_assert_eq(
	        k8s_conn_endpoint(&c, "http://127.0.0.1:8080/", NULL, NULL, NULL, err, sizeof(err)),
	        0, "%s", err);
	cr_assert_str_eq(c->server, "http://127.0.0.1:8080");
	cr_assert_null(c->cert_file);
	k8s_conn_free(c);

	cr_assert_eq(k8s_conn_endpoint(&c, "https://k:6443", crt, key, ca, err, sizeof(err)), 0,
	             "%s", err);
	cr_assert_str_eq(c->cert_file, crt);
	cr_assert_str_eq(c->key_file, key);
	cr_assert_str_eq(c->ca_file, ca);
	k8s_conn_free(c);

	cr_assert_eq(k8s_conn_endpoint(&c, "https://k", crt, NULL, ca, err, sizeof(err)),
	             SX_EINVAL);
	cr_assert_eq(
	        k8s_conn_endpoint(&c, "https://k", crt, key, "/nonexistent/ca", err, sizeof(err)),
	        -ENOENT);
	cr_assert(strstr(err, "/nonexistent/ca"), "%s", err);
	cr_assert_eq(k8s_conn_endpoint(&c, "gopher://k", NULL, NULL, NULL, err, sizeof(err)),
	             SX_EINVAL);
	cr_assert_null(c);
}
