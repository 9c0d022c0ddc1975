/* kube.c -- the tests' side of a real API server started by apiserver.sh: requests and objects. */
#include "kube.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#define MAX_ENV 64

struct kube {
	char *keys[MAX_ENV], *vals[MAX_ENV];
	int nenv;
	char url[128];
	int server;
	CURL *curl;
};

struct buf {
	char *p;
	size_t n;
};

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	char *np = realloc(b->p, b->n + size * nmemb + 1);

	cr_assert_not_null(np);
	b->p = np;
	memcpy(b->p + b->n, ptr, size * nmemb);
	b->n += size * nmemb;
	b->p[b->n] = '\0';
	return size * nmemb;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct kube *
kube_open(void)
{
	const char *dir = getenv("SX_K8S_DIR");
	struct kube *k = calloc(1, sizeof(*k));
	char path[512], line[1024];
	FILE *f;

	cr_assert_not_null(k);
	cr_assert(dir && *dir, "SX_K8S_DIR is not set: run the test through tests/k8s-real/run.sh");
	snprintf(path, sizeof(path), "%s/env", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) && k->nenv < MAX_ENV) {
		char *eq = strchr(line, '=');

		if (!eq) {
			continue;
		}
		*eq = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		k->keys[k->nenv] = strdup(line);
		k->vals[k->nenv++] = strdup(eq + 1);
	}
	fclose(f);
	kube_use(k, 1);
	k->curl = curl_easy_init();
	cr_assert_not_null(k->curl);
	return k;
}

void
kube_close(struct kube *k)
{
	if (!k) {
		return;
	}
	for (int i = 0; i < k->nenv; i++) {
		free(k->keys[i]);
		free(k->vals[i]);
	}
	curl_easy_cleanup(k->curl);
	free(k);
}

const char *
kube_env(const struct kube *k, const char *key)
{
	for (int i = 0; i < k->nenv; i++) {
		if (!strcmp(k->keys[i], key)) {
			return k->vals[i];
		}
	}
	cr_assert_fail("%s is not in the control plane's env", key);
	return NULL;
}

void
kube_use(struct kube *k, int n)
{
	k->server = n;
	snprintf(k->url, sizeof(k->url), "%s", kube_env(k, n == 2 ? "K8S_URL2" : "K8S_URL"));
}

static long
request(struct kube *k, const char *token, const char *method, const char *path, const char *body,
        json_t **reply)
{
	struct curl_slist *h = NULL;
	struct buf b = { 0 };
	char url[2048], auth[2048];
	long status = 0;
	CURL *e = k->curl;

	curl_easy_reset(e);
	snprintf(url, sizeof(url), "%s%s", k->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, strcmp(method, "PATCH")
	                                 ? "Content-Type: application/json"
	                                 : "Content-Type: application/merge-patch+json");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_CAINFO, kube_env(k, "K8S_CA"));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sextant-tests");
	/* As the plugin asks: the API server gzips replies of 128 KiB and more. */
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(e) == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	}
	curl_slist_free_all(h);
	if (reply) {
		*reply = b.p ? json_loads(b.p, 0, NULL) : NULL;
	}
	free(b.p);
	return status;
}

long
kube_req(struct kube *k, const char *method, const char *path, const char *body, json_t **reply)
{
	return request(k, kube_env(k, "K8S_ADMIN_TOKEN"), method, path, body, reply);
}

long
kube_req_as(struct kube *k, const char *token, const char *method, const char *path)
{
	return request(k, token, method, path, NULL, NULL);
}

json_t *
kube_must(struct kube *k, const char *method, const char *path, const char *body)
{
	json_t *r = NULL;
	long st = kube_req(k, method, path, body, &r);

	if (st < 200 || st > 299) {
		char *txt = r ? json_dumps(r, JSON_COMPACT) : NULL;
		cr_assert_fail("%s %s: HTTP %ld %s\nbody: %s", method, path, st, txt ? txt : "",
		               body ? body : "");
	}
	return r;
}

/* The collection an object of kind @kind in apiVersion @av and namespace @ns belongs in. */
static void
collection(char *out, size_t size, const char *av, const char *kind, const char *ns)
{
	static const char *const cluster[] = { "Namespace", "Node", "ClusterRole",
		                               "ClusterRoleBinding", NULL };
	char plural[64];
	size_t i, n = 0;
	bool scoped = true;

	for (i = 0; cluster[i]; i++) {
		scoped = scoped && strcmp(kind, cluster[i]) != 0;
	}
	for (i = 0; kind[i] && n + 2 < sizeof(plural); i++) {
		plural[n++] = (char)tolower((unsigned char)kind[i]);
	}
	if (n == 0 || plural[n - 1] != 's') {
		plural[n++] = 's'; /* Endpoints is already plural */
	}
	plural[n] = '\0';
	if (scoped) {
		snprintf(out, size, "/%s/%s/namespaces/%s/%s", strchr(av, '/') ? "apis" : "api", av,
		         ns ? ns : "default", plural);
	} else {
		snprintf(out, size, "/%s/%s/%s", strchr(av, '/') ? "apis" : "api", av, plural);
	}
}

long long
kube_create(struct kube *k, const char *obj)
{
	json_error_t jerr;
	json_t *o = json_loads(obj, 0, &jerr), *r;
	const char *av, *kind, *ns;
	char path[512];
	long long rv;

	cr_assert_not_null(o, "bad JSON (%s): %s", jerr.text, obj);
	av = json_string_value(json_object_get(o, "apiVersion"));
	kind = json_string_value(json_object_get(o, "kind"));
	ns = json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));
	cr_assert(av && kind, "no apiVersion or kind: %s", obj);
	collection(path, sizeof(path), av, kind, ns);
	r = kube_must(k, "POST", path, obj);
	rv = kube_rv(r);
	json_decref(r);
	json_decref(o);
	return rv;
}

void
kube_create_yaml(struct kube *k, const char *path)
{
	char cmd[1024], *line = NULL;
	size_t cap = 0;
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/python3 -c 'import json, sys, yaml\n"
	         "for d in yaml.safe_load_all(open(sys.argv[1])):\n"
	         "    d and print(json.dumps(d))' '%s'",
	         path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (getline(&line, &cap, p) > 0) {
		kube_create(k, line);
		n++;
	}
	free(line);
	cr_assert_eq(pclose(p), 0, "cannot read %s as YAML", path);
	cr_assert_gt(n, 0, "%s: no object", path);
}

void
kube_namespace(struct kube *k, const char *name)
{
	char obj[256], path[256];
	double t0 = now_s();

	snprintf(obj, sizeof(obj),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
	         "\"name\":\"%s\"}}",
	         name);
	kube_create(k, obj);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/default", name);
	while (kube_req(k, "GET", path, NULL, NULL) != 200) {
		cr_assert_lt(now_s() - t0, 30,
		             "the serviceaccount controller made no default "
		             "account in %s",
		             name);
		sleep_ms(50);
	}
}

/*
 * The first write of a test binary, made from criterion's .init, where a failed
 * assertion shows only as "unexpected signal". On a loaded machine it failed
 * so for the first two tests of a binary, right after the API server was ready,
 * with a status the report could not show: what a server may ask to retry (no
 * connection, 429, 5xx) is retried for a minute.
 */
void
kube_node(struct kube *k)
{
	double t0 = now_s();
	long st;

	for (;;) {
		st = kube_req(k, "POST", "/api/v1/nodes",
		              "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{"
		              "\"name\":\"node1\"}}",
		              NULL);
		if ((st != 0 && st != 429 && st < 500) || now_s() - t0 > 60) {
			break;
		}
		sleep_ms(100);
	}
	cr_assert(st == 201 || st == 409, "creating node1: HTTP %ld", st);
}

static void
pod_status(struct kube *k, const char *ns, const char *name, const char *ip, const char *ip6,
           bool ready)
{
	char path[256], body[1024], ips[256];

	if (ip6) {
		snprintf(ips, sizeof(ips), "[{\"ip\":\"%s\"},{\"ip\":\"%s\"}]", ip, ip6);
	} else {
		snprintf(ips, sizeof(ips), "[{\"ip\":\"%s\"}]", ip);
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ns, name);
	snprintf(body, sizeof(body),
	         "{\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\",\"podIPs\":%s,"
	         "\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
	         ip, ips, ready ? "True" : "False");
	json_decref(kube_must(k, "PATCH", path, body));
}

void
kube_pod(struct kube *k, const char *ns, const char *name, const char *app, const char *ip,
         const char *ip6, bool ready, const char *hostname, const char *subdomain)
{
	char obj[2048], extra[256] = "";

	if (hostname) {
		snprintf(extra, sizeof(extra), "\"hostname\":\"%s\",\"subdomain\":\"%s\",",
		         hostname, subdomain ? subdomain : "");
	}
	snprintf(obj, sizeof(obj),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	         "\"namespace\":\"%s\",\"labels\":{\"app\":\"%s\"}},\"spec\":{%s"
	         "\"nodeName\":\"node1\",\"automountServiceAccountToken\":false,"
	         "\"containers\":[{\"name\":\"c\",\"image\":\"none\"}]}}",
	         name, ns, app, extra);
	kube_create(k, obj);
	pod_status(k, ns, name, ip, ip6, ready);
}

void
kube_pod_ready(struct kube *k, const char *ns, const char *name, bool ready)
{
	char path[256], body[256];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ns, name);
	snprintf(body, sizeof(body),
	         "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
	         ready ? "True" : "False");
	json_decref(kube_must(k, "PATCH", path, body));
}

void
kube_pod_delete(struct kube *k, const char *ns, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s?gracePeriodSeconds=0", ns,
	         name);
	json_decref(kube_must(k, "DELETE", path, NULL));
}

char *
kube_fixture(struct kube *k, const char *cmd, const char *arg)
{
	const char *root = getenv("SX_SOURCE_ROOT");
	char line[4096], *out = NULL;
	FILE *p;

	cr_assert_not_null(root);
	snprintf(line, sizeof(line), "'%s/tests/k8s-real/apiserver.sh' %s '%s' %s", root, cmd,
	         kube_env(k, "K8S_DIR"), arg ? arg : "");
	p = popen(line, "r");
	cr_assert_not_null(p);
	if (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		out = strdup(line);
	}
	while (fgets(line, sizeof(line), p)) {
	}
	cr_assert_eq(pclose(p), 0, "apiserver.sh %s failed", cmd);
	return out ? out : strdup("");
}

static json_t *
audit(struct kube *k, int n, long from, long *next, const char *agent)
{
	char path[512], *line = NULL;
	json_t *out = json_array();
	size_t cap = 0;
	long i = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/apiserver%d/audit.log", kube_env(k, "K8S_DIR"), n);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	for (; getline(&line, &cap, f) > 0; i++) {
		json_t *ev;
		const char *ua;

		if (i < from || !(ev = json_loads(line, 0, NULL))) {
			continue;
		}
		ua = json_string_value(json_object_get(ev, "userAgent"));
		if (!agent || (ua && !strncmp(ua, agent, strlen(agent)))) {
			json_array_append_new(out, ev);
		} else {
			json_decref(ev);
		}
	}
	free(line);
	fclose(f);
	if (next) {
		*next = i;
	}
	return out;
}

void
kube_kubeconfig(struct kube *k, const char *path, int n, const char *token)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fprintf(f,
	        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
	        "    server: %s\n    certificate-authority: %s\nusers:\n- name: u\n  user:\n"
	        "    token: %s\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
	        "current-context: x\n",
	        kube_env(k, n == 2 ? "K8S_URL2" : "K8S_URL"), kube_env(k, "K8S_CA"), token);
	fclose(f);
}

long long
kube_rv(json_t *obj)
{
	const char *rv = json_string_value(
	        json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

	return rv ? atoll(rv) : 0;
}

json_t *
kube_audit(struct kube *k, int n, long from, long *next)
{
	return audit(k, n, from, next, "sextant/");
}

json_t *
kube_audit_all(struct kube *k, int n)
{
	return audit(k, n, 0, NULL, NULL);
}

char *
kube_sa_token(struct kube *k, const char *ns, const char *sa, const char *bound_secret)
{
	char path[256], body[512], *tok;
	json_t *r;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/%s/token", ns, sa);
	if (bound_secret) {
		snprintf(body, sizeof(body),
		         "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
		         "\"spec\":{\"expirationSeconds\":3600,\"boundObjectRef\":{\"kind\":"
		         "\"Secret\",\"apiVersion\":\"v1\",\"name\":\"%s\"}}}",
		         bound_secret);
	} else {
		snprintf(body, sizeof(body),
		         "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
		         "\"spec\":{\"expirationSeconds\":3600}}");
	}
	r = kube_must(k, "POST", path, body);
	tok = strdup(json_string_value(json_object_get(json_object_get(r, "status"), "token")));
	cr_assert_not_null(tok);
	json_decref(r);
	return tok;
}
