/* test_k8s_external_api.c -- k8s_external in the real binary, fed by the fake API server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#define A    LDNS_RR_TYPE_A
#define AAAA LDNS_RR_TYPE_AAAA
#define SRV  LDNS_RR_TYPE_SRV
#define TXT  LDNS_RR_TYPE_TXT
#define SOA  LDNS_RR_TYPE_SOA
#define NS   LDNS_RR_TYPE_NS
#define EXT  ".ext.example.org"
#define ZSOA "example.org.\t5\tIN\tSOA\tns1.dns.example.org. hostmaster.dns.example.org. "

/*
 * One server for every test: tests/data/lb.json (Services of namespace "ext"
 * with load balancer ingress, externalIPs, a hostname ingress, a headless one)
 * in the fake API server; k8s_external serves example.org (no fallthrough) and
 * other.test (fallthrough to a file zone after it); hosts answers the load
 * balancer's hostname.
 */
static struct sx_fakeapi *f;
static struct sx_test_server *s;

static void
start(void)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true };
	const char *root = getenv("SX_SOURCE_ROOT");
	char load[512], crt[400], key[400], corefile[4096];

	snprintf(load, sizeof(load), "%s/plugins/k8s_external/tests/data/lb.json",
	         root ? root : ".");
	o.load = load;
	f = sx_fakeapi_start(&o);
	s = sx_test_prepare();
	sx_test_write(s, "other.test.zone",
	              "$ORIGIN other.test.\n"
	              "@ 60 IN SOA ns.other.test. admin.other.test. 1 7200 1800 86400 60\n"
	              "missing.ext 60 IN A 192.0.2.200\n");
	snprintf(crt, sizeof(crt), "%s", sx_fakeapi_cert(f, "client.crt"));
	snprintf(key, sizeof(key), "%s", sx_fakeapi_cert(f, "client.key"));
	snprintf(corefile, sizeof(corefile),
	         ". {\n"
	         "\tbind 127.0.0.1\n"
	         "\thosts {\n"
	         "\t\t198.51.100.9 lb.outside.test\n"
	         "\t\tfallthrough\n"
	         "\t}\n"
	         "\tk8s_external example.org other.test {\n"
	         "\t\theadless\n"
	         "\t\tfallthrough other.test\n"
	         "\t}\n"
	         "\tkubernetes cluster.local {\n"
	         "\t\tendpoint %s\n"
	         "\t\ttls %s %s %s\n"
	         "\t}\n"
	         "\tfile other.test.zone other.test\n"
	         "}\n",
	         sx_fakeapi_url(f), crt, key, sx_fakeapi_cert(f, "ca.crt"));
	sx_test_start(s, corefile);
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced ", 20000),
	          "never synced:\n%s", sx_test_log(s));
	cr_assert(sx_fakeapi_wait_watches(f, "/", 3, true, 20), "no watches:\n%s", sx_test_log(s));
}

static void
stop(void)
{
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

TestSuite(k8s_external_api, .init = start, .fini = stop);

/* The section @sec of the reply to @name / @type; its rcode in *@rc, AA checked. */
static char *
ask(const char *name, ldns_rr_type type, int flags, ldns_pkt_section sec, ldns_pkt_rcode *rc)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);
	char *str;

	cr_assert(p, "no reply for %s", name);
	*rc = ldns_pkt_get_rcode(p);
	cr_expect(ldns_pkt_aa(p), "%s: no aa", name);
	str = sx_test_section_str(p, sec);
	ldns_pkt_free(p);
	return str;
}

static void
expect(const char *name, ldns_rr_type type, ldns_pkt_section sec, const char *want)
{
	for (int tcp = 0; tcp <= 1; tcp++) {
		ldns_pkt_rcode rc;
		char *got = ask(name, type, tcp ? SX_Q_TCP : 0, sec, &rc);

		cr_expect_eq(rc, LDNS_RCODE_NOERROR, "%s: rcode %d", name, rc);
		cr_expect_str_eq(got, want, "%s over %s", name, tcp ? "TCP" : "UDP");
		free(got);
	}
}

/* No answer, rcode @want, the zone's SOA in authority. */
static void
expect_none(const char *name, ldns_rr_type type, ldns_pkt_rcode want)
{
	ldns_pkt_rcode rc;
	char *ans = ask(name, type, 0, LDNS_SECTION_ANSWER, &rc);
	char *auth = ask(name, type, 0, LDNS_SECTION_AUTHORITY, &rc);

	cr_expect_eq(rc, want, "%s: rcode %d", name, rc);
	cr_expect_str_eq(ans, "", "%s", name);
	cr_expect(strncmp(auth, ZSOA, strlen(ZSOA)) == 0, "%s: authority %s", name, auth);
	free(ans);
	free(auth);
}

Test(k8s_external_api, load_balancer_and_external_ips)
{
	expect("web" EXT, A, LDNS_SECTION_ANSWER, "web" EXT ".\t5\tIN\tA\t203.0.113.10");
	expect("Web.EXT.example.org", A, LDNS_SECTION_ANSWER,
	       "Web.EXT.example.org.\t5\tIN\tA\t203.0.113.10");
	expect("web" EXT, AAAA, LDNS_SECTION_ANSWER, "web" EXT ".\t5\tIN\tAAAA\t2001:db8::10");
	/* externalIPs, then the ingress; each address once, whatever the ports. */
	expect("eip" EXT, A, LDNS_SECTION_ANSWER,
	       "eip" EXT ".\t5\tIN\tA\t192.0.2.5\neip" EXT ".\t5\tIN\tA\t203.0.113.10");
	expect_none("eip" EXT, AAAA, LDNS_RCODE_NOERROR);
	expect_none("web" EXT, TXT, LDNS_RCODE_NOERROR);
	/* A ClusterIP Service without outside addresses does not exist out here. */
	expect_none("internal" EXT, A, LDNS_RCODE_NXDOMAIN);
	expect_none("nope" EXT, A, LDNS_RCODE_NXDOMAIN);
	expect_none("web.nons.example.org", A, LDNS_RCODE_NXDOMAIN);
	expect_none("a.b.c.web" EXT, A, LDNS_RCODE_NXDOMAIN);
	/* A namespace alone exists, with no data. */
	expect_none("ext.example.org", A, LDNS_RCODE_NOERROR);
}

Test(k8s_external_api, srv)
{
	expect("_http._tcp.web" EXT, SRV, LDNS_SECTION_ANSWER,
	       "_http._tcp.web" EXT ".\t5\tIN\tSRV\t0 50 80 web" EXT ".");
	expect("_http._tcp.web" EXT, SRV, LDNS_SECTION_ADDITIONAL,
	       "web" EXT ".\t5\tIN\tA\t203.0.113.10\nweb" EXT ".\t5\tIN\tAAAA\t2001:db8::10");
	/* Every port: two addresses times two ports make the weight 25. */
	expect("web" EXT, SRV, LDNS_SECTION_ANSWER,
	       "web" EXT ".\t5\tIN\tSRV\t0 25 80 web" EXT ".\n"
	       "web" EXT ".\t5\tIN\tSRV\t0 25 443 web" EXT ".");
	expect_none("_http._udp.web" EXT, SRV, LDNS_RCODE_NXDOMAIN);
}

Test(k8s_external_api, hostname_ingress_is_a_cname)
{
	expect("elb" EXT, A, LDNS_SECTION_ANSWER,
	       "elb" EXT ".\t5\tIN\tCNAME\tlb.outside.test.\n"
	       "lb.outside.test.\t3600\tIN\tA\t198.51.100.9");
}

Test(k8s_external_api, headless)
{
	expect("hdl" EXT, A, LDNS_SECTION_ANSWER,
	       "hdl" EXT ".\t5\tIN\tA\t10.244.0.5\nhdl" EXT ".\t5\tIN\tA\t10.244.0.6");
	expect("pod-a.hdl" EXT, A, LDNS_SECTION_ANSWER, "pod-a.hdl" EXT ".\t5\tIN\tA\t10.244.0.5");
	expect("_http._tcp.hdl" EXT, SRV, LDNS_SECTION_ANSWER,
	       "_http._tcp.hdl" EXT ".\t5\tIN\tSRV\t0 50 8080 pod-a.hdl" EXT ".\n"
	       "_http._tcp.hdl" EXT ".\t5\tIN\tSRV\t0 50 8080 10-244-0-6.hdl" EXT ".");
	expect("_http._tcp.hdl" EXT, SRV, LDNS_SECTION_ADDITIONAL,
	       "pod-a.hdl" EXT ".\t5\tIN\tA\t10.244.0.5\n"
	       "10-244-0-6.hdl" EXT ".\t5\tIN\tA\t10.244.0.6");
	expect_none("pod-b.hdl" EXT, A, LDNS_RCODE_NXDOMAIN);
}

Test(k8s_external_api, apex)
{
	ldns_pkt_rcode rc;
	char *got = ask("example.org", SOA, 0, LDNS_SECTION_ANSWER, &rc);

	cr_expect(strncmp(got, ZSOA, strlen(ZSOA)) == 0, "%s", got);
	cr_expect(strstr(got, " 7200 1800 86400 5") != NULL, "%s", got);
	free(got);
	expect("example.org", NS, LDNS_SECTION_ANSWER,
	       "example.org.\t5\tIN\tNS\tns1.dns.example.org.");
	expect_none("example.org", A, LDNS_RCODE_NOERROR);
	expect_none("dns.example.org", A, LDNS_RCODE_NOERROR);
	expect_none("ns2.dns.example.org", A, LDNS_RCODE_NXDOMAIN);
	got = ask("ns1.dns.example.org", A, 0, LDNS_SECTION_ANSWER, &rc);
	cr_expect_eq(rc, LDNS_RCODE_NOERROR);
	free(got);
}

Test(k8s_external_api, fallthrough_to_the_next_plugin)
{
	expect("missing.ext.other.test", A, LDNS_SECTION_ANSWER,
	       "missing.ext.other.test.\t60\tIN\tA\t192.0.2.200");
	/* What k8s_external has is still its answer there. */
	expect("web.ext.other.test", A, LDNS_SECTION_ANSWER,
	       "web.ext.other.test.\t5\tIN\tA\t203.0.113.10");
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

Test(k8s_external_api, watch_update_changes_the_answer)
{
	const char *want = "web" EXT ".\t5\tIN\tA\t198.51.100.77";
	char *got = NULL;
	ldns_pkt_rcode rc;

	sx_fakeapi_do(f, "POST", "/_fake/objects",
	              "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
	              "\"namespace\":\"ext\"},\"spec\":{\"type\":\"LoadBalancer\","
	              "\"clusterIP\":\"10.96.5.1\",\"clusterIPs\":[\"10.96.5.1\"],\"ports\":["
	              "{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]},\"status\":{"
	              "\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.51.100.77\"}]}}}");
	/* The answer is the event: ask until it comes (each query takes its round trip). */
	for (double end = now_ms() + 20000; now_ms() < end;) {
		free(got);
		got = ask("web" EXT, A, 0, LDNS_SECTION_ANSWER, &rc);
		if (strcmp(got, want) == 0) {
			break;
		}
	}
	cr_expect_str_eq(got, want);
	free(got);
	expect_none("web" EXT, AAAA, LDNS_RCODE_NOERROR);
}

/* The manifests source (YAML, as `kubectl get -o yaml` prints) carries the ingress too. */
Test(k8s_external_manifests, ingress_from_yaml)
{
	struct sx_test_server *m = sx_test_prepare();
	char dir[512];
	ldns_pkt *p;
	char *got;

	snprintf(dir, sizeof(dir), "%s/m", sx_test_dir(m));
	cr_assert_eq(mkdir(dir, 0755), 0);
	sx_test_write(m, "m/svc.yaml",
	              "apiVersion: v1\n"
	              "kind: Namespace\n"
	              "metadata:\n"
	              "  name: ext\n"
	              "---\n"
	              "apiVersion: v1\n"
	              "kind: Service\n"
	              "metadata:\n"
	              "  name: web\n"
	              "  namespace: ext\n"
	              "spec:\n"
	              "  type: LoadBalancer\n"
	              "  clusterIP: 10.96.5.1\n"
	              "  ports:\n"
	              "  - name: http\n"
	              "    port: 80\n"
	              "status:\n"
	              "  loadBalancer:\n"
	              "    ingress:\n"
	              "    - ip: 203.0.113.44\n");
	sx_test_start(m, ". {\n"
	                 "\tbind 127.0.0.1\n"
	                 "\tkubernetes cluster.local {\n"
	                 "\t\tmanifests m\n"
	                 "\t}\n"
	                 "\tk8s_external example.org\n"
	                 "}\n");
	cr_assert(sx_test_wait_log(m, "[INFO] plugin/kubernetes: synced ", 20000), "%s",
	          sx_test_log(m));
	p = sx_test_query(m, "web" EXT, A, 0, 0);
	cr_assert(p);
	got = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_expect_str_eq(got, "web" EXT ".\t5\tIN\tA\t203.0.113.44");
	free(got);
	ldns_pkt_free(p);
	cr_expect_eq(sx_test_stop(m), 0);
}
