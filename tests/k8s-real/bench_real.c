/* bench_real.c -- figures through a real API server: sync of 5,000 Services, Pod Ready to answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "dns.h"
#include <sextant/testing.h>
#include "kube.h"

/*
 * Run by `meson test -C build --benchmark --suite k8s-real` (run.sh gives it
 * its own control plane). Prints figures; fails only when something does not
 * work at all. SX_BENCH_SERVICES and SX_BENCH_PODS change the sizes.
 *
 * 1. Sync: N Services (default 5,000, ClusterIP, one port) in the real API
 *    server; sextant started afresh R times, each until its "synced" line:
 *    the plugin's own figure (from its first request to synced) and the wall
 *    time from exec. The peer, in the same run: the same paged LISTs
 *    (limit=500) of Services, EndpointSlices and Namespaces by libcurl and
 *    jansson alone, what any client must at least do.
 *
 * 2. Pod Ready to answer: a headless Service over P pods (default 50) that
 *    are not ready; one at a time, a pod's Ready condition is set and its
 *    endpoint name polled (UDP on loopback, every 2 ms) until it answers.
 *    The audit log gives the moment the API server received the controller's
 *    write of the EndpointSlice, which splits the time into the controller's
 *    part and the rest (the API server's write and watch, then Sextant).
 *    p50 and p99 of each.
 */

#define RUNS 3

static struct kube *k;

static double
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @q quantile (0..1) of @n values, nearest rank; sorts @v. */
static double
quantile(double *v, int n, double q)
{
	int i = (int)(q * n + 0.999999) - 1;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int
env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

static struct sx_test_server *
start_sextant(const char *pods)
{
	char corefile[1024];

	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n\tbind 127.0.0.1\n\tkubernetes {\n"
	         "\t\tkubeconfig %s\n\t\tpods %s\n\t}\n}\n",
	         kube_env(k, "K8S_KUBECONFIG"), pods);
	return sx_test_start(NULL, corefile);
}

/* Paged LISTs of @path (limit=500) decoded by jansson: @return ms, *@items the count. */
static double
paged_list(const char *path, long *items)
{
	char url[4096];
	char *cont = NULL;
	double t0 = dns_now_ms();

	*items = 0;
	do {
		json_t *r;
		const char *c;

		if (cont) {
			char *esc = curl_easy_escape(NULL, cont, 0);
			snprintf(url, sizeof(url), "%s?limit=500&continue=%s", path, esc);
			curl_free(esc);
		} else {
			snprintf(url, sizeof(url), "%s?limit=500", path);
		}
		r = kube_must(k, "GET", url, NULL);
		*items += (long)json_array_size(json_object_get(r, "items"));
		c = json_string_value(json_object_get(json_object_get(r, "metadata"), "continue"));
		free(cont);
		cont = c && *c ? strdup(c) : NULL;
		json_decref(r);
	} while (cont);
	return dns_now_ms() - t0;
}

TestSuite(bench_real, .timeout = 3600);

Test(bench_real, sync_of_many_services)
{
	int n = env_int("SX_BENCH_SERVICES", 5000);
	double own[RUNS], wall[RUNS], raw[RUNS], raw_svc[RUNS], t0;
	char obj[512];
	long items;

	k = kube_open();
	kube_namespace(k, "many");
	t0 = dns_now_ms();
	for (int i = 0; i < n; i++) {
		snprintf(
		        obj, sizeof(obj),
		        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
		        "\"s%05d\",\"namespace\":\"many\"},\"spec\":{\"ports\":[{\"name\":\"http\","
		        "\"port\":80}]}}",
		        i);
		kube_create(k, obj);
	}
	printf("# %d Services created in %.1f s\n", n, (dns_now_ms() - t0) / 1e3);
	for (int r = 0; r < RUNS; r++) {
		struct sx_test_server *s;
		const char *line;

		t0 = dns_now_ms();
		s = start_sextant("insecure");
		cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced ", 120000), "%s",
		          sx_test_log(s));
		wall[r] = dns_now_ms() - t0;
		line = strstr(sx_test_log(s), "[INFO] plugin/kubernetes: synced ");
		cr_assert_not_null(strstr(line, " in "));
		own[r] = atof(strstr(line, " in ") + 4) * 1e3;
		printf("# run %d: %.*s\n", r + 1, (int)strcspn(line, "\n"), line);
		cr_assert_eq(sx_test_stop(s), 0);
		raw[r] = raw_svc[r] = paged_list("/api/v1/services", &items);
		raw[r] += paged_list("/apis/discovery.k8s.io/v1beta1/endpointslices", &items);
		raw[r] += paged_list("/api/v1/namespaces", &items);
	}
	double own_m = quantile(own, RUNS, 0.5), wall_m = quantile(wall, RUNS, 0.5);
	double raw_m = quantile(raw, RUNS, 0.5), svc_m = quantile(raw_svc, RUNS, 0.5);
	printf("sync of %d Services through kube-apiserver 1.20 (median of %d): plugin %.0f ms "
	       "(exec to synced %.0f ms); the same paged LISTs one after the other with "
	       "libcurl+jansson alone %.0f ms (Services alone %.0f ms); ratio plugin/LISTs %.2f, "
	       "plugin/Services LIST %.2f\n",
	       n, RUNS, own_m, wall_m, raw_m, svc_m, own_m / raw_m, own_m / svc_m);
	fflush(stdout);
	kube_close(k);
}

/* RFC 3339 with microseconds, UTC ("2026-12-04T17:41:21.942117Z"), as ms since the epoch. */
static double
rfc3339_ms(const char *s)
{
	struct tm tm = { 0 };
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	double frac = rest && *rest == '.' ? atof(rest) : 0;

	return (double)timegm(&tm) * 1e3 + frac * 1e3;
}

/*
 * When the API server received the controller manager's last write of an
 * EndpointSlice of @ns between @after and @before (ms since the epoch).
 */
static double
slice_written(const char *ns, double after, double before)
{
	json_t *evs = kube_audit_all(k, 1), *ev;
	double at = -1;
	size_t i;
	char prefix[128];

	snprintf(prefix, sizeof(prefix),
	         "/apis/discovery.k8s.io/v1beta1/namespaces/%s/endpointslices", ns);
	json_array_foreach(evs, i, ev)
	{
		const char *uri = json_string_value(json_object_get(ev, "requestURI"));
		const char *verb = json_string_value(json_object_get(ev, "verb"));
		const char *stage = json_string_value(json_object_get(ev, "stage"));
		const char *user = json_string_value(
		        json_object_get(json_object_get(ev, "user"), "username"));
		double t;

		if (!uri || strncmp(uri, prefix, strlen(prefix)) ||
		    strcmp(stage, "ResponseComplete") || !user ||
		    strcmp(user, "system:kube-controller-manager") || !strcmp(verb, "get") ||
		    !strcmp(verb, "list") || !strcmp(verb, "watch")) {
			continue;
		}
		t = rfc3339_ms(json_string_value(json_object_get(ev, "requestReceivedTimestamp")));
		if (t >= after && t <= before && t > at) {
			at = t;
		}
	}
	json_decref(evs);
	return at;
}

Test(bench_real, pod_ready_to_answer)
{
	int n = env_int("SX_BENCH_PODS", 50);
	double *total = calloc((size_t)n, sizeof(double)), *ctl = calloc((size_t)n, sizeof(double));
	double *sx = calloc((size_t)n, sizeof(double)),
	       *t_ready = calloc((size_t)n, sizeof(double));
	double *t_answer = calloc((size_t)n, sizeof(double));
	struct sx_test_server *s, *ss[2] = { NULL, NULL };
	int nsplit = 0;

	cr_assert(total && ctl && sx && t_ready && t_answer);
	k = kube_open();
	kube_node(k);
	kube_namespace(k, "lat");
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"lat\","
	               "\"namespace\":\"lat\"},\"spec\":{\"clusterIP\":\"None\",\"selector\":{"
	               "\"app\":\"lat\"},\"ports\":[{\"name\":\"http\",\"port\":80}]}}");
	for (int i = 0; i < n; i++) {
		char name[32], ip[32];

		snprintf(name, sizeof(name), "lat-%d", i);
		snprintf(ip, sizeof(ip), "10.246.%d.%d", i / 200, i % 200 + 1);
		kube_pod(k, "lat", name, "lat", ip, NULL, false, NULL, NULL);
	}
	s = ss[0] = start_sextant("disabled");
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced ", 60000), "%s",
	          sx_test_log(s));
	for (int i = 0; i < n; i++) {
		char name[32], q[128], want[256];
		double m0;

		snprintf(name, sizeof(name), "lat-%d", i);
		snprintf(q, sizeof(q), "10-246-%d-%d.lat.lat.svc.cluster.local", i / 200,
		         i % 200 + 1);
		snprintf(want, sizeof(want), "%s.\t5\tIN\tA\t10.246.%d.%d", q, i / 200,
		         i % 200 + 1);
		m0 = dns_now_ms();
		t_ready[i] = wall_ms();
		kube_pod_ready(k, "lat", name, true);
		total[i] = dns_wait(ss, q, LDNS_RR_TYPE_A, want, m0, 10000);
		t_answer[i] = t_ready[i] + total[i];
	}
	/* Split each by the controller's write of the slice, from the audit log. */
	for (int i = 0; i < n; i++) {
		double w = slice_written("lat", t_ready[i], t_answer[i]);

		if (w > 0) {
			ctl[nsplit] = w - t_ready[i];
			sx[nsplit++] = t_answer[i] - w;
		}
	}
	double t50 = quantile(total, n, 0.5), t99 = quantile(total, n, 0.99);
	printf("pod Ready to answer through kube-controller-manager 1.20, %d pods one at a time: "
	       "p50 %.1f ms, p99 %.1f ms (max of %d)\n",
	       n, t50, t99, n);
	if (nsplit > 0) {
		printf("  the controller (Ready patched to its slice write received): p50 %.1f ms, "
		       "p99 %.1f ms; then the API server's watch and Sextant (to the answer): p50 "
		       "%.1f ms, p99 %.1f ms (%d of %d split by the audit log)\n",
		       quantile(ctl, nsplit, 0.5), quantile(ctl, nsplit, 0.99),
		       quantile(sx, nsplit, 0.5), quantile(sx, nsplit, 0.99), nsplit, n);
	}
	fflush(stdout);
	cr_assert_eq(sx_test_stop(s), 0);
	free(total);
	free(ctl);
	free(sx);
	free(t_ready);
	free(t_answer);
	kube_close(k);
}
