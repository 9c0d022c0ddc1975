/* test_k8s_watch.c -- LIST and WATCH against the fake API server (tests/fakeapi). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include <sextant/error.h>
#include <sextant/testing.h>

#include "../apiclient.h"
#include "../k8s.h"
#include "../kubeconfig.h"
#include "../watch.h"

/* ---- a store that records what it is told ---- */

#define MAX_RECS 4096

struct rec {
	enum k8s_kind kind;
	enum k8s_event ev;
	char id[128];
	long long rv;
};

struct sobj {
	enum k8s_kind kind;
	char id[128];
	bool live, stale;
};

struct k8s_store {
	struct rec recs[MAX_RECS];
	size_t nrecs;
	struct sobj objs[MAX_RECS];
	size_t nobjs;
	int begins[K8S_NKINDS], ends[K8S_NKINDS];
	int relist_deleted;
};

static struct k8s_store store;

static struct sobj *
find_obj(enum k8s_kind kind, const char *id)
{
	for (size_t i = 0; i < store.nobjs; i++) {
		if (store.objs[i].kind == kind && !strcmp(store.objs[i].id, id)) {
			return &store.objs[i];
		}
	}
	return NULL;
}

static int
apply_obj(struct k8s_store *st, enum k8s_kind kind, enum k8s_event ev, json_t *obj, char *err,
          size_t errlen)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
	json_t *labels = json_object_get(md, "labels");
	struct rec *r;
	struct sobj *o;

	/* Stands for any object the store cannot use. */
	if (!name || json_object_get(labels, "reject")) {
		snprintf(err, errlen, "rejected by the test store");
		return SX_EINVAL;
	}
	cr_assert_lt(st->nrecs, MAX_RECS);
	r = &st->recs[st->nrecs++];
	r->kind = kind;
	r->ev = ev;
	snprintf(r->id, sizeof(r->id), "%s/%s", ns ? ns : "", name);
	r->rv = rv ? atoll(rv) : 0;
	if (!(o = find_obj(kind, r->id))) {
		cr_assert_lt(st->nobjs, MAX_RECS);
		o = &st->objs[st->nobjs++];
		o->kind = kind;
		memcpy(o->id, r->id, sizeof(o->id));
	}
	o->live = ev != K8S_DELETED;
	o->stale = false;
	return 0;
}

/* The store reads JSON text; this one keeps a tree of it for the checks. */
int
k8s_store_apply(struct k8s_store *st, enum k8s_kind kind, enum k8s_event ev, const char *json,
                size_t len, char *err, size_t errlen)
{
	json_t *obj = json_loadb(json, len, 0, NULL);
	int r;

	cr_assert_not_null(obj, "not JSON: %.*s", (int)len, json);
	r = apply_obj(st, kind, ev, obj, err, errlen);
	json_decref(obj);
	return r;
}

void
k8s_store_relist_begin(struct k8s_store *st, enum k8s_kind kind)
{
	for (size_t i = 0; i < st->nobjs; i++) {
		if (st->objs[i].kind == kind && st->objs[i].live) {
			st->objs[i].stale = true;
		}
	}
	st->begins[kind]++;
}

void
k8s_store_relist_end(struct k8s_store *st, enum k8s_kind kind)
{
	for (size_t i = 0; i < st->nobjs; i++) {
		if (st->objs[i].kind == kind && st->objs[i].stale) {
			st->objs[i].stale = false;
			st->objs[i].live = false;
			st->relist_deleted++;
		}
	}
	st->ends[kind]++;
}

bool
k8s_store_synced(const struct k8s_store *st)
{
	return true;
}

static bool
live(enum k8s_kind kind, const char *id)
{
	struct sobj *o = find_obj(kind, id);

	return o && o->live;
}

static size_t
nlive(enum k8s_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < store.nobjs; i++) {
		n += store.objs[i].kind == kind && store.objs[i].live;
	}
	return n;
}

/* ---- the fake API server process ---- */

static struct {
	pid_t pid;
	int port;
	bool tls;
	bool client_cert; /* control calls must show the client certificate */
	char url[64];
} fake;

static char tmp[64];
static char logpath[128];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
fake_script(void)
{
	static char path[512];
	const char *env = getenv("SX_FAKEAPI"), *root = getenv("SX_SOURCE_ROOT");

	if (env && *env) {
		return env;
	}
	cr_assert_not_null(root, "SX_SOURCE_ROOT or SX_FAKEAPI must be set");
	snprintf(path, sizeof(path), "%s/tests/fakeapi/fakeapi.py", root);
	return path;
}

/* Start fakeapi.py with @args (NULL-terminated), on fake.port if already set. */
static void
fake_start(const char *const *args)
{
	const char *argv[64];
	char portfile[160], port[16], errpath[160];
	int n = 0;

	snprintf(portfile, sizeof(portfile), "%s/port", tmp);
	snprintf(errpath, sizeof(errpath), "%s/fakeapi.log", tmp);
	unlink(portfile);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = fake_script();
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--bookmark-interval";
	argv[n++] = "0";
	if (fake.port) {
		snprintf(port, sizeof(port), "%d", fake.port);
		argv[n++] = "--port";
		argv[n++] = port;
	}
	for (; args && *args && n < 62; args++) {
		argv[n++] = *args;
	}
	argv[n] = NULL;
	fake.pid = fork();
	cr_assert_geq(fake.pid, 0);
	if (!fake.pid) {
		int devnull = open("/dev/null", O_WRONLY);
		int errfd = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(devnull, 1);
		dup2(errfd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 800; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			int ok = fscanf(f, "%d", &fake.port);
			fclose(f);
			if (ok == 1) {
				snprintf(fake.url, sizeof(fake.url), "%s://127.0.0.1:%d",
				         fake.tls ? "https" : "http", fake.port);
				return;
			}
		}
		usleep(25000);
	}
	{
		char msg[2048] = "";
		FILE *f = fopen(errpath, "r");
		size_t n = f ? fread(msg, 1, sizeof(msg) - 1, f) : 0;
		msg[n] = '\0';
		if (f) {
			fclose(f);
		}
		cr_assert_fail("fakeapi did not start: %s", msg);
	}
}

static void
fake_kill(void)
{
	if (fake.pid > 0) {
		kill(fake.pid, SIGKILL);
		waitpid(fake.pid, NULL, 0);
		fake.pid = 0;
	}
}

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

/* A blocking call to the fake's control interface; @reply gets the JSON reply. */
static long
ctl(const char *method, const char *path, const char *body, json_t **reply)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct buf b = { 0 };
	char url[1024], ca[160];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", fake.url, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if (fake.tls) {
		snprintf(ca, sizeof(ca), "%s/certs/ca.crt", tmp);
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
	}
	if (fake.client_cert) {
		char crt[160], key[160];
		snprintf(crt, sizeof(crt), "%s/certs/client.crt", tmp);
		snprintf(key, sizeof(key), "%s/certs/client.key", tmp);
		curl_easy_setopt(e, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(e, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	rc = curl_easy_perform(e);
	cr_assert_eq(rc, CURLE_OK, "control %s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (reply) {
		*reply = b.p ? json_loads(b.p, 0, NULL) : NULL;
		cr_assert_not_null(*reply, "control %s %s: no JSON reply", method, path);
	}
	cr_assert(status == 200 || status == 408, "control %s %s: HTTP %ld: %s", method, path,
	          status, b.p ? b.p : "");
	free(b.p);
	return status;
}

static void
put_svc(const char *ns, const char *name, const char *labels)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
	         "\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":{%s}},\"spec\":{\"ports\":"
	         "[{\"port\":80}]}}",
	         name, ns, labels ? labels : "");
	ctl("POST", "/_fake/objects", body, NULL);
}

static void
del_svc(const char *ns, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/_fake/objects/v1/%s/services/%s", ns, name);
	ctl("DELETE", path, NULL, NULL);
}

static long long
fake_rv(void)
{
	json_t *st;
	long long rv;

	ctl("GET", "/_fake/state", NULL, &st);
	rv = atoll(json_string_value(json_object_get(st, "resourceVersion")));
	json_decref(st);
	return rv;
}

static size_t
fake_watches(const char *path)
{
	char q[256];
	json_t *r;
	size_t n;

	snprintf(q, sizeof(q), "/_fake/watches?path=%s", path);
	ctl("GET", q, NULL, &r);
	n = json_array_size(json_object_get(r, "watches"));
	json_decref(r);
	return n;
}

/* The requests the fake saw under @path: all, or only (non-)watches. */
static json_t *
requests(const char *path, int watch)
{
	char q[256];
	json_t *r, *out = json_array(), *e;
	size_t i;

	snprintf(q, sizeof(q), "/_fake/requests?path=%s", path);
	ctl("GET", q, NULL, &r);
	json_array_foreach(json_object_get(r, "requests"), i, e)
	{
		if (watch < 0 || json_is_true(json_object_get(e, "watch")) == (watch == 1)) {
			json_array_append(out, e);
		}
	}
	json_decref(r);
	return out;
}

static const char *
query(json_t *req, const char *key)
{
	return json_string_value(json_object_get(json_object_get(req, "query"), key));
}

/* ---- the client under test ---- */

static struct k8s_conn *conn;
static struct k8s_api *api;
static struct k8s_watch *watches[K8S_NKINDS];

static const struct k8s_watch_opts fast = {
	.page_limit = 500,
	.watch_timeout_s = 30,
	.backoff_min_s = 0.05,
	.backoff_max_s = 0.8,
};

static void
spin(double secs)
{
	sx_test_loop_run((uint64_t)(secs * 1000));
}

#define RUN_UNTIL(cond, secs)                                                       \
	do {                                                                        \
		double dl_ = now_s() + (secs);                                      \
		while (!(cond)) {                                                   \
			cr_assert_lt(now_s(), dl_, "timed out waiting for " #cond); \
			spin(0.02);                                                 \
		}                                                                   \
	} while (0)

static void
connect_http(void)
{
	char err[256];

	cr_assert_eq(k8s_conn_endpoint(&conn, fake.url, NULL, NULL, NULL, err, sizeof(err)), 0,
	             "%s", err);
}

static void
start_api(void)
{
	char err[256];

	cr_assert_eq(k8s_api_new(&api, conn, err, sizeof(err)), 0, "%s", err);
}

static void
watch(enum k8s_kind kind, const char *labels, const struct k8s_watch_opts *o)
{
	cr_assert_eq(k8s_watch_new(&watches[kind], api, &store, kind, labels, o ? o : &fast), 0);
}

/* Lines of our log (stdout goes to a file) that contain @s. */
static int
log_count(const char *s)
{
	FILE *f = fopen(logpath, "r");
	char line[4096];
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		n += strstr(line, s) != NULL;
	}
	fclose(f);
	return n;
}

static void
setup(void)
{
	char err[256];
	int fd;

	memset(&store, 0, sizeof(store));
	memset(&fake, 0, sizeof(fake));
	snprintf(tmp, sizeof(tmp), "/tmp/k8s-watch-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(logpath, sizeof(logpath), "%s/sextant.log", tmp);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	dup2(fd, 1);
	close(fd);
	cr_assert_eq(sx_test_loop_new(), 0);
	/* What the plugin's init hook does once per process in the server. */
	cr_assert_eq(k8s_api_global_init(err, sizeof(err)), 0, "%s", err);
}

static void
teardown(void)
{
	char cmd[128];

	for (int k = 0; k < K8S_NKINDS; k++) {
		k8s_watch_free(watches[k]);
		watches[k] = NULL;
	}
	k8s_api_free(api);
	api = NULL;
	k8s_conn_free(conn);
	conn = NULL;
	sx_test_loop_free();
	k8s_api_global_cleanup();
	fake_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (!getenv("K8S_TEST_KEEP")) {
		(void)!system(cmd);
	}
}

TestSuite(watch, .init = setup, .fini = teardown, .timeout = 60);

/* ---- tests ---- */

Test(watch, list_pages_then_watch_events_in_order)
{
	static const char *const args[] = { "--chunk-max", "7", NULL };
	struct k8s_watch_opts o = fast;
	json_t *lists, *ws;
	long long list_rv;
	char name[16];

	fake_start(args);
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		put_svc("default", name, NULL);
	}
	list_rv = fake_rv();
	connect_http();
	start_api();
	o.page_limit = 3;
	watch(K8S_SERVICE, NULL, &o);
	RUN_UNTIL(store.ends[K8S_SERVICE] == 1, 10);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
	cr_assert_eq(nlive(K8S_SERVICE), 7);
	cr_assert_eq(store.nrecs, 7);
	cr_assert_eq(store.recs[0].ev, K8S_ADDED);

	lists = requests("/api/v1/services", 0);
	cr_assert_eq(json_array_size(lists), 3, "7 objects, 3 a page: 3 LISTs");
	cr_assert_str_eq(query(json_array_get(lists, 0), "limit"), "3");
	cr_assert_null(query(json_array_get(lists, 0), "continue"));
	cr_assert_not_null(query(json_array_get(lists, 1), "continue"));
	cr_assert_not_null(query(json_array_get(lists, 2), "continue"));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(lists, 0), "user_agent")),
	                 "sextant/0.1.0");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(lists, 0), "accept")),
	                 "application/json");
	json_decref(lists);

	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	ws = requests("/api/v1/services", 1);
	cr_assert_eq(json_array_size(ws), 1);
	cr_assert_str_eq(query(json_array_get(ws, 0), "allowWatchBookmarks"), "true");
	cr_assert_eq(atoll(query(json_array_get(ws, 0), "resourceVersion")), list_rv);
	cr_assert_str_eq(query(json_array_get(ws, 0), "timeoutSeconds"), "30");
	json_decref(ws);

	put_svc("default", "new", NULL);
	put_svc("default", "s1", "\"changed\":\"yes\"");
	del_svc("default", "s2");
	RUN_UNTIL(store.nrecs == 10, 10);
	cr_assert_eq(store.recs[7].ev, K8S_ADDED);
	cr_assert_str_eq(store.recs[7].id, "default/new");
	cr_assert_eq(store.recs[8].ev, K8S_MODIFIED);
	cr_assert_str_eq(store.recs[8].id, "default/s1");
	cr_assert_eq(store.recs[9].ev, K8S_DELETED);
	cr_assert_str_eq(store.recs[9].id, "default/s2");
	cr_assert_lt(store.recs[7].rv, store.recs[8].rv);
	cr_assert_lt(store.recs[8].rv, store.recs[9].rv);
	cr_assert_not(live(K8S_SERVICE, "default/s2"));
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, a_large_list_arrives_gzipped)
{
	size_t size = 400 * 700 + 64, len = 0;
	char *body = malloc(size), pad[501];
	json_t *lists;

	cr_assert_not_null(body);
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	len += (size_t)snprintf(body + len, size - len, "{\"kind\":\"List\",\"items\":[");
	for (int i = 0; i < 400; i++) {
		len += (size_t)snprintf(body + len, size - len,
		                        "%s{\"apiVersion\":\"v1\","
		                        "\"kind\":\"Service\",\"metadata\":{\"name\":\"s%03d\","
		                        "\"namespace\":\"default\","
		                        "\"annotations\":{\"pad\":\"%s\"}}}",
		                        i ? "," : "", i, pad);
	}
	snprintf(body + len, size - len, "]}");
	fake_start(NULL);
	ctl("POST", "/_fake/objects", body, NULL);
	free(body);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(store.ends[K8S_SERVICE] == 1, 10);
	cr_assert_eq(nlive(K8S_SERVICE), 400);
	lists = requests("/api/v1/services", 0);
	cr_assert_eq(json_array_size(lists), 1, "400 objects fit in one page of 500");
	cr_assert(strstr(
	        json_string_value(json_object_get(json_array_get(lists, 0), "accept_encoding")),
	        "gzip"));
	json_decref(lists);
}

Test(watch, label_and_pod_field_selectors)
{
	json_t *reqs;

	fake_start(NULL);
	put_svc("default", "web", "\"app\":\"web\"");
	put_svc("default", "db", "\"app\":\"db\"");
	ctl("POST", "/_fake/objects",
	    "{\"kind\":\"List\",\"items\":["
	    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"run\","
	    "\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},"
	    "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.0.1\"}},"
	    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"done\","
	    "\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},"
	    "\"status\":{\"phase\":\"Succeeded\"}}]}",
	    NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, "app=web", NULL);
	watch(K8S_POD, "app=web", NULL);
	RUN_UNTIL(store.ends[K8S_SERVICE] && store.ends[K8S_POD], 10);
	cr_assert(live(K8S_SERVICE, "default/web"));
	cr_assert_not(live(K8S_SERVICE, "default/db"));
	cr_assert(live(K8S_POD, "default/run"));
	cr_assert_not(live(K8S_POD, "default/done"));
	reqs = requests("/api/v1/pods", 0);
	cr_assert_str_eq(query(json_array_get(reqs, 0), "labelSelector"), "app=web");
	cr_assert_str_eq(query(json_array_get(reqs, 0), "fieldSelector"),
	                 "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown");
	json_decref(reqs);
	RUN_UNTIL(fake_watches("/api/v1/pods") == 1, 10);
	reqs = requests("/api/v1/pods", 1);
	cr_assert_str_eq(query(json_array_get(reqs, 0), "labelSelector"), "app=web");
	cr_assert_not_null(query(json_array_get(reqs, 0), "fieldSelector"));
	json_decref(reqs);
}

/* The seven Services' list failed once, logged @logged once, then started over and ended. */
static void
listed_over_again(const char *logged)
{
	RUN_UNTIL(store.ends[K8S_SERVICE] == 1, 10);
	cr_assert_eq(store.begins[K8S_SERVICE], 2, "the list starts over");
	cr_assert_eq(nlive(K8S_SERVICE), 7);
	cr_assert_eq(store.relist_deleted, 0);
	cr_assert_eq(log_count(logged), 1, "%s", logged);
}

Test(watch, expired_continue_token_lists_again_from_the_start)
{
	struct k8s_watch_opts o = fast;
	char name[16];

	fake_start(NULL);
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		put_svc("default", name, NULL);
	}
	ctl("POST", "/_fake/fail",
	    "{\"path\":\"/api/v1/services\",\"watch\":false,"
	    "\"query\":{\"continue\":null},\"status\":410,\"reason\":\"Expired\","
	    "\"message\":\"The provided continue parameter is too old\",\"count\":1}",
	    NULL);
	connect_http();
	start_api();
	o.page_limit = 3;
	watch(K8S_SERVICE, NULL, &o);
	listed_over_again("continue token expired: The provided continue parameter is too old");
}

/* The LISTs of Services the plugin asked for (not the test). */
static json_t *
plugin_lists(void)
{
	json_t *all = requests("/api/v1/services", 0), *out = json_array(), *e;
	size_t i;

	json_array_foreach(all, i, e)
	{
		const char *ua = json_string_value(json_object_get(e, "user_agent"));
		if (ua && !strncmp(ua, "sextant/", 8)) {
			json_array_append(out, e);
		}
	}
	json_decref(all);
	return out;
}

static size_t
nlists(void)
{
	json_t *lists = plugin_lists();
	size_t n = json_array_size(lists);

	json_decref(lists);
	return n;
}

/*
 * Seven Services listed three a page. The first page is the fake's own, held
 * after its head (the metadata with the continue token) until drop-watches
 * lets it go on; @then: "pause" sends the rest then, "hang" cuts it short.
 * Returns once the second page's items are in the store.
 */
static void
list_with_first_page_held(const char *then)
{
	struct k8s_watch_opts o = fast;
	json_t *page, *rule;
	char *text, *body, name[16];
	const char *items;

	fake_start(NULL);
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		put_svc("default", name, NULL);
	}
	ctl("GET", "/api/v1/services?limit=3", NULL, &page);
	text = json_dumps(page, JSON_COMPACT);
	cr_assert_not_null(items = strstr(text, "\"items\":["), "%s", text);
	cr_assert(strstr(text, "\"continue\":") < items, "the metadata comes first: %s", text);
	/* The next LIST asked with limit=3: the plugin's first page. */
	rule = json_pack("{s:s, s:b, s:{s:s}, s:s, s:s, s:I, s:s}", "path", "/api/v1/services",
	                 "watch", 0, "query", "limit", "3", "mode", "raw", "body", text, "cut",
	                 (json_int_t)(items + strlen("\"items\":[") - text), "then", then);
	body = json_dumps(rule, JSON_COMPACT);
	ctl("POST", "/_fake/fail", body, NULL);
	free(body);
	free(text);
	json_decref(rule);
	json_decref(page);

	connect_http();
	start_api();
	o.page_limit = 3;
	watch(K8S_SERVICE, NULL, &o);
	/* Nothing lets the first page go on but the test: the second was asked for from its head. */
	RUN_UNTIL(nlive(K8S_SERVICE) == 3, 10);
}

Test(watch, the_next_page_is_asked_for_before_this_one_is_read)
{
	json_t *lists;

	list_with_first_page_held("pause");
	lists = plugin_lists();
	cr_assert_eq(json_array_size(lists), 2, "one page ahead, no more");
	cr_assert_not_null(query(json_array_get(lists, 1), "continue"));
	json_decref(lists);
	cr_assert_eq(store.ends[K8S_SERVICE], 0, "the first page is not in yet");

	/* The second page ended first; the list goes on in order once the first ends. */
	ctl("POST", "/_fake/drop-watches", "{\"hangs\":true}", NULL);
	RUN_UNTIL(store.ends[K8S_SERVICE] == 1, 10);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
	cr_assert_eq(nlive(K8S_SERVICE), 7);
	cr_assert_eq(store.relist_deleted, 0);
	cr_assert_eq(nlists(), 3);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, a_page_cut_short_while_the_next_is_in_lists_again)
{
	list_with_first_page_held("hang");
	ctl("POST", "/_fake/drop-watches", "{\"hangs\":true}", NULL);
	listed_over_again("[ERROR] plugin/kubernetes: Failed to watch *v1.Service: failed to list "
	                  "*v1.Service");
}

Test(watch, forbidden_list_is_logged_like_coredns)
{
	static const char *const args[] = { "--token", "admin", "--anonymous", NULL };

	fake_start(args);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(log_count("[ERROR]") == 1, 10);
	cr_assert_eq(log_count("[ERROR] plugin/kubernetes: Failed to watch *v1.Service: failed to "
	                       "list *v1.Service: services is forbidden: User \"system:anonymous\" "
	                       "cannot list resource \"services\""),
	             1);
	spin(0.5);
	cr_assert_eq(log_count("[ERROR]"), 1, "the same error again is not logged again");
	cr_assert_eq(store.ends[K8S_SERVICE], 0);
}

Test(watch, bookmark_moves_the_resume_point)
{
	json_t *ws;
	long long rv;

	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	/* A write elsewhere moves the revision without a Service event... */
	ctl("POST", "/_fake/objects",
	    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	    "\"metadata\":{\"name\":\"other\"}}",
	    NULL);
	rv = fake_rv();
	/* ...which only a bookmark tells the Service watch about. */
	ctl("POST", "/_fake/bookmark", "{}", NULL);
	spin(0.5);
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"clean\"}", NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	ws = requests("/api/v1/services", 1);
	cr_assert_eq(json_array_size(ws), 2);
	cr_assert_eq(atoll(query(json_array_get(ws, 1), "resourceVersion")), rv);
	json_decref(ws);
	cr_assert_eq(store.begins[K8S_SERVICE], 1, "a bookmark never causes a relist");
}

Test(watch, expired_resource_version_event_relists_and_deletes_what_vanished)
{
	fake_start(NULL);
	put_svc("default", "a", NULL);
	put_svc("default", "b", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert(live(K8S_SERVICE, "default/b"));

	/* While the watch is down, b goes, c comes and the history is compacted. */
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"abrupt\"}", NULL);
	del_svc("default", "b");
	put_svc("default", "c", NULL);
	ctl("POST", "/_fake/compact", "{}", NULL);

	RUN_UNTIL(store.ends[K8S_SERVICE] == 2, 10);
	cr_assert_eq(store.begins[K8S_SERVICE], 2);
	cr_assert(live(K8S_SERVICE, "default/a"));
	cr_assert_not(live(K8S_SERVICE, "default/b"), "b vanished during the outage");
	cr_assert(live(K8S_SERVICE, "default/c"));
	cr_assert_eq(store.relist_deleted, 1);
	cr_assert_eq(log_count("*v1.Service: resourceVersion too old, listing again"), 1);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
}

Test(watch, http_410_on_watch_relists)
{
	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	spin(1.1);
	ctl("POST", "/_fake/fail",
	    "{\"path\":\"/api/v1/services\",\"watch\":true,"
	    "\"status\":410,\"message\":\"gone\",\"count\":1}",
	    NULL);
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"clean\"}", NULL);
	RUN_UNTIL(store.ends[K8S_SERVICE] == 2, 10);
	cr_assert_eq(store.begins[K8S_SERVICE], 2);
	cr_assert(live(K8S_SERVICE, "default/a"));
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

/*
 * The first watch after a LIST stays quiet (no events, no bookmarks) for longer than a
 * failure would take, then the history it started from is compacted away: nothing failed,
 * so it lists again at once, without an error or a backoff.
 */
Test(watch, a_quiet_watch_told_410_later_relists_at_once)
{
	static const struct k8s_watch_opts slow = {
		.page_limit = 500,
		.watch_timeout_s = 30,
		.backoff_min_s = 20,
		.backoff_max_s = 20,
	};

	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, &slow);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	spin(1.1);
	ctl("POST", "/_fake/compact", "{}", NULL);
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"error\",\"status\":410}", NULL);
	/* Well within the 15 s a backoff of 20 s would wait at least. */
	RUN_UNTIL(store.ends[K8S_SERVICE] == 2, 10);
	cr_assert_eq(log_count("*v1.Service: resourceVersion too old, listing again"), 1);
	cr_assert_eq(log_count("[ERROR]"), 0, "nothing failed");
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
}

/* A watch from a LIST told 410 at once: listing again at once could spin, so it waits. */
Test(watch, a_fresh_watch_told_410_at_once_backs_off)
{
	fake_start(NULL);
	put_svc("default", "a", NULL);
	ctl("POST", "/_fake/fail",
	    "{\"path\":\"/api/v1/services\",\"watch\":true,"
	    "\"mode\":\"watch-error\",\"status\":410,\"count\":1}",
	    NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(store.ends[K8S_SERVICE] == 2, 10);
	cr_assert_eq(log_count("Failed to watch *v1.Service: the resourceVersion of a fresh LIST "
	                       "is already too old"),
	             1);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert_eq(store.begins[K8S_SERVICE], 2);
}

Test(watch, error_event_other_than_410_rewatches_without_relist)
{
	json_t *ws;
	size_t n;

	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	spin(1.1);
	ctl("POST", "/_fake/fail",
	    "{\"path\":\"/api/v1/services\",\"watch\":true,"
	    "\"mode\":\"watch-error\",\"status\":500,\"message\":\"etcd hiccup\"}",
	    NULL);
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"clean\"}", NULL);
	RUN_UNTIL(log_count("watch error 500: etcd hiccup") == 1, 10);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	ws = requests("/api/v1/services", 1);
	n = json_array_size(ws);
	cr_assert_eq(n, 3, "the first watch, the ERROR one, the good one");
	cr_assert_str_eq(query(json_array_get(ws, 2), "resourceVersion"),
	                 query(json_array_get(ws, 1), "resourceVersion"));
	json_decref(ws);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
}

Test(watch, a_watch_ended_at_once_counts_as_a_failure)
{
	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	/* Ended cleanly, but within a second and without an event: no busy loop. */
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"clean\"}", NULL);
	RUN_UNTIL(log_count("very short watch") == 1, 10);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	put_svc("default", "b", NULL);
	RUN_UNTIL(live(K8S_SERVICE, "default/b"), 10);
	cr_assert_eq(log_count("*v1.Service: watching again"), 1);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
}

Test(watch, failures_back_off_and_log_once_per_change)
{
	json_t *ws, *first = NULL, *last;
	double t0, t1;
	size_t i;

	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	spin(1.1);
	ctl("POST", "/_fake/fail",
	    "{\"path\":\"/api/v1/services\",\"watch\":true,"
	    "\"status\":500,\"count\":4}",
	    NULL);
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"abrupt\"}", NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 15);

	ws = requests("/api/v1/services", 1);
	cr_assert_eq(json_array_size(ws), 6, "the first watch, 4 failures, the good one");
	json_array_foreach(ws, i, last)
	{
		if (!first && json_integer_value(json_object_get(last, "status")) == 500) {
			first = last;
		}
	}
	last = json_array_get(ws, 5);
	cr_assert_not_null(first);
	t0 = json_real_value(json_object_get(first, "time"));
	t1 = json_real_value(json_object_get(last, "time"));
	/*
	 * Delays 0.1, 0.2, 0.4 and 0.8 s after the failures, each +-25%: 1.125 s
	 * at least; at most ten times the 1.5 s expected, however loaded the machine.
	 */
	cr_assert_geq(t1 - t0, 1.1, "retries came too fast: %.3f s", t1 - t0);
	cr_assert_leq(t1 - t0, 15.0, "retries came too slowly: %.3f s", t1 - t0);
	cr_assert_eq(atoll(query(last, "resourceVersion")), atoll(query(first, "resourceVersion")),
	             "a failed watch resumes where it stopped");
	json_decref(ws);

	/* An event shows the watch works again. */
	put_svc("default", "z", NULL);
	RUN_UNTIL(live(K8S_SERVICE, "default/z"), 10);
	cr_assert_eq(log_count("Failed to watch *v1.Service"), 2, "the drop, then the 500s once");
	cr_assert_eq(log_count("injected failure"), 1);
	cr_assert_eq(log_count("*v1.Service: watching again"), 1);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
}

Test(watch, api_server_killed_and_restarted)
{
	static const char *const first[] = { "--initial-rv", "100", NULL };
	char file[160], arg[160];
	const char *second[] = { "--initial-rv", "5000", "--load", arg, NULL };
	FILE *f;

	fake_start(first);
	put_svc("default", "a", NULL);
	put_svc("default", "b", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);

	fake_kill();
	spin(1.5);
	cr_assert_eq(log_count("Couldn't connect to server"), 1, "connection refused, once");

	/* Back with other objects and a history that starts after our resourceVersion. */
	snprintf(file, sizeof(file), "%s/objs.json", tmp);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs("{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"items\":["
	      "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},\"spec\":{}},"
	      "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"spec\":{}}]}",
	      f);
	fclose(f);
	snprintf(arg, sizeof(arg), "%s", file);
	fake_start(second);
	RUN_UNTIL(live(K8S_SERVICE, "default/c"), 15);
	cr_assert(live(K8S_SERVICE, "default/a"));
	cr_assert_not(live(K8S_SERVICE, "default/b"));
	cr_assert_eq(store.begins[K8S_SERVICE], 2);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert_eq(log_count("*v1.Service: watching again"), 1);
	cr_assert_eq(log_count("Couldn't connect to server"), 1);
}

/* Retries while nothing answers stay close; a restarted server is seen soon. */
Test(watch, an_unreachable_server_is_tried_again_often)
{
	static const struct k8s_watch_opts o = {
		.watch_timeout_s = 30,
		.backoff_min_s = 0.05,
		.backoff_max_s = 30,
		.backoff_unreachable_s = 0.2,
	};
	double t0, waited;

	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, &o);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	fake_kill();
	/* Doubling from 0.05 s without the cap, the attempts would be 1.6 s apart by now. */
	spin(4);
	fake_start(NULL);
	t0 = now_s();
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	waited = now_s() - t0;
	cr_assert_lt(waited, 1.0, "%.2f s to see the server back", waited);
	cr_assert_eq(log_count("Couldn't connect to server"), 1);
}

static void
write_file(const char *path, const char *text)
{
	char tmpname[256];
	FILE *f;

	/* Replace atomically, as the kubelet rotates projected tokens. */
	snprintf(tmpname, sizeof(tmpname), "%s.new", path);
	f = fopen(tmpname, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(rename(tmpname, path), 0);
}

Test(watch, token_file_is_reread_after_rotation)
{
	char ftok[160], otok[160];
	const char *args[] = { "--token-file", ftok, NULL };
	json_t *ws, *last;

	snprintf(ftok, sizeof(ftok), "%s/server-tokens", tmp);
	snprintf(otok, sizeof(otok), "%s/token", tmp);
	write_file(ftok, "tok-1\n");
	write_file(otok, "tok-1\n");
	fake_start(args);
	put_svc("default", "a", NULL);
	connect_http();
	conn->token_file = strdup(otok);
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert(live(K8S_SERVICE, "default/a"));
	spin(1.1);

	/* The server moves on to a new token first: our old one is refused. */
	write_file(ftok, "tok-2\n");
	ctl("POST", "/_fake/drop-watches", "{\"mode\":\"abrupt\"}", NULL);
	spin(0.8);
	cr_assert_eq(fake_watches("/api/v1/services"), 0);
	cr_assert_eq(log_count("Unauthorized"), 1);

	/* Then the kubelet rotates our file: the next attempt reads it. */
	write_file(otok, "tok-2\n");
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	ws = requests("/api/v1/services", 1);
	last = json_array_get(ws, json_array_size(ws) - 1);
	cr_assert(json_is_true(json_object_get(last, "token_ok")));
	json_decref(ws);
	put_svc("default", "z", NULL);
	RUN_UNTIL(live(K8S_SERVICE, "default/z"), 10);
	cr_assert_eq(log_count("Unauthorized"), 1);
	cr_assert_eq(log_count("*v1.Service: watching again"), 1);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
}

static void
gen_certs(void)
{
	char cmd[1024];
	const char *script = fake_script();

	snprintf(cmd, sizeof(cmd), "sh '%.*s/gen-certs.sh' '%s/certs' >/dev/null 2>&1",
	         (int)(strrchr(script, '/') - script), script, tmp);
	cr_assert_eq(system(cmd), 0, "gen-certs.sh failed");
}

static char *
b64_file(const char *path)
{
	char cmd[512];
	FILE *p;
	static char out[8192];
	size_t n;

	snprintf(cmd, sizeof(cmd), "base64 -w0 '%s'", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	return strdup(out);
}

Test(watch, tls_with_inline_ca_and_token_from_kubeconfig)
{
	char crt[160], key[160], ca[160], kc[160], err[512];
	const char *args[] = { "--tls-cert", crt, "--tls-key", key, "--token", "secret-1", NULL };
	json_t *reqs, *r0;
	char *ca64;
	FILE *f;

	gen_certs();
	snprintf(crt, sizeof(crt), "%s/certs/server.crt", tmp);
	snprintf(key, sizeof(key), "%s/certs/server.key", tmp);
	snprintf(ca, sizeof(ca), "%s/certs/ca.crt", tmp);
	fake.tls = true;
	fake_start(args);
	put_svc("default", "a", NULL);
	ca64 = b64_file(ca);
	snprintf(kc, sizeof(kc), "%s/kubeconfig", tmp);
	f = fopen(kc, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n"
	        "    server: %s\n    certificate-authority-data: %s\n"
	        "users:\n- name: me\n  user:\n    token: secret-1\n"
	        "contexts:\n- name: ctx\n  context:\n    cluster: fake\n    user: me\n"
	        "current-context: ctx\n",
	        fake.url, ca64);
	fclose(f);
	free(ca64);
	cr_assert_eq(k8s_conn_kubeconfig(&conn, kc, NULL, err, sizeof(err)), 0, "%s", err);
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert(live(K8S_SERVICE, "default/a"));
	reqs = requests("/api/v1/services", 0);
	r0 = json_array_get(reqs, 0);
	cr_assert(json_is_true(json_object_get(r0, "token_ok")));
	cr_assert_str_eq(json_string_value(json_object_get(r0, "auth")), "bearer");
	json_decref(reqs);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, tls_server_is_verified)
{
	char crt[160], key[160], err[256];
	const char *args[] = { "--tls-cert", crt, "--tls-key", key, NULL };

	gen_certs();
	snprintf(crt, sizeof(crt), "%s/certs/server.crt", tmp);
	snprintf(key, sizeof(key), "%s/certs/server.key", tmp);
	fake.tls = true;
	fake_start(args);
	/* No CA given: the system's CAs do not know the fake's. */
	cr_assert_eq(k8s_conn_endpoint(&conn, fake.url, NULL, NULL, NULL, err, sizeof(err)), 0);
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(log_count("Failed to watch *v1.Service") == 1, 10);
	cr_assert_eq(log_count("certificate"), 1);
	cr_assert_eq(store.ends[K8S_SERVICE], 0);
}

Test(watch, insecure_skip_tls_verify_connects)
{
	char crt[160], key[160], err[256];
	const char *args[] = { "--tls-cert", crt, "--tls-key", key, NULL };

	gen_certs();
	snprintf(crt, sizeof(crt), "%s/certs/server.crt", tmp);
	snprintf(key, sizeof(key), "%s/certs/server.key", tmp);
	fake.tls = true;
	fake_start(args);
	put_svc("default", "a", NULL);
	cr_assert_eq(k8s_conn_endpoint(&conn, fake.url, NULL, NULL, NULL, err, sizeof(err)), 0);
	conn->insecure = true;
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(store.ends[K8S_SERVICE] == 1, 10);
	cr_assert(live(K8S_SERVICE, "default/a"));
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, client_certificate_auth)
{
	char crt[160], key[160], ca[160], kc[160], ccrt[160], ckey[160], err[512];
	const char *args[] = {
		"--tls-cert", crt, "--tls-key", key, "--client-ca", ca, "--require-client-cert",
		NULL
	};
	char *crt64, *key64;
	json_t *reqs;
	FILE *f;

	gen_certs();
	snprintf(crt, sizeof(crt), "%s/certs/server.crt", tmp);
	snprintf(key, sizeof(key), "%s/certs/server.key", tmp);
	snprintf(ca, sizeof(ca), "%s/certs/ca.crt", tmp);
	snprintf(ccrt, sizeof(ccrt), "%s/certs/client.crt", tmp);
	snprintf(ckey, sizeof(ckey), "%s/certs/client.key", tmp);
	fake.tls = true;
	fake.client_cert = true;
	fake_start(args);
	put_svc("default", "a", NULL);

	/* Client certificate and key inline (libcurl blobs), the CA as a relative file. */
	crt64 = b64_file(ccrt);
	key64 = b64_file(ckey);
	snprintf(kc, sizeof(kc), "%s/kubeconfig", tmp);
	f = fopen(kc, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
	        "    certificate-authority: certs/ca.crt\n"
	        "users:\n- name: me\n  user:\n    client-certificate-data: %s\n"
	        "    client-key-data: %s\n"
	        "contexts:\n- name: ctx\n  context: {cluster: fake, user: me}\n"
	        "current-context: ctx\n",
	        fake.url, crt64, key64);
	fclose(f);
	free(crt64);
	free(key64);
	cr_assert_eq(k8s_conn_kubeconfig(&conn, kc, NULL, err, sizeof(err)), 0, "%s", err);
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert(live(K8S_SERVICE, "default/a"));
	reqs = requests("/api/v1/services", 0);
	cr_assert(json_is_true(json_object_get(json_array_get(reqs, 0), "client_cert")));
	json_decref(reqs);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, objects_the_store_rejects_are_logged_and_skipped)
{
	fake_start(NULL);
	put_svc("default", "a", NULL);
	put_svc("default", "bad", "\"reject\":\"yes\"");
	connect_http();
	start_api();
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	cr_assert(live(K8S_SERVICE, "default/a"));
	cr_assert_eq(log_count("*v1.Service default/bad skipped: rejected by the test store"), 1);

	put_svc("default", "worse", "\"reject\":\"yes\"");
	put_svc("default", "good", NULL);
	RUN_UNTIL(live(K8S_SERVICE, "default/good"), 10);
	cr_assert_eq(log_count("*v1.Service default/worse skipped"), 1);
	cr_assert_eq(log_count("Failed to watch"), 0, "a bad object does not stop the watch");
}

Test(watch, an_overlong_event_line_is_an_error)
{
	char body[12000], big[8001];

	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	k8s_api_set_limits(api, 4096, 1 << 20);
	watch(K8S_SERVICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
	         "\"name\":\"big\",\"namespace\":\"default\",\"annotations\":{\"x\":\"%s\"}}}",
	         big);
	ctl("POST", "/_fake/objects", body, NULL);
	RUN_UNTIL(log_count("a watch event is longer than 4096 bytes") == 1, 10);
	spin(0.5);
	cr_assert_eq(log_count("longer than 4096 bytes"), 1, "logged once, however many retries");
	cr_assert_not(live(K8S_SERVICE, "default/big"));
}

Test(watch, server_ending_the_watch_resumes_from_the_last_version)
{
	struct k8s_watch_opts o = fast;
	json_t *ws;
	long long rv;
	size_t n;

	fake_start(NULL);
	put_svc("default", "a", NULL);
	connect_http();
	start_api();
	o.watch_timeout_s = 1;
	watch(K8S_SERVICE, NULL, &o);
	RUN_UNTIL(fake_watches("/api/v1/services") == 1, 10);
	put_svc("default", "b", NULL);
	rv = fake_rv();
	RUN_UNTIL(live(K8S_SERVICE, "default/b"), 10);
	spin(2.5);
	ws = requests("/api/v1/services", 1);
	n = json_array_size(ws);
	cr_assert_geq(n, 3, "timeoutSeconds=1: a new watch each second");
	cr_assert_eq(atoll(query(json_array_get(ws, n - 1), "resourceVersion")), rv);
	json_decref(ws);
	put_svc("default", "c", NULL);
	RUN_UNTIL(live(K8S_SERVICE, "default/c"), 10);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

/* ---- which version of discovery.k8s.io: asked at start and at every relist ---- */

static void
put_slice(const char *name, const char *ip)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
	         "\"name\":\"%s\",\"namespace\":\"default\",\"labels\":{"
	         "\"kubernetes.io/service-name\":\"a\"}},\"addressType\":\"IPv4\","
	         "\"endpoints\":[{\"addresses\":[\"%s\"],\"nodeName\":\"n1\"}]}",
	         name, ip);
	ctl("POST", "/_fake/objects", body, NULL);
}

/* How many of the fake's requests under @path went to a LIST (0), WATCH (1) or either (-1). */
static size_t
nrequests(const char *path, int watch)
{
	json_t *r = requests(path, watch);
	size_t n = json_array_size(r);

	json_decref(r);
	return n;
}

Test(watch, slices_from_v1beta1_when_the_server_has_no_v1)
{
	static const char *const args[] = { "--endpointslice-versions", "v1beta1", NULL };

	fake_start(args);
	put_slice("a-1", "10.1.0.1");
	connect_http();
	start_api();
	watch(K8S_SLICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/apis/discovery.k8s.io/v1beta1/endpointslices") == 1, 10);
	cr_assert(live(K8S_SLICE, "default/a-1"));
	cr_assert_null(k8s_watch_why(watches[K8S_SLICE]));
	cr_assert_eq(log_count("[INFO] plugin/kubernetes: EndpointSlice from "
	                       "discovery.k8s.io/v1beta1 (the API server serves v1beta1)"),
	             1);
	cr_assert_eq(nrequests("/apis/discovery.k8s.io/v1/", -1), 0, "v1 is never tried");
	put_slice("a-2", "10.1.0.2");
	RUN_UNTIL(live(K8S_SLICE, "default/a-2"), 10);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, v1_slices_when_the_server_has_both)
{
	static const char *const args[] = { "--endpointslice-versions", "v1beta1,v1", NULL };

	fake_start(args);
	put_slice("a-1", "10.1.0.1");
	connect_http();
	start_api();
	watch(K8S_SLICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/apis/discovery.k8s.io/v1/endpointslices") == 1, 10);
	cr_assert(live(K8S_SLICE, "default/a-1"));
	cr_assert_eq(log_count("EndpointSlice from discovery.k8s.io/v1 (the API server serves "
	                       "v1beta1, v1)"),
	             1);
	cr_assert_eq(nrequests("/apis/discovery.k8s.io/v1beta1/", -1), 0);
}

Test(watch, no_known_slice_version_is_an_error_that_says_why)
{
	static const char *const args[] = { "--endpointslice-versions", "", NULL };
	const char *why;

	fake_start(args);
	put_slice("a-1", "10.1.0.1");
	connect_http();
	start_api();
	watch(K8S_SLICE, NULL, NULL);
	RUN_UNTIL(nrequests("/apis/discovery.k8s.io", 0) >= 3, 10);
	why = k8s_watch_why(watches[K8S_SLICE]);
	cr_assert_not_null(why);
	cr_assert(strstr(why, "Failed to watch *v1.EndpointSlice: failed to list "
	                      "*v1.EndpointSlice: the API server does not serve the API group "
	                      "discovery.k8s.io: GET /apis/discovery.k8s.io: the server could not "
	                      "find the requested resource (HTTP 404 NotFound)"),
	          "%s", why);
	cr_assert_eq(log_count(why), 1, "logged once, retried with backoff");
	cr_assert_eq(nrequests("/apis/discovery.k8s.io/", -1), 0, "no LIST without a version");
	cr_assert_eq(store.begins[K8S_SLICE], 0);
}

Test(watch, a_relist_asks_again_and_follows_an_upgrade)
{
	static const char *const old[] = { "--endpointslice-versions", "v1beta1", NULL };
	static const char *const upgraded[] = { "--endpointslice-versions", "v1,v1beta1",
		                                "--initial-rv", "5000", NULL };

	fake_start(old);
	put_slice("a-1", "10.1.0.1");
	connect_http();
	start_api();
	watch(K8S_SLICE, NULL, NULL);
	RUN_UNTIL(fake_watches("/apis/discovery.k8s.io/v1beta1/endpointslices") == 1, 10);

	/* The control plane upgraded: a new history, so the watch must list again. */
	fake_kill();
	fake_start(upgraded);
	put_slice("a-2", "10.1.0.2");
	RUN_UNTIL(fake_watches("/apis/discovery.k8s.io/v1/endpointslices") == 1, 15);
	cr_assert(live(K8S_SLICE, "default/a-2"));
	cr_assert_not(live(K8S_SLICE, "default/a-1"));
	cr_assert_eq(store.begins[K8S_SLICE], 2);
	cr_assert_eq(log_count("EndpointSlice from discovery.k8s.io/v1beta1 (the API server "
	                       "serves v1beta1)"),
	             1);
	cr_assert_eq(log_count("EndpointSlice from discovery.k8s.io/v1 from now on (the API "
	                       "server serves v1, v1beta1)"),
	             1);
	cr_assert(log_count("*v1beta1.EndpointSlice: resourceVersion too old, listing again") == 1,
	          "the 410 names the version in use then");
}

/* ---- the whole source: every kind, and the in-cluster configuration ---- */

static const char all_kinds[] =
        "{\"kind\":\"List\",\"items\":["
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns1\"}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\","
        "\"namespace\":\"ns1\"},\"spec\":{\"ports\":[{\"port\":53}]}},"
        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
        "\"name\":\"s-abc\",\"namespace\":\"ns1\",\"labels\":{\"kubernetes.io/service-name\":"
        "\"s\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.1.0.5\"]}]},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"
        "\"ns1\"},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.0.5\"}}]}";

Test(watch, source_from_endpoint_watches_every_kind)
{
	struct k8s_source_conf conf = { .watch = { true, true, true, true } };
	struct k8s_source *src;
	char err[256];

	fake_start(NULL);
	ctl("POST", "/_fake/objects", all_kinds, NULL);
	conf.endpoint = fake.url;
	cr_assert_eq(k8s_source_start(&src, &conf, &store, err, sizeof(err)), 0, "%s", err);
	RUN_UNTIL(store.ends[K8S_SERVICE] && store.ends[K8S_SLICE] && store.ends[K8S_NAMESPACE] &&
	                  store.ends[K8S_POD],
	          10);
	cr_assert(live(K8S_NAMESPACE, "/ns1"));
	cr_assert(live(K8S_SERVICE, "ns1/s"));
	cr_assert(live(K8S_SLICE, "ns1/s-abc"));
	cr_assert(live(K8S_POD, "ns1/p"));
	RUN_UNTIL(fake_watches("/") == 4, 10);
	/* Freed with four watches in flight: nothing may leak (ASan) or fire later. */
	k8s_source_free(src);
	spin(0.2);
	RUN_UNTIL(fake_watches("/") == 0, 5);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, source_without_endpoint_is_in_cluster)
{
	struct k8s_source_conf conf = { .watch = { [K8S_SERVICE] = true } };
	char crt[160], key[160], sa[160], path[200], port[16], cmd[512], err[256];
	const char *args[] = { "--tls-cert", crt, "--tls-key", key, "--token", "sa-tok", NULL };
	struct k8s_source *src;
	json_t *reqs;

	gen_certs();
	snprintf(crt, sizeof(crt), "%s/certs/server.crt", tmp);
	snprintf(key, sizeof(key), "%s/certs/server.key", tmp);
	fake.tls = true;
	fake_start(args);
	put_svc("default", "kubernetes", NULL);
	snprintf(sa, sizeof(sa), "%s/sa", tmp);
	cr_assert_eq(mkdir(sa, 0700), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s/certs/ca.crt' '%s/ca.crt'", tmp, sa);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/token", sa);
	write_file(path, "sa-tok");
	snprintf(port, sizeof(port), "%d", fake.port);
	setenv("SEXTANT_SA_DIR", sa, 1);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	cr_assert_eq(k8s_source_start(&src, &conf, &store, err, sizeof(err)), 0, "%s", err);
	RUN_UNTIL(store.ends[K8S_SERVICE] == 1, 10);
	cr_assert(live(K8S_SERVICE, "default/kubernetes"));
	reqs = requests("/api/v1/services", 0);
	cr_assert(json_is_true(json_object_get(json_array_get(reqs, 0), "token_ok")));
	json_decref(reqs);
	k8s_source_free(src);
	cr_assert_eq(log_count("[ERROR]"), 0);
}

Test(watch, source_errors_come_back_with_a_reason)
{
	struct k8s_source_conf conf = { .watch = { [K8S_SERVICE] = true } };
	struct k8s_source *src = (void *)1;
	char err[256];

	conf.kubeconfig = "/nonexistent/kubeconfig";
	cr_assert_lt(k8s_source_start(&src, &conf, &store, err, sizeof(err)), 0);
	cr_assert_null(src);
	cr_assert(strstr(err, "/nonexistent/kubeconfig"), "%s", err);

	conf.kubeconfig = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	cr_assert_lt(k8s_source_start(&src, &conf, &store, err, sizeof(err)), 0);
	cr_assert(strstr(err, "KUBERNETES_SERVICE_HOST"), "%s", err);

	conf.endpoint = "http://127.0.0.1:1";
	conf.tls_cert = "/nonexistent/cert";
	conf.tls_key = "/nonexistent/key";
	conf.tls_ca = "/nonexistent/ca";
	cr_assert_lt(k8s_source_start(&src, &conf, &store, err, sizeof(err)), 0);
	cr_assert(strstr(err, "/nonexistent/cert"), "%s", err);
}
