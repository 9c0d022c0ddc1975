/* test_autopath_kubernetes.c -- autopath @kubernetes through the binary, fed by fakeapi. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#include "successes.h"

#define SYNCED "[INFO] plugin/kubernetes: synced "

/* A Running pod @name of namespace @ns at @ip (the test's client address). */
static void
put_pod(struct sx_fakeapi *f, const char *ns, const char *name, const char *ip, const char *phase)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	         "\"namespace\":\"%s\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
	         "\"status\":{\"phase\":\"%s\",\"podIP\":\"%s\",\"podIPs\":[{\"ip\":\"%s\"}]}}",
	         name, ns, phase, ip, ip);
	sx_fakeapi_do(f, "POST", "/_fake/objects", body);
}

/* basic.json plus a pod of testns at 127.0.0.1, and a server of @plugins for cluster.local. */
static struct sx_test_server *
start(struct sx_fakeapi **fp, struct sx_upstream *up, const char *autopath, int watches)
{
	struct sx_fakeapi_opts o = { .load = "basic" };
	struct sx_test_server *s = sx_test_prepare();
	char cf[1024];

	*fp = sx_fakeapi_start(&o);
	put_pod(*fp, "testns", "client", "127.0.0.1", "Running");
	/* The host's network: many pods share the node's address, which tells no namespace. */
	sx_fakeapi_do(
	        *fp, "POST", "/_fake/objects",
	        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"node-agent\","
	        "\"namespace\":\"kube-system\"},\"spec\":{\"hostNetwork\":true},"
	        "\"status\":{\"phase\":\"Running\",\"podIP\":\"::1\"}}");
	sx_test_write(s, "resolv.conf", "search testns.svc.cluster.local svc.cluster.local\n");
	snprintf(cf, sizeof(cf),
	         ".:0 {\n\tbind 127.0.0.1 ::1\n\tprometheus 127.0.0.1:0\n\t%s\n"
	         "\tkubernetes cluster.local {\n\t\tendpoint %s\n\t}\n"
	         "\tforward . 127.0.0.1:%u\n}\n",
	         autopath, sx_fakeapi_url(*fp), sx_up_port(up));
	sx_test_start(s, cf);
	cr_assert(sx_test_wait_log(s, SYNCED, 20000), "never synced:\n%s", sx_test_log(s));
	cr_assert(sx_fakeapi_wait_watches(*fp, "/", watches, true, 20), "watches:\n%s",
	          sx_test_log(s));
	return s;
}

/* The answer of @name as text (caller frees), and its rcode in *@rcode. */
static char *
answer(struct sx_test_server *s, const char *name, int *rcode)
{
	ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_A, 0, 0);
	char *text;

	cr_assert(p, "no reply for %s:\n%s", name, sx_test_log(s));
	*rcode = (int)ldns_pkt_get_rcode(p);
	text = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	ldns_pkt_free(p);
	return text;
}

static void
expect(struct sx_test_server *s, const char *name, int rcode, const char *want)
{
	int got;
	char *a = answer(s, name, &got);

	cr_expect_eq(got, rcode, "%s: rcode %d, want %d", name, got, rcode);
	if (want) {
		cr_expect(strstr(a, want), "%s: want \"%s\" in:\n%s", name, want, a);
	} else {
		cr_expect_str_empty(a, "%s: want no answer:\n%s", name, a);
	}
	free(a);
}

/* Ask @name until its answer holds @want (the watch has delivered), for up to 10 s. */
static bool
until(struct sx_test_server *s, const char *name, const char *want)
{
	struct timespec now, end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 10;
	do {
		int rcode;
		char *a = answer(s, name, &rcode);
		bool ok = want ? strstr(a, want) != NULL : a[0] == '\0';

		free(a);
		if (ok) {
			return true;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
	         (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	return false;
}

#define KUBERNETES_A "kubernetes.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.1"

Test(autopath_kubernetes, the_client_pods_namespace_gives_its_search_path)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_fakeapi *f;
	struct sx_test_server *s = start(&f, up, "autopath @kubernetes", 4);

	/* Log line: the index, not Pod objects. */
	/* basic.json's two pods and the client; not the one on the host's network. */
	cr_expect(strstr(sx_test_log(s), ", 3 pod addresses in "), "%s", sx_test_log(s));
	/* A Service of another namespace, found in the second search domain. */
	expect(s, "kubernetes.default.testns.svc.cluster.local", LDNS_RCODE_NOERROR,
	       "kubernetes.default.testns.svc.cluster.local.\t5\tIN\tCNAME\t"
	       "kubernetes.default.svc.cluster.local.");
	expect(s, "kubernetes.default.testns.svc.cluster.local", LDNS_RCODE_NOERROR, KUBERNETES_A);
	/* An outside name: the upstream answers the bare name, asked once. */
	expect(s, "www.example.org.testns.svc.cluster.local", LDNS_RCODE_NOERROR,
	       "www.example.org.testns.svc.cluster.local.\t30\tIN\tCNAME\twww.example.org.");
	cr_expect_eq(sx_up_count(up, " A "), 1);
	cr_expect_eq(sx_up_count(up, "www.example.org. A "), 1);
	/* Not found anywhere: NXDOMAIN, after the bare name was tried upstream. */
	expect(s, "nxdomain.testns.svc.cluster.local", LDNS_RCODE_NXDOMAIN, NULL);
	cr_expect_eq(sx_up_count(up, "nxdomain. A "), 1);
	cr_expect_eq(successes(s), 3);

	/* A client with no pod of its own (::1 is a host-network pod's): untouched. */
	sx_test_set_addr(s, "::1");
	expect(s, "kubernetes.default.testns.svc.cluster.local", LDNS_RCODE_NXDOMAIN, NULL);
	cr_expect_eq(successes(s), 3);
	sx_test_stop(s);
	sx_fakeapi_stop(f);
	sx_up_stop(up);
}

Test(autopath_kubernetes, pod_events_move_the_client)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_fakeapi *f;
	struct sx_test_server *s = start(&f, up, "autopath @kubernetes", 4);
	const char *name = "svc1.testns.default.svc.cluster.local";

	/* In testns its first search domain is testns.svc...: this name walks nothing. */
	expect(s, name, LDNS_RCODE_NXDOMAIN, NULL);
	/* Its address now belongs to a pod of default (the old one gone first). */
	sx_fakeapi_do(f, "DELETE", "/_fake/objects/v1/testns/pods/client", NULL);
	put_pod(f, "default", "client2", "127.0.0.1", "Running");
	cr_expect(until(s, name, "svc1.testns.svc.cluster.local.\t5\tIN\tA\t10.96.1.1"),
	          "the index never moved the client:\n%s", sx_test_log(s));
	/* Done: its address no longer tells anything. */
	put_pod(f, "default", "client2", "127.0.0.1", "Succeeded");
	cr_expect(until(s, name, NULL), "a finished pod stayed in the index:\n%s", sx_test_log(s));
	/* The late deletion of another pod that had the address removes nothing. */
	put_pod(f, "default", "client3", "127.0.0.1", "Running");
	cr_expect(until(s, name, "svc1.testns.svc.cluster.local.\t5\tIN\tA\t10.96.1.1"));
	sx_fakeapi_do(f, "DELETE", "/_fake/objects/v1/default/pods/client2", NULL);
	cr_assert(sx_fakeapi_wait_watches(f, "/api/v1/pods", 1, true, 20));
	expect(s, name, LDNS_RCODE_NOERROR, "svc1.testns.svc.cluster.local.\t5\tIN\tA\t10.96.1.1");
	sx_test_stop(s);
	sx_fakeapi_stop(f);
	sx_up_stop(up);
}

Test(autopath_kubernetes, host_network_pods_are_not_indexed)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_fakeapi *f;
	struct sx_test_server *s = start(&f, up, "autopath @kubernetes", 4);

	sx_test_set_addr(s, "::1");
	expect(s, "kubernetes.default.kube-system.svc.cluster.local", LDNS_RCODE_NXDOMAIN, NULL);
	cr_expect_eq(successes(s), 0);
	sx_test_stop(s);
	sx_fakeapi_stop(f);
	sx_up_stop(up);
}

Test(autopath_kubernetes, no_pod_watch_without_autopath_at_kubernetes)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_fakeapi *f;
	/* A file's search path: kubernetes has nothing to give, so watches no Pods. */
	struct sx_test_server *s = start(&f, up, "autopath resolv.conf", 3);
	char *body = NULL;

	cr_assert_eq(sx_fakeapi_ctl(f, "GET", "/_fake/requests?path=/api/v1/pods", NULL, &body),
	             200);
	cr_expect(strstr(body, "\"requests\": []") || strstr(body, "\"requests\":[]"), "%s", body);
	free(body);
	cr_expect_null(strstr(sx_test_log(s), "pod"), "%s", sx_test_log(s));
	/* The file's path works all the same. */
	expect(s, "kubernetes.default.testns.svc.cluster.local", LDNS_RCODE_NOERROR, KUBERNETES_A);
	sx_test_stop(s);
	sx_fakeapi_stop(f);
	sx_up_stop(up);
}
