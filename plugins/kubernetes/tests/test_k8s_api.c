/* test_k8s_api.c -- the kubernetes plugin in the real binary, against the fake API server. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include <sextant/testing.h>

/*
 * Every test starts its own fake API server (tests/fakeapi/fakeapi.py, data
 * tests/fakeapi/data/basic.json unless said otherwise) and its own sextant,
 * then waits for conditions with deadlines: the machine may be loaded.
 */

#define A     LDNS_RR_TYPE_A
#define AAAA  LDNS_RR_TYPE_AAAA
#define SRV   LDNS_RR_TYPE_SRV
#define PTR   LDNS_RR_TYPE_PTR
#define TXT   LDNS_RR_TYPE_TXT
#define CNAME LDNS_RR_TYPE_CNAME
#define SOA   LDNS_RR_TYPE_SOA
#define NS    LDNS_RR_TYPE_NS

#define NOERROR  LDNS_RCODE_NOERROR
#define NXDOMAIN LDNS_RCODE_NXDOMAIN
#define SERVFAIL LDNS_RCODE_SERVFAIL

#define SYNCED       "[INFO] plugin/kubernetes: synced "
#define BASIC_SYNCED SYNCED "7 services, 7 endpoint slices (10 endpoints), 3 namespaces in "
#define ZONE_SOA     "cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. "
#define REV4_SOA     "in-addr.arpa.\t5\tIN\tSOA\tns.dns.in-addr.arpa. hostmaster.in-addr.arpa. "
#define REV6_SOA     "ip6.arpa.\t5\tIN\tSOA\tns.dns.ip6.arpa. hostmaster.ip6.arpa. "

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- starting things ---- */

/* The plugin's block: @conn says how to reach the API server; pods insecure. */
static struct sx_test_server *
start_sx(struct sx_test_server *s, const char *conn)
{
	char corefile[4096];

	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n"
	         "\tbind 127.0.0.1\n"
	         "\tready 127.0.0.1:0\n"
	         "\tkubernetes {\n"
	         "%s"
	         "\t\tpods insecure\n"
	         "\t}\n"
	         "}\n",
	         conn);
	return sx_test_start(s, corefile);
}

/* `endpoint` and `tls` lines for @f (client certificate, key and the fake's CA). */
static void
endpoint_conn(char *out, size_t size, struct sx_fakeapi *f)
{
	char crt[400], key[400];

	snprintf(crt, sizeof(crt), "%s", sx_fakeapi_cert(f, "client.crt"));
	snprintf(key, sizeof(key), "%s", sx_fakeapi_cert(f, "client.key"));
	snprintf(out, size, "\t\tendpoint %s\n\t\ttls %s %s %s\n", sx_fakeapi_url(f), crt, key,
	         sx_fakeapi_cert(f, "ca.crt"));
}

static void
wait_synced(struct sx_test_server *s, struct sx_fakeapi *f)
{
	char *flog;

	if (!sx_test_wait_log(s, SYNCED, 20000)) {
		flog = sx_fakeapi_log(f);
		cr_assert_fail("never synced:\n%s\nfakeapi:\n%s", sx_test_log(s), flog);
	}
	/* Services, slices and namespaces: changes from now on travel by the watches. */
	cr_assert(sx_fakeapi_wait_watches(f, "/", 3, true, 20), "the 3 watches never opened:\n%s",
	          sx_test_log(s));
}

/*
 * basic.json over TLS with client certificates, its EndpointSlices served in
 * @slice_versions (fakeapi's --endpointslice-versions), and a synced server
 * using it by `endpoint`.
 */
static struct sx_test_server *
start_basic_as(struct sx_fakeapi **fp, const char *slice_versions)
{
	struct sx_fakeapi_opts o = { .tls = true,
		                     .require_client_cert = true,
		                     .load = "basic",
		                     .extra = { "--endpointslice-versions", slice_versions } };
	struct sx_test_server *s;
	char conn[1500];

	*fp = sx_fakeapi_start(&o);
	endpoint_conn(conn, sizeof(conn), *fp);
	s = start_sx(NULL, conn);
	wait_synced(s, *fp);
	return s;
}

static struct sx_test_server *
start_basic(struct sx_fakeapi **fp)
{
	return start_basic_as(fp, "v1");
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

static uint16_t
ready_port(struct sx_test_server *s)
{
	long port = sx_test_log_number(s, "serving /ready on port ");

	cr_assert(port > 0 && port < 65536);
	return (uint16_t)port;
}

/* ---- queries ---- */

struct ans {
	ldns_pkt_rcode rcode;
	bool aa;
	char *an, *au, *ad;
};

static void
ans_free(struct ans *a)
{
	free(a->an);
	free(a->au);
	free(a->ad);
}

static void
ask(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags, struct ans *a)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);

	cr_assert(p, "no reply to %s over %s:\n%s", name, flags & SX_Q_TCP ? "TCP" : "UDP",
	          sx_test_log(s));
	a->rcode = ldns_pkt_get_rcode(p);
	a->aa = ldns_pkt_aa(p);
	a->an = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	a->au = sx_test_section_str(p, LDNS_SECTION_AUTHORITY);
	a->ad = sx_test_section_str(p, LDNS_SECTION_ADDITIONAL);
	ldns_pkt_free(p);
}

static const char *
proto(int flags)
{
	return flags & SX_Q_TCP ? "TCP" : "UDP";
}

/* A positive answer: NOERROR, aa, this answer section (and additional, unless NULL). */
static void
expect_f(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags, const char *want,
         const char *want_ad)
{
	struct ans a;

	ask(s, name, type, flags, &a);
	cr_expect_eq(a.rcode, NOERROR, "%s over %s: rcode %d", name, proto(flags), a.rcode);
	cr_expect(a.aa, "%s over %s: no aa", name, proto(flags));
	cr_expect_str_eq(a.an, want, "%s over %s:\n%s\nwanted\n%s", name, proto(flags), a.an, want);
	if (want_ad) {
		cr_expect_str_eq(a.ad, want_ad, "%s over %s: additional\n%s\nwanted\n%s", name,
		                 proto(flags), a.ad, want_ad);
	}
	ans_free(&a);
}

static void
expect(struct sx_test_server *s, const char *name, ldns_rr_type type, const char *want)
{
	expect_f(s, name, type, 0, want, NULL);
}

/* No answer, rcode @rcode, aa, and the zone's SOA (starting @soa) in authority. */
static void
expect_neg_f(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags,
             ldns_pkt_rcode rcode, const char *soa)
{
	struct ans a;

	ask(s, name, type, flags, &a);
	cr_expect_eq(a.rcode, rcode, "%s over %s: rcode %d, not %d", name, proto(flags), a.rcode,
	             rcode);
	cr_expect(a.aa, "%s over %s: no aa", name, proto(flags));
	cr_expect_str_eq(a.an, "", "%s over %s: answer %s", name, proto(flags), a.an);
	cr_expect(strncmp(a.au, soa, strlen(soa)) == 0 && !strchr(a.au, '\n'),
	          "%s over %s: authority %s", name, proto(flags), a.au);
	ans_free(&a);
}

static void
expect_nx(struct sx_test_server *s, const char *name, ldns_rr_type type)
{
	expect_neg_f(s, name, type, 0, NXDOMAIN, ZONE_SOA);
}

static void
expect_nodata(struct sx_test_server *s, const char *name, ldns_rr_type type)
{
	expect_neg_f(s, name, type, 0, NOERROR, ZONE_SOA);
}

/*
 * Query @name every @every_ms from @t0 until its answer section is @want
 * (NOERROR), or @rcode when @want is NULL. @return ms since @t0, or -1 after
 * @limit_ms.
 */
static double
poll_for(struct sx_test_server *s, const char *name, ldns_rr_type type, const char *want,
         ldns_pkt_rcode rcode, double t0, double limit_ms, int every_ms)
{
	for (;;) {
		ldns_pkt *p = sx_test_query(s, name, type, 0, 0);
		bool ok = false;

		if (p) {
			char *an = sx_test_section_str(p, LDNS_SECTION_ANSWER);

			ok = want ? ldns_pkt_get_rcode(p) == NOERROR && strcmp(an, want) == 0
			          : ldns_pkt_get_rcode(p) == rcode;
			free(an);
			ldns_pkt_free(p);
		}
		if (ok) {
			return now_ms() - t0;
		}
		if (now_ms() - t0 > limit_ms) {
			return -1;
		}
		sleep_ms(every_ms);
	}
}

static void
wait_answer(struct sx_test_server *s, const char *name, ldns_rr_type type, const char *want)
{
	double ms = poll_for(s, name, type, want, NOERROR, now_ms(), 20000, 20);

	if (ms < 0) {
		struct ans a;

		ask(s, name, type, 0, &a);
		cr_assert_fail("%s never became \"%s\" (still rcode %d \"%s\"):\n%s", name, want,
		               a.rcode, a.an, sx_test_log(s));
	}
}

static void
wait_rcode(struct sx_test_server *s, const char *name, ldns_rr_type type, ldns_pkt_rcode rcode)
{
	double ms = poll_for(s, name, type, NULL, rcode, now_ms(), 20000, 20);

	cr_assert(ms >= 0, "%s never got rcode %d:\n%s", name, rcode, sx_test_log(s));
}

/* GET /ready until it answers @status (20 s at most); @return the last body. */
static char *
wait_ready(uint16_t port, long status)
{
	double t0 = now_ms();
	long got = 0;
	char *body = NULL;

	for (;;) {
		free(body);
		body = sx_test_http_get(port, "/ready", &got);
		if (got == status || now_ms() - t0 > 20000) {
			break;
		}
		sleep_ms(50);
	}
	cr_assert_eq(got, status, "/ready: %ld %s", got, body);
	return body;
}

/* ---- objects ---- */

static void
put_svc(struct sx_fakeapi *f, const char *name, const char *ip, const char *port_name, int port)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
	         "\"namespace\":\"testns\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"%s\","
	         "\"clusterIPs\":[\"%s\"],\"ports\":[{\"name\":\"%s\",\"port\":%d,"
	         "\"protocol\":\"TCP\"}]}}",
	         name, ip, ip, port_name, port);
	sx_fakeapi_do(f, "POST", "/_fake/objects", body);
}

static void
del_obj(struct sx_fakeapi *f, const char *what)
{
	char path[512];

	snprintf(path, sizeof(path), "/_fake/objects/%s", what);
	sx_fakeapi_do(f, "DELETE", path, NULL);
}

/* hdls1's slice with these readiness conditions for .30 (hdls1-0), .31 and .32. */
static void
put_hdls1_slice(struct sx_fakeapi *f, bool r30, bool r31, bool r32)
{
	char body[2048];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
	         "\"metadata\":{\"name\":\"hdls1-d4e5f\",\"namespace\":\"testns\",\"labels\":"
	         "{\"kubernetes.io/service-name\":\"hdls1\"}},\"addressType\":\"IPv4\","
	         "\"endpoints\":["
	         "{\"addresses\":[\"10.244.1.30\"],\"conditions\":{\"ready\":%s},"
	         "\"hostname\":\"hdls1-0\"},"
	         "{\"addresses\":[\"10.244.1.31\"],\"conditions\":{\"ready\":%s}},"
	         "{\"addresses\":[\"10.244.1.32\"],\"conditions\":{\"ready\":%s}}],"
	         "\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}",
	         r30 ? "true" : "false", r31 ? "true" : "false", r32 ? "true" : "false");
	sx_fakeapi_do(f, "POST", "/_fake/objects", body);
}

/* The fake's log of API requests under @path: watches (1), the others (0) or all (-1). */
static json_t *
requests(struct sx_fakeapi *f, const char *path, int watch)
{
	json_t *r, *out = json_array(), *e;
	char q[512], *body = NULL;
	size_t i;

	snprintf(q, sizeof(q), "/_fake/requests?path=%s", path);
	cr_assert_eq(sx_fakeapi_ctl(f, "GET", q, NULL, &body), 200);
	r = json_loads(body, 0, NULL);
	cr_assert(r, "bad JSON: %s", body);
	free(body);
	json_array_foreach(json_object_get(r, "requests"), i, e)
	{
		if (watch < 0 || json_is_true(json_object_get(e, "watch")) == (watch == 1)) {
			json_array_append(out, e);
		}
	}
	json_decref(r);
	return out;
}

/* The last request of the fake's log under @path. */
static json_t *
last_request(struct sx_fakeapi *f, const char *path, int watch)
{
	json_t *all = requests(f, path, watch), *last;

	cr_assert(json_array_size(all) > 0, "no request to %s", path);
	last = json_incref(json_array_get(all, json_array_size(all) - 1));
	json_decref(all);
	return last;
}

/* Hits of the first fault rule so far. */
static long long
fault_hits(struct sx_fakeapi *f)
{
	char *body = NULL;
	json_t *r;
	long long hits;

	cr_assert_eq(sx_fakeapi_ctl(f, "GET", "/_fake/fail", NULL, &body), 200);
	r = json_loads(body, 0, NULL);
	cr_assert(r, "bad JSON: %s", body);
	free(body);
	hits = json_integer_value(
	        json_object_get(json_array_get(json_object_get(r, "rules"), 0), "hits"));
	json_decref(r);
	return hits;
}

static void
wait_fault_hit(struct sx_fakeapi *f, struct sx_test_server *s)
{
	double t0 = now_ms();

	while (fault_hits(f) < 1) {
		cr_assert(now_ms() - t0 < 20000, "the fault rule was never hit:\n%s",
		          sx_test_log(s));
		sleep_ms(20);
	}
}

/* d.c.b.a.in-addr.arpa or the nibbles under ip6.arpa of @addr. */
static void
reverse(char *out, size_t size, const char *addr)
{
	uint8_t a[16];
	size_t n = 0;

	if (inet_pton(AF_INET, addr, a) == 1) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return;
	}
	cr_assert(inet_pton(AF_INET6, addr, a) == 1);
	for (int i = 15; i >= 0; i--) {
		n += (size_t)snprintf(out + n, size - n, "%x.%x.", a[i] & 15, a[i] >> 4);
	}
	snprintf(out + n, size - n, "ip6.arpa");
}

/* Whether this host has an address the plugin names in its NS records. */
static bool
has_local_addr(void)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	cr_assert(getifaddrs(&ifa) == 0);
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK)) {
			continue;
		}
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)i->ifa_addr;
			found = found || ((const uint8_t *)&sin->sin_addr)[0] != 127;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)i->ifa_addr;
			found = found || !(IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
			                   IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
		}
	}
	freeifaddrs(ifa);
	return found;
}

TestSuite(k8s_api, .timeout = 90);

/* ---- 1. every record type, from the API ---- */

#define SVC1  "svc1.testns.svc.cluster.local."
#define HDLS1 "hdls1.testns.svc.cluster.local."

/* basic.json with its slices served as @slice_versions: every answer. */
static void
every_record_type(const char *slice_versions)
{
	struct sx_fakeapi *f;
	time_t t_start = time(NULL);
	struct sx_test_server *s = start_basic_as(&f, slice_versions);
	char rev[128], want[512];
	struct ans a;

	for (int i = 0; i < 2; i++) {
		int fl = i ? SX_Q_TCP : 0;

		/* ClusterIP, dual stack. */
		expect_f(s, "svc1.testns.svc.cluster.local", A, fl, SVC1 "\t5\tIN\tA\t10.96.1.1",
		         "");
		expect_f(s, "svc-dual.testns.svc.cluster.local", A, fl,
		         "svc-dual.testns.svc.cluster.local.\t5\tIN\tA\t10.96.1.2", "");
		expect_f(s, "svc-dual.testns.svc.cluster.local", AAAA, fl,
		         "svc-dual.testns.svc.cluster.local.\t5\tIN\tAAAA\tfd00:10:96::1:2", "");
		expect_neg_f(s, "svc1.testns.svc.cluster.local", AAAA, fl, NOERROR, ZONE_SOA);
		/* Headless: ready endpoints only (10.244.1.31 is not ready). */
		expect_f(s, "hdls1.testns.svc.cluster.local", A, fl,
		         HDLS1 "\t5\tIN\tA\t10.244.1.30\n" HDLS1 "\t5\tIN\tA\t10.244.1.32", "");
		/* Endpoint names: hostname, else the dashed address; also under a ClusterIP. */
		expect_f(s, "hdls1-0.hdls1.testns.svc.cluster.local", A, fl,
		         "hdls1-0." HDLS1 "\t5\tIN\tA\t10.244.1.30", "");
		expect_f(s, "10-244-1-32.hdls1.testns.svc.cluster.local", A, fl,
		         "10-244-1-32." HDLS1 "\t5\tIN\tA\t10.244.1.32", "");
		expect_neg_f(s, "10-244-1-31.hdls1.testns.svc.cluster.local", A, fl, NXDOMAIN,
		             ZONE_SOA);
		expect_f(s, "ep1b.svc1.testns.svc.cluster.local", A, fl,
		         "ep1b." SVC1 "\t5\tIN\tA\t10.244.1.11", "");
		expect_f(s, "10-244-1-10.svc1.testns.svc.cluster.local", A, fl,
		         "10-244-1-10." SVC1 "\t5\tIN\tA\t10.244.1.10", "");
		/* SRV with the targets' addresses in the additional section. */
		expect_f(s, "_http._tcp.svc1.testns.svc.cluster.local", SRV, fl,
		         "_http._tcp." SVC1 "\t5\tIN\tSRV\t0 100 80 " SVC1,
		         SVC1 "\t5\tIN\tA\t10.96.1.1");
		expect_f(s, "svc1.testns.svc.cluster.local", SRV, fl,
		         SVC1 "\t5\tIN\tSRV\t0 50 80 " SVC1 "\n" SVC1
		              "\t5\tIN\tSRV\t0 50 1234 " SVC1,
		         SVC1 "\t5\tIN\tA\t10.96.1.1");
		expect_f(s, "_dns._udp.kube-dns.kube-system.svc.cluster.local", SRV, fl,
		         "_dns._udp.kube-dns.kube-system.svc.cluster.local.\t5\tIN\tSRV\t0 100 53 "
		         "kube-dns.kube-system.svc.cluster.local.",
		         "kube-dns.kube-system.svc.cluster.local.\t5\tIN\tA\t10.96.0.10");
		expect_f(s, "_http._tcp.hdls1.testns.svc.cluster.local", SRV, fl,
		         "_http._tcp." HDLS1 "\t5\tIN\tSRV\t0 50 80 hdls1-0." HDLS1 "\n"
		         "_http._tcp." HDLS1 "\t5\tIN\tSRV\t0 50 80 10-244-1-32." HDLS1,
		         "hdls1-0." HDLS1 "\t5\tIN\tA\t10.244.1.30\n"
		         "10-244-1-32." HDLS1 "\t5\tIN\tA\t10.244.1.32");
		expect_neg_f(s, "_nope._tcp.svc1.testns.svc.cluster.local", SRV, fl, NXDOMAIN,
		             ZONE_SOA);
		/* PTR: ClusterIPs, then endpoint addresses; both families. */
		expect_f(s, "1.1.96.10.in-addr.arpa", PTR, fl,
		         "1.1.96.10.in-addr.arpa.\t5\tIN\tPTR\t" SVC1, NULL);
		expect_f(s, "30.1.244.10.in-addr.arpa", PTR, fl,
		         "30.1.244.10.in-addr.arpa.\t5\tIN\tPTR\thdls1-0." HDLS1, NULL);
		reverse(rev, sizeof(rev), "fd00:10:96::1:2");
		snprintf(want, sizeof(want), "%s.\t5\tIN\tPTR\tsvc-dual.testns.svc.cluster.local.",
		         rev);
		expect_f(s, rev, PTR, fl, want, NULL);
		reverse(rev, sizeof(rev), "fd00:10:244:1::20");
		snprintf(want, sizeof(want),
		         "%s.\t5\tIN\tPTR\tfd00-10-244-1--20.svc-dual.testns.svc.cluster.local.",
		         rev);
		expect_f(s, rev, PTR, fl, want, NULL);
		expect_neg_f(s, "31.1.244.10.in-addr.arpa", PTR, fl, NXDOMAIN, REV4_SOA);
		reverse(rev, sizeof(rev), "fd00::99");
		expect_neg_f(s, rev, PTR, fl, NXDOMAIN, REV6_SOA);
		/* ExternalName. */
		expect_f(s, "ext-svc.testns.svc.cluster.local", CNAME, fl,
		         "ext-svc.testns.svc.cluster.local.\t5\tIN\tCNAME\text.example.net.", NULL);
		/* Pods (insecure), TXT. */
		expect_f(s, "10-1-2-3.testns.pod.cluster.local", A, fl,
		         "10-1-2-3.testns.pod.cluster.local.\t5\tIN\tA\t10.1.2.3", NULL);
		expect_f(s, "dns-version.cluster.local", TXT, fl,
		         "dns-version.cluster.local.\t28800\tIN\tTXT\t\"1.1.0\"", NULL);
		/* Names that do not exist, and names without the type asked. */
		expect_neg_f(s, "nope.testns.svc.cluster.local", A, fl, NXDOMAIN, ZONE_SOA);
		expect_neg_f(s, "svc1.nons.svc.cluster.local", A, fl, NXDOMAIN, ZONE_SOA);
		expect_neg_f(s, "10-1-2-3.nons.pod.cluster.local", A, fl, NXDOMAIN, ZONE_SOA);
		expect_neg_f(s, "foo.cluster.local", A, fl, NXDOMAIN, ZONE_SOA);
		expect_neg_f(s, "svc1.testns.svc.cluster.local", TXT, fl, NOERROR, ZONE_SOA);
		expect_neg_f(s, "testns.svc.cluster.local", A, fl, NOERROR, ZONE_SOA);
		expect_neg_f(s, "svc.cluster.local", A, fl, NOERROR, ZONE_SOA);
		expect_neg_f(s, "cluster.local", A, fl, NOERROR, ZONE_SOA);
	}

	/* The ExternalName's CNAME leads the answer to an address query. */
	ask(s, "ext-svc.testns.svc.cluster.local", A, 0, &a);
	cr_expect(a.aa);
	cr_expect(strncmp(a.an, "ext-svc.testns.svc.cluster.local.\t5\tIN\tCNAME\text.example.net.",
	                  60) == 0,
	          "%s", a.an);
	ans_free(&a);

	/* Apex SOA: its serial is the time of the last change, here the first list. */
	ask(s, "cluster.local", SOA, 0, &a);
	cr_expect_eq(a.rcode, NOERROR);
	cr_expect(a.aa);
	cr_assert(strncmp(a.an, ZONE_SOA, strlen(ZONE_SOA)) == 0, "%s", a.an);
	long long serial = atoll(a.an + strlen(ZONE_SOA));
	cr_expect(serial >= (long long)t_start - 2 && serial <= (long long)time(NULL) + 2,
	          "serial %lld not in [%lld, now]", serial, (long long)t_start);
	cr_expect(strstr(a.an, " 7200 1800 86400 5"), "%s", a.an);
	ans_free(&a);
	/* Apex NS: ns.dns.<zone>, whose addresses are this host's (none: no NS). */
	if (has_local_addr()) {
		expect(s, "cluster.local", NS, "cluster.local.\t5\tIN\tNS\tns.dns.cluster.local.");
	} else {
		expect_nodata(s, "cluster.local", NS);
	}

	/* The question's spelling comes back, also in the zone part of targets. */
	expect(s, "SVC1.TestNS.svc.Cluster.Local", A,
	       "SVC1.TestNS.svc.Cluster.Local.\t5\tIN\tA\t10.96.1.1");
	expect_f(s, "_HTTP._Tcp.svc1.testns.SVC.CLUSTER.local", SRV, 0,
	         "_HTTP._Tcp.svc1.testns.SVC.CLUSTER.local.\t5\tIN\tSRV\t0 100 80 "
	         "svc1.testns.svc.CLUSTER.local.",
	         NULL);
	/* The writer compresses without case, so owner names take the question's spelling. */
	ask(s, "_HTTP._Tcp.svc1.testns.SVC.CLUSTER.local", SRV, 0, &a);
	cr_expect(strcasecmp(a.ad, SVC1 "\t5\tIN\tA\t10.96.1.1") == 0, "%s", a.ad);
	ans_free(&a);
	expect_neg_f(s, "Nope.TestNS.svc.Cluster.Local", A, 0, NXDOMAIN,
	             "Cluster.Local.\t5\tIN\tSOA\tns.dns.Cluster.Local. "
	             "hostmaster.Cluster.Local. ");

	/* dig sees what CoreDNS's log shows: qr aa rd. */
	char *out = sx_test_dig(s, "svc1.testns.svc.cluster.local A");
	cr_expect(strstr(out, "status: NOERROR") && strstr(out, "flags: qr aa rd;"), "%s", out);
	free(out);
	out = sx_test_dig(s, "+tcp nope.testns.svc.cluster.local A");
	cr_expect(strstr(out, "status: NXDOMAIN") && strstr(out, "flags: qr aa rd;"), "%s", out);
	free(out);

	/* Synced once, with the counts of basic.json. */
	cr_expect_eq(log_count(s, SYNCED), 1, "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, BASIC_SYNCED), 1, "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "[ERROR]"), 0, "%s", sx_test_log(s));
	snprintf(want, sizeof(want),
	         "[INFO] plugin/kubernetes: EndpointSlice from discovery.k8s.io/%s ",
	         slice_versions);
	cr_expect_eq(log_count(s, want), 1, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, every_record_type_over_udp_and_tcp)
{
	every_record_type("v1");
}

/* Kubernetes 1.17 to 1.20: the same answers from v1beta1 slices (topology, no nodeName). */
Test(k8s_api, every_record_type_from_v1beta1_slices)
{
	every_record_type("v1beta1");
}

/* ---- 2. changes through the watches ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

Test(k8s_api, a_new_service_answers_soon_after_its_watch_event)
{
	enum {
		N = 20
	};
	struct sx_fakeapi *f;
	struct sx_test_server *s = start_basic(&f);
	double lat[N], med;

	for (int i = 0; i < N; i++) {
		char svc[32], name[80], ip[32], want[200];
		double t0;

		snprintf(svc, sizeof(svc), "lat%d", i);
		snprintf(name, sizeof(name), "lat%d.testns.svc.cluster.local", i);
		snprintf(ip, sizeof(ip), "10.96.50.%d", i + 1);
		snprintf(want, sizeof(want), "%s.\t5\tIN\tA\t%s", name, ip);
		expect_nx(s, name, A);
		put_svc(f, svc, ip, "http", 80);
		t0 = now_ms();
		lat[i] = poll_for(s, name, A, want, NOERROR, t0, 10000, 2);
		cr_assert(lat[i] >= 0, "%s never answered:\n%s", name, sx_test_log(s));
	}
	qsort(lat, N, sizeof(lat[0]), cmp_double);
	med = (lat[N / 2 - 1] + lat[N / 2]) / 2;
	/* Shown when the test runs without --tap (criterion then keeps its stderr). */
	fprintf(stderr,
	        "# watch event to answer, %d new services: min %.1f ms, median %.1f ms, "
	        "max %.1f ms\n",
	        N, lat[0], med, lat[N - 1]);
	/* The goal is 100 ms; the machine runs other builds too, hence the median. */
	cr_expect_lt(med, 100.0, "median %.1f ms", med);
	cr_expect_lt(lat[N - 1], 1000.0, "max %.1f ms", lat[N - 1]);
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, modified_and_deleted_objects_change_the_answers)
{
	struct sx_fakeapi *f;
	struct sx_test_server *s = start_basic(&f);

	/* A new ClusterIP: the address and both reverse names follow. */
	put_svc(f, "svc1", "10.96.9.9", "http", 80);
	wait_answer(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.9.9");
	expect(s, "9.9.96.10.in-addr.arpa", PTR, "9.9.96.10.in-addr.arpa.\t5\tIN\tPTR\t" SVC1);
	expect_neg_f(s, "1.1.96.10.in-addr.arpa", PTR, 0, NXDOMAIN, REV4_SOA);
	/* The port renamed: the SRV name moves with it. */
	put_svc(f, "svc1", "10.96.9.9", "web", 8080);
	wait_answer(s, "_web._tcp.svc1.testns.svc.cluster.local", SRV,
	            "_web._tcp." SVC1 "\t5\tIN\tSRV\t0 100 8080 " SVC1);
	expect_nx(s, "_http._tcp.svc1.testns.svc.cluster.local", SRV);
	/* Its endpoints are kept while the Service changes. */
	expect(s, "ep1b.svc1.testns.svc.cluster.local", A, "ep1b." SVC1 "\t5\tIN\tA\t10.244.1.11");

	/* Endpoint readiness of a headless service. */
	put_hdls1_slice(f, false, true, true);
	wait_answer(s, "hdls1.testns.svc.cluster.local", A,
	            HDLS1 "\t5\tIN\tA\t10.244.1.31\n" HDLS1 "\t5\tIN\tA\t10.244.1.32");
	expect_nx(s, "hdls1-0.hdls1.testns.svc.cluster.local", A);
	expect_neg_f(s, "30.1.244.10.in-addr.arpa", PTR, 0, NXDOMAIN, REV4_SOA);
	expect(s, "31.1.244.10.in-addr.arpa", PTR,
	       "31.1.244.10.in-addr.arpa.\t5\tIN\tPTR\t10-244-1-31." HDLS1);
	expect(s, "_http._tcp.hdls1.testns.svc.cluster.local", SRV,
	       "_http._tcp." HDLS1 "\t5\tIN\tSRV\t0 50 80 10-244-1-31." HDLS1 "\n"
	       "_http._tcp." HDLS1 "\t5\tIN\tSRV\t0 50 80 10-244-1-32." HDLS1);
	/* No ready endpoint left: the headless name does not exist. */
	put_hdls1_slice(f, false, false, false);
	wait_rcode(s, "hdls1.testns.svc.cluster.local", A, NXDOMAIN);
	expect_nx(s, "_http._tcp.hdls1.testns.svc.cluster.local", SRV);
	put_hdls1_slice(f, true, false, false);
	wait_answer(s, "hdls1.testns.svc.cluster.local", A, HDLS1 "\t5\tIN\tA\t10.244.1.30");
	/* The slice deleted: the same. */
	del_obj(f, "discovery.k8s.io/v1/testns/endpointslices/hdls1-d4e5f");
	wait_rcode(s, "hdls1.testns.svc.cluster.local", A, NXDOMAIN);

	/* Deleted Services. */
	del_obj(f, "v1/testns/services/svc1");
	wait_rcode(s, "svc1.testns.svc.cluster.local", A, NXDOMAIN);
	expect_nx(s, "_web._tcp.svc1.testns.svc.cluster.local", SRV);
	expect_neg_f(s, "9.9.96.10.in-addr.arpa", PTR, 0, NXDOMAIN, REV4_SOA);
	del_obj(f, "v1/testns/services/svc-dual");
	wait_rcode(s, "svc-dual.testns.svc.cluster.local", AAAA, NXDOMAIN);
	/* A deleted namespace takes its names along. */
	del_obj(f, "v1/namespaces/kube-system");
	wait_rcode(s, "kube-dns.kube-system.svc.cluster.local", A, NXDOMAIN);
	expect_nx(s, "kube-system.svc.cluster.local", A);
	expect(s, "kubernetes.default.svc.cluster.local", A,
	       "kubernetes.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.1");
	cr_expect_eq(log_count(s, "[ERROR]"), 0, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* ---- 3. relists ---- */

/* What must still answer after relists of basic.json. */
static void
expect_basic_rest(struct sx_test_server *s)
{
	expect(s, "svc-dual.testns.svc.cluster.local", A,
	       "svc-dual.testns.svc.cluster.local.\t5\tIN\tA\t10.96.1.2");
	expect(s, "hdls1.testns.svc.cluster.local", A,
	       HDLS1 "\t5\tIN\tA\t10.244.1.30\n" HDLS1 "\t5\tIN\tA\t10.244.1.32");
	expect(s, "kubernetes.default.svc.cluster.local", A,
	       "kubernetes.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.1");
}

/* The SOA serial at the start of an AXFR's output, 0 when there is none. */
static unsigned long
axfr_serial(const char *out)
{
	const char *p = strstr(out, "hostmaster.cluster.local. ");

	return p ? strtoul(p + strlen("hostmaster.cluster.local. "), NULL, 10) : 0;
}

/* A transfer of the cluster zone holds what the watches brought since the last one. */
Test(k8s_api, axfr_follows_the_watches)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	char conn[1500], corefile[4096];
	char *out;

	endpoint_conn(conn, sizeof(conn), f);
	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n\tbind 127.0.0.1\n"
	         "\tkubernetes {\n%s\t}\n\ttransfer {\n\t\tto 127.0.0.1\n\t}\n}\n",
	         conn);
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	wait_synced(s, f);

	out = sx_test_dig(s, "+nocmd +nostats AXFR cluster.local");
	unsigned long before = axfr_serial(out);
	cr_expect_gt(before, 0, "%s", out);
	/* dig aligns columns with tabs, as the names' lengths fall: only the ends are matched. */
	cr_expect(strstr(out, "\n" SVC1) && strstr(out, "\tA\t10.96.1.1\n"), "%s", out);
	cr_expect(!strstr(out, "axfr1.testns"), "%s", out);
	free(out);

	put_svc(f, "axfr1", "10.96.7.7", "http", 80);
	wait_answer(s, "axfr1.testns.svc.cluster.local", A,
	            "axfr1.testns.svc.cluster.local.\t5\tIN\tA\t10.96.7.7");
	out = sx_test_dig(s, "+nocmd +nostats AXFR cluster.local");
	cr_expect(strstr(out, "\naxfr1.testns.svc.cluster.local.") &&
	                  strstr(out, "\tA\t10.96.7.7\n"),
	          "%s", out);
	cr_expect(strstr(out, "_http._tcp.axfr1.testns.svc.cluster.local."), "%s", out);
	/* The serial is the time of the last change, in seconds: never older. */
	cr_expect_geq(axfr_serial(out), before, "%s", out);
	free(out);

	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, relist_after_compaction_drops_what_vanished)
{
	struct sx_fakeapi *f;
	struct sx_test_server *s = start_basic(&f);
	json_t *lists;

	/* The Service watch is dropped and its next attempt held: no event can reach it. */
	sx_fakeapi_do(f, "POST", "/_fake/fail",
	              "{\"path\":\"/api/v1/services\",\"watch\":true,\"mode\":\"hang\"}");
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches", "{\"path\":\"/api/v1/services\"}");
	wait_fault_hit(f, s);
	del_obj(f, "v1/testns/services/svc1");
	del_obj(f, "v1/testns/services/ext-svc");
	put_svc(f, "late", "10.96.7.7", "http", 80);
	sx_fakeapi_do(f, "POST", "/_fake/compact", NULL);
	/* While the watch is down, the last data serves. */
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	expect_nx(s, "late.testns.svc.cluster.local", A);

	/* Released, the watch resumes from a compacted version: 410, then a new LIST. */
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches",
	              "{\"path\":\"/api/v1/services\",\"hangs\":true}");
	wait_answer(s, "late.testns.svc.cluster.local", A,
	            "late.testns.svc.cluster.local.\t5\tIN\tA\t10.96.7.7");
	expect_nx(s, "svc1.testns.svc.cluster.local", A);
	expect_nx(s, "ext-svc.testns.svc.cluster.local", CNAME);
	expect_neg_f(s, "1.1.96.10.in-addr.arpa", PTR, 0, NXDOMAIN, REV4_SOA);
	/* svc1's slice is still there, but a name needs its Service. */
	expect_nx(s, "ep1b.svc1.testns.svc.cluster.local", A);
	expect_basic_rest(s);
	cr_expect_eq(log_count(s, "*v1.Service: resourceVersion too old, listing again"), 1, "%s",
	             sx_test_log(s));
	lists = requests(f, "/api/v1/services", 0);
	cr_expect_eq(json_array_size(lists), 2, "one LIST at start, one after the 410");
	json_decref(lists);
	/* The new watch carries events. */
	put_svc(f, "later", "10.96.7.8", "http", 80);
	wait_answer(s, "later.testns.svc.cluster.local", A,
	            "later.testns.svc.cluster.local.\t5\tIN\tA\t10.96.7.8");
	cr_expect_eq(log_count(s, SYNCED), 1, "synced is logged once:\n%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, relist_after_an_error_event_410)
{
	struct sx_fakeapi *f;
	struct sx_test_server *s = start_basic(&f);
	json_t *lists;

	/* Hold the slice watch, change what it would have told, then answer it 410. */
	sx_fakeapi_do(f, "POST", "/_fake/fail",
	              "{\"path\":\"/apis/discovery.k8s.io/v1/endpointslices\",\"watch\":true,"
	              "\"mode\":\"hang\"}");
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches",
	              "{\"path\":\"/apis/discovery.k8s.io/v1/endpointslices\"}");
	wait_fault_hit(f, s);
	put_hdls1_slice(f, false, true, false);
	del_obj(f, "discovery.k8s.io/v1/testns/endpointslices/svc1-a1b2c");
	sx_fakeapi_do(f, "POST", "/_fake/fail",
	              "{\"path\":\"/apis/discovery.k8s.io/v1/endpointslices\",\"watch\":true,"
	              "\"mode\":\"watch-error\",\"status\":410}");
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches",
	              "{\"path\":\"/apis/discovery.k8s.io\",\"hangs\":true}");

	wait_answer(s, "hdls1.testns.svc.cluster.local", A, HDLS1 "\t5\tIN\tA\t10.244.1.31");
	expect_nx(s, "ep1b.svc1.testns.svc.cluster.local", A);
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	cr_expect(sx_test_wait_log(s, "*v1.EndpointSlice: resourceVersion too old, listing again",
	                           30000),
	          "%s", sx_test_log(s));
	lists = requests(f, "/apis/discovery.k8s.io/v1/endpointslices", 0);
	cr_expect_eq(json_array_size(lists), 2, "one LIST at start, one after the 410");
	json_decref(lists);
	put_hdls1_slice(f, true, true, false);
	wait_answer(s, "hdls1.testns.svc.cluster.local", A,
	            HDLS1 "\t5\tIN\tA\t10.244.1.30\n" HDLS1 "\t5\tIN\tA\t10.244.1.31");
	cr_expect_eq(log_count(s, SYNCED), 1, "synced is logged once:\n%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/*
 * A relist storm: every Services watch is answered 410 at once, so the plugin
 * lists and watches again and again. Wait for @n more requests to Services and
 * @return the seconds between the first and the last of them, by the fake's clock.
 */
static double
relist_storm(struct sx_fakeapi *f, struct sx_test_server *s, int n)
{
	char q[200], *body = NULL;
	json_t *r, *all;
	double first, last;

	sx_fakeapi_do(f, "DELETE", "/_fake/requests", NULL);
	sx_fakeapi_do(f, "POST", "/_fake/fail",
	              "{\"path\":\"/api/v1/services\",\"watch\":true,\"mode\":\"watch-error\","
	              "\"status\":410,\"count\":-1}");
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches", "{\"path\":\"/api/v1/services\"}");
	snprintf(q, sizeof(q), "/_fake/requests?path=/api/v1/services&min=%d&timeout=60", n);
	cr_assert_eq(sx_fakeapi_ctl(f, "GET", q, NULL, &body), 200, "%s", sx_test_log(s));
	r = json_loads(body, 0, NULL);
	free(body);
	all = json_object_get(r, "requests");
	cr_assert(json_array_size(all) >= (size_t)n);
	first = json_real_value(json_object_get(json_array_get(all, 0), "time"));
	last = json_real_value(json_object_get(json_array_get(all, (size_t)n - 1), "time"));
	json_decref(r);
	sx_fakeapi_do(f, "DELETE", "/_fake/fail", NULL);
	return last - first;
}

/*
 * 6 requests of a relist storm take at least 10 s at 0.5 a second (8 s leaves room
 * for the fake's clock); without a limit, the plugin's own backoff lets them through in
 * about 4 s (3.8 s measured).
 */
#define STORM_SLOW_S 8.0

/* apiserver_qps 0.5, apiserver_burst 1: a relist storm reaches the API server every 2 s. */
Test(k8s_api, apiserver_qps_bounds_a_relist_storm)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s;
	char conn[1600];
	double span;

	endpoint_conn(conn, sizeof(conn), f);
	strcat(conn,
	       "\t\tapiserver_qps 0.5\n\t\tapiserver_burst 1\n\t\tapiserver_max_inflight 1\n");
	s = start_sx(NULL, conn);
	wait_synced(s, f);
	span = relist_storm(f, s, 6);
	cr_log_info("apiserver_qps 0.5: 6 requests in %.2f s", span);
	cr_expect_geq(span, STORM_SLOW_S, "6 requests in %.2f s", span);
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* The time of the first request the fake logged under @path (not watches). */
static double
first_request_time(struct sx_fakeapi *f, const char *path)
{
	json_t *all = requests(f, path, 0);
	double t;

	cr_assert(json_array_size(all) > 0, "no request to %s", path);
	t = json_real_value(json_object_get(json_array_get(all, 0), "time"));
	json_decref(all);
	return t;
}

/*
 * apiserver_max_inflight 1: while the Services LIST hangs (2 s, then the fake closes
 * it), no other LIST starts; without the cap they all start together.
 */
Test(k8s_api, apiserver_max_inflight_holds_lists_back)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s;
	char conn[1600];
	double gap;

	sx_fakeapi_do(f, "POST", "/_fake/fail",
	              "{\"path\":\"/api/v1/services\",\"watch\":false,\"mode\":\"hang\","
	              "\"seconds\":2}");
	endpoint_conn(conn, sizeof(conn), f);
	strcat(conn, "\t\tapiserver_max_inflight 1\n");
	s = start_sx(NULL, conn);
	wait_synced(s, f);
	gap = first_request_time(f, "/api/v1/namespaces") -
	      first_request_time(f, "/api/v1/services");
	cr_expect_geq(gap, 1.5, "the Namespaces LIST came %.2f s after the Services one", gap);
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/*
 * 500 small Services in namespace a-pad, which sorts first: a LIST of Services
 * then takes two pages, the second with basic.json's Services and @nbig
 * Services of namespace zz-pad carrying 20 kB of annotation each (a page that
 * takes its time to arrive in small chunks).
 */
static void
write_pad(const char *path, int nbig)
{
	json_t *items = json_array(), *list;
	char *filler = malloc(20001);

	cr_assert(items && filler);
	memset(filler, 'x', 20000);
	filler[20000] = '\0';
	for (int i = 0; i < 500 + nbig; i++) {
		bool big = i >= 500;
		char name[32], ip[32];
		json_t *svc;

		snprintf(name, sizeof(name), "pad%04d", i);
		snprintf(ip, sizeof(ip), "10.97.%d.%d", i / 250, i % 250 + 1);
		svc = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s,s:[{s:s,s:i}]}}", "apiVersion",
		                "v1", "kind", "Service", "metadata", "name", name, "namespace",
		                big ? "zz-pad" : "a-pad", "annotations", "filler",
		                big ? filler : "", "spec", "clusterIP", ip, "ports", "name", "http",
		                "port", 80);
		cr_assert(svc);
		json_array_append_new(items, svc);
	}
	free(filler);
	list = json_pack("{s:s,s:s,s:o}", "kind", "List", "apiVersion", "v1", "items", items);
	cr_assert(list);
	cr_assert_eq(json_dump_file(list, path, 0), 0);
	json_decref(list);
}

/*
 * A Service deleted while its watch is held, so that only a relist can tell,
 * and its slice changed while the relist's second page is held by the fake:
 * the event lands between two pages, when every Service is marked stale and
 * the slice's Service is not yet confirmed, and must not bring it back.
 */
Test(k8s_api, a_slice_event_during_a_paged_relist_keeps_no_deleted_service)
{
	struct sx_test_server *s = sx_test_prepare();
	char pad[400], conn[1500];
	struct sx_fakeapi_opts o = { .tls = true,
		                     .require_client_cert = true,
		                     .load = "basic",
		                     .extra = { "--load", pad } };
	struct sx_fakeapi *f;
	const char *slice =
	        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
	        "{\"name\":\"svc1-a1b2c\",\"namespace\":\"testns\",\"labels\":"
	        "{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":"
	        "[{\"addresses\":[\"10.244.1.12\"],\"conditions\":{\"ready\":true}}],"
	        "\"ports\":[{\"name\":\"http\",\"port\":8080}]}";

	snprintf(pad, sizeof(pad), "%s/pad.json", sx_test_dir(s));
	write_pad(pad, 40);
	f = sx_fakeapi_start(&o);
	endpoint_conn(conn, sizeof(conn), f);
	start_sx(s, conn);
	wait_synced(s, f);
	cr_assert_eq(log_count(s, SYNCED "547 services"), 1, "%s", sx_test_log(s));

	sx_fakeapi_do(f, "POST", "/_fake/fail",
	              "{\"path\":\"/api/v1/services\",\"watch\":true,\"mode\":\"hang\"}");
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches", "{\"path\":\"/api/v1/services\"}");
	wait_fault_hit(f, s);
	del_obj(f, "v1/testns/services/svc1");
	sx_fakeapi_do(f, "POST", "/_fake/compact", NULL);
	sx_fakeapi_do(f, "DELETE", "/_fake/fail", NULL);
	sx_fakeapi_do(
	        f, "POST", "/_fake/fail",
	        "{\"path\":\"/api/v1/services\",\"watch\":false,\"query\":{\"continue\":null},"
	        "\"mode\":\"hold\"}");
	/* The held watch ends; its resume is too old (410): a relist, whose second page waits. */
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches",
	              "{\"path\":\"/api/v1/services\",\"hangs\":true}");
	wait_fault_hit(f, s);
	sx_fakeapi_do(f, "POST", "/_fake/objects", slice);
	/* The event is on the slice watch's socket before the page goes on. */
	cr_assert(
	        sx_fakeapi_wait_watches(f, "/apis/discovery.k8s.io/v1/endpointslices", 1, true, 20),
	        "%s", sx_test_log(s));
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches",
	              "{\"path\":\"/api/v1/services\",\"hangs\":true}");
	/* The new Service watch starts when the relist has ended. */
	cr_assert(sx_fakeapi_wait_watches(f, "/api/v1/services", 1, true, 20), "%s",
	          sx_test_log(s));

	expect_nx(s, "svc1.testns.svc.cluster.local", A);
	expect_neg_f(s, "1.1.96.10.in-addr.arpa", PTR, 0, NXDOMAIN, REV4_SOA);
	expect(s, "hdls1.testns.svc.cluster.local", A,
	       HDLS1 "\t5\tIN\tA\t10.244.1.30\n" HDLS1 "\t5\tIN\tA\t10.244.1.32");
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* ---- 4. the API server goes away and comes back ---- */

/* basic.json without svc1 (and its slice), with svc-new, to @path. */
static void
write_changed_basic(const char *path)
{
	char src[512];
	const char *root = getenv("SX_SOURCE_ROOT");
	json_t *list, *items, *item;
	json_error_t jerr;
	size_t i;

	snprintf(src, sizeof(src), "%s/tests/fakeapi/data/basic.json", root ? root : ".");
	list = json_load_file(src, 0, &jerr);
	cr_assert(list, "%s: %s", src, jerr.text);
	items = json_object_get(list, "items");
	for (i = 0; i < json_array_size(items);) {
		json_t *md = json_object_get(json_array_get(items, i), "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));

		if (!strcmp(name, "svc1") || !strcmp(name, "svc1-a1b2c")) {
			json_array_remove(items, i);
		} else {
			i++;
		}
	}
	item = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	                  "\"svc-new\",\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":"
	                  "\"10.96.3.3\",\"ports\":[{\"name\":\"http\",\"port\":80}]}}",
	                  0, &jerr);
	cr_assert(item, "%s", jerr.text);
	json_array_append_new(items, item);
	cr_assert_eq(json_dump_file(list, path, 0), 0);
	json_decref(list);
}

Test(k8s_api, api_server_restart_keeps_serving_then_converges)
{
	struct sx_fakeapi_opts o = { .initial_rv = 5000 };
	struct sx_fakeapi *f;
	struct sx_test_server *s = start_basic(&f);
	char path[400];
	uint16_t rport = ready_port(s);

	sx_fakeapi_kill(f);
	cr_assert(sx_test_wait_log(s, "Couldn't connect to server", 20000), "%s", sx_test_log(s));
	/* The last good data keeps answering, positive and negative. */
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	expect_f(s, "svc1.testns.svc.cluster.local", A, SX_Q_TCP, SVC1 "\t5\tIN\tA\t10.96.1.1",
	         NULL);
	expect_basic_rest(s);
	expect_nx(s, "nope.testns.svc.cluster.local", A);
	free(wait_ready(rport, 200));
	cr_expect(log_count(s, "[ERROR] plugin/kubernetes: Failed to watch *v1.Service") >= 1, "%s",
	          sx_test_log(s));

	/* Back on the same port, with other objects and a newer history. */
	snprintf(path, sizeof(path), "%s/changed.json", sx_fakeapi_dir(f));
	write_changed_basic(path);
	o.load = path;
	o.require_client_cert = true;
	sx_fakeapi_launch(f, &o);
	wait_answer(s, "svc-new.testns.svc.cluster.local", A,
	            "svc-new.testns.svc.cluster.local.\t5\tIN\tA\t10.96.3.3");
	wait_rcode(s, "svc1.testns.svc.cluster.local", A, NXDOMAIN);
	expect_basic_rest(s);
	cr_assert(sx_fakeapi_wait_watches(f, "/", 3, true, 20), "%s", sx_test_log(s));
	put_svc(f, "after", "10.96.3.4", "http", 80);
	wait_answer(s, "after.testns.svc.cluster.local", A,
	            "after.testns.svc.cluster.local.\t5\tIN\tA\t10.96.3.4");
	cr_expect(sx_test_wait_log(s, "*v1.Service: watching again", 30000), "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, SYNCED), 1, "synced is logged once:\n%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* ---- 5. authentication ---- */

static void
write_file(const char *path, const char *text)
{
	char tmp[600];
	FILE *fp;

	/* Replace atomically, as the kubelet rotates projected tokens. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fp = fopen(tmp, "w");
	cr_assert(fp, "%s", tmp);
	fputs(text, fp);
	fclose(fp);
	cr_assert_eq(rename(tmp, path), 0);
}

static char *
b64_file(const char *path)
{
	char cmd[600], *out = calloc(1, 16384);
	FILE *p;
	size_t n;

	cr_assert(out);
	snprintf(cmd, sizeof(cmd), "base64 -w0 '%s'", path);
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(out, 1, 16383, p);
	out[n] = '\0';
	pclose(p);
	cr_assert(n > 0);
	return out;
}

/* A kubeconfig for @f whose user is @user (YAML lines indented by 4). */
static void
write_kubeconfig(struct sx_test_server *s, struct sx_fakeapi *f, const char *cluster,
                 const char *user)
{
	char text[32768];

	snprintf(text, sizeof(text),
	         "apiVersion: v1\nkind: Config\n"
	         "clusters:\n- name: fake\n  cluster:\n    server: %s\n%s"
	         "users:\n- name: me\n  user:\n%s"
	         "contexts:\n- name: ctx\n  context:\n    cluster: fake\n    user: me\n"
	         "current-context: ctx\n",
	         sx_fakeapi_url(f), cluster, user);
	sx_test_write(s, "kubeconfig", text);
}

static void
expect_str_field(json_t *obj, const char *key, const char *want)
{
	const char *got = json_string_value(json_object_get(obj, key));

	cr_expect(got && !strcmp(got, want), "%s: %s, not %s", key, got ? got : "(none)", want);
}

Test(k8s_api, kubeconfig_token)
{
	struct sx_fakeapi_opts o = { .tls = true, .token = "tok-static", .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s = sx_test_prepare();
	char cluster[600], conn[600];
	json_t *r;

	snprintf(cluster, sizeof(cluster), "    certificate-authority: %s\n",
	         sx_fakeapi_cert(f, "ca.crt"));
	write_kubeconfig(s, f, cluster, "    token: tok-static\n");
	snprintf(conn, sizeof(conn), "\t\tkubeconfig %%DIR%%/kubeconfig ctx\n");
	start_sx(s, conn);
	wait_synced(s, f);
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	r = last_request(f, "/api/v1/services", 1);
	expect_str_field(r, "auth", "bearer");
	cr_expect(json_is_true(json_object_get(r, "token_ok")));
	json_decref(r);
	cr_expect(strstr(sx_test_log(s), "watching the API server at "), "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "[ERROR]"), 0, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, kubeconfig_token_file_is_read_again_after_rotation)
{
	struct sx_test_server *s = sx_test_prepare();
	char server_tokens[400], our_token[400], cluster[600], user[600];
	struct sx_fakeapi_opts o = { .tls = true, .token_file = server_tokens, .load = "basic" };
	struct sx_fakeapi *f;
	json_t *r;

	snprintf(server_tokens, sizeof(server_tokens), "%s/server-tokens", sx_test_dir(s));
	snprintf(our_token, sizeof(our_token), "%s/token", sx_test_dir(s));
	write_file(server_tokens, "tok-1\n");
	write_file(our_token, "tok-1\n");
	f = sx_fakeapi_start(&o);
	snprintf(cluster, sizeof(cluster), "    certificate-authority: %s\n",
	         sx_fakeapi_cert(f, "ca.crt"));
	/* A relative tokenFile is taken from the kubeconfig's directory. */
	snprintf(user, sizeof(user), "    tokenFile: token\n");
	write_kubeconfig(s, f, cluster, user);
	start_sx(s, "\t\tkubeconfig %DIR%/kubeconfig\n");
	wait_synced(s, f);

	/* The server moves on to a new token first: ours is refused when the watches reconnect. */
	write_file(server_tokens, "tok-2\n");
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches", NULL);
	cr_assert(sx_test_wait_log(s, "Unauthorized", 20000), "%s", sx_test_log(s));
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	put_svc(f, "rotated", "10.96.8.8", "http", 80);
	expect_nx(s, "rotated.testns.svc.cluster.local", A);

	/* Then our file is rotated: the next attempt reads it. */
	write_file(our_token, "tok-2\n");
	wait_answer(s, "rotated.testns.svc.cluster.local", A,
	            "rotated.testns.svc.cluster.local.\t5\tIN\tA\t10.96.8.8");
	cr_assert(sx_fakeapi_wait_watches(f, "/", 3, true, 20), "%s", sx_test_log(s));
	r = last_request(f, "/api/v1/services", 1);
	cr_expect(json_is_true(json_object_get(r, "token_ok")));
	json_decref(r);
	cr_expect(sx_test_wait_log(s, "*v1.Service: watching again", 30000), "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, SYNCED), 1, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, kubeconfig_client_certificate_data)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s = sx_test_prepare();
	char *ca = b64_file(sx_fakeapi_cert(f, "ca.crt"));
	char *crt = b64_file(sx_fakeapi_cert(f, "client.crt"));
	char *key = b64_file(sx_fakeapi_cert(f, "client.key"));
	char *cluster = malloc(20000), *user = malloc(20000);
	json_t *r;

	cr_assert(cluster && user);
	snprintf(cluster, 20000, "    certificate-authority-data: %s\n", ca);
	snprintf(user, 20000, "    client-certificate-data: %s\n    client-key-data: %s\n", crt,
	         key);
	write_kubeconfig(s, f, cluster, user);
	free(ca);
	free(crt);
	free(key);
	free(cluster);
	free(user);
	start_sx(s, "\t\tkubeconfig %DIR%/kubeconfig\n");
	wait_synced(s, f);
	expect(s, "hdls1-0.hdls1.testns.svc.cluster.local", A,
	       "hdls1-0." HDLS1 "\t5\tIN\tA\t10.244.1.30");
	r = last_request(f, "/apis/discovery.k8s.io/v1/endpointslices", 0);
	cr_expect(json_is_true(json_object_get(r, "client_cert")));
	expect_str_field(r, "client_cert_cn", "sextant-test");
	json_decref(r);
	cr_expect_eq(log_count(s, "[ERROR]"), 0, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, in_cluster_service_account)
{
	struct sx_fakeapi_opts o = { .tls = true, .token = "sa-tok", .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s = sx_test_prepare();
	char sa[400], path[500], port[16], cmd[1200], want[200];
	json_t *r;

	snprintf(sa, sizeof(sa), "%s/sa", sx_test_dir(s));
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s' '%s/ca.crt'", sa,
	         sx_fakeapi_cert(f, "ca.crt"), sa);
	cr_assert_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/token", sa);
	write_file(path, "sa-tok");
	snprintf(port, sizeof(port), "%u", sx_fakeapi_port(f));
	/* The harness runs sextant with this process's environment. */
	setenv("SEXTANT_SA_DIR", sa, 1);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	start_sx(s, "");
	wait_synced(s, f);
	snprintf(want, sizeof(want), "watching the API server at https://127.0.0.1:%s", port);
	cr_expect(strstr(sx_test_log(s), want), "%s", sx_test_log(s));
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	r = last_request(f, "/api/v1/namespaces", 0);
	expect_str_field(r, "auth", "bearer");
	cr_expect(json_is_true(json_object_get(r, "token_ok")));
	json_decref(r);
	cr_expect_eq(log_count(s, "[ERROR]"), 0, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* ---- 6. before the first sync ---- */

Test(k8s_api, unreachable_api_server_then_ready)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f;
	struct sx_test_server *s;
	char conn[1500], *body;
	uint16_t rport;

	/* Nothing listens on the port yet: the certificates exist, the server does not. */
	o.port = sx_up_free_port();
	f = sx_fakeapi_new(&o);
	endpoint_conn(conn, sizeof(conn), f);
	s = start_sx(NULL, conn);
	rport = ready_port(s);
	cr_assert(sx_test_wait_log(s, "Failed to watch", 20000), "%s", sx_test_log(s));

	/* Not loaded yet: a name that may exist is SERVFAIL, with the SOA; the apex still is. */
	for (int i = 0; i < 2; i++) {
		int fl = i ? SX_Q_TCP : 0;

		expect_neg_f(s, "nope.testns.svc.cluster.local", A, fl, SERVFAIL, ZONE_SOA);
		expect_neg_f(s, "svc1.testns.svc.cluster.local", A, fl, SERVFAIL, ZONE_SOA);
		expect_neg_f(s, "1.1.96.10.in-addr.arpa", PTR, fl, SERVFAIL, REV4_SOA);
	}
	expect_nodata(s, "cluster.local", A);
	expect(s, "dns-version.cluster.local", TXT,
	       "dns-version.cluster.local.\t28800\tIN\tTXT\t\"1.1.0\"");
	body = wait_ready(rport, 503);
	/* The plugin's name, then why: every kind fails to connect. */
	cr_expect(strncmp(body, "kubernetes\nkubernetes: Failed to watch *v1.Service: ", 52) == 0,
	          "%s", body);
	cr_expect(strstr(body, "Couldn't connect to server; Failed to watch *v1.EndpointSlice: "),
	          "%s", body);
	free(body);
	cr_expect(sx_test_wait_log(s, "Plugins not ready: \"kubernetes\" (kubernetes: ", 30000),
	          "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, SYNCED), 0);

	/* The API server comes up: the plugin's retries find it. */
	sx_fakeapi_launch(f, &o);
	body = wait_ready(rport, 200);
	cr_expect_str_eq(body, "OK");
	free(body);
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	expect_nx(s, "nope.testns.svc.cluster.local", A);
	cr_expect_eq(log_count(s, BASIC_SYNCED), 1, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* Where @needle is in the server's log, -1 when it is not. */
static long
log_at(struct sx_test_server *s, const char *needle)
{
	const char *log = sx_test_log(s), *p = strstr(log, needle);

	return p ? p - log : -1;
}

/* basic.json, whose Services LIST never answers; a server with @option in its block. */
static struct sx_test_server *
start_hung_list(struct sx_fakeapi **fp, const char *option)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	char conn[1600];

	*fp = sx_fakeapi_start(&o);
	sx_fakeapi_do(*fp, "POST", "/_fake/fail",
	              "{\"path\":\"/api/v1/services\",\"watch\":false,\"mode\":\"hang\","
	              "\"count\":-1}");
	endpoint_conn(conn, sizeof(conn), *fp);
	strcat(conn, option);
	return start_sx(NULL, conn);
}

/* A LIST that never answers: the server waits startup_timeout, says so, then serves. */
Test(k8s_api, startup_timeout_serves_after_a_list_that_never_answers)
{
	struct sx_fakeapi *f;
	struct sx_test_server *s;
	double t0, waited;
	long wait_at, late_at, banner_at;

	t0 = now_ms();
	s = start_hung_list(&f, "\t\tstartup_timeout 1s\n");
	waited = now_ms() - t0;

	/* The banner (the port, which the harness waits for) only once the second is over. */
	cr_expect_geq(waited, 1000.0, "served after %.0f ms:\n%s", waited, sx_test_log(s));
	wait_at = log_at(s, "[INFO] plugin/kubernetes: waiting for Kubernetes API before starting "
	                    "server\n");
	late_at = log_at(s, "[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes "
	                    "API\n");
	banner_at = log_at(s, "sextant-");
	cr_expect(wait_at >= 0 && late_at > wait_at && banner_at > late_at, "%s", sx_test_log(s));
	/* It serves what it has: services are not loaded, so a service is SERVFAIL. */
	expect_neg_f(s, "svc1.testns.svc.cluster.local", A, 0, SERVFAIL, ZONE_SOA);
	expect_nodata(s, "cluster.local", A);

	/* And keeps syncing: once the LIST answers, so does the service. */
	sx_fakeapi_do(f, "DELETE", "/_fake/fail", NULL);
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches", "{\"hangs\":true}");
	wait_synced(s, f);
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* A working API: the first sync comes before the banner, so the first query is answered from it. */
Test(k8s_api, startup_waits_for_the_first_sync)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s;
	char conn[1500];
	long synced_at, banner_at;

	endpoint_conn(conn, sizeof(conn), f);
	s = start_sx(NULL, conn);
	synced_at = log_at(s, SYNCED);
	banner_at = log_at(s, "sextant-");
	cr_expect(synced_at >= 0 && banner_at > synced_at, "%s", sx_test_log(s));
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	expect_nx(s, "nope.testns.svc.cluster.local", A);
	cr_expect_eq(log_count(s, "starting server with unsynced"), 0, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* startup_timeout 0: no wait, the banner at once, names not loaded yet are SERVFAIL. */
Test(k8s_api, startup_timeout_zero_serves_at_once)
{
	struct sx_fakeapi *f;
	struct sx_test_server *s = start_hung_list(&f, "\t\tstartup_timeout 0s\n");

	expect_neg_f(s, "svc1.testns.svc.cluster.local", A, 0, SERVFAIL, ZONE_SOA);
	cr_expect_eq(log_count(s, "waiting for Kubernetes API"), 0, "%s", sx_test_log(s));
	sx_fakeapi_do(f, "POST", "/_fake/drop-watches", "{\"hangs\":true}");
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

Test(k8s_api, partly_synced_serves_what_it_has)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s;
	char conn[1500], *body;
	uint16_t rport;

	/* EndpointSlices cannot be listed: Services and Namespaces can. */
	sx_fakeapi_do(f, "POST", "/_fake/fail",
	              "{\"path\":\"/apis/discovery.k8s.io\",\"status\":500,\"count\":-1}");
	endpoint_conn(conn, sizeof(conn), f);
	s = start_sx(NULL, conn);
	rport = ready_port(s);
	wait_answer(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	cr_expect(sx_test_wait_log(s, "Failed to watch *v1.EndpointSlice", 20000), "%s",
	          sx_test_log(s));
	expect_neg_f(s, "hdls1.testns.svc.cluster.local", A, 0, SERVFAIL, ZONE_SOA);
	expect_neg_f(s, "ep1b.svc1.testns.svc.cluster.local", A, 0, SERVFAIL, ZONE_SOA);
	expect_neg_f(s, "nope.testns.svc.cluster.local", A, 0, SERVFAIL, ZONE_SOA);
	body = wait_ready(rport, 503);
	cr_expect_str_eq(
	        body, "kubernetes\nkubernetes: Failed to watch *v1.EndpointSlice: failed to list "
	              "*v1.EndpointSlice: cannot discover the versions of discovery.k8s.io: "
	              "injected failure (fakeapi) (HTTP 500 InternalError)");
	free(body);

	sx_fakeapi_do(f, "DELETE", "/_fake/fail", NULL);
	free(wait_ready(rport, 200));
	expect(s, "hdls1.testns.svc.cluster.local", A,
	       HDLS1 "\t5\tIN\tA\t10.244.1.30\n" HDLS1 "\t5\tIN\tA\t10.244.1.32");
	expect_nx(s, "nope.testns.svc.cluster.local", A);
	cr_expect_eq(log_count(s, BASIC_SYNCED), 1, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* An account that may not list EndpointSlices: the 403 in the log and on /ready, not SERVFAIL. */
Test(k8s_api, forbidden_slices_say_why_on_ready)
{
	static const char forbidden[] =
	        "endpointslices.discovery.k8s.io is forbidden: User "
	        "\\\"system:serviceaccount:kube-system:nobody\\\" cannot list resource "
	        "\\\"endpointslices\\\" in API group \\\"discovery.k8s.io\\\" at the cluster scope";
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	static const char want[] =
	        "kubernetes\nkubernetes: Failed to watch *v1.EndpointSlice: failed "
	        "to list *v1.EndpointSlice: endpointslices.discovery.k8s.io is "
	        "forbidden: User \"system:serviceaccount:kube-system:nobody\"";
	char conn[1500], rule[1024], *body;
	struct sx_test_server *s;
	uint16_t rport;

	snprintf(rule, sizeof(rule),
	         "{\"path\":\"/apis/discovery.k8s.io/v1/endpointslices\",\"status\":403,"
	         "\"message\":\"%s\",\"count\":-1}",
	         forbidden);
	sx_fakeapi_do(f, "POST", "/_fake/fail", rule);
	endpoint_conn(conn, sizeof(conn), f);
	s = start_sx(NULL, conn);
	rport = ready_port(s);
	wait_answer(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	cr_assert(sx_test_wait_log(
	                  s,
	                  "[ERROR] plugin/kubernetes: Failed to watch *v1.EndpointSlice: "
	                  "failed to list *v1.EndpointSlice: endpointslices.discovery.k8s.io "
	                  "is forbidden: User \"system:serviceaccount:kube-system:nobody\" "
	                  "cannot list resource \"endpointslices\" in API group "
	                  "\"discovery.k8s.io\" at the cluster scope (HTTP 403 Forbidden)",
	                  20000),
	          "%s", sx_test_log(s));
	body = wait_ready(rport, 503);
	cr_expect(strncmp(body, want, strlen(want)) == 0, "%s", body);
	free(body);
	cr_expect(sx_test_wait_log(s,
	                           "[INFO] plugin/ready: Plugins not ready: \"kubernetes\" "
	                           "(kubernetes: Failed to watch *v1.EndpointSlice: ",
	                           5000),
	          "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "[ERROR] plugin/kubernetes: Failed to watch *v1.EndpointSlice"),
	             1, "logged once:\n%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}

/* SEXTANT_K8S_WATCH_TIMEOUT and SEXTANT_K8S_HTTP_VERSION; a bad value stops the start. */
Test(k8s_api, environment_sets_the_watch_timeout_and_http_version)
{
	struct sx_fakeapi_opts o = { .tls = true, .require_client_cert = true, .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct sx_test_server *s;
	char conn[1500], *out = NULL;
	json_t *w;

	endpoint_conn(conn, sizeof(conn), f);
	setenv("SEXTANT_K8S_WATCH_TIMEOUT", "7", 1);
	setenv("SEXTANT_K8S_HTTP_VERSION", "2", 1);
	s = start_sx(NULL, conn);
	wait_synced(s, f);
	w = last_request(f, "/api/v1/services", 1);
	expect_str_field(json_object_get(w, "query"), "timeoutSeconds", "7");
	json_decref(w);
	/* HTTP/2 is asked for; the fake only speaks HTTP/1.1 (ALPN), which the log says. */
	cr_expect_eq(log_count(s, "[INFO] plugin/kubernetes: the API server answers over HTTP/1.1"),
	             1, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);

	s = sx_test_prepare();
	setenv("SEXTANT_K8S_WATCH_TIMEOUT", "0", 1);
	sx_test_write(s, "Corefile",
	              "cluster.local {\n\tkubernetes {\n\t\tendpoint "
	              "http://127.0.0.1:1\n\t}\n}\n");
	cr_expect_neq(sx_test_run(&out, "-conf %s/Corefile -dns.port 0", sx_test_dir(s)), 0);
	cr_expect(strstr(out, "SEXTANT_K8S_WATCH_TIMEOUT must be 1 to 3600 seconds, not \"0\""),
	          "%s", out);
	free(out);
	unsetenv("SEXTANT_K8S_WATCH_TIMEOUT");
	setenv("SEXTANT_K8S_HTTP_VERSION", "3", 1);
	cr_expect_neq(sx_test_run(&out, "-conf %s/Corefile -dns.port 0", sx_test_dir(s)), 0);
	cr_expect(strstr(out, "SEXTANT_K8S_HTTP_VERSION must be 1.1 or 2, not \"3\""), "%s", out);
	free(out);
	sx_test_stop(s);
	sx_fakeapi_stop(f);
}

/* ---- 8. objects the plugin cannot use ---- */

static const char bad_objects[] =
        "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":["
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"bad\","
        "\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":\"garbage\",\"ports\":[{\"port\":80}]}},"
        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"
        "\"name\":\"svc1-bad\",\"namespace\":\"testns\",\"labels\":{\"kubernetes.io/service-name\":"
        "\"svc1\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.1.999\"],"
        "\"conditions\":{\"ready\":true}}],\"ports\":[{\"name\":\"http\",\"port\":8080}]}]}";

Test(k8s_api, malformed_objects_are_logged_and_skipped)
{
	struct sx_test_server *s = sx_test_prepare();
	char path[400], conn[1500];
	struct sx_fakeapi_opts o = { .tls = true,
		                     .require_client_cert = true,
		                     .load = "basic",
		                     .extra = { "--load", path } };
	struct sx_fakeapi *f;

	snprintf(path, sizeof(path), "%s/bad.json", sx_test_dir(s));
	sx_test_write(s, "bad.json", bad_objects);
	f = sx_fakeapi_start(&o);
	endpoint_conn(conn, sizeof(conn), f);
	start_sx(s, conn);
	wait_synced(s, f);
	/* In the first list: skipped, and the rest loads. */
	cr_expect_eq(log_count(s, BASIC_SYNCED), 1, "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "[WARNING] plugin/kubernetes: *v1.Service testns/bad skipped: "),
	             1, "%s", sx_test_log(s));
	cr_expect(strstr(sx_test_log(s), "invalid cluster IP \"garbage\""), "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "[WARNING] plugin/kubernetes: *v1.EndpointSlice testns/svc1-bad "
	                          "skipped: "),
	             1, "%s", sx_test_log(s));
	expect_nx(s, "bad.testns.svc.cluster.local", A);
	expect(s, "svc1.testns.svc.cluster.local", A, SVC1 "\t5\tIN\tA\t10.96.1.1");
	expect(s, "ep1b.svc1.testns.svc.cluster.local", A, "ep1b." SVC1 "\t5\tIN\tA\t10.244.1.11");

	/* As watch events: the same, and the watch goes on. */
	put_svc(f, "bad2", "300.1.2.3", "http", 80);
	put_svc(f, "good2", "10.96.6.6", "http", 80);
	wait_answer(s, "good2.testns.svc.cluster.local", A,
	            "good2.testns.svc.cluster.local.\t5\tIN\tA\t10.96.6.6");
	expect_nx(s, "bad2.testns.svc.cluster.local", A);
	cr_expect_eq(log_count(s, "*v1.Service testns/bad2 skipped: "), 1, "%s", sx_test_log(s));
	cr_expect_eq(log_count(s, "Failed to watch"), 0, "%s", sx_test_log(s));
	cr_expect_eq(sx_test_stop(s), 0);
	sx_fakeapi_stop(f);
}
