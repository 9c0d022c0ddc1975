/* test_real_fake.c -- the fake API server against the real one: the same objects, the same answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dns.h"
#include <sextant/testing.h>
#include "kube.h"

/*
 * Every plugin test but this suite's runs against tests/fakeapi, written by
 * the same hands as the plugin. Here the objects are made in the real API
 * server (pods through the controllers, a slice by hand, Endpoints mirrored),
 * read back from it and loaded into the fake, which serves EndpointSlices as
 * v1beta1 like Kubernetes 1.20; one sextant watches each. Every question of
 * a fixed list, over UDP and TCP, must get the same reply from both: rcode,
 * flags and every section. Then the same changes go to both, through their
 * watches, and the list is asked again. A difference is a bug of the fake.
 */

#define A   LDNS_RR_TYPE_A
#define Z   ".svc.cluster.local."
#define NS_ "same"
#define SVC_H \
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},\"spec\":%s}"

static struct kube *k;
static struct sx_fakeapi *fake;
static struct sx_test_server *real_s, *fake_s;

static void
service(const char *ns, const char *name, const char *spec)
{
	char obj[2048];

	snprintf(obj, sizeof(obj), SVC_H, name, ns, spec);
	kube_create(k, obj);
}

static struct sx_test_server *
start_sextant(const char *kubeconfig)
{
	char corefile[1024];
	struct sx_test_server *s;

	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n\tbind 127.0.0.1\n\tkubernetes {\n"
	         "\t\tkubeconfig %s\n\t\tpods verified\n\t}\n}\n",
	         kubeconfig);
	s = sx_test_start(NULL, corefile);
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced ", 20000), "%s",
	          sx_test_log(s));
	return s;
}

/* The objects of one collection of the real server, with their kind and apiVersion back. */
static void export(json_t *into, const char *path, const char *av, const char *kind)
{
	json_t *l = kube_must(k, "GET", path, NULL), *it;
	size_t i;

	json_array_foreach(json_object_get(l, "items"), i, it)
	{
		json_object_set_new(it, "apiVersion", json_string(av));
		json_object_set_new(it, "kind", json_string(kind));
		json_array_append(into, it);
	}
	json_decref(l);
}

/* Load the real server's Namespaces, Services, EndpointSlices and Pods into the fake. */
static void
copy_to_fake(void)
{
	json_t *list = json_pack("{s:s, s:s, s:[]}", "kind", "List", "apiVersion", "v1", "items");
	json_t *items = json_object_get(list, "items");
	char *body;

	export(items, "/api/v1/namespaces", "v1", "Namespace");
	export(items, "/api/v1/services", "v1", "Service");
	export(items, "/apis/discovery.k8s.io/v1beta1/endpointslices", "discovery.k8s.io/v1beta1",
	       "EndpointSlice");
	export(items, "/api/v1/pods", "v1", "Pod");
	body = json_dumps(list, JSON_COMPACT);
	sx_fakeapi_do(fake, "POST", "/_fake/objects", body);
	free(body);
	json_decref(list);
}

/* A Service's ClusterIPs as "a b", from the real server. */
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
	snprintf(out, size, "%s", s);
	free(s);
	ldns_rdf_deep_free(r);
	ldns_rdf_deep_free(a);
}

/* The fixed questions: names of every kind, each asked for these types. */
static const char *const names[] = {
	"cluster.local",
	"dns-version.cluster.local",
	"svc.cluster.local",
	"pod.cluster.local",
	"nope.cluster.local",
	"same.svc.cluster.local",
	"other.svc.cluster.local",
	"gone.svc.cluster.local",
	"kubernetes.default.svc.cluster.local",
	"web.same.svc.cluster.local",
	"WEB.Same.svc.Cluster.local",
	"_http._tcp.web.same.svc.cluster.local",
	"_dns._udp.web.same.svc.cluster.local",
	"_dns._tcp.web.same.svc.cluster.local",
	"_http._.web.same.svc.cluster.local",
	"_._udp.web.same.svc.cluster.local",
	"10-244-7-10.web.same.svc.cluster.local",
	"10-244-7-11.web.same.svc.cluster.local",
	"10-244-7-12.web.same.svc.cluster.local",
	"hdls.same.svc.cluster.local",
	"a-0.hdls.same.svc.cluster.local",
	"a-1.hdls.same.svc.cluster.local",
	"10-244-7-12.hdls.same.svc.cluster.local",
	"_http._tcp.hdls.same.svc.cluster.local",
	"bare.same.svc.cluster.local",
	"dual.same.svc.cluster.local",
	"fd00-10-244-8--10.dual.same.svc.cluster.local",
	"10-244-8-10.dual.same.svc.cluster.local",
	"_dns._udp.dual.same.svc.cluster.local",
	"manual.same.svc.cluster.local",
	"db-0.manual.same.svc.cluster.local",
	"_pg._tcp.manual.same.svc.cluster.local",
	"hand.same.svc.cluster.local",
	"h-0.hand.same.svc.cluster.local",
	"192-0-2-21.hand.same.svc.cluster.local",
	"192-0-2-22.hand.same.svc.cluster.local",
	"_web._tcp.hand.same.svc.cluster.local",
	"ext.same.svc.cluster.local",
	"far.same.svc.cluster.local",
	"o.other.svc.cluster.local",
	"nope.same.svc.cluster.local",
	"web.nope.svc.cluster.local",
	"x.web.same.svc.cluster.local",
	"10-244-7-10.same.pod.cluster.local",
	"10-244-7-11.same.pod.cluster.local",
	"10-244-9-9.same.pod.cluster.local",
	"fd00-10-244-8--10.same.pod.cluster.local",
	"10-244-7-10.other.pod.cluster.local",
	"in-addr.arpa",
	"ip6.arpa",
	"10.7.244.10.in-addr.arpa",
	"11.7.244.10.in-addr.arpa",
	"12.7.244.10.in-addr.arpa",
	"21.2.0.192.in-addr.arpa",
	"5.2.0.192.in-addr.arpa",
	"9.9.9.9.in-addr.arpa",
	NULL,
};
static const ldns_rr_type types[] = {
	LDNS_RR_TYPE_A,     LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_SRV, LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_TXT,
	LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_SOA,  LDNS_RR_TYPE_NS,  LDNS_RR_TYPE_MX,  LDNS_RR_TYPE_ANY,
};

/* Ask both sextants @name for every type over UDP and TCP; @return the differences. */
static int
compare_name(const char *name, FILE *diffs)
{
	int n = 0;

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int tcp = 0; tcp < 2; tcp++) {
			char *r = dns_text(real_s, name, types[t], tcp ? SX_Q_TCP : 0);
			char *f = dns_text(fake_s, name, types[t], tcp ? SX_Q_TCP : 0);

			if (strcmp(r, f)) {
				fprintf(diffs, "\n%s type %d over %s:\nreal:\n%s\nfake:\n%s\n",
				        name, (int)types[t], tcp ? "TCP" : "UDP", r, f);
				n++;
			}
			free(r);
			free(f);
		}
	}
	return n;
}

/* The fixed list, plus the reverse names of the ClusterIPs the real server allocated. */
static void
compare_all(const char *when)
{
	static const char *const svcs[] = { "web", "dual", "bare", "hand", NULL };
	char *out = NULL, rev[160], ips[2][64];
	size_t len = 0, asked = 0;
	FILE *diffs = open_memstream(&out, &len);
	int n = 0;

	for (int i = 0; names[i]; i++, asked++) {
		n += compare_name(names[i], diffs);
	}
	for (int i = 0; svcs[i]; i++) {
		cluster_ips(NS_, svcs[i], ips);
		for (int j = 0; j < 2 && ips[j][0] && strcmp(ips[j], "None"); j++, asked++) {
			reverse(rev, sizeof(rev), ips[j]);
			n += compare_name(rev, diffs);
		}
	}
	fclose(diffs);
	fprintf(stderr, "# %s: %zu names x %zu types x UDP/TCP, %d differences\n", when, asked,
	        sizeof(types) / sizeof(types[0]), n);
	cr_expect_eq(n, 0, "%s: the fake and the real API server disagree:%s", when, out);
	free(out);
}

static void
setup(void)
{
	struct sx_fakeapi_opts o = {
		.tls = true,
		.token = "fake-token",
		.extra = { "--endpointslice-versions", "v1beta1", "--k8s-version", "v1.20.2" },
	};
	char path[512];
	FILE *f;

	k = kube_open();
	kube_node(k);
	fake = sx_fakeapi_start(&o);
	real_s = start_sextant(kube_env(k, "K8S_KUBECONFIG"));
	snprintf(path, sizeof(path), "%s/fake.kubeconfig", sx_fakeapi_dir(fake));
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n"
	        "    certificate-authority: %s\nusers:\n- name: u\n  user:\n    token: fake-token\n"
	        "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
	        sx_fakeapi_url(fake), sx_fakeapi_cert(fake, "ca.crt"));
	fclose(f);
	fake_s = start_sextant(path);
}

static void
teardown(void)
{
	cr_expect_eq(sx_test_stop(real_s), 0);
	cr_expect_eq(sx_test_stop(fake_s), 0);
	sx_fakeapi_stop(fake);
	kube_close(k);
}

TestSuite(real_fake, .init = setup, .fini = teardown, .timeout = 300);

/* Until @s answers @name A with @want (the real server's controllers take their time). */
static void
settle(struct sx_test_server *s, const char *name, const char *want)
{
	struct sx_test_server *ss[] = { s, NULL };

	dns_wait(ss, name, A, want, dns_now_ms(), 30000);
}

Test(real_fake, the_same_objects_get_the_same_answers)
{
	char web[2][64];

	kube_namespace(k, NS_);
	kube_namespace(k, "other");
	kube_pod(k, NS_, "a-0", "a", "10.244.7.10", NULL, true, "a-0", "hdls");
	kube_pod(k, NS_, "a-1", "a", "10.244.7.11", NULL, false, "a-1", "hdls");
	kube_pod(k, NS_, "a-2", "a", "10.244.7.12", NULL, true, NULL, NULL);
	kube_pod(k, NS_, "d-0", "d", "10.244.8.10", "fd00:10:244:8::10", true, NULL, NULL);
	service(NS_, "web",
	        "{\"selector\":{\"app\":\"a\"},\"ports\":[{\"name\":\"http\",\"port\":80},"
	        "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}");
	service(NS_, "hdls",
	        "{\"clusterIP\":\"None\",\"selector\":{\"app\":\"a\"},\"ports\":[{\"name\":"
	        "\"http\",\"port\":80}]}");
	service(NS_, "bare",
	        "{\"ports\":[{\"name\":\"http\",\"port\":80}]}"); /* no selector, no endpoints */
	service(NS_, "dual",
	        "{\"selector\":{\"app\":\"d\"},\"ipFamilyPolicy\":\"RequireDualStack\","
	        "\"ipFamilies\":[\"IPv4\",\"IPv6\"],\"ports\":[{\"name\":\"dns\",\"port\":53,"
	        "\"protocol\":\"UDP\"}]}");
	service(NS_, "manual",
	        "{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"pg\",\"port\":5432}]}");
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":"
	               "\"manual\",\"namespace\":\"same\"},\"subsets\":[{\"addresses\":[{\"ip\":"
	               "\"192.0.2.5\",\"hostname\":\"db-0\"}],\"ports\":[{\"name\":\"pg\","
	               "\"port\":5432}]}]}");
	/* A slice written by hand (another controller's), with topology and a not-ready one. */
	service(NS_, "hand", "{\"ports\":[{\"name\":\"web\",\"port\":8080}]}");
	kube_create(k, "{\"apiVersion\":\"discovery.k8s.io/v1beta1\",\"kind\":\"EndpointSlice\","
	               "\"metadata\":{\"name\":\"hand-1\",\"namespace\":\"same\",\"labels\":{"
	               "\"kubernetes.io/service-name\":\"hand\",\"endpointslice.kubernetes.io/"
	               "managed-by\":\"sx-test\"}},\"addressType\":\"IPv4\",\"endpoints\":["
	               "{\"addresses\":[\"192.0.2.20\"],\"hostname\":\"h-0\",\"topology\":{"
	               "\"kubernetes.io/hostname\":\"node1\",\"topology.kubernetes.io/zone\":"
	               "\"z1\"}},{\"addresses\":[\"192.0.2.21\"],\"conditions\":{\"ready\":true}},"
	               "{\"addresses\":[\"192.0.2.22\"],\"conditions\":{\"ready\":false}}],"
	               "\"ports\":[{\"name\":\"web\",\"port\":8080,\"protocol\":\"TCP\"}]}");
	service(NS_, "ext",
	        "{\"type\":\"ExternalName\",\"externalName\":\"web.same.svc.cluster.local\"}");
	service(NS_, "far", "{\"type\":\"ExternalName\",\"externalName\":\"host.example\"}");
	service("other", "o", "{\"clusterIP\":\"None\",\"ports\":[{\"port\":1}]}");
	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":"
	               "\"o\",\"namespace\":\"other\"},\"subsets\":[{\"addresses\":[{\"ip\":"
	               "\"192.0.2.9\"}],\"ports\":[{\"port\":1}]}]}");

	/* The controllers are done when these answer on the real side. */
	cluster_ips(NS_, "web", web);
	settle(real_s, "hdls.same.svc.cluster.local",
	       "hdls.same" Z "\t5\tIN\tA\t10.244.7.10\nhdls.same" Z "\t5\tIN\tA\t10.244.7.12");
	settle(real_s, "manual.same.svc.cluster.local", "manual.same" Z "\t5\tIN\tA\t192.0.2.5");
	settle(real_s, "o.other.svc.cluster.local", "o.other" Z "\t5\tIN\tA\t192.0.2.9");
	settle(real_s, "10-244-8-10.dual.same.svc.cluster.local",
	       "10-244-8-10.dual.same" Z "\t5\tIN\tA\t10.244.8.10");
	copy_to_fake();
	settle(fake_s, "o.other.svc.cluster.local", "o.other" Z "\t5\tIN\tA\t192.0.2.9");
	compare_all("loaded");

	/* The same changes on both sides, through the watches. */
	kube_pod_ready(k, NS_, "a-2", false);
	json_decref(kube_must(k, "DELETE", "/api/v1/namespaces/other/services/o", NULL));
	settle(real_s, "hdls.same.svc.cluster.local", "hdls.same" Z "\t5\tIN\tA\t10.244.7.10");
	settle(real_s, "o.other.svc.cluster.local", "NXDOMAIN");
	sx_fakeapi_do(fake, "DELETE", "/_fake/objects/v1/other/services/o", NULL);
	copy_to_fake(); /* the slice a-2 left, as the controller rewrote it */
	settle(fake_s, "hdls.same.svc.cluster.local", "hdls.same" Z "\t5\tIN\tA\t10.244.7.10");
	settle(fake_s, "o.other.svc.cluster.local", "NXDOMAIN");
	compare_all("changed");
}
