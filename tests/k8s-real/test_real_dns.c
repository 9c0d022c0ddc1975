/* test_real_dns.c -- every kind of Service and every record type through a real API server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dns.h"
#include <sextant/testing.h>
#include "kube.h"

/*
 * run.sh starts etcd, kube-apiserver 1.20 and kube-controller-manager; each
 * test starts two sextants on the same API server, one forced to HTTP/1.1 and
 * one to HTTP/2, and checks every answer on both. Pods are bound to a Node
 * object and marked Ready or not through their status, so the endpoint slice
 * controllers write the EndpointSlices (discovery.k8s.io/v1beta1 in 1.20).
 * A change must show within 1 s of the API call that made it.
 */

#define A     LDNS_RR_TYPE_A
#define AAAA  LDNS_RR_TYPE_AAAA
#define SRV   LDNS_RR_TYPE_SRV
#define PTR   LDNS_RR_TYPE_PTR
#define TXT   LDNS_RR_TYPE_TXT
#define CNAME LDNS_RR_TYPE_CNAME
#define SOA   LDNS_RR_TYPE_SOA
#define NS    LDNS_RR_TYPE_NS
#define MX    LDNS_RR_TYPE_MX

#define CHANGE_MS  1000.0  /* a change through the watches */
#define INITIAL_MS 20000.0 /* the first objects of a test, through the controllers */

static struct kube *k;
static struct sx_test_server *servers[3]; /* HTTP/1.1, HTTP/2, NULL */

/* A sextant on the fixture's API server by its admin kubeconfig, speaking @http. */
static struct sx_test_server *
start_sextant(const char *http)
{
	char corefile[2048];
	struct sx_test_server *s;

	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n"
	         "\tbind 127.0.0.1\n"
	         "\tkubernetes {\n"
	         "\t\tkubeconfig %s\n"
	         "\t\tpods verified\n"
	         "\t}\n"
	         "}\n",
	         kube_env(k, "K8S_KUBECONFIG"));
	setenv("SEXTANT_K8S_HTTP_VERSION", http, 1);
	s = sx_test_start(NULL, corefile);
	unsetenv("SEXTANT_K8S_HTTP_VERSION");
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced ", 20000), "%s",
	          sx_test_log(s));
	return s;
}

static void
setup(void)
{
	k = kube_open();
	kube_node(k);
	servers[0] = start_sextant("1.1");
	servers[1] = start_sextant("2");
	cr_assert(sx_test_wait_log(servers[0], "the API server answers over HTTP/1.1", 5000), "%s",
	          sx_test_log(servers[0]));
	cr_assert(sx_test_wait_log(servers[1], "the API server answers over HTTP/2", 5000), "%s",
	          sx_test_log(servers[1]));
}

static void
teardown(void)
{
	for (int i = 0; i < 2; i++) {
		if (servers[i]) {
			cr_expect_eq(strstr(sx_test_log(servers[i]), "[ERROR]"), NULL, "%s",
			             sx_test_log(servers[i]));
			/* Discovery at start, logged once: 1.20 serves slices only as v1beta1. */
			cr_expect_eq(dns_log_count(servers[i],
			                           "[INFO] plugin/kubernetes: EndpointSlice "
			                           "from discovery.k8s.io/v1beta1 (the API "
			                           "server serves v1beta1)"),
			             1, "%s", sx_test_log(servers[i]));
			/* Every LIST and watch over the HTTP version forced (a change is logged). */
			cr_expect_eq(dns_log_count(servers[i], "the API server answers over "), 1,
			             "%s", sx_test_log(servers[i]));
			cr_expect_eq(sx_test_stop(servers[i]), 0);
			servers[i] = NULL;
		}
	}
	kube_close(k);
}

TestSuite(real_dns, .init = setup, .fini = teardown, .timeout = 240);

/* Both servers answer @name @type with @want within @ms of @t0. */
static double
within(const char *name, ldns_rr_type type, const char *want, double t0, double ms)
{
	return dns_wait(servers, name, type, want, t0, ms);
}

/* Both servers answer @want now (the state is already known). */
static void
now(const char *name, ldns_rr_type type, const char *want)
{
	within(name, type, want, dns_now_ms(), 0);
}

/* A Service's ClusterIPs from the API: [0] IPv4 (or the only one), [1] IPv6 or "". */
static void
cluster_ips(const char *ns, const char *name, char ips[2][64])
{
	char path[256];
	json_t *svc, *l;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
	svc = kube_must(k, "GET", path, NULL);
	l = json_object_get(json_object_get(svc, "spec"), "clusterIPs");
	snprintf(ips[0], 64, "%s", json_string_value(json_array_get(l, 0)));
	snprintf(ips[1], 64, "%s",
	         json_array_size(l) > 1 ? json_string_value(json_array_get(l, 1)) : "");
	json_decref(svc);
}

/* d.c.b.a.in-addr.arpa or the ip6.arpa nibbles of @addr. */
static void
reverse(char *out, size_t size, const char *addr)
{
	ldns_rdf *a = ldns_rdf_new_frm_str(strchr(addr, ':') ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A,
	                                   addr);
	ldns_rdf *r;
	char *s;

	cr_assert_not_null(a, "%s", addr);
	r = ldns_rdf_address_reverse(a);
	s = ldns_rdf2str(r);
	snprintf(out, size, "%.*s", (int)strlen(s) - 1, s);
	free(s);
	ldns_rdf_deep_free(r);
	ldns_rdf_deep_free(a);
}

#define Z ".svc.cluster.local."

Test(real_dns, services_of_every_kind_and_every_record_type)
{
	char web[2][64], dual[2][64], want[2048], rev[160];
	double t0 = dns_now_ms();

	kube_namespace(k, "kinds");
	kube_pod(k, "kinds", "web-0", "web", "10.244.1.10", NULL, true, "web-0", "hdls");
	kube_pod(k, "kinds", "web-1", "web", "10.244.1.11", NULL, false, "web-1", "hdls");
	kube_pod(k, "kinds", "web-2", "web", "10.244.1.12", NULL, true, NULL, NULL);
	kube_pod(k, "kinds", "dual-0", "dual", "10.244.2.10", "fd00:10:244:2::10", true, NULL,
	         NULL);
	/* ClusterIP with two named ports, one UDP. */
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
	               "\"namespace\":\"kinds\"},\"spec\":{\"selector\":{\"app\":\"web\"},"
	               "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080},"
	               "{\"name\":\"metrics\",\"port\":9100,\"protocol\":\"UDP\"}]}}");
	/* Dual stack. */
	kube_create(k,
	            "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	            "\"dual\",\"namespace\":\"kinds\"},\"spec\":{\"selector\":{\"app\":"
	            "\"dual\"},\"ipFamilyPolicy\":\"RequireDualStack\",\"ipFamilies\":[\"IPv4\","
	            "\"IPv6\"],\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}");
	/* Headless with a selector: the pods with subdomain hdls get their hostname. */
	kube_create(k,
	            "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	            "\"hdls\",\"namespace\":\"kinds\"},\"spec\":{\"clusterIP\":\"None\","
	            "\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\",\"port\":80}]}}");
	/* Headless without a selector: Endpoints mirrored into a slice by the controller. */
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	               "\"manual\",\"namespace\":\"kinds\"},\"spec\":{\"clusterIP\":\"None\","
	               "\"ports\":[{\"name\":\"pg\",\"port\":5432}]}}");
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":"
	               "\"manual\",\"namespace\":\"kinds\"},\"subsets\":[{\"addresses\":[{\"ip\":"
	               "\"192.0.2.5\",\"hostname\":\"db-0\"}],\"ports\":[{\"name\":\"pg\","
	               "\"port\":5432}]}]}");
	/* ExternalName, to a name in the cluster. */
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"ext\","
	               "\"namespace\":\"kinds\"},\"spec\":{\"type\":\"ExternalName\","
	               "\"externalName\":\"web.kinds.svc.cluster.local\"}}");
	cluster_ips("kinds", "web", web);
	cluster_ips("kinds", "dual", dual);

	/* Everything went through the controllers: the last slice decides. */
	within("manual.kinds.svc.cluster.local", A, "manual.kinds" Z "\t5\tIN\tA\t192.0.2.5", t0,
	       INITIAL_MS);
	within("hdls.kinds.svc.cluster.local", A,
	       "hdls.kinds" Z "\t5\tIN\tA\t10.244.1.10\nhdls.kinds" Z "\t5\tIN\tA\t10.244.1.12", t0,
	       INITIAL_MS);
	snprintf(want, sizeof(want), "dual.kinds" Z "\t5\tIN\tAAAA\t%s", dual[1]);
	within("dual.kinds.svc.cluster.local", AAAA, want, t0, INITIAL_MS);
	within("10-244-1-12.web.kinds.svc.cluster.local", A,
	       "10-244-1-12.web.kinds" Z "\t5\tIN\tA\t10.244.1.12", t0, INITIAL_MS);

	/* ClusterIP: A, SRV by port and all ports, endpoint names, PTR. */
	snprintf(want, sizeof(want), "web.kinds" Z "\t5\tIN\tA\t%s", web[0]);
	now("web.kinds.svc.cluster.local", A, want);
	now("web.kinds.svc.cluster.local", AAAA, "NODATA");
	now("_http._tcp.web.kinds.svc.cluster.local", SRV,
	    "_http._tcp.web.kinds" Z "\t5\tIN\tSRV\t0 100 80 web.kinds" Z);
	now("_metrics._udp.web.kinds.svc.cluster.local", SRV,
	    "_metrics._udp.web.kinds" Z "\t5\tIN\tSRV\t0 100 9100 web.kinds" Z);
	now("_metrics._tcp.web.kinds.svc.cluster.local", SRV, "NXDOMAIN");
	now("web.kinds.svc.cluster.local", SRV,
	    "web.kinds" Z "\t5\tIN\tSRV\t0 50 80 web.kinds" Z "\nweb.kinds" Z
	    "\t5\tIN\tSRV\t0 50 9100 web.kinds" Z);
	now("10-244-1-10.web.kinds.svc.cluster.local", A,
	    "10-244-1-10.web.kinds" Z "\t5\tIN\tA\t10.244.1.10");
	now("10-244-1-11.web.kinds.svc.cluster.local", A, "NXDOMAIN"); /* not ready */
	reverse(rev, sizeof(rev), web[0]);
	snprintf(want, sizeof(want), "%s.\t5\tIN\tPTR\tweb.kinds" Z, rev);
	now(rev, PTR, want);
	/* Headless: ready endpoints, hostnames, SRV per endpoint, PTR per service. */
	now("web-0.hdls.kinds.svc.cluster.local", A,
	    "web-0.hdls.kinds" Z "\t5\tIN\tA\t10.244.1.10");
	now("web-1.hdls.kinds.svc.cluster.local", A, "NXDOMAIN");
	now("_http._tcp.hdls.kinds.svc.cluster.local", SRV,
	    "_http._tcp.hdls.kinds" Z "\t5\tIN\tSRV\t0 50 80 10-244-1-12.hdls.kinds" Z
	    "\n_http._tcp.hdls.kinds" Z "\t5\tIN\tSRV\t0 50 80 web-0.hdls.kinds" Z);
	now("10.1.244.10.in-addr.arpa", PTR,
	    "10.1.244.10.in-addr.arpa.\t5\tIN\tPTR\t10-244-1-10.web.kinds" Z
	    "\n10.1.244.10.in-addr.arpa.\t5\tIN\tPTR\tweb-0.hdls.kinds" Z);
	now("11.1.244.10.in-addr.arpa", PTR, "NXDOMAIN");
	/* Dual stack: both families, both reverse zones, one slice per family. */
	snprintf(want, sizeof(want), "dual.kinds" Z "\t5\tIN\tA\t%s", dual[0]);
	now("dual.kinds.svc.cluster.local", A, want);
	reverse(rev, sizeof(rev), dual[1]);
	snprintf(want, sizeof(want), "%s.\t5\tIN\tPTR\tdual.kinds" Z, rev);
	now(rev, PTR, want);
	now("fd00-10-244-2--10.dual.kinds.svc.cluster.local", AAAA,
	    "fd00-10-244-2--10.dual.kinds" Z "\t5\tIN\tAAAA\tfd00:10:244:2::10");
	now("_dns._udp.dual.kinds.svc.cluster.local", SRV,
	    /* As CoreDNS: one SRV per ClusterIP, weighed, then the duplicate dropped. */
	    "_dns._udp.dual.kinds" Z "\t5\tIN\tSRV\t0 50 53 dual.kinds" Z);
	/* Headless without selector. */
	now("db-0.manual.kinds.svc.cluster.local", A,
	    "db-0.manual.kinds" Z "\t5\tIN\tA\t192.0.2.5");
	now("_pg._tcp.manual.kinds.svc.cluster.local", SRV,
	    "_pg._tcp.manual.kinds" Z "\t5\tIN\tSRV\t0 100 5432 db-0.manual.kinds" Z);
	/* ExternalName: the CNAME, and for A the target's record after it. */
	now("ext.kinds.svc.cluster.local", CNAME,
	    "ext.kinds" Z "\t5\tIN\tCNAME\tweb.kinds.svc.cluster.local.");
	snprintf(want, sizeof(want),
	         "ext.kinds" Z "\t5\tIN\tCNAME\tweb.kinds.svc.cluster.local.\nweb.kinds" Z
	         "\t5\tIN\tA\t%s",
	         web[0]);
	now("ext.kinds.svc.cluster.local", A, want);
	/* Pods (verified: only addresses of running pods in that namespace). */
	now("10-244-1-11.kinds.pod.cluster.local", A,
	    "10-244-1-11.kinds.pod.cluster.local.\t5\tIN\tA\t10.244.1.11");
	now("10-244-9-9.kinds.pod.cluster.local", A, "NXDOMAIN");
	now("10-244-1-11.default.pod.cluster.local", A, "NXDOMAIN");
	/* The zone itself, the built-in kubernetes Service, what does not exist. */
	now("dns-version.cluster.local", TXT,
	    "dns-version.cluster.local.\t28800\tIN\tTXT\t\"1.1.0\"");
	now("cluster.local", SOA,
	    "cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. 0 7200 "
	    "1800 86400 5");
	now("kubernetes.default.svc.cluster.local", A,
	    "kubernetes.default" Z "\t5\tIN\tA\t10.96.0.1");
	now("kinds.svc.cluster.local", A, "NODATA");
	now("web.kinds.svc.cluster.local", MX, "NODATA");
	now("nope.kinds.svc.cluster.local", A, "NXDOMAIN");
	now("web.nons.svc.cluster.local", A, "NXDOMAIN");
	/* The flags and the authority section, in full, on both servers alike. */
	for (int i = 0; i < 2; i++) {
		char *t = dns_text(servers[i], "nope.kinds.svc.cluster.local", A, SX_Q_TCP);

		cr_expect_str_eq(t, "NXDOMAIN qr aa rd\nau: cluster.local.\t5\tIN\tSOA\tns.dns."
		                    "cluster.local. hostmaster.cluster.local. 0 7200 1800 86400 5");
		free(t);
	}
}

Test(real_dns, pods_ready_and_not_ready_through_the_controller)
{
	double t0 = dns_now_ms(), ms[8];
	const char *hdls = "hdls.flip.svc.cluster.local";
	int n = 0;

	kube_namespace(k, "flip");
	kube_pod(k, "flip", "p-0", "p", "10.244.3.10", NULL, true, "p-0", "hdls");
	kube_pod(k, "flip", "p-1", "p", "10.244.3.11", NULL, false, "p-1", "hdls");
	kube_create(k,
	            "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	            "\"hdls\",\"namespace\":\"flip\"},\"spec\":{\"clusterIP\":\"None\","
	            "\"selector\":{\"app\":\"p\"},\"ports\":[{\"name\":\"http\",\"port\":80}]}}");
	within(hdls, A, "hdls.flip" Z "\t5\tIN\tA\t10.244.3.10", t0, INITIAL_MS);

	/* Ready: the address joins, under its hostname too. */
	t0 = dns_now_ms();
	kube_pod_ready(k, "flip", "p-1", true);
	ms[n++] = within(hdls, A,
	                 "hdls.flip" Z "\t5\tIN\tA\t10.244.3.10\nhdls.flip" Z
	                 "\t5\tIN\tA\t10.244.3.11",
	                 t0, CHANGE_MS);
	now("p-1.hdls.flip.svc.cluster.local", A, "p-1.hdls.flip" Z "\t5\tIN\tA\t10.244.3.11");
	/* Not ready: it leaves. */
	t0 = dns_now_ms();
	kube_pod_ready(k, "flip", "p-0", false);
	ms[n++] = within(hdls, A, "hdls.flip" Z "\t5\tIN\tA\t10.244.3.11", t0, CHANGE_MS);
	now("p-0.hdls.flip.svc.cluster.local", A, "NXDOMAIN");
	now("11.3.244.10.in-addr.arpa", PTR,
	    "11.3.244.10.in-addr.arpa.\t5\tIN\tPTR\tp-1.hdls.flip" Z);
	now("10.3.244.10.in-addr.arpa", PTR, "NXDOMAIN");
	/* None ready: the headless name does not exist. */
	t0 = dns_now_ms();
	kube_pod_ready(k, "flip", "p-1", false);
	ms[n++] = within(hdls, A, "NXDOMAIN", t0, CHANGE_MS);
	/* A new pod, ready at once; then deleted. */
	t0 = dns_now_ms();
	kube_pod(k, "flip", "p-2", "p", "10.244.3.12", NULL, true, NULL, NULL);
	ms[n++] = within(hdls, A, "hdls.flip" Z "\t5\tIN\tA\t10.244.3.12", t0, CHANGE_MS);
	t0 = dns_now_ms();
	kube_pod_delete(k, "flip", "p-2");
	ms[n++] = within(hdls, A, "NXDOMAIN", t0, CHANGE_MS);
	now("10-244-3-12.flip.pod.cluster.local", A, "NXDOMAIN");
	fprintf(stderr, "# pod change to answer:");
	for (int i = 0; i < n; i++) {
		fprintf(stderr, " %.0f ms", ms[i]);
	}
	fprintf(stderr, "\n");
}

Test(real_dns, services_changed_deleted_and_namespaces_come_and_go)
{
	char path[256], ips[2][64], want[512];
	double t0;
	json_t *r;

	kube_namespace(k, "churn");
	t0 = dns_now_ms();
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\","
	               "\"namespace\":\"churn\"},\"spec\":{\"ports\":[{\"name\":\"http\","
	               "\"port\":80}]}}");
	cluster_ips("churn", "s", ips);
	snprintf(want, sizeof(want), "s.churn" Z "\t5\tIN\tA\t%s", ips[0]);
	within("s.churn.svc.cluster.local", A, want, t0, CHANGE_MS);
	now("churn.svc.cluster.local", A, "NODATA");

	/* A port renamed: the SRV name moves. */
	t0 = dns_now_ms();
	json_decref(kube_must(k, "PATCH", "/api/v1/namespaces/churn/services/s",
	                      "{\"spec\":{\"ports\":[{\"name\":\"web\",\"port\":8080}]}}"));
	within("_web._tcp.s.churn.svc.cluster.local", SRV,
	       "_web._tcp.s.churn" Z "\t5\tIN\tSRV\t0 100 8080 s.churn" Z, t0, CHANGE_MS);
	now("_http._tcp.s.churn.svc.cluster.local", SRV, "NXDOMAIN");

	/* Deleted. */
	t0 = dns_now_ms();
	json_decref(kube_must(k, "DELETE", "/api/v1/namespaces/churn/services/s", NULL));
	within("s.churn.svc.cluster.local", A, "NXDOMAIN", t0, CHANGE_MS);

	/* A namespace created with a Service in it, then deleted: the namespace
	 * controller empties it first, and its name goes when the object does. */
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"t\","
	               "\"namespace\":\"churn\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{"
	               "\"port\":80}]}}");
	json_decref(kube_must(k, "DELETE", "/api/v1/namespaces/churn", NULL));
	for (t0 = dns_now_ms();;) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/churn");
		if (kube_req(k, "GET", path, NULL, &r) == 404) {
			json_decref(r);
			break;
		}
		json_decref(r);
		cr_assert_lt(dns_now_ms() - t0, 60000,
		             "the namespace controller never deleted churn");
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	t0 = dns_now_ms();
	within("churn.svc.cluster.local", A, "NXDOMAIN", t0, CHANGE_MS);
	now("t.churn.svc.cluster.local", A, "NXDOMAIN");
	/* And created again. */
	t0 = dns_now_ms();
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
	               "\"churn\"}}");
	within("churn.svc.cluster.local", A, "NODATA", t0, CHANGE_MS);
}

/*
 * More Services than a LIST page holds (the plugin asks for 500 at a time),
 * listed by two sextants started after them: three pages over HTTP/1.1 and
 * three over HTTP/2, each next page asked for while this one's items are read
 * (the page paused after its head, then resumed: libcurl hands the paused
 * bytes over again). Every Service must be there with its address.
 */
#define PAGED 1100

Test(real_dns, a_list_of_three_pages_over_http1_and_http2)
{
	struct sx_test_server *fresh[3] = { NULL };
	char obj[512], qname[128], want[256];
	json_t *l, *svc, *evs, *ev;
	int continued = 0;
	size_t i;

	kube_namespace(k, "pages");
	for (int n = 0; n < PAGED; n++) {
		snprintf(obj, sizeof(obj),
		         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
		         "\"p%d\",\"namespace\":\"pages\"},\"spec\":{\"ports\":[{\"port\":80}]}}",
		         n);
		kube_create(k, obj);
	}
	fresh[0] = start_sextant("1.1");
	fresh[1] = start_sextant("2");
	cr_assert(sx_test_wait_log(fresh[1], "the API server answers over HTTP/2", 5000), "%s",
	          sx_test_log(fresh[1]));

	l = kube_must(k, "GET", "/api/v1/namespaces/pages/services", NULL);
	cr_assert_eq(json_array_size(json_object_get(l, "items")), PAGED);
	json_array_foreach(json_object_get(l, "items"), i, svc)
	{
		const char *name = json_string_value(
		        json_object_get(json_object_get(svc, "metadata"), "name"));
		const char *ip = json_string_value(
		        json_object_get(json_object_get(svc, "spec"), "clusterIP"));

		snprintf(qname, sizeof(qname), "%s.pages.svc.cluster.local", name);
		snprintf(want, sizeof(want), "%s.pages" Z "\t5\tIN\tA\t%s", name, ip);
		dns_wait(fresh, qname, A, want, dns_now_ms(), 0);
	}
	json_decref(l);

	/* Pages indeed: each sextant's LIST of Services went on twice with a continue token. */
	evs = kube_audit_all(k, 1);
	json_array_foreach(evs, i, ev)
	{
		const char *uri = json_string_value(json_object_get(ev, "requestURI"));
		const char *stage = json_string_value(json_object_get(ev, "stage"));

		continued += uri && stage && !strncmp(uri, "/api/v1/services?", 17) &&
		             strstr(uri, "continue=") && !strcmp(stage, "ResponseComplete");
	}
	json_decref(evs);
	cr_expect_geq(continued, 4, "%d LISTs of Services with a continue token", continued);
	for (i = 0; i < 2; i++) {
		cr_expect_eq(strstr(sx_test_log(fresh[i]), "[ERROR]"), NULL, "%s",
		             sx_test_log(fresh[i]));
		cr_expect_eq(sx_test_stop(fresh[i]), 0);
	}
}
