/* test_k8s_manifests.c -- a directory of manifests as the source of API objects. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <sextant/error.h>
#include <sextant/testing.h>

#include "../k8s.h"
#include "../manifests.h"

/* ---- a store that keeps what it is told ---- */

#define MAX_OBJS 1024

struct sobj {
	enum k8s_kind kind;
	char id[128];
	char labels[256]; /* the labels object as compact JSON */
	bool live, stale;
};

struct k8s_store {
	struct sobj objs[MAX_OBJS];
	size_t nobjs;
	int begins[K8S_NKINDS], ends[K8S_NKINDS];
	int applied;
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
	char id[128], *labels;
	struct sobj *o;

	if (!name) {
		snprintf(err, errlen, "no metadata.name");
		return SX_EINVAL;
	}
	snprintf(id, sizeof(id), "%s/%s", ns ? ns : "", name);
	if (!(o = find_obj(kind, id))) {
		cr_assert_lt(st->nobjs, MAX_OBJS);
		o = &st->objs[st->nobjs++];
		o->kind = kind;
		memcpy(o->id, id, sizeof(o->id));
	}
	labels = json_dumps(json_object_get(md, "labels"),
	                    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	snprintf(o->labels, sizeof(o->labels), "%s", labels ? labels : "");
	free(labels);
	o->live = ev != K8S_DELETED;
	o->stale = false;
	st->applied++;
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

/* ---- fixture ---- */

static char dir[64], logpath[128];
static struct k8s_manifests *man;
static char err[512];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
	int fd;

	memset(&store, 0, sizeof(store));
	snprintf(dir, sizeof(dir), "/tmp/k8s-man-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(logpath, sizeof(logpath), "%s.log", dir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	dup2(fd, 1);
	close(fd);
	cr_assert_eq(sx_test_loop_new(), 0);
}

static void
teardown(void)
{
	char cmd[256];

	k8s_manifests_free(man);
	man = NULL;
	sx_test_loop_free();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, logpath);
	(void)!system(cmd);
}

TestSuite(manifests, .init = setup, .fini = teardown, .timeout = 30);

/* Write DIR/@name atomically (as editors and kubectl do), with mtime moved on. */
static void
put(const char *name, const char *text)
{
	char path[256], tmpname[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmpname, sizeof(tmpname), "%s/.%s.tmp", dir, name);
	f = fopen(tmpname, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(rename(tmpname, path), 0);
}

static void
rm(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(unlink(path), 0);
}

static struct k8s_source_conf
all_kinds(void)
{
	struct k8s_source_conf c = { .manifests = dir, .watch = { true, true, true, true } };

	return c;
}

static void
start(const struct k8s_source_conf *c, const struct k8s_manifests_opts *o)
{
	int r = k8s_manifests_new(&man, c, &store, o, err, sizeof(err));

	cr_assert_eq(r, 0, "k8s_manifests_new: %s", err);
}

/* As `kubectl get svc,endpointslices -o yaml` prints them. */
static const char list_yaml[] = "apiVersion: v1\n"
                                "items:\n"
                                "- apiVersion: v1\n"
                                "  kind: Service\n"
                                "  metadata:\n"
                                "    name: web\n"
                                "    namespace: shop\n"
                                "    labels: {app: web}\n"
                                "  spec:\n"
                                "    clusterIP: 10.96.0.20\n"
                                "    ports:\n"
                                "    - name: http\n"
                                "      port: 80\n"
                                "      protocol: TCP\n"
                                "- apiVersion: discovery.k8s.io/v1\n"
                                "  kind: EndpointSlice\n"
                                "  metadata:\n"
                                "    name: web-x1\n"
                                "    namespace: shop\n"
                                "    labels:\n"
                                "      kubernetes.io/service-name: web\n"
                                "  addressType: IPv4\n"
                                "  endpoints:\n"
                                "  - addresses: [10.1.0.7]\n"
                                "    conditions: {ready: true}\n"
                                "kind: List\n"
                                "metadata:\n"
                                "  resourceVersion: \"\"\n";

static const char multi_yml[] =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: plain\nspec:\n  clusterIP: None\n"
        "---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: runner, namespace: jobs}\n"
        "status: {phase: Running, podIP: 10.1.0.9}\n"
        "---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: finished, namespace: jobs}\n"
        "status: {phase: Succeeded}\n"
        "---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ignored, namespace: other}\n"
        "---\n";

static const char list_json[] =
        "{\"apiVersion\": \"v1\", \"kind\": \"ServiceList\", \"items\": [\n"
        "  {\"metadata\": {\"name\": \"api\", \"namespace\": \"shop\"},\n"
        "   \"spec\": {\"ports\": [{\"port\": 443}]}},\n"
        "  {\"metadata\": {\"name\": \"db\", \"namespace\": \"data\","
        "   \"labels\": {\"app\": \"db\"}},"
        "   \"spec\": {}}\n"
        "]}\n"
        "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"shop\","
        " \"labels\": {\"team\": \"a\"}}}\n";

Test(manifests, lists_multi_documents_and_json)
{
	struct k8s_source_conf c = all_kinds();

	put("a.yaml", list_yaml);
	put("b.yml", multi_yml);
	put("c.json", list_json);
	put("notes.txt", "kind: Service\nmetadata: {name: nope}\n");
	put(".hidden.yaml", "kind: Service\nmetadata: {name: nope}\n");
	start(&c, NULL);
	for (int k = 0; k < K8S_NKINDS; k++) {
		cr_assert_eq(store.begins[k], 1);
		cr_assert_eq(store.ends[k], 1);
	}
	cr_assert(live(K8S_SERVICE, "shop/web"));
	cr_assert(live(K8S_SERVICE, "default/plain"), "no namespace means default");
	cr_assert(live(K8S_SERVICE, "shop/api"), "items of a ServiceList get its kind");
	cr_assert(live(K8S_SERVICE, "data/db"));
	cr_assert_eq(nlive(K8S_SERVICE), 4, "*.txt and dot files are not read");
	cr_assert(live(K8S_SLICE, "shop/web-x1"));
	cr_assert(live(K8S_POD, "jobs/runner"));
	cr_assert_not(live(K8S_POD, "jobs/finished"), "finished pods are left out");
	/* Namespaces: shop is defined; default, jobs and data are implied. */
	cr_assert(live(K8S_NAMESPACE, "/shop"));
	cr_assert_str_eq(find_obj(K8S_NAMESPACE, "/shop")->labels, "{\"team\":\"a\"}");
	cr_assert(live(K8S_NAMESPACE, "/default"));
	cr_assert(live(K8S_NAMESPACE, "/jobs"));
	cr_assert(live(K8S_NAMESPACE, "/data"));
	cr_assert_str_eq(find_obj(K8S_NAMESPACE, "/data")->labels,
	                 "{\"kubernetes.io/metadata.name\":\"data\"}");
	cr_assert_not(live(K8S_NAMESPACE, "/other"), "only kinds read imply namespaces");
	cr_assert_eq(nlive(K8S_NAMESPACE), 4);
	cr_assert_eq(log_count("[ERROR]"), 0);
	cr_assert_eq(log_count("3 files, 4 services, 1 endpointslices, 4 namespaces, 1 pods"), 1);
}

/* Real kubectl output, YAML and JSON of the same objects: loading both changes nothing. */
Test(manifests, kubectl_output)
{
	struct k8s_source_conf c = all_kinds();
	const char *root = getenv("SX_SOURCE_ROOT");
	char cmd[1024];

	cr_assert_not_null(root, "SX_SOURCE_ROOT must be set");
	snprintf(cmd, sizeof(cmd), "cp '%s'/plugins/kubernetes/tests/data/kubectl-get-all.* '%s'",
	         root, dir);
	cr_assert_eq(system(cmd), 0);
	start(&c, NULL);
	cr_assert_eq(nlive(K8S_SERVICE), 7);
	cr_assert_eq(nlive(K8S_SLICE), 7);
	cr_assert_eq(nlive(K8S_NAMESPACE), 3);
	cr_assert_eq(nlive(K8S_POD), 2);
	cr_assert(live(K8S_SERVICE, "kube-system/kube-dns"));
	cr_assert(live(K8S_SLICE, "testns/svc-dual-v6"));
	cr_assert(live(K8S_POD, "testns/pod-hdls1-32"));
	cr_assert_str_eq(find_obj(K8S_NAMESPACE, "/testns")->labels,
	                 "{\"kubernetes.io/metadata.name\":\"testns\"}");
	cr_assert_eq(log_count("[ERROR]"), 0);
	cr_assert_eq(log_count("[WARNING]"), 0);
}

Test(manifests, only_watched_kinds_are_relisted)
{
	struct k8s_source_conf c = { .manifests = dir, .watch = { [K8S_SERVICE] = true } };

	put("a.yaml", list_yaml);
	start(&c, NULL);
	cr_assert_eq(store.begins[K8S_SERVICE], 1);
	cr_assert_eq(store.begins[K8S_SLICE], 0);
	cr_assert_eq(store.begins[K8S_NAMESPACE], 0);
	cr_assert_eq(nlive(K8S_SLICE), 0);
	cr_assert_eq(nlive(K8S_NAMESPACE), 0);
}

Test(manifests, bad_files_are_logged_and_the_rest_loads)
{
	struct k8s_source_conf c = all_kinds();

	put("a.yaml", list_yaml);
	put("broken.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n   bad: indent\n");
	put("broken.json", "{\"kind\": \"Service\",}");
	put("scalar.yaml", "just a string\n");
	put("noname.yaml", "apiVersion: v1\nkind: Service\nmetadata: {namespace: shop}\n");
	put("beta.yaml",
	    "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\n"
	    "metadata: {name: old, namespace: shop}\n---\n"
	    "apiVersion: v1\nkind: Service\nmetadata: {name: fine, namespace: shop}\n");
	start(&c, NULL);
	cr_assert(live(K8S_SERVICE, "shop/web"));
	cr_assert(live(K8S_SERVICE, "shop/fine"), "one unsupported object does not spoil its file");
	cr_assert_not(live(K8S_SLICE, "shop/old"));
	cr_assert_eq(log_count("broken.yaml: line 5"), 1);
	cr_assert_eq(log_count("broken.json: line 1"), 1);
	cr_assert_eq(log_count("scalar.yaml: a document is not a mapping"), 1);
	cr_assert_eq(log_count("noname.yaml: *v1.Service shop/? skipped: no metadata.name"), 1);
	cr_assert_eq(log_count("beta.yaml: object 1 skipped: EndpointSlice of apiVersion "
	                       "discovery.k8s.io/v1beta1"),
	             1);
}

/* DIR/@name made by @what ("ln -s", mkfifo...), in a shell run from DIR. */
static void
make(const char *what, const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cd '%s' && %s %s", dir, what, name);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Entries that are no readable file are logged, once each, where they once passed in silence. */
Test(manifests, unreadable_entries_are_logged_once)
{
	struct k8s_source_conf c = all_kinds();
	struct k8s_manifests_opts o = { .poll = true, .poll_ms = 50 };

	put("a.yaml", list_yaml);
	make("ln -s loop2.yaml", "loop1.yaml");
	make("ln -s loop1.yaml", "loop2.yaml");
	make("ln -s nowhere.txt", "dangling.yaml");
	make("mkfifo", "fifo.yaml");
	make("ln -s /dev/zero", "dev.yaml");
	make("mkdir", "dir.json");
	start(&c, &o);
	cr_assert(live(K8S_SERVICE, "shop/web"));
	cr_assert_eq(log_count("loop1.yaml: skipped: symbolic link loop"), 1);
	cr_assert_eq(log_count("loop2.yaml: skipped: symbolic link loop"), 1);
	cr_assert_eq(log_count("dangling.yaml: skipped: dangling symbolic link"), 1);
	cr_assert_eq(log_count("fifo.yaml: skipped: a FIFO, not a file"), 1);
	cr_assert_eq(log_count("dev.yaml: skipped: a device, not a file"), 1);
	cr_assert_eq(log_count("dir.json: skipped: a directory, not a file"), 1);

	/* Rescans say nothing new until one changes: then it loads. */
	int begins = store.begins[K8S_SERVICE];
	put("b.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: shop}\n");
	RUN_UNTIL(store.begins[K8S_SERVICE] > begins, 5);
	cr_assert_eq(log_count("skipped: "), 6);
	rm("dangling.yaml");
	put("dangling.yaml",
	    "apiVersion: v1\nkind: Service\nmetadata: {name: d, namespace: shop}\n");
	RUN_UNTIL(live(K8S_SERVICE, "shop/d"), 5);
	/* A file that turns into something unreadable takes its objects with it. */
	rm("dangling.yaml");
	make("mkfifo", "dangling.yaml");
	RUN_UNTIL(!live(K8S_SERVICE, "shop/d"), 5);
	cr_assert_eq(log_count("dangling.yaml: skipped: a FIFO, not a file"), 1);
	cr_assert(live(K8S_SERVICE, "shop/web"));
}

/* Too big is told by its size: a 200 MB file (sparse here) is not read first. */
Test(manifests, oversized_file_is_refused_by_its_size)
{
	struct k8s_source_conf c = all_kinds();
	char path[512];

	put("a.yaml", list_yaml);
	snprintf(path, sizeof(path), "%s/huge.yaml", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 200 << 20), 0);
	close(fd);
	start(&c, NULL);
	cr_assert(live(K8S_SERVICE, "shop/web"));
	cr_assert_eq(log_count("huge.yaml: larger than 67108864 bytes (209715200)"), 1);
}

Test(manifests, changes_are_picked_up_by_inotify)
{
	struct k8s_source_conf c = all_kinds();
	int begins;

	put("a.yaml", list_yaml);
	put("c.json", list_json);
	start(&c, NULL);
	cr_assert(live(K8S_SERVICE, "data/db"));

	/* A new file. */
	put("d.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: shop}\n");
	RUN_UNTIL(live(K8S_SERVICE, "shop/new"), 30);

	/* A file removed: its objects go, and so does the namespace only it implied. */
	rm("c.json");
	RUN_UNTIL(!live(K8S_SERVICE, "data/db"), 30);
	cr_assert_not(live(K8S_SERVICE, "shop/api"));
	cr_assert_not(live(K8S_NAMESPACE, "/data"));
	cr_assert(live(K8S_NAMESPACE, "/shop"), "still implied by a.yaml");
	cr_assert(live(K8S_SERVICE, "shop/web"));

	/* A file edited in place. */
	put("d.yaml",
	    "apiVersion: v1\nkind: Service\nmetadata: {name: renamed, namespace: shop}\n");
	RUN_UNTIL(live(K8S_SERVICE, "shop/renamed"), 30);
	cr_assert_not(live(K8S_SERVICE, "shop/new"));

	/* A file broken: logged, and what it held before stays. */
	begins = store.begins[K8S_SERVICE];
	put("d.yaml", "kind: Service\nmetadata: [\n");
	RUN_UNTIL(log_count("d.yaml: line") == 1, 30);
	cr_assert_eq(log_count("(its previous content stays in use)"), 1);
	RUN_UNTIL(store.begins[K8S_SERVICE] > begins, 30);
	cr_assert(live(K8S_SERVICE, "shop/renamed"));

	/* Nothing changes: nothing is read again. */
	begins = store.begins[K8S_SERVICE];
	spin(0.5);
	cr_assert_eq(store.begins[K8S_SERVICE], begins);
}

Test(manifests, changes_are_picked_up_by_polling)
{
	struct k8s_source_conf c = all_kinds();
	struct k8s_manifests_opts o = { .poll = true, .poll_ms = 100 };
	int begins;

	put("a.yaml", list_yaml);
	start(&c, &o);
	put("d.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: shop}\n");
	RUN_UNTIL(live(K8S_SERVICE, "shop/new"), 30);
	rm("a.yaml");
	RUN_UNTIL(!live(K8S_SERVICE, "shop/web"), 30);
	cr_assert_not(live(K8S_SLICE, "shop/web-x1"));
	begins = store.begins[K8S_SERVICE];
	spin(0.5);
	cr_assert_eq(store.begins[K8S_SERVICE], begins, "polls without changes relist nothing");
}

Test(manifests, directory_removed_and_recreated)
{
	struct k8s_source_conf c = all_kinds();
	struct k8s_manifests_opts o = { .poll_ms = 100 };
	char cmd[256];

	put("a.yaml", list_yaml);
	start(&c, &o);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
	RUN_UNTIL(log_count("No such file or directory (the last objects read stay in use)") == 1,
	          5);
	spin(0.4);
	cr_assert_eq(log_count("No such file or directory"), 1, "logged once");
	cr_assert(live(K8S_SERVICE, "shop/web"));

	cr_assert_eq(mkdir(dir, 0700), 0);
	put("c.json", list_json);
	RUN_UNTIL(live(K8S_SERVICE, "data/db"), 30);
	cr_assert_not(live(K8S_SERVICE, "shop/web"));
	/* Back on inotify: a change shows up without polling. */
	put("d.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: shop}\n");
	RUN_UNTIL(live(K8S_SERVICE, "shop/new"), 30);
}

Test(manifests, label_selectors_apply)
{
	struct k8s_source_conf c = all_kinds();

	c.labels = "app in (web, db)";
	c.namespace_labels = "kubernetes.io/metadata.name!=data";
	put("a.yaml", list_yaml);
	put("c.json", list_json);
	start(&c, NULL);
	cr_assert(live(K8S_SERVICE, "shop/web"));
	cr_assert(live(K8S_SERVICE, "data/db"));
	cr_assert_not(live(K8S_SERVICE, "shop/api"));
	cr_assert_not(live(K8S_SLICE, "shop/web-x1"), "the slice has no app label");
	cr_assert(live(K8S_NAMESPACE, "/shop"), "no such label: != matches");
	cr_assert_not(live(K8S_NAMESPACE, "/data"));
}

static bool
sel(const char *text, const char *labels)
{
	struct k8s_selector *s;
	json_t *l = json_loads(labels, 0, NULL);
	char why[256];
	bool ok;

	cr_assert_eq(k8s_selector_parse(&s, text, why, sizeof(why)), 0, "%s: %s", text, why);
	ok = k8s_selector_match(s, l);
	k8s_selector_free(s);
	json_decref(l);
	return ok;
}

static void
bad_sel(const char *text, const char *fragment)
{
	struct k8s_selector *s = (void *)1;
	char why[256];

	cr_assert_eq(k8s_selector_parse(&s, text, why, sizeof(why)), SX_EINVAL, "%s", text);
	cr_assert_null(s);
	cr_assert(strstr(why, fragment), "\"%s\" lacks \"%s\"", why, fragment);
}

Test(manifests, selector_syntax)
{
	cr_assert(sel("", "{}"));
	cr_assert(sel("a=1", "{\"a\":\"1\"}"));
	cr_assert(sel("a==1", "{\"a\":\"1\"}"));
	cr_assert_not(sel("a=1", "{\"a\":\"2\"}"));
	cr_assert_not(sel("a=1", "{}"));
	cr_assert(sel("a!=1", "{}"));
	cr_assert(sel("a != 1", "{\"a\":\"2\"}"));
	cr_assert_not(sel("a!=1", "{\"a\":\"1\"}"));
	cr_assert(sel("a", "{\"a\":\"\"}"));
	cr_assert_not(sel("!a", "{\"a\":\"x\"}"));
	cr_assert(sel("!a", "{\"b\":\"x\"}"));
	cr_assert(sel("env in (prod, staging),tier notin (db)", "{\"env\":\"prod\"}"));
	cr_assert_not(
	        sel("env in (prod,staging),tier notin (db)", "{\"env\":\"prod\",\"tier\":\"db\"}"));
	cr_assert_not(sel("env in (prod)", "{}"));
	cr_assert(sel("example.com/team=a,b", "{\"example.com/team\":\"a\",\"b\":\"\"}"));
	cr_assert(sel("a=", "{\"a\":\"\"}"));
	bad_sel("a in prod", "\"(\" expected");
	bad_sel("a in (x", "\")\" expected");
	bad_sel("a > 1", "unknown operator");
	bad_sel("=x", "a label key is expected");
	bad_sel("a=b c", "unexpected");
}

Test(manifests, start_errors)
{
	struct k8s_source_conf c = all_kinds();
	char file[128];

	c.manifests = "/nonexistent/manifests";
	cr_assert_eq(k8s_manifests_new(&man, &c, &store, NULL, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "manifests /nonexistent/manifests: No such file or directory");
	snprintf(file, sizeof(file), "%s/f.yaml", dir);
	put("f.yaml", "a: 1\n");
	c.manifests = file;
	cr_assert_eq(k8s_manifests_new(&man, &c, &store, NULL, err, sizeof(err)), -ENOTDIR);
	c.manifests = dir;
	c.labels = "a in (";
	cr_assert_eq(k8s_manifests_new(&man, &c, &store, NULL, err, sizeof(err)), SX_EINVAL);
	cr_assert(!strncmp(err, "labels: ", 8), "%s", err);
	cr_assert_null(man);
}

Test(manifests, source_picks_manifests)
{
	struct k8s_source_conf c = all_kinds();
	struct k8s_source *src;

	put("a.yaml", list_yaml);
	/* An endpoint set as well does not matter: manifests are read, not the API. */
	c.endpoint = "http://127.0.0.1:1";
	cr_assert_eq(k8s_source_start(&src, &c, &store, err, sizeof(err)), 0, "%s", err);
	cr_assert(live(K8S_SERVICE, "shop/web"));
	put("d.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: shop}\n");
	RUN_UNTIL(live(K8S_SERVICE, "shop/new"), 30);
	k8s_source_free(src);
	cr_assert_eq(log_count("[ERROR]"), 0);
}
