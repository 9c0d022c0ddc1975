/* test_real_faults.c -- a real API server killed, restarted, compacted away, and outlasted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dns.h"
#include <sextant/testing.h>
#include "kube.h"

/*
 * meson runs this with two API servers on one etcd (SX_K8S_APISERVERS=2):
 * while the one a sextant watches is down, changes go through the other,
 * which the controller manager also uses. The second runs without a watch
 * cache (SX_K8S_APISERVER2_ARGS=--watch-cache=false): its watches resume
 * from etcd, so compacting etcd past a watch's resourceVersion makes the next
 * one fail with 410, as a restarted API server's watch cache does.
 */

#define A LDNS_RR_TYPE_A
#define Z ".svc.cluster.local."
#define SVC \
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},\"spec\":{%s\"ports\":[{\"name\":\"http\",\"port\":80}]}}"

#define CHANGE_MS  1000.0
#define RETURN_MS  5000.0 /* changes made while the API server was down, after its return */
#define INITIAL_MS 20000.0

static struct kube *k;

static void
setup(void)
{
	k = kube_open();
	kube_node(k);
}

static void
teardown(void)
{
	kube_close(k);
}

TestSuite(real_faults, .init = setup, .fini = teardown, .timeout = 300);

/* A sextant watching API server @n with the admin's token, pods verified. */
static struct sx_test_server *
start_on(int n)
{
	struct sx_test_server *s = sx_test_prepare();
	char path[512], corefile[1024];

	snprintf(path, sizeof(path), "%s/kubeconfig", sx_test_dir(s));
	kube_kubeconfig(k, path, n, kube_env(k, "K8S_ADMIN_TOKEN"));
	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n\tbind 127.0.0.1\n\tkubernetes {\n"
	         "\t\tkubeconfig %s\n\t\tpods verified\n\t}\n}\n",
	         path);
	sx_test_start(s, corefile);
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced ", 20000), "%s",
	          sx_test_log(s));
	return s;
}

static void
service(const char *ns, const char *name, const char *spec)
{
	char obj[1024];

	snprintf(obj, sizeof(obj), SVC, name, ns, spec);
	kube_create(k, obj);
}

/* The A record of Service @ns/@name as dns_ask() shows it, from its ClusterIP. */
static void
svc_a(char *out, size_t size, const char *ns, const char *name)
{
	char path[256];
	json_t *svc;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
	svc = kube_must(k, "GET", path, NULL);
	snprintf(out, size, "%s.%s" Z "\t5\tIN\tA\t%s", name, ns,
	         json_string_value(json_object_get(json_object_get(svc, "spec"), "clusterIP")));
	json_decref(svc);
}

/*
 * What h.rst should answer by the slices of API server *@arg: its ready
 * addresses, once each, as dns_ask() shows them. The controller manager of
 * 1.20 may leave duplicate slices behind for a while, one of them with an old
 * state of an endpoint; what the API serves is the truth all the same.
 */
static void
h_truth(char *out, size_t size, void *arg)
{
	const char *ips[64];
	json_t *l, *item, *ep, *ip;
	size_t i, j, m, nips = 0, len = 0;

	kube_use(k, *(const int *)arg);
	l = kube_must(k, "GET", "/apis/discovery.k8s.io/v1beta1/namespaces/rst/endpointslices",
	              NULL);
	json_array_foreach(json_object_get(l, "items"), i, item)
	{
		json_array_foreach(json_object_get(item, "endpoints"), j, ep)
		{
			if (json_is_false(
			            json_object_get(json_object_get(ep, "conditions"), "ready"))) {
				continue;
			}
			json_array_foreach(json_object_get(ep, "addresses"), m, ip)
			{
				cr_assert_lt(nips, sizeof(ips) / sizeof(ips[0]));
				ips[nips++] = json_string_value(ip);
			}
		}
	}
	qsort(ips, nips, sizeof(ips[0]), dns_by_str);
	out[0] = '\0';
	for (i = 0; i < nips; i++) {
		if (i == 0 || strcmp(ips[i], ips[i - 1]) != 0) {
			len += (size_t)snprintf(out + len, size - len, "%sh.rst" Z "\t5\tIN\tA\t%s",
			                        len ? "\n" : "", ips[i]);
			cr_assert_lt(len, size);
		}
	}
	if (len == 0) {
		snprintf(out, size, "NXDOMAIN");
	}
	json_decref(l);
	kube_use(k, 2);
}

/* h_truth() once it has h-1, which the changes made while down must bring; else what no answer is. */
static void
h_truth_with_h1(char *out, size_t size, void *arg)
{
	h_truth(out, size, arg);
	if (!strstr(out, "10.244.5.11")) {
		snprintf(out, size, "(API server %d has no h-1 yet)", *(const int *)arg);
	}
}

Test(real_faults, api_server_killed_serves_the_last_zone_and_catches_up_on_return)
{
	struct sx_test_server *s = start_on(1), *ss[] = { s, NULL };
	char keep[256], gone[256], fresh[256];
	double t0 = dns_now_ms(), ms;

	kube_namespace(k, "rst");
	service("rst", "keep", "");
	service("rst", "gone", "");
	service("rst", "h", "\"clusterIP\":\"None\",\"selector\":{\"app\":\"h\"},");
	kube_pod(k, "rst", "h-0", "h", "10.244.5.10", NULL, true, NULL, NULL);
	svc_a(keep, sizeof(keep), "rst", "keep");
	svc_a(gone, sizeof(gone), "rst", "gone");
	dns_wait(ss, "h.rst.svc.cluster.local", A, "h.rst" Z "\t5\tIN\tA\t10.244.5.10", t0,
	         INITIAL_MS);
	dns_wait(ss, "gone.rst.svc.cluster.local", A, gone, t0, INITIAL_MS);

	/* Down: SIGKILL, as a crash. The last zone keeps serving. */
	free(kube_fixture(k, "kill-apiserver", "1"));
	cr_assert(sx_test_wait_log(s, "Failed to watch", 10000), "%s", sx_test_log(s));
	kube_use(k, 2);
	json_decref(kube_must(k, "DELETE", "/api/v1/namespaces/rst/services/gone", NULL));
	service("rst", "fresh", "");
	svc_a(fresh, sizeof(fresh), "rst", "fresh");
	kube_pod_ready(k, "rst", "h-0", false);
	kube_pod(k, "rst", "h-1", "h", "10.244.5.11", NULL, true, NULL, NULL);
	/* The controller manager (on server 2) has written h-1 in a slice by now. */
	for (double w0 = dns_now_ms();;) {
		char truth[512];

		h_truth(truth, sizeof(truth), &(int){ 2 });
		if (strstr(truth, "10.244.5.11")) {
			break;
		}
		cr_assert_lt(dns_now_ms() - w0, 20000, "the controller never wrote h-1's slice");
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	dns_wait(ss, "gone.rst.svc.cluster.local", A, gone, dns_now_ms(), 0);
	dns_wait(ss, "h.rst.svc.cluster.local", A, "h.rst" Z "\t5\tIN\tA\t10.244.5.10",
	         dns_now_ms(), 0);
	dns_wait(ss, "fresh.rst.svc.cluster.local", A, "NXDOMAIN", dns_now_ms(), 0);

	/* Back: everything that changed meanwhile shows within 5 s of its return. */
	free(kube_fixture(k, "start-apiserver", "1"));
	t0 = dns_now_ms();
	ms = dns_wait(ss, "fresh.rst.svc.cluster.local", A, fresh, t0, RETURN_MS);
	dns_wait(ss, "gone.rst.svc.cluster.local", A, "NXDOMAIN", t0, RETURN_MS);
	/* h: its ready addresses by the API, h-1's among them, read again until they agree. */
	dns_wait_for(ss, "h.rst.svc.cluster.local", A, h_truth_with_h1, &(int){ 1 }, t0, RETURN_MS);
	dns_wait(ss, "keep.rst.svc.cluster.local", A, keep, t0, 0);
	fprintf(stderr, "# API server back to its changes answered: %.0f ms\n", ms);
	cr_expect(strstr(sx_test_log(s), "watching again"), "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(real_faults, a_compacted_resource_version_forces_a_relist)
{
	struct sx_test_server *s = start_on(2), *ss[] = { s, NULL };
	char b[256], rev[64], *r;
	double t0 = dns_now_ms();

	kube_namespace(k, "cmp");
	service("cmp", "a", "\"clusterIP\":\"None\",");
	service("cmp", "stay", "\"clusterIP\":\"None\",");
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":"
	               "\"a\",\"namespace\":\"cmp\"},\"subsets\":[{\"addresses\":[{\"ip\":"
	               "\"192.0.2.1\"}]}]}");
	dns_wait(ss, "a.cmp.svc.cluster.local", A, "a.cmp" Z "\t5\tIN\tA\t192.0.2.1", t0,
	         INITIAL_MS);

	/* While its API server is down, the objects change and etcd forgets how. */
	free(kube_fixture(k, "kill-apiserver", "2"));
	json_decref(kube_must(k, "DELETE", "/api/v1/namespaces/cmp/services/a", NULL));
	service("cmp", "b", "");
	svc_a(b, sizeof(b), "cmp", "b");
	r = kube_fixture(k, "compact", NULL);
	snprintf(rev, sizeof(rev), "%s", r);
	free(r);
	cr_assert_gt(atoll(rev), 0);

	free(kube_fixture(k, "start-apiserver", "2"));
	t0 = dns_now_ms();
	dns_wait(ss, "b.cmp.svc.cluster.local", A, b, t0, RETURN_MS);
	dns_wait(ss, "a.cmp.svc.cluster.local", A, "NXDOMAIN", t0, RETURN_MS);
	dns_wait(ss, "stay.cmp.svc.cluster.local", A, "NXDOMAIN", t0, 0); /* no endpoints */
	dns_wait(ss, "cmp.svc.cluster.local", A, "NODATA", t0, 0);
	/* The watch from before was refused as too old (410): a new LIST, not events. */
	cr_expect(strstr(sx_test_log(s), "*v1.Service: resourceVersion too old, listing again"),
	          "%s", sx_test_log(s));
	/* And it watches again from that LIST: a change is seen at once. */
	t0 = dns_now_ms();
	service("cmp", "c", "");
	svc_a(b, sizeof(b), "cmp", "c");
	dns_wait(ss, "c.cmp.svc.cluster.local", A, b, t0, CHANGE_MS);
	cr_expect_eq(sx_test_stop(s), 0);
}

/* The resourceVersion=N of an audit event's requestURI, or -1. */
static long long
uri_rv(json_t *ev)
{
	const char *uri = json_string_value(json_object_get(ev, "requestURI"));
	const char *p = uri ? strstr(uri, "resourceVersion=") : NULL;

	return p ? atoll(p + 16) : -1;
}

static bool
is(json_t *ev, const char *verb, const char *stage, const char *path)
{
	const char *uri = json_string_value(json_object_get(ev, "requestURI"));

	return !strcmp(json_string_value(json_object_get(ev, "verb")), verb) &&
	       !strcmp(json_string_value(json_object_get(ev, "stage")), stage) && uri &&
	       !strncmp(uri, path, strlen(path)) && uri[strlen(path)] == '?';
}

/*
 * With timeoutSeconds=2 the server ends every watch after 2 s; the plugin
 * watches again from the last resourceVersion it saw, never lists again, and
 * misses nothing. Over HTTP/1.1 (chunked) and HTTP/2 (a stream).
 */
static void
outlast(const char *http, const char *ns)
{
	struct sx_test_server *s;
	struct sx_test_server *ss[2] = { NULL, NULL };
	char a[256], name[64], obj[512];
	long from, next;
	long long rv_x, last = 0;
	int lists = 0, watches = 0, after = 0;
	double t0;
	json_t *evs, *ev;
	size_t i;

	kube_namespace(k, ns);
	json_decref(kube_audit(k, 1, 0, &from));
	setenv("SEXTANT_K8S_WATCH_TIMEOUT", "2", 1);
	setenv("SEXTANT_K8S_HTTP_VERSION", http, 1);
	s = ss[0] = start_on(1);
	unsetenv("SEXTANT_K8S_WATCH_TIMEOUT");
	unsetenv("SEXTANT_K8S_HTTP_VERSION");
	snprintf(obj, sizeof(obj), "the API server answers over HTTP/%s", http);
	cr_assert(sx_test_wait_log(s, obj, 5000), "%s", sx_test_log(s));

	t0 = dns_now_ms();
	snprintf(obj, sizeof(obj), SVC, "x", ns, "");
	rv_x = kube_create(k, obj);
	svc_a(a, sizeof(a), ns, "x");
	snprintf(name, sizeof(name), "x.%s.svc.cluster.local", ns);
	dns_wait(ss, name, A, a, t0, CHANGE_MS);
	/* Three rounds of timeoutSeconds, at least one after x. */
	for (t0 = dns_now_ms(); after < 2; json_decref(evs)) {
		cr_assert_lt(dns_now_ms() - t0, 30000, "the watches were not renewed");
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
		evs = kube_audit(k, 1, from, NULL);
		after = 0;
		json_array_foreach(evs, i, ev)
		{
			after += is(ev, "watch", "ResponseStarted", "/api/v1/services") &&
			         uri_rv(ev) >= rv_x;
		}
	}
	t0 = dns_now_ms();
	snprintf(obj, sizeof(obj), SVC, "y", ns, "");
	kube_create(k, obj);
	svc_a(a, sizeof(a), ns, "y");
	snprintf(name, sizeof(name), "y.%s.svc.cluster.local", ns);
	dns_wait(ss, name, A, a, t0, CHANGE_MS);

	evs = kube_audit(k, 1, from, &next);
	json_array_foreach(evs, i, ev)
	{
		if (is(ev, "list", "ResponseComplete", "/api/v1/services")) {
			lists++;
		} else if (is(ev, "watch", "ResponseStarted", "/api/v1/services")) {
			cr_expect_geq(uri_rv(ev), last,
			              "a watch went back in time: %lld after %lld", uri_rv(ev),
			              last);
			last = uri_rv(ev);
			watches++;
		}
	}
	json_decref(evs);
	cr_expect_eq(lists, 1, "one LIST, then only watches");
	cr_expect_geq(watches, 3);
	cr_expect_eq(dns_log_count(s, "listing again"), 0, "%s", sx_test_log(s));
	cr_expect_eq(dns_log_count(s, "[ERROR]"), 0, "%s", sx_test_log(s));
	/* The LIST and every watch over the version forced: a change would be logged again. */
	cr_expect_eq(dns_log_count(s, "the API server answers over "), 1, "%s", sx_test_log(s));
	fprintf(stderr, "# HTTP/%s: %d watches of services, one LIST\n", http, watches);
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(real_faults, watches_outlast_timeout_seconds_over_http1)
{
	outlast("1.1", "out1");
}

Test(real_faults, watches_outlast_timeout_seconds_over_http2)
{
	outlast("2", "out2");
}
