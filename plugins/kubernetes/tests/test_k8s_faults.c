/* test_k8s_faults.c -- API server faults: the last good zone answers throughout, then the truth. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include <sextant/testing.h>

/*
 * Each test starts the fake API server with tests/fakeapi/data/basic.json and
 * a sextant watching it, and two probers asking basic.json's names without
 * pause, one over UDP and one over TCP. Then it breaks the API server one way
 * (killed, 500s, 410, broken or huge JSON, absurd objects, an expired token),
 * changes objects the probers do not ask for while it is broken, and mends it.
 * Every probe must be answered right throughout; once mended, every name the
 * fake's objects imply must be answered as tests/fakeapi/truth.py derives it.
 */

#define A     LDNS_RR_TYPE_A
#define AAAA  LDNS_RR_TYPE_AAAA
#define PTR   LDNS_RR_TYPE_PTR
#define SVC1  "svc1.testns.svc.cluster.local."
#define HDLS1 "hdls1.testns.svc.cluster.local."

#define SYNCED "[INFO] plugin/kubernetes: synced "

static const struct sx_probe basic_probes[] = {
	{ SVC1, A, LDNS_RCODE_NOERROR, SVC1 "\t5\tIN\tA\t10.96.1.1" },
	{ HDLS1, A, LDNS_RCODE_NOERROR,
	  HDLS1 "\t5\tIN\tA\t10.244.1.30\n" HDLS1 "\t5\tIN\tA\t10.244.1.32" },
	{ "ep1b." SVC1, A, LDNS_RCODE_NOERROR, "ep1b." SVC1 "\t5\tIN\tA\t10.244.1.11" },
	{ "svc-dual.testns.svc.cluster.local.", AAAA, LDNS_RCODE_NOERROR,
	  "svc-dual.testns.svc.cluster.local.\t5\tIN\tAAAA\tfd00:10:96::1:2" },
	{ "1.1.96.10.in-addr.arpa.", PTR, LDNS_RCODE_NOERROR,
	  "1.1.96.10.in-addr.arpa.\t5\tIN\tPTR\t" SVC1 },
	{ "nope.testns.svc.cluster.local.", A, LDNS_RCODE_NXDOMAIN, "" },
};

struct rig {
	struct sx_fakeapi *f;
	struct sx_test_server *s;
	struct sx_prober *udp, *tcp;
};

static const char *
source_root(void)
{
	const char *root = getenv("SX_SOURCE_ROOT");

	return root ? root : ".";
}

static void
wait_synced(struct rig *r)
{
	if (!sx_test_wait_log(r->s, SYNCED, 30000)) {
		char *flog = sx_fakeapi_log(r->f);
		cr_assert_fail("never synced:\n%s\nfakeapi:\n%s", sx_test_log(r->s), flog);
	}
	cr_assert(sx_fakeapi_wait_watches(r->f, "/", 3, true, 30),
	          "the 3 watches never opened:\n%s", sx_test_log(r->s));
}

/*
 * Sextant on the running fake @f (its `endpoint`, unless @conn says how to
 * reach it), synced, and the probers running. @s may be prepared or NULL.
 */
static void
rig_start(struct rig *r, struct sx_fakeapi *f, struct sx_test_server *s, const char *conn)
{
	char corefile[2048], endpoint[256];

	r->f = f;
	if (!conn) {
		snprintf(endpoint, sizeof(endpoint), "\t\tendpoint %s\n", sx_fakeapi_url(r->f));
		conn = endpoint;
	}
	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n"
	         "\tbind 127.0.0.1\n"
	         "\tkubernetes {\n"
	         "%s"
	         "\t\tpods insecure\n"
	         "\t}\n"
	         "}\n",
	         conn);
	r->s = sx_test_start(s, corefile);
	wait_synced(r);
	r->udp = sx_prober_start("127.0.0.1", sx_test_port(r->s), basic_probes,
	                         sizeof(basic_probes) / sizeof(basic_probes[0]), 0, 10, 5000);
	r->tcp = sx_prober_start("127.0.0.1", sx_test_port(r->s), basic_probes,
	                         sizeof(basic_probes) / sizeof(basic_probes[0]), SX_PROBE_TCP, 10,
	                         5000);
}

/* The probers go on answering while the fault is on: @n more answers each. */
static void
still_answering(struct rig *r, long n)
{
	cr_assert(sx_prober_wait(r->udp, n, 30000), "UDP probes stopped:\n%s", sx_test_log(r->s));
	cr_assert(sx_prober_wait(r->tcp, n, 30000), "TCP probes stopped:\n%s", sx_test_log(r->s));
}

static void
expect_probes(struct sx_prober *p, const char *proto, struct sx_test_server *s)
{
	struct sx_probe_stats st;
	char buf[200];

	sx_prober_stop(p, &st);
	cr_log_info("%s probes: %s", proto, sx_probe_str(&st, buf, sizeof(buf)));
	cr_expect(st.sent > 0 && st.right == st.sent, "%s probes: %s\n%s\n%s", proto, buf, st.wrong,
	          sx_test_log(s));
}

/* The fake on basic.json over plain HTTP, and sextant on it. */
static void
rig_basic(struct rig *r)
{
	struct sx_fakeapi_opts o = { .load = "basic" };

	rig_start(r, sx_fakeapi_start(&o), NULL, NULL);
}

static void
rig_stop(struct rig *r)
{
	expect_probes(r->udp, "UDP", r->s);
	expect_probes(r->tcp, "TCP", r->s);
	cr_expect_eq(sx_test_stop(r->s), 0);
	sx_fakeapi_stop(r->f);
}

/*
 * Every name the fake's objects imply answers as truth.py says, within 30 s;
 * @gone (NULL-terminated) must not exist.
 */
static void
expect_truth(struct rig *r, const char *const *gone)
{
	char path[400], cmd[4096], out[8192], *objs = NULL;
	size_t len, n = 0;
	FILE *fp, *p;
	int status;

	cr_assert_eq(sx_fakeapi_ctl(r->f, "GET", "/_fake/objects", NULL, &objs), 200);
	snprintf(path, sizeof(path), "%s/truth-objects.json", sx_test_dir(r->s));
	fp = fopen(path, "w");
	cr_assert(fp);
	fputs(objs, fp);
	fclose(fp);
	free(objs);
	len = (size_t)snprintf(cmd, sizeof(cmd),
	                       "/usr/bin/python3 %s/tests/fakeapi/truth.py --server 127.0.0.1:%u "
	                       "--objects %s --wait 30",
	                       source_root(), sx_test_port(r->s), path);
	for (; gone && *gone; gone++) {
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, " --gone %s", *gone);
	}
	snprintf(cmd + len, sizeof(cmd) - len, " 2>&1");
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_log_info("%s", out);
	cr_assert(status == 0 && strstr(out, " 0 wrong"),
	          "the zone is not the API's truth:\n%s\n%s", out, sx_test_log(r->s));
}

static int
log_count(struct sx_test_server *s, const char *needle)
{
	const char *p = sx_test_log(s);
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void
wait_log(struct rig *r, const char *needle)
{
	cr_assert(sx_test_wait_log(r->s, needle, 30000), "no \"%s\" in:\n%s", needle,
	          sx_test_log(r->s));
}

static void
put_svc(struct sx_fakeapi *f, const char *name, const char *ip)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
	         "\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":\"%s\",\"ports\":[{\"name\":"
	         "\"http\",\"port\":80}]}}",
	         name, ip);
	sx_fakeapi_do(f, "POST", "/_fake/objects", body);
}

/* A change the probers do not see: ext-svc goes, @name comes. */
static void
change_objects(struct sx_fakeapi *f, const char *name, const char *ip)
{
	sx_fakeapi_do(f, "DELETE", "/_fake/objects/v1/testns/services/ext-svc", NULL);
	put_svc(f, name, ip);
}

static const char *const ext_gone[] = { "ext-svc.testns.svc.cluster.local", NULL };

/* Wait until every fault rule has been used up (30 s at most). */
static void
wait_rules_spent(struct rig *r)
{
	char *body = NULL;

	for (int i = 0; i < 1500; i++) {
		json_t *j, *rule;
		size_t k;
		bool left = false;

		free(body);
		cr_assert_eq(sx_fakeapi_ctl(r->f, "GET", "/_fake/fail", NULL, &body), 200);
		j = json_loads(body, 0, NULL);
		cr_assert(j, "%s", body);
		json_array_foreach(json_object_get(j, "rules"), k, rule)
		{
			left = left || json_integer_value(json_object_get(rule, "remaining")) != 0;
		}
		json_decref(j);
		if (!left) {
			free(body);
			return;
		}
		usleep(20000);
	}
	/* Which rule was left, and what the fake was asked meanwhile, say which step stalled. */
	cr_assert_fail("fault rules left unused: %s\nsextant:\n%s\nfakeapi:\n%s", body,
	               sx_test_log(r->s), sx_fakeapi_log(r->f));
}

#define SVC_PATH   "/api/v1/services"
#define SLICE_PATH "/apis/discovery.k8s.io/v1/endpointslices"
#define NS_PATH    "/api/v1/namespaces"

/*
 * Make the plugin list everything again: the watches are cut, and the next
 * watch of each kind is told its resourceVersion is too old (after the fault
 * rules already queued).
 */
static void
force_relist(struct rig *r)
{
	static const char *const paths[] = { SVC_PATH, SLICE_PATH, NS_PATH };

	for (size_t i = 0; i < 3; i++) {
		char rule[256];

		snprintf(rule, sizeof(rule),
		         "{\"path\":\"%s\",\"watch\":true,\"mode\":\"watch-error\",\"status\":410}",
		         paths[i]);
		sx_fakeapi_do(r->f, "POST", "/_fake/fail", rule);
	}
	sx_fakeapi_do(r->f, "POST", "/_fake/drop-watches", NULL);
}

TestSuite(k8s_faults, .timeout = 180);

/* ---- killed and restarted ---- */

/* basic.json without kube-dns and ext-svc, with svc-back, to @path. */
static void
write_changed_basic(const char *path)
{
	char src[512];
	json_t *list, *items, *item;
	json_error_t jerr;
	size_t i;

	snprintf(src, sizeof(src), "%s/tests/fakeapi/data/basic.json", source_root());
	list = json_load_file(src, 0, &jerr);
	cr_assert(list, "%s: %s", src, jerr.text);
	items = json_object_get(list, "items");
	for (i = 0; i < json_array_size(items);) {
		json_t *md = json_object_get(json_array_get(items, i), "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));

		if (!strcmp(name, "ext-svc") || !strncmp(name, "kube-dns", 8)) {
			json_array_remove(items, i);
		} else {
			i++;
		}
	}
	item = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	                  "\"svc-back\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
	                  "\"10.96.3.3\",\"ports\":[{\"name\":\"http\",\"port\":80}]}}",
	                  0, &jerr);
	cr_assert(item, "%s", jerr.text);
	json_array_append_new(items, item);
	cr_assert_eq(json_dump_file(list, path, 0), 0);
	json_decref(list);
}

Test(k8s_faults, killed_and_restarted)
{
	struct sx_fakeapi_opts o = { .initial_rv = 5000 };
	const char *gone[] = { "ext-svc.testns.svc.cluster.local",
		               "kube-dns.kube-system.svc.cluster.local", NULL };
	char path[400];
	struct rig r;

	rig_basic(&r);
	sx_fakeapi_kill(r.f);
	wait_log(&r, "Couldn't connect to server");
	still_answering(&r, 50);

	/* Back on the same port with other objects and a newer history. */
	snprintf(path, sizeof(path), "%s/changed.json", sx_fakeapi_dir(r.f));
	write_changed_basic(path);
	o.load = path;
	sx_fakeapi_launch(r.f, &o);
	expect_truth(&r, gone);
	cr_assert(sx_fakeapi_wait_watches(r.f, "/", 3, true, 30), "%s", sx_test_log(r.s));
	put_svc(r.f, "after", "10.96.3.4");
	expect_truth(&r, gone);
	rig_stop(&r);
}

/* ---- 500s ---- */

static long long
rule_hits(struct rig *r)
{
	char *body = NULL;
	long long hits = 0;
	json_t *j, *rule;
	size_t i;

	cr_assert_eq(sx_fakeapi_ctl(r->f, "GET", "/_fake/fail", NULL, &body), 200);
	j = json_loads(body, 0, NULL);
	cr_assert(j, "%s", body);
	free(body);
	json_array_foreach(json_object_get(j, "rules"), i, rule)
	{
		hits += json_integer_value(json_object_get(rule, "hits"));
	}
	json_decref(j);
	return hits;
}

Test(k8s_faults, internal_errors_then_recovery)
{
	struct rig r;

	rig_basic(&r);
	/* Every API request fails from now on, and the watches are cut. */
	sx_fakeapi_do(r.f, "POST", "/_fake/fail", "{\"path\":\"/ap\",\"status\":500,\"count\":-1}");
	sx_fakeapi_do(r.f, "POST", "/_fake/drop-watches", NULL);
	change_objects(r.f, "during-500", "10.96.5.0");
	for (int i = 0; rule_hits(&r) < 6; i++) {
		cr_assert(i < 1500, "the plugin stopped retrying:\n%s", sx_test_log(r.s));
		usleep(20000);
	}
	wait_log(&r, "Failed to watch");
	still_answering(&r, 50);
	sx_fakeapi_do(r.f, "DELETE", "/_fake/fail", NULL);
	expect_truth(&r, ext_gone);
	rig_stop(&r);
}

/* ---- an endless LIST, and one that stalls ---- */

/*
 * A LIST page must end within SEXTANT_K8S_LIST_TIMEOUT (here 3 s; 300 by default): the
 * first relist of Services gets a body that never ends (the same item again and again, as
 * fast as it is read), the second one that stops half-way. Each is cut, logged and listed
 * again; the zone answers throughout, memory stays flat, then the zone is the API's truth
 * (the endless item, applied while it streamed, is gone with the relist that completes).
 */
Test(k8s_faults, endless_and_stalled_lists_are_cut_and_retried)
{
	static const char head[] =
	        "{\\\"kind\\\":\\\"ServiceList\\\",\\\"apiVersion\\\":\\\"v1\\\",\\\"metadata\\\":"
	        "{\\\"resourceVersion\\\":\\\"1\\\"},\\\"items\\\":[";
	const char *gone[] = { "ext-svc.testns.svc.cluster.local",
		               "endless.testns.svc.cluster.local", NULL };
	char rule[1024];
	long rss0, hwm;
	struct rig r;

	setenv("SEXTANT_K8S_LIST_TIMEOUT", "3", 1);
	rig_basic(&r);
	unsetenv("SEXTANT_K8S_LIST_TIMEOUT");
	rss0 = sx_census_rss_kb(sx_test_pid(r.s));
	snprintf(
	        rule, sizeof(rule),
	        "{\"path\":\"" SVC_PATH "\",\"watch\":false,\"mode\":\"raw\",\"body\":\"%s\","
	        "\"then\":\"repeat\",\"repeat\":\"{\\\"metadata\\\":{\\\"name\\\":\\\"endless\\\","
	        "\\\"namespace\\\":\\\"testns\\\"},\\\"spec\\\":{\\\"clusterIP\\\":\\\"10.96.9.9\\\"}},\"}",
	        head);
	sx_fakeapi_do(r.f, "POST", "/_fake/fail", rule);
	snprintf(rule, sizeof(rule),
	         "{\"path\":\"" SVC_PATH "\",\"watch\":false,\"mode\":\"raw\",\"body\":\"%s\","
	         "\"then\":\"hang\"}",
	         head);
	sx_fakeapi_do(r.f, "POST", "/_fake/fail", rule);
	force_relist(&r);
	change_objects(r.f, "after-endless", "10.96.9.10");
	/* curl's words for the time limit: the low-speed limit says "too slow" after 60 s. */
	wait_log(&r, "failed to list *v1.Service: Operation timed out after");
	wait_rules_spent(&r);
	still_answering(&r, 20);
	expect_truth(&r, gone);
	hwm = sx_census_hwm_kb(sx_test_pid(r.s));
	cr_log_info("RSS before %ld KiB, peak %ld KiB", rss0, hwm);
	cr_expect_lt(hwm - rss0, 128 * 1024, "peak %ld KiB from %ld KiB", hwm, rss0);
	rig_stop(&r);
}

/* ---- reloads while the API server is slow ---- */

/*
 * Each reload starts a new kubernetes instance from an empty store. Published at
 * once, it answered SERVFAIL until its LIST came back (91 of the soak's 97 wrong
 * answers, in the 5 s after a reload); now the running configuration answers until
 * the new one is synced. Here every new LIST of Services first hangs for a second.
 */
Test(k8s_faults, reloads_while_lists_are_slow)
{
	static const char ready[] = "Reload: the new configuration serves (its plugins are ready)";
	struct rig r;

	rig_basic(&r);
	for (int i = 0; i < 3; i++) {
		int before = log_count(r.s, ready);

		sx_fakeapi_do(r.f, "POST", "/_fake/fail",
		              "{\"path\":\"/api/v1/services\",\"watch\":false,\"mode\":\"hang\","
		              "\"seconds\":1}");
		kill(sx_test_pid(r.s), SIGUSR1);
		for (int j = 0; log_count(r.s, ready) == before; j++) {
			cr_assert(j < 1500, "reload %d: never served:\n%s", i, sx_test_log(r.s));
			usleep(20000);
		}
		cr_assert_eq(rule_hits(&r), 1, "reload %d: the slow LIST was not asked", i);
		sx_fakeapi_do(r.f, "DELETE", "/_fake/fail", NULL);
		still_answering(&r, 20);
	}
	rig_stop(&r);
}

/* ---- 410 in the middle of a watch ---- */

Test(k8s_faults, expired_in_the_middle_of_a_watch)
{
	struct rig r;

	rig_basic(&r);
	change_objects(r.f, "during-410", "10.96.4.10");
	cr_assert(sx_fakeapi_wait_watches(r.f, "/", 3, true, 30));
	/* Every watch is well under way (a bookmark at least), then the 410 comes. */
	sx_fakeapi_do(r.f, "POST", "/_fake/bookmark", "{\"force\":true}");
	sx_fakeapi_do(r.f, "POST", "/_fake/compact", NULL);
	sx_fakeapi_do(r.f, "POST", "/_fake/drop-watches", "{\"mode\":\"error\",\"status\":410}");
	for (int i = 0; log_count(r.s, "resourceVersion too old, listing again") < 3; i++) {
		cr_assert(i < 1500, "no relist after the 410s:\n%s", sx_test_log(r.s));
		usleep(20000);
	}
	still_answering(&r, 20);
	expect_truth(&r, ext_gone);
	cr_expect_eq(log_count(r.s, "Failed to watch"), 0, "%s", sx_test_log(r.s));
	rig_stop(&r);
}

/* ---- truncated and garbled JSON ---- */

/* A fault rule answering @path (a LIST when !@watch) with @body cut at @cut, then @then. */
static void
raw_rule(struct rig *r, const char *path, bool watch, const char *query, const char *body,
         size_t cut, const char *then)
{
	json_t *rule = json_pack("{s:s, s:b, s:s, s:s, s:s}", "path", path, "watch", watch, "mode",
	                         "raw", "body", body, "then", then);
	char *text;

	cr_assert(rule);
	if (cut) {
		json_object_set_new(rule, "cut", json_integer((json_int_t)cut));
	}
	if (query) {
		json_object_set_new(rule, "query", json_string(query));
	}
	text = json_dumps(rule, JSON_COMPACT);
	sx_fakeapi_do(r->f, "POST", "/_fake/fail", text);
	free(text);
	json_decref(rule);
}

/* What the fake answers to GET @path now. */
static char *
api_get(struct rig *r, const char *path)
{
	char *body = NULL;

	cr_assert_eq(sx_fakeapi_ctl(r->f, "GET", path, NULL, &body), 200, "%s", body);
	return body;
}

Test(k8s_faults, truncated_and_garbled_json)
{
	static const char garbage[] =
	        "\x7f\x45\x4c\x46{\"kind\":\"ServiceList\",\"items\":[{]]]\"\\u";
	char *list, *ns_events, *sl_events, *two = NULL;
	size_t len;
	struct rig r;

	rig_basic(&r);
	/* Enough services for two LIST pages (500 each), so a later page can break too. */
	for (int i = 0; i < 60; i++) {
		char body[64 * 1024];
		size_t n = (size_t)snprintf(body, sizeof(body), "{\"kind\":\"List\",\"items\":[");

		for (int j = 0; j < 10; j++) {
			n += (size_t)snprintf(
			        body + n, sizeof(body) - n,
			        "%s{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
			        "\"bulk-%d\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
			        "\"10.97.%d.%d\",\"ports\":[{\"name\":\"http\",\"port\":80}]}}",
			        j ? "," : "", i * 10 + j, i, j + 1);
		}
		snprintf(body + n, sizeof(body) - n, "]}");
		sx_fakeapi_do(r.f, "POST", "/_fake/objects", body);
	}
	list = api_get(&r, SVC_PATH "?limit=500");
	len = strlen(list);
	cr_assert(len > 1000);
	ns_events = api_get(&r, NS_PATH "?watch=1&timeoutSeconds=1");
	sl_events = api_get(&r, SLICE_PATH "?watch=1&timeoutSeconds=1");

	/*
	 * Each kind retries on its own, with a backoff doubling from 0.5 s: the
	 * faults are spread over the three so that none waits long.
	 * A watch: half an event, then the connection closes.
	 */
	raw_rule(&r, NS_PATH, true, NULL, ns_events, strlen(ns_events) / 2, "close");
	/* A watch: a good event, then a garbage line, on a stream that stays open. */
	cr_assert(asprintf(&two, "%.*s\n%s\n", (int)(strchr(sl_events, '\n') - sl_events),
	                   sl_events, garbage) > 0);
	raw_rule(&r, SLICE_PATH, true, NULL, two, 0, "hang");
	/* LISTs: cut and closed; cut but ended properly; garbage; a second page cut. */
	raw_rule(&r, SVC_PATH, false, NULL, list, len / 2, "close");
	raw_rule(&r, SLICE_PATH, false, NULL, list, len / 3, "end");
	raw_rule(&r, SVC_PATH, false, NULL, garbage, 0, "end");
	raw_rule(&r, SVC_PATH, false, "continue", list, len - 10, "end");
	free(two);
	free(list);
	free(ns_events);
	free(sl_events);
	change_objects(r.f, "during-garbage", "10.96.6.6");
	force_relist(&r);
	wait_rules_spent(&r);
	still_answering(&r, 20);
	expect_truth(&r, ext_gone);
	cr_expect(strstr(sx_test_log(r.s), "invalid JSON"), "%s", sx_test_log(r.s));
	cr_expect(strstr(sx_test_log(r.s), "invalid watch event"), "%s", sx_test_log(r.s));
	rig_stop(&r);
}

/* ---- oversized objects ---- */

Test(k8s_faults, a_10_mb_object_and_one_with_100000_ports)
{
	const char *gone[] = { "ext-svc.testns.svc.cluster.local",
		               "many-ports.testns.svc.cluster.local", NULL };
	size_t big = 10u << 20, n;
	char *body = malloc(big + 4096);
	long rss0, hwm;
	struct rig r;

	cr_assert(body);
	rig_basic(&r);
	rss0 = sx_census_rss_kb(sx_test_pid(r.s));
	n = (size_t)snprintf(body, big + 4096,
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	                     "\"big-notes\",\"namespace\":\"testns\",\"annotations\":{\"a\":\"");
	memset(body + n, 'x', big);
	n += big;
	snprintf(body + n, 4096,
	         "\"}},\"spec\":{\"clusterIP\":\"10.96.7.7\",\"ports\":[{\"name\":\"http\","
	         "\"port\":80}]}}");
	sx_fakeapi_do(r.f, "POST", "/_fake/objects", body);
	n = (size_t)snprintf(body, big + 4096,
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	                     "\"many-ports\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
	                     "\"10.96.7.8\",\"ports\":[");
	for (int i = 0; i < 100000; i++) {
		char item[64];
		/* Formatted apart: ASan checks the whole room given to snprintf, 10 MB each time. */
		int len = snprintf(item, sizeof(item), "%s{\"name\":\"p%d\",\"port\":%d}",
		                   i ? "," : "", i, i % 65535 + 1);
		memcpy(body + n, item, (size_t)len);
		n += (size_t)len;
	}
	snprintf(body + n, big + 4096 - n, "]}}");
	sx_fakeapi_do(r.f, "POST", "/_fake/objects", body);
	free(body);
	change_objects(r.f, "after-big", "10.96.7.9");
	/* As watch events. */
	expect_truth(&r, gone);
	wait_log(&r, "testns/many-ports skipped: service testns/many-ports: spec.ports: more than "
	             "255 ports");
	/* In a LIST. */
	force_relist(&r);
	for (int i = 0; log_count(r.s, "many-ports skipped") < 2; i++) {
		cr_assert(i < 1500, "no relist:\n%s", sx_test_log(r.s));
		usleep(20000);
	}
	still_answering(&r, 20);
	expect_truth(&r, gone);
	hwm = sx_census_hwm_kb(sx_test_pid(r.s));
	cr_log_info("RSS before %ld KiB, peak %ld KiB", rss0, hwm);
	/* The JSON of a 16 MB page parsed at once, not copies of it piling up. */
	cr_expect_lt(hwm - rss0, 512 * 1024, "peak %ld KiB from %ld KiB", hwm, rss0);
	rig_stop(&r);
}

/* ---- objects with missing or absurd fields ---- */

/* Services no API server would accept, each alone in its item. */
static const char *const absurd_services[] = {
	"{}",
	"{\"metadata\":\"svc\"}",
	"{\"metadata\":{\"name\":42,\"namespace\":\"testns\"},\"spec\":{}}",
	"{\"metadata\":{\"name\":\"\",\"namespace\":\"testns\"},\"spec\":{}}",
	"{\"metadata\":{\"name\":\"no-spec\",\"namespace\":\"testns\"}}",
	"{\"metadata\":{\"name\":\"spec-list\",\"namespace\":\"testns\"},\"spec\":[1,2]}",
	"{\"metadata\":{\"name\":\"ips-str\",\"namespace\":\"testns\"},\"spec\":{\"clusterIPs\":"
	"\"10.1.1.1\"}}",
	"{\"metadata\":{\"name\":\"ips-num\",\"namespace\":\"testns\"},\"spec\":{\"clusterIPs\":"
	"[1,2]}}",
	"{\"metadata\":{\"name\":\"ips-3\",\"namespace\":\"testns\"},\"spec\":{\"clusterIPs\":"
	"[\"10.1.1.1\",\"10.1.1.2\",\"10.1.1.3\"]}}",
	"{\"metadata\":{\"name\":\"ports-obj\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
	"\"10.1.1.1\",\"ports\":{\"port\":80}}}",
	"{\"metadata\":{\"name\":\"port-neg\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
	"\"10.1.1.1\",\"ports\":[{\"port\":-1}]}}",
	"{\"metadata\":{\"name\":\"port-real\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
	"\"10.1.1.1\",\"ports\":[{\"port\":1.5}]}}",
	"{\"metadata\":{\"name\":\"port-str\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
	"\"10.1.1.1\",\"ports\":[{\"port\":\"80\"}]}}",
	"{\"metadata\":{\"name\":\"ext-empty\",\"namespace\":\"testns\"},\"spec\":{\"type\":"
	"\"ExternalName\",\"externalName\":\"\"}}",
	"{\"metadata\":{\"name\":\"ext-dots\",\"namespace\":\"testns\"},\"spec\":{\"type\":"
	"\"ExternalName\",\"externalName\":\"a..b\"}}",
	"{\"metadata\":{\"name\":\"b\\u00e4d\",\"namespace\":\"testns\"},\"spec\":{}}",
	"{\"metadata\":{\"name\":\"ns-bad\",\"namespace\":\"te st\"},\"spec\":{}}",
	"{\"metadata\":{\"name\":\"nul\\u0000x\",\"namespace\":\"testns\"},\"spec\":{}}",
};

static const char *const absurd_slices[] = {
	"{\"metadata\":{\"name\":\"s1\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"svc1\"}}}",
	"{\"metadata\":{\"name\":\"s2\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":\"x\"}",
	"{\"metadata\":{\"name\":\"s3\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":"
	"[{\"addresses\":[1]}]}",
	"{\"metadata\":{\"name\":\"s4\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":"
	"[{\"addresses\":[\"fd00::1\"]}]}",
	"{\"metadata\":{\"name\":\"s5\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":"
	"[{\"addresses\":[\"10.9.9.9\"],\"hostname\":\"a.b\"}]}",
	"{\"metadata\":{\"name\":\"s6\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"b@d\"}},\"addressType\":\"IPv4\",\"endpoints\":[]}",
	"{\"metadata\":{\"name\":\"s7\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":"
	"[{\"addresses\":\"10.9.9.9\"}]}",
	"{\"metadata\":{\"name\":\"s8\",\"namespace\":\"testns\",\"labels\":"
	"{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":"
	"[{\"addresses\":[\"10.9.9.9\"]}],\"ports\":[{\"port\":65536}]}",
};

/* The real list of @path with @extra items appended (the raw JSON texts). */
static char *
list_plus(struct rig *r, const char *path, const char *const *extra, size_t n)
{
	char *real = api_get(r, path), *out;
	json_t *list = json_loads(real, 0, NULL), *items;
	json_error_t jerr;

	cr_assert(list, "%s", real);
	items = json_object_get(list, "items");
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_loads(extra[i], JSON_ALLOW_NUL, &jerr);

		cr_assert(item, "%s: %s", extra[i], jerr.text);
		json_array_append_new(items, item);
	}
	out = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	free(real);
	return out;
}

/* Watch events (one a line) of @type carrying each of @objs, raw. */
static char *
events_of(const char *type, const char *const *objs, size_t n)
{
	size_t cap = 1, len = 0;
	char *out;

	for (size_t i = 0; i < n; i++) {
		cap += strlen(objs[i]) + strlen(type) + 32;
	}
	out = malloc(cap);
	cr_assert(out);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, cap - len, "{\"type\":\"%s\",\"object\":%s}\n",
		                        type, objs[i]);
	}
	return out;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* @text with a newline added, then 100,000 nested objects and their ends when @deep. */
static char *
event_line(const char *text, bool deep)
{
	size_t depth = deep ? 100000 : 0, n = strlen(text);
	char *line = malloc(n + depth * 6 + 8);

	cr_assert(line);
	memcpy(line, text, n);
	for (size_t d = 0; d < depth; d++, n += 5) {
		memcpy(line + n, "{\"a\":", 5);
	}
	if (deep) {
		memset(line + n, '}', depth + 3);
		n += depth + 3;
	}
	line[n++] = '\n';
	line[n] = '\0';
	return line;
}

Test(k8s_faults, objects_with_missing_or_absurd_fields)
{
	/* Lines that are no watch event; each ends its stream, so each kind gets two or three. */
	static const struct {
		const char *path, *line;
		bool deep;
	} unparsable[] = {
		{ SVC_PATH,
		  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"d\",\"labels\":", true },
		{ SVC_PATH,
		  "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"huge\"},\"spec\":{"
		  "\"ports\":[{\"port\":123456789012345678901234567890}]}}}" },
		{ SLICE_PATH, "[]" },
		{ SLICE_PATH, "{\"type\":\"DELETED\",\"object\":null}" },
		{ NS_PATH, "{\"type\":\"EXPLODED\",\"object\":{}}" },
		{ NS_PATH, "{\"object\":{}}" },
	};
	char *svc_list, *sl_list, *ev;
	struct rig r;

	rig_basic(&r);
	svc_list = list_plus(&r, SVC_PATH, absurd_services, NELEM(absurd_services));
	sl_list = list_plus(&r, SLICE_PATH, absurd_slices, NELEM(absurd_slices));

	/* Every absurd object as a watch event, then the stream ends. */
	ev = events_of("ADDED", absurd_services, NELEM(absurd_services));
	raw_rule(&r, SVC_PATH, true, NULL, ev, 0, "end");
	free(ev);
	ev = events_of("MODIFIED", absurd_slices, NELEM(absurd_slices));
	raw_rule(&r, SLICE_PATH, true, NULL, ev, 0, "end");
	free(ev);
	/* Events that are not events, on streams that stay open: the plugin must leave. */
	for (size_t i = 0; i < NELEM(unparsable); i++) {
		char *line = event_line(unparsable[i].line, unparsable[i].deep);

		raw_rule(&r, unparsable[i].path, true, NULL, line, 0, "hang");
		free(line);
	}
	/* The same objects in LISTs, beside the real ones. */
	force_relist(&r);
	raw_rule(&r, SVC_PATH, false, NULL, svc_list, 0, "end");
	raw_rule(&r, SLICE_PATH, false, NULL, sl_list, 0, "end");
	free(svc_list);
	free(sl_list);
	wait_rules_spent(&r);
	still_answering(&r, 20);
	cr_expect(log_count(r.s, "Failed to watch") >= (int)NELEM(unparsable), "%s",
	          sx_test_log(r.s));
	cr_expect(log_count(r.s, "skipped") >= 2 * (int)(NELEM(absurd_services) - 3), "%s",
	          sx_test_log(r.s));
	/* They were never the API's objects: a clean relist must forget them all. */
	change_objects(r.f, "after-absurd", "10.96.8.8");
	force_relist(&r);
	expect_truth(&r, ext_gone);
	rig_stop(&r);
}

/* ---- a token that expires and is rotated in its file ---- */

static void
write_file(const char *path, const char *text)
{
	char tmp[600];
	FILE *fp;

	/* Replaced in one rename, as the kubelet rotates projected tokens. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fp = fopen(tmp, "w");
	cr_assert(fp, "%s", tmp);
	fputs(text, fp);
	fclose(fp);
	cr_assert_eq(rename(tmp, path), 0);
}

Test(k8s_faults, token_expires_then_is_rotated_in_its_file)
{
	struct sx_test_server *s = sx_test_prepare();
	char server_tokens[400], sa[400], token[500], cmd[1200], port[16];
	struct sx_fakeapi_opts o = { .tls = true, .token_file = server_tokens, .load = "basic" };
	struct sx_fakeapi *f;
	struct rig r;

	snprintf(server_tokens, sizeof(server_tokens), "%s/server-tokens", sx_test_dir(s));
	snprintf(sa, sizeof(sa), "%s/sa", sx_test_dir(s));
	snprintf(token, sizeof(token), "%s/token", sa);
	cr_assert_eq(mkdir(sa, 0700), 0);
	write_file(server_tokens, "tok-1\n");
	write_file(token, "tok-1");
	f = sx_fakeapi_start(&o);
	/* In a cluster: the service account's directory, KUBERNETES_SERVICE_HOST and _PORT. */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/ca.crt'", sx_fakeapi_cert(f, "ca.crt"), sa);
	cr_assert_eq(system(cmd), 0);
	snprintf(port, sizeof(port), "%u", sx_fakeapi_port(f));
	setenv("SEXTANT_SA_DIR", sa, 1);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	rig_start(&r, f, s, "");

	/* The API server moves on to a new token: ours is refused when the watches reconnect. */
	write_file(server_tokens, "tok-2\n");
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches", NULL);
	wait_log(&r, "Unauthorized");
	change_objects(f, "during-401", "10.96.9.1");
	still_answering(&r, 50);

	/* The kubelet writes the new token into the file: the next attempt reads it. */
	write_file(token, "tok-2");
	expect_truth(&r, ext_gone);
	rig_stop(&r);
}
