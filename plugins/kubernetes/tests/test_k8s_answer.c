/* test_k8s_answer.c -- every kind of kubernetes answer, built from a fixture cluster. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <ldns/ldns.h>

#include <sextant/dname.h>
#include <sextant/testing.h>

#include "../zone.h"

/* The fixture: tests/data/cluster.json (see the names used below). */
#define FIXTURE "/plugins/kubernetes/tests/data/cluster.json"

static struct k8s K;

struct opts {
	unsigned ttl;
	enum k8s_pods pods;
	bool pod_names, ignore_empty, noendpoints, unsynced;
	const char *fall; /* NULL: no fallthrough; "": every zone; else one zone */
	const char *only; /* `namespaces` */
};

static void
zones_set(struct sx_zones *zs, const char *const *names)
{
	size_t n = 0;

	while (names[n] != NULL) {
		n++;
	}
	zs->n = n;
	zs->z = calloc(n, sizeof(*zs->z));
	for (size_t i = 0; i < n; i++) {
		int len = sx_dname_from_str(zs->z[i].wire, names[i]);
		cr_assert(len > 0);
		zs->z[i].len = (uint8_t)len;
		zs->z[i].name = strdup(names[i]);
	}
}

static json_t *
fixture(void)
{
	const char *root = getenv("SX_SOURCE_ROOT");
	char path[4096];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), "%s" FIXTURE, root ? root : ".");
	j = json_load_file(path, 0, &e);
	cr_assert_not_null(j, "%s: %s", path, e.text);
	return j;
}

static enum k8s_kind
kind_of(json_t *o)
{
	const char *k = json_string_value(json_object_get(o, "kind"));

	if (strcmp(k, "Namespace") == 0) {
		return K8S_NAMESPACE;
	}
	if (strcmp(k, "Service") == 0) {
		return K8S_SERVICE;
	}
	if (strcmp(k, "EndpointSlice") == 0) {
		return K8S_SLICE;
	}
	cr_assert_str_eq(k, "Pod");
	return K8S_POD;
}

/* A plugin instance as setup and start leave it, fed from the fixture. */
static void
start(struct opts o)
{
	static const char *const zones[] = { "cluster.local.", "in-addr.arpa.", "ip6.arpa.", NULL };
	struct k8s_store_opts so = { .endpoint_pod_names = o.pod_names };
	static char *only[1];
	json_t *root = fixture(), *items = json_object_get(root, "items"), *it;
	size_t i;

	memset(&K, 0, sizeof(K));
	zones_set(&K.zones, zones);
	K.primary = 0;
	if (o.fall != NULL) {
		const char *f[] = { o.fall[0] ? o.fall : "cluster.local.", NULL, NULL, NULL };
		if (!o.fall[0]) {
			f[1] = "in-addr.arpa.";
			f[2] = "ip6.arpa.";
		}
		zones_set(&K.fall, f);
	}
	K.ttl = o.ttl ? o.ttl : 5;
	K.pods = o.pods;
	K.endpoint_pod_names = o.pod_names;
	K.ignore_empty = o.ignore_empty;
	K.noendpoints = o.noendpoints;
	if (o.only != NULL) {
		only[0] = (char *)o.only;
		K.namespaces = so.namespaces = only;
		K.nnamespaces = so.nnamespaces = 1;
	}
	K.nlocal = 1;
	K.local[0].fam = 4;
	memcpy(K.local[0].a, "\x0a\x00\x00\x35", 4); /* 10.0.0.53 */
	so.need[K8S_SERVICE] = so.need[K8S_NAMESPACE] = true;
	so.need[K8S_SLICE] = !o.noendpoints;
	so.pod_objects = o.pods == K8S_PODS_VERIFIED;
	so.need[K8S_POD] = so.pod_objects;
	cr_assert_eq(k8s_store_new(&K.st, &so), 0);
	for (int k = 0; k < K8S_NKINDS; k++) {
		k8s_store_relist_begin(K.st, (enum k8s_kind)k);
		json_array_foreach(items, i, it)
		{
			char err[256] = "", *text;
			if (kind_of(it) == (enum k8s_kind)k) {
				text = json_dumps(it, JSON_COMPACT);
				cr_assert_eq(k8s_store_apply(K.st, k, K8S_ADDED, text, strlen(text),
				                             err, sizeof(err)),
				             0, "%s", err);
				free(text);
			}
		}
		if (!o.unsynced) {
			k8s_store_relist_end(K.st, (enum k8s_kind)k);
		}
	}
	json_decref(root);
	K.st->serial = 1234;
}

static void
init(void)
{
	rcu_register_thread();
}

static void
fini(void)
{
	k8s_store_free(K.st);
	sx_zones_fini(&K.zones);
	sx_zones_fini(&K.fall);
	rcu_unregister_thread();
}

TestSuite(answer, .init = init, .fini = fini);

struct reply {
	enum sx_verdict v;
	ldns_pkt *p;
};

/* Ask the plugin @name/@type the way a worker does, and decode its reply with ldns. */
static struct reply
ask_class(const char *name, ldns_rr_type type, ldns_rr_class cls)
{
	ldns_pkt *qp = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, cls, LDNS_RD);
	static uint8_t buf[65535];
	uint8_t lname[SX_DNAME_MAX];
	struct reply r = { .p = NULL };
	struct sx_query q;
	struct sx_msg m;
	uint8_t *w;
	size_t wl, n;

	cr_assert_not_null(qp);
	ldns_pkt_set_id(qp, 4242);
	cr_assert_eq(ldns_pkt2wire(&w, qp, &wl), LDNS_STATUS_OK);
	memset(&q, 0, sizeof(q));
	cr_assert_eq(sx_test_parse_query(w, wl, &q, lname), 0);
	q.proto = SX_PROTO_TCP;
	sx_test_msg_init(&m, buf, sizeof(buf), sx_test_reply_limit(&q), &q);
	rcu_read_lock();
	r.v = k8s_answer(&K, &q, &m, NULL);
	rcu_read_unlock();
	n = sx_test_msg_finish(&m, &q);
	cr_assert_eq(ldns_wire2pkt(&r.p, buf, n), LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt_id(r.p), 4242);
	free(w);
	ldns_pkt_free(qp);
	return r;
}

static struct reply
ask(const char *name, ldns_rr_type type)
{
	return ask_class(name, type, LDNS_RR_CLASS_IN);
}

/* One record in presentation form, single-spaced, no final newline. */
static char *
rr_str(const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr), *o = s;

	for (char *p = s; *p; p++) {
		if (*p == '\n') {
			continue;
		}
		*o++ = *p == '\t' ? ' ' : *p;
	}
	*o = '\0';
	return s;
}

/* Section @sec of @p holds exactly the records given (in order), NULL-terminated. */
static void
section_is(const ldns_pkt *p, ldns_pkt_section sec, ...)
{
	ldns_rr_list *l = ldns_pkt_get_section_clone(p, sec);
	const char *want;
	size_t i = 0;
	va_list ap;

	va_start(ap, sec);
	while ((want = va_arg(ap, const char *)) != NULL) {
		char *got;
		cr_assert(i < ldns_rr_list_rr_count(l), "missing record %zu: %s", i, want);
		got = rr_str(ldns_rr_list_rr(l, i));
		cr_assert_str_eq(got, want, "record %zu", i);
		free(got);
		i++;
	}
	va_end(ap);
	if (i < ldns_rr_list_rr_count(l)) {
		char *extra = rr_str(ldns_rr_list_rr(l, i));
		cr_assert_fail("unexpected record %zu: %s", i, extra);
	}
	ldns_rr_list_deep_free(l);
}

#define SOA                                                                        \
	"cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. " \
	"1234 7200 1800 86400 5"
#define REV_SOA                                                                 \
	"in-addr.arpa. 5 IN SOA ns.dns.in-addr.arpa. hostmaster.in-addr.arpa. " \
	"1234 7200 1800 86400 5"

/* A positive answer: NOERROR, aa, qr, rd copied, no ra, no authority. */
static void
positive(struct reply r)
{
	cr_assert_eq(r.v, SX_DONE);
	cr_assert_eq(ldns_pkt_get_rcode(r.p), LDNS_RCODE_NOERROR);
	cr_assert(ldns_pkt_aa(r.p));
	cr_assert(ldns_pkt_qr(r.p));
	cr_assert(ldns_pkt_rd(r.p));
	cr_assert_not(ldns_pkt_ra(r.p));
	cr_assert_not(ldns_pkt_tc(r.p));
	section_is(r.p, LDNS_SECTION_AUTHORITY, NULL);
}

/* A negative answer with @rcode: nothing in answer, the zone's SOA in authority, aa. */
static void
negative(struct reply r, ldns_pkt_rcode rcode, const char *soa)
{
	cr_assert_eq(r.v, SX_DONE);
	cr_assert_eq(ldns_pkt_get_rcode(r.p), rcode, "rcode %d", ldns_pkt_get_rcode(r.p));
	cr_assert(ldns_pkt_aa(r.p));
	section_is(r.p, LDNS_SECTION_ANSWER, NULL);
	section_is(r.p, LDNS_SECTION_AUTHORITY, soa, NULL);
	section_is(r.p, LDNS_SECTION_ADDITIONAL, NULL);
}

static void
nodata(const char *name, ldns_rr_type type)
{
	struct reply r = ask(name, type);

	negative(r, LDNS_RCODE_NOERROR, SOA);
	ldns_pkt_free(r.p);
}

static void
nxdomain(const char *name, ldns_rr_type type)
{
	struct reply r = ask(name, type);

	negative(r, LDNS_RCODE_NXDOMAIN, SOA);
	ldns_pkt_free(r.p);
}

/* @name/@type answers exactly the records given, nothing in additional. */
static void
answers(const char *name, ldns_rr_type type, ...)
{
	struct reply r = ask(name, type);
	ldns_rr_list *l = ldns_pkt_answer(r.p);
	const char *want;
	size_t i = 0;
	va_list ap;

	positive(r);
	va_start(ap, type);
	while ((want = va_arg(ap, const char *)) != NULL) {
		char *got;
		cr_assert(i < ldns_rr_list_rr_count(l), "%s: missing %s", name, want);
		got = rr_str(ldns_rr_list_rr(l, i++));
		cr_assert_str_eq(got, want);
		free(got);
	}
	va_end(ap);
	cr_assert_eq(i, ldns_rr_list_rr_count(l), "%s: %zu records, not %zu", name,
	             ldns_rr_list_rr_count(l), i);
	section_is(r.p, LDNS_SECTION_ADDITIONAL, NULL);
	ldns_pkt_free(r.p);
}

Test(answer, clusterip_a_and_family_nodata)
{
	start((struct opts){ 0 });
	answers("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1", NULL);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA);
	answers("svc-v6.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA,
	        "svc-v6.testns.svc.cluster.local. 5 IN AAAA fd00:10:96::1:6", NULL);
	nodata("svc-v6.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	/* No endpoints yet: a ClusterIP service still answers. */
	answers("svc-empty.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc-empty.testns.svc.cluster.local. 5 IN A 10.96.1.5", NULL);
}

Test(answer, dual_stack)
{
	start((struct opts){ 0 });
	answers("svc-dual.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc-dual.testns.svc.cluster.local. 5 IN A 10.96.1.2", NULL);
	answers("svc-dual.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA,
	        "svc-dual.testns.svc.cluster.local. 5 IN AAAA fd00:10:96::1:2", NULL);
}

Test(answer, owner_echoes_the_query_case)
{
	start((struct opts){ 0 });
	answers("SVC1.TestNS.svc.Cluster.Local.", LDNS_RR_TYPE_A,
	        "SVC1.TestNS.svc.Cluster.Local. 5 IN A 10.96.1.1", NULL);
}

Test(answer, ttl_option)
{
	start((struct opts){ .ttl = 30 });
	answers("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc1.testns.svc.cluster.local. 30 IN A 10.96.1.1", NULL);
}

Test(answer, headless)
{
	start((struct opts){ 0 });
	/* Ready endpoints only (10.244.1.31 is not). */
	answers("hdls1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.30",
	        "hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.32", NULL);
	nodata("hdls1.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA);
	/* Over all slices, each address once. */
	answers("hdls-dup.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "hdls-dup.testns.svc.cluster.local. 5 IN A 10.244.2.1",
	        "hdls-dup.testns.svc.cluster.local. 5 IN A 10.244.2.2", NULL);
	answers("hdls-dup.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA,
	        "hdls-dup.testns.svc.cluster.local. 5 IN AAAA fd00::2:1", NULL);
	answers("hdls-v6.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA,
	        "hdls-v6.testns.svc.cluster.local. 5 IN AAAA fd00:10:244:3::1", NULL);
	nodata("hdls-v6.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	/* No ready endpoint: the name does not exist. */
	nxdomain("hdls-unready.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("hdls-unready.testns.svc.cluster.local.", LDNS_RR_TYPE_SRV);
	answers("hdls-noports.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "hdls-noports.testns.svc.cluster.local. 5 IN A 10.244.4.1", NULL);
}

Test(answer, endpoint_names)
{
	start((struct opts){ 0 });
	answers("ep1b.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "ep1b.svc1.testns.svc.cluster.local. 5 IN A 10.244.1.11", NULL);
	answers("10-244-1-10.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "10-244-1-10.svc1.testns.svc.cluster.local. 5 IN A 10.244.1.10", NULL);
	answers("hdls1-0.hdls1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "hdls1-0.hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.30", NULL);
	answers("10-244-1-32.hdls1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "10-244-1-32.hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.32", NULL);
	answers("fd00-10-244-1--20.svc-dual.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA,
	        "fd00-10-244-1--20.svc-dual.testns.svc.cluster.local. 5 IN AAAA fd00:10:244:1::20",
	        NULL);
	/* An endpoint with a hostname is known by it only; other spellings are not names. */
	nxdomain("10-244-1-11.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("10-244-1-12.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A); /* not ready */
	nxdomain("010-244-1-10.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("pod-svc1-11.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("nope.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nodata("ep1b.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA);
	/* A ClusterIP service without ports does not exist for CoreDNS, its endpoints do. */
	nxdomain("svc-noports.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	answers("10-244-1-40.svc-noports.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "10-244-1-40.svc-noports.testns.svc.cluster.local. 5 IN A 10.244.1.40", NULL);
}

Test(answer, endpoint_pod_names)
{
	start((struct opts){ .pod_names = true });
	answers("pod-svc1-11.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "pod-svc1-11.svc1.testns.svc.cluster.local. 5 IN A 10.244.1.10", NULL);
	nxdomain("10-244-1-10.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	/* A hostname still wins over the pod name. */
	answers("ep1b.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "ep1b.svc1.testns.svc.cluster.local. 5 IN A 10.244.1.11", NULL);
}

/* SRV answer and additional section. */
static void
srv_is(const char *name, const char *const *ans, const char *const *add)
{
	struct reply r = ask(name, LDNS_RR_TYPE_SRV);
	ldns_rr_list *a = ldns_pkt_answer(r.p), *x = ldns_pkt_additional(r.p);
	size_t i;

	positive(r);
	for (i = 0; ans[i] != NULL; i++) {
		char *got;
		cr_assert(i < ldns_rr_list_rr_count(a), "%s: missing %s", name, ans[i]);
		got = rr_str(ldns_rr_list_rr(a, i));
		cr_assert_str_eq(got, ans[i]);
		free(got);
	}
	cr_assert_eq(i, ldns_rr_list_rr_count(a), "%s: %zu answers", name,
	             ldns_rr_list_rr_count(a));
	for (i = 0; add[i] != NULL; i++) {
		char *got;
		cr_assert(i < ldns_rr_list_rr_count(x), "%s: missing %s", name, add[i]);
		got = rr_str(ldns_rr_list_rr(x, i));
		cr_assert_str_eq(got, add[i]);
		free(got);
	}
	cr_assert_eq(i, ldns_rr_list_rr_count(x), "%s: %zu additional", name,
	             ldns_rr_list_rr_count(x));
	ldns_pkt_free(r.p);
}

#define L(...)                    \
	(const char *const[])     \
	{                         \
		__VA_ARGS__, NULL \
	}
#define NONE                  \
	(const char *const[]) \
	{                     \
		NULL          \
	}

Test(answer, srv_clusterip)
{
	start((struct opts){ 0 });
	srv_is("_http._tcp.svc1.testns.svc.cluster.local.",
	       L("_http._tcp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 "
	         "svc1.testns.svc.cluster.local."),
	       L("svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1"));
	/* Names compare without case; the target keeps the query's zone spelling. */
	srv_is("_DNS._UDP.kube-dns.kube-system.svc.Cluster.Local.",
	       L("_DNS._UDP.kube-dns.kube-system.svc.Cluster.Local. 5 IN SRV 0 100 53 "
	         "kube-dns.kube-system.svc.Cluster.Local."),
	       L("kube-dns.kube-system.svc.Cluster.Local. 5 IN A 10.96.0.10"));
	/* All ports: three entries, weight 33; 53/UDP and 53/TCP make one record. */
	srv_is("kube-dns.kube-system.svc.cluster.local.",
	       L("kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 33 53 "
	         "kube-dns.kube-system.svc.cluster.local.",
	         "kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 33 9153 "
	         "kube-dns.kube-system.svc.cluster.local."),
	       L("kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"));
	/* A dual-stack target comes with both its addresses. */
	srv_is("_http._tcp.svc-dual.testns.svc.cluster.local.",
	       L("_http._tcp.svc-dual.testns.svc.cluster.local. 5 IN SRV 0 50 80 "
	         "svc-dual.testns.svc.cluster.local."),
	       L("svc-dual.testns.svc.cluster.local. 5 IN A 10.96.1.2",
	         "svc-dual.testns.svc.cluster.local. 5 IN AAAA fd00:10:96::1:2"));
	nxdomain("_dns._tcp.kube-dns.kube-system.svc.cluster.local.", LDNS_RR_TYPE_SRV);
	nxdomain("_nope._tcp.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_SRV);
	/* A port name alone matches every protocol. */
	srv_is("_c-port._.svc1.testns.svc.cluster.local.",
	       L("_c-port._.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 1234 "
	         "svc1.testns.svc.cluster.local."),
	       L("svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1"));
}

Test(answer, srv_headless)
{
	start((struct opts){ 0 });
	srv_is("_http._tcp.hdls1.testns.svc.cluster.local.",
	       L("_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 50 80 "
	         "hdls1-0.hdls1.testns.svc.cluster.local.",
	         "_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 50 80 "
	         "10-244-1-32.hdls1.testns.svc.cluster.local."),
	       L("hdls1-0.hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.30",
	         "10-244-1-32.hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.32"));
	/* Four entries (weight 25); a repeated address and a repeated name drop out. */
	srv_is("hdls-dup.testns.svc.cluster.local.",
	       L("hdls-dup.testns.svc.cluster.local. 5 IN SRV 0 25 80 "
	         "web-0.hdls-dup.testns.svc.cluster.local.",
	         "hdls-dup.testns.svc.cluster.local. 5 IN SRV 0 25 80 "
	         "10-244-2-2.hdls-dup.testns.svc.cluster.local."),
	       L("web-0.hdls-dup.testns.svc.cluster.local. 5 IN A 10.244.2.1",
	         "10-244-2-2.hdls-dup.testns.svc.cluster.local. 5 IN A 10.244.2.2",
	         "web-0.hdls-dup.testns.svc.cluster.local. 5 IN AAAA fd00::2:1"));
	srv_is("hdls-multi.testns.svc.cluster.local.",
	       L("hdls-multi.testns.svc.cluster.local. 5 IN SRV 0 16 80 "
	         "10-244-6-1.hdls-multi.testns.svc.cluster.local.",
	         "hdls-multi.testns.svc.cluster.local. 5 IN SRV 0 16 443 "
	         "10-244-6-1.hdls-multi.testns.svc.cluster.local.",
	         "hdls-multi.testns.svc.cluster.local. 5 IN SRV 0 16 80 "
	         "10-244-6-2.hdls-multi.testns.svc.cluster.local.",
	         "hdls-multi.testns.svc.cluster.local. 5 IN SRV 0 16 443 "
	         "10-244-6-2.hdls-multi.testns.svc.cluster.local.",
	         "hdls-multi.testns.svc.cluster.local. 5 IN SRV 0 16 80 "
	         "10-244-6-3.hdls-multi.testns.svc.cluster.local.",
	         "hdls-multi.testns.svc.cluster.local. 5 IN SRV 0 16 443 "
	         "10-244-6-3.hdls-multi.testns.svc.cluster.local."),
	       L("10-244-6-1.hdls-multi.testns.svc.cluster.local. 5 IN A 10.244.6.1",
	         "10-244-6-2.hdls-multi.testns.svc.cluster.local. 5 IN A 10.244.6.2",
	         "10-244-6-3.hdls-multi.testns.svc.cluster.local. 5 IN A 10.244.6.3"));
	/* An endpoint name asks for its own ports. */
	srv_is("ep1b.svc1.testns.svc.cluster.local.",
	       L("ep1b.svc1.testns.svc.cluster.local. 5 IN SRV 0 50 8080 "
	         "ep1b.svc1.testns.svc.cluster.local.",
	         "ep1b.svc1.testns.svc.cluster.local. 5 IN SRV 0 50 1234 "
	         "ep1b.svc1.testns.svc.cluster.local."),
	       L("ep1b.svc1.testns.svc.cluster.local. 5 IN A 10.244.1.11"));
	/* Portless endpoints exist but have no SRV. */
	nodata("hdls-noports.testns.svc.cluster.local.", LDNS_RR_TYPE_SRV);
}

Test(answer, external_name)
{
	start((struct opts){ 0 });
	answers("ext-svc.testns.svc.cluster.local.", LDNS_RR_TYPE_CNAME,
	        "ext-svc.testns.svc.cluster.local. 5 IN CNAME ext.example.net.", NULL);
	/* Out of the zone, with no way to look the target up: the CNAME alone. */
	answers("ext-svc.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "ext-svc.testns.svc.cluster.local. 5 IN CNAME ext.example.net.", NULL);
	answers("ext-svc.testns.svc.cluster.local.", LDNS_RR_TYPE_TXT,
	        "ext-svc.testns.svc.cluster.local. 5 IN CNAME ext.example.net.", NULL);
	/* In the zone: followed in the same reply. */
	answers("ext-in.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "ext-in.testns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.",
	        "svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1", NULL);
	answers("ext-chain.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "ext-chain.testns.svc.cluster.local. 5 IN CNAME ext-in.testns.svc.cluster.local.",
	        "ext-in.testns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.",
	        "svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1", NULL);
	/* CoreDNS drops a CNAME whose in-zone target has nothing of the type. */
	nodata("ext-in.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA);
	nodata("ext-loop1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nodata("ext-missing.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nodata("ext-svc.testns.svc.cluster.local.", LDNS_RR_TYPE_SRV);
	/* In-zone targets have no TXT: the CNAME goes too. */
	nodata("ext-in.testns.svc.cluster.local.", LDNS_RR_TYPE_TXT);
	nxdomain("_http._tcp.ext-svc.testns.svc.cluster.local.", LDNS_RR_TYPE_SRV);
	nxdomain("x.ext-svc.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	/* An address as externalName is ignored. */
	nxdomain("ext-ip.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
}

Test(answer, pods_disabled)
{
	start((struct opts){ 0 });
	nxdomain("10-244-1-10.testns.pod.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("testns.pod.cluster.local.", LDNS_RR_TYPE_A);
	nodata("pod.cluster.local.", LDNS_RR_TYPE_A);
}

Test(answer, pods_insecure)
{
	start((struct opts){ .pods = K8S_PODS_INSECURE });
	answers("1-2-3-4.testns.pod.cluster.local.", LDNS_RR_TYPE_A,
	        "1-2-3-4.testns.pod.cluster.local. 5 IN A 1.2.3.4", NULL);
	nodata("1-2-3-4.testns.pod.cluster.local.", LDNS_RR_TYPE_AAAA);
	answers("fd00--1.testns.pod.cluster.local.", LDNS_RR_TYPE_AAAA,
	        "fd00--1.testns.pod.cluster.local. 5 IN AAAA fd00::1", NULL);
	nodata("testns.pod.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("not-an-ip.testns.pod.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("1-2-3-4.nosuchns.pod.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("x.1-2-3-4.testns.pod.cluster.local.", LDNS_RR_TYPE_A);
	srv_is("1-2-3-4.testns.pod.cluster.local.",
	       L("1-2-3-4.testns.pod.cluster.local. 5 IN SRV 0 100 0 "
	         "1-2-3-4.testns.pod.cluster.local."),
	       L("1-2-3-4.testns.pod.cluster.local. 5 IN A 1.2.3.4"));
}

Test(answer, pods_verified)
{
	start((struct opts){ .pods = K8S_PODS_VERIFIED });
	answers("10-244-1-10.testns.pod.cluster.local.", LDNS_RR_TYPE_A,
	        "10-244-1-10.testns.pod.cluster.local. 5 IN A 10.244.1.10", NULL);
	answers("fd00-10-244-1--99.testns.pod.cluster.local.", LDNS_RR_TYPE_AAAA,
	        "fd00-10-244-1--99.testns.pod.cluster.local. 5 IN AAAA fd00:10:244:1::99", NULL);
	nxdomain("10-244-1-10.other.pod.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("10-244-1-99.testns.pod.cluster.local.", LDNS_RR_TYPE_A); /* Succeeded */
	nxdomain("1-2-3-4.testns.pod.cluster.local.", LDNS_RR_TYPE_A);
}

Test(answer, ptr)
{
	start((struct opts){ 0 });
	answers("1.1.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR,
	        "1.1.96.10.in-addr.arpa. 5 IN PTR svc1.testns.svc.cluster.local.", NULL);
	answers("11.1.244.10.in-addr.arpa.", LDNS_RR_TYPE_PTR,
	        "11.1.244.10.in-addr.arpa. 5 IN PTR ep1b.svc1.testns.svc.cluster.local.", NULL);
	answers("10.1.244.10.in-addr.arpa.", LDNS_RR_TYPE_PTR,
	        "10.1.244.10.in-addr.arpa. 5 IN PTR 10-244-1-10.svc1.testns.svc.cluster.local.",
	        NULL);
	/* One address in two slices of a service: one record. */
	answers("2.2.244.10.in-addr.arpa.", LDNS_RR_TYPE_PTR,
	        "2.2.244.10.in-addr.arpa. 5 IN PTR 10-244-2-2.hdls-dup.testns.svc.cluster.local.",
	        NULL);
	answers("2.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.",
	        LDNS_RR_TYPE_PTR,
	        "2.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. 5 IN PTR "
	        "svc-dual.testns.svc.cluster.local.",
	        NULL);

	struct reply r = ask("9.9.9.10.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	negative(r, LDNS_RCODE_NXDOMAIN, REV_SOA);
	ldns_pkt_free(r.p);
	/* Not a whole address, or another type: no such name. */
	r = ask("96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	cr_assert_eq(ldns_pkt_get_rcode(r.p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(r.p);
	r = ask("1.1.96.10.in-addr.arpa.", LDNS_RR_TYPE_A);
	cr_assert_eq(ldns_pkt_get_rcode(r.p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(r.p);
	/* PTR of a forward name: it exists, no PTR. */
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_PTR);
}

Test(answer, ptr_namespaces_filter_and_fallthrough)
{
	start((struct opts){ .only = "testns", .fall = "in-addr.arpa." });
	struct reply r = ask("9.9.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	cr_assert_eq(r.v, SX_NEXT); /* svc-other is in namespace other */
	ldns_pkt_free(r.p);
	answers("1.1.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR,
	        "1.1.96.10.in-addr.arpa. 5 IN PTR svc1.testns.svc.cluster.local.", NULL);
	/* Fallthrough covers in-addr.arpa only. */
	nxdomain("svc-other.other.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("other.svc.cluster.local.", LDNS_RR_TYPE_A);
	nodata("testns.svc.cluster.local.", LDNS_RR_TYPE_A);
}

Test(answer, txt)
{
	start((struct opts){ 0 });
	answers("dns-version.cluster.local.", LDNS_RR_TYPE_TXT,
	        "dns-version.cluster.local. 28800 IN TXT \"1.1.0\"", NULL);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_TXT);
	nxdomain("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_TXT);
	/* Names without records of any type exist for TXT too (CoreDNS says NXDOMAIN). */
	nodata("cluster.local.", LDNS_RR_TYPE_TXT);
	nodata("testns.svc.cluster.local.", LDNS_RR_TYPE_TXT);
	nodata("ns.dns.cluster.local.", LDNS_RR_TYPE_TXT);
	nxdomain("nosuchns.svc.cluster.local.", LDNS_RR_TYPE_TXT);
}

/*
 * Empty non-terminals answer NODATA to every type: an NXDOMAIN there would deny the
 * whole subtree (RFC 8020), and once did for TXT.
 */
Test(answer, empty_non_terminals_are_nodata_for_every_type)
{
	static const char *const names[] = {
		"cluster.local.",     "svc.cluster.local.",        "testns.svc.cluster.local.",
		"pod.cluster.local.", "testns.pod.cluster.local.", "dns.cluster.local.",
	};
	static const ldns_rr_type types[] = {
		LDNS_RR_TYPE_A,   LDNS_RR_TYPE_AAAA,  LDNS_RR_TYPE_TXT,   LDNS_RR_TYPE_SRV,
		LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_MX,    LDNS_RR_TYPE_HINFO,
		LDNS_RR_TYPE_DS,  LDNS_RR_TYPE_CAA,   LDNS_RR_TYPE_DNAME, LDNS_RR_TYPE_NAPTR,
	};
	start((struct opts){ .pods = K8S_PODS_VERIFIED });
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			nodata(names[i], types[t]);
		}
		if (i > 0) {
			nodata(names[i], LDNS_RR_TYPE_SOA);
			nodata(names[i], LDNS_RR_TYPE_NS);
		}
	}
}

Test(answer, apex_soa_ns)
{
	start((struct opts){ 0 });
	answers("cluster.local.", LDNS_RR_TYPE_SOA, SOA, NULL);
	answers("Cluster.Local.", LDNS_RR_TYPE_SOA,
	        "Cluster.Local. 5 IN SOA ns.dns.Cluster.Local. "
	        "hostmaster.Cluster.Local. 1234 7200 1800 86400 5",
	        NULL);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_SOA);
	nodata("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_SOA); /* SOA never says NXDOMAIN */

	struct reply r = ask("cluster.local.", LDNS_RR_TYPE_NS);
	positive(r);
	section_is(r.p, LDNS_SECTION_ANSWER, "cluster.local. 5 IN NS ns.dns.cluster.local.", NULL);
	section_is(r.p, LDNS_SECTION_ADDITIONAL, "ns.dns.cluster.local. 5 IN A 10.0.0.53", NULL);
	ldns_pkt_free(r.p);
	answers("ns.dns.cluster.local.", LDNS_RR_TYPE_A, "ns.dns.cluster.local. 5 IN A 10.0.0.53",
	        NULL);
	nodata("ns.dns.cluster.local.", LDNS_RR_TYPE_AAAA);
	nodata("ns.dns.cluster.local.", LDNS_RR_TYPE_SRV);
	nodata("ns.dns.cluster.local.", LDNS_RR_TYPE_TXT);
	nodata("ns.dns.cluster.local.", LDNS_RR_TYPE_PTR);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_NS);
	nxdomain("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_NS);
}

Test(answer, soa_ttl_is_capped)
{
	start((struct opts){ .ttl = 3600 });
	answers("cluster.local.", LDNS_RR_TYPE_SOA,
	        "cluster.local. 300 IN SOA ns.dns.cluster.local. "
	        "hostmaster.cluster.local. 1234 7200 1800 86400 3600",
	        NULL);
}

Test(answer, names_that_exist_without_records)
{
	start((struct opts){ 0 });
	nodata("cluster.local.", LDNS_RR_TYPE_A);
	nodata("svc.cluster.local.", LDNS_RR_TYPE_A);
	nodata("testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_MX);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_HINFO);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_CNAME);
}

Test(answer, names_that_do_not_exist)
{
	start((struct opts){ 0 });
	nxdomain("foo.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("nosuchns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("svc1.nosuchns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("*.testns.svc.cluster.local.", LDNS_RR_TYPE_A); /* no wildcards since 1.9 */
	nxdomain("any.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("a.b.c.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_MX);
	nxdomain("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_HINFO);
}

Test(answer, transfers_refused_and_other_names_passed_on)
{
	start((struct opts){ 0 });
	struct reply r = ask("cluster.local.", LDNS_RR_TYPE_AXFR);
	cr_assert_eq(r.v, SX_DONE);
	cr_assert_eq(ldns_pkt_get_rcode(r.p), LDNS_RCODE_REFUSED);
	cr_assert_not(ldns_pkt_aa(r.p));
	section_is(r.p, LDNS_SECTION_AUTHORITY, NULL);
	ldns_pkt_free(r.p);
	r = ask("example.org.", LDNS_RR_TYPE_A);
	cr_assert_eq(r.v, SX_NEXT);
	ldns_pkt_free(r.p);
	r = ask_class("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH);
	cr_assert_eq(r.v, SX_NEXT);
	ldns_pkt_free(r.p);
}

Test(answer, unsynced_name_errors_are_servfail)
{
	start((struct opts){ .unsynced = true });
	struct reply r = ask("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	negative(r, LDNS_RCODE_SERVFAIL, SOA);
	ldns_pkt_free(r.p);
	/* What is there already answers. */
	answers("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1", NULL);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA);
}

Test(answer, fallthrough_everywhere)
{
	start((struct opts){ .fall = "" });
	struct reply r = ask("nope.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	cr_assert_eq(r.v, SX_NEXT);
	ldns_pkt_free(r.p);
	nodata("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_AAAA); /* only name errors fall */
}

Test(answer, namespaces_option)
{
	start((struct opts){ .only = "testns" });
	nxdomain("svc-other.other.svc.cluster.local.", LDNS_RR_TYPE_A);
	struct reply r = ask("9.9.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR);
	negative(r, LDNS_RCODE_NXDOMAIN, REV_SOA);
	ldns_pkt_free(r.p);
	answers("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1", NULL);
}

Test(answer, ignore_empty_service)
{
	start((struct opts){ .ignore_empty = true });
	nxdomain("svc-empty.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	answers("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1", NULL);
	answers("ext-svc.testns.svc.cluster.local.", LDNS_RR_TYPE_CNAME,
	        "ext-svc.testns.svc.cluster.local. 5 IN CNAME ext.example.net.", NULL);
}

Test(answer, noendpoints)
{
	start((struct opts){ .noendpoints = true });
	answers("svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A,
	        "svc1.testns.svc.cluster.local. 5 IN A 10.96.1.1", NULL);
	nxdomain("hdls1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
	nxdomain("ep1b.svc1.testns.svc.cluster.local.", LDNS_RR_TYPE_A);
}

Test(answer, udp_truncation)
{
	start((struct opts){ 0 });
	ldns_pkt *qp = ldns_pkt_query_new(
	        ldns_dname_new_frm_str("hdls-multi.testns.svc.cluster.local."), LDNS_RR_TYPE_SRV,
	        LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t buf[512], lname[SX_DNAME_MAX], *w;
	struct sx_query q;
	struct sx_msg m;
	ldns_pkt *p;
	size_t wl, n;

	ldns_pkt2wire(&w, qp, &wl);
	memset(&q, 0, sizeof(q));
	cr_assert_eq(sx_test_parse_query(w, wl, &q, lname), 0);
	q.proto = SX_PROTO_UDP;
	sx_test_msg_init(&m, buf, sizeof(buf), 200, &q);
	rcu_read_lock();
	cr_assert_eq(k8s_answer(&K, &q, &m, NULL), SX_DONE);
	rcu_read_unlock();
	n = sx_test_msg_finish(&m, &q);
	cr_assert(n <= 200);
	cr_assert_eq(ldns_wire2pkt(&p, buf, n), LDNS_STATUS_OK);
	cr_assert(ldns_pkt_tc(p));
	cr_assert(ldns_pkt_ancount(p) < 6);
	ldns_pkt_free(p);
	ldns_pkt_free(qp);
	free(w);
}

/* k8s_answer() with a chain: a target outside the zone is handed back, nothing written. */
static enum sx_verdict
ask_chain(const char *name, struct k8s_chain *ch, struct sx_msg *m)
{
	static uint8_t buf[4096];
	ldns_pkt *qp = ldns_pkt_query_new(ldns_dname_new_frm_str(name), LDNS_RR_TYPE_A,
	                                  LDNS_RR_CLASS_IN, LDNS_RD);
	static uint8_t lname[SX_DNAME_MAX], *w;
	static struct sx_query q;
	enum sx_verdict v;
	size_t wl;

	free(w);
	cr_assert_eq(ldns_pkt2wire(&w, qp, &wl), LDNS_STATUS_OK);
	memset(&q, 0, sizeof(q));
	cr_assert_eq(sx_test_parse_query(w, wl, &q, lname), 0);
	q.proto = SX_PROTO_TCP;
	sx_test_msg_init(m, buf, sizeof(buf), sx_test_reply_limit(&q), &q);
	memset(ch, 0, sizeof(*ch));
	rcu_read_lock();
	v = k8s_answer(&K, &q, m, ch);
	rcu_read_unlock();
	ldns_pkt_free(qp);
	return v;
}

Test(answer, external_lookup)
{
	struct k8s_chain ch;
	struct sx_msg m;

	start((struct opts){ 0 });
	cr_assert_eq(ask_chain("ext-svc.testns.svc.cluster.local.", &ch, &m), SX_SUSPEND);
	cr_assert_eq(ch.n, 1);
	cr_assert_eq(sx_dname_len(ch.targets[0]), sizeof("\3ext\7example\3net"));
	cr_assert_eq(memcmp(ch.targets[0], "\3ext\7example\3net", sizeof("\3ext\7example\3net")),
	             0);
	cr_assert_eq(sx_msg_count(&m, SX_SEC_ANSWER), 0);
	/* In the zone all the way: answered at once. */
	cr_assert_eq(ask_chain("ext-chain.testns.svc.cluster.local.", &ch, &m), SX_DONE);
	cr_assert_eq(ch.n, 0);
	cr_assert_eq(sx_msg_count(&m, SX_SEC_ANSWER), 3);
}
