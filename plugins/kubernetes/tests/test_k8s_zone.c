/* test_k8s_zone.c -- the store: watch events, relists, views, reverse and pod tables. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/error.h>

#include "../podns.h"
#include "../zone.h"

static struct k8s_store *st;

static void
setup_store(char **namespaces, size_t n)
{
	struct k8s_store_opts o = {
		.namespaces = namespaces, .nnamespaces = n, .pod_objects = true, .pod_index = true
	};

	for (int k = 0; k < K8S_NKINDS; k++) {
		o.need[k] = true;
	}
	cr_assert_eq(k8s_store_new(&st, &o), 0);
}

/*
 * Each test holds the read lock throughout, as a worker does while it answers:
 * nothing it saw is freed under it, so comparing views by address is sound.
 */
static void
init(void)
{
	rcu_register_thread();
	setup_store(NULL, 0);
	rcu_read_lock();
}

static void
fini(void)
{
	rcu_read_unlock();
	k8s_store_free(st);
	rcu_unregister_thread();
}

/* A store with other options (freeing waits for readers: not under the lock). */
static void
reset_store(char **namespaces, size_t n)
{
	rcu_read_unlock();
	k8s_store_free(st);
	setup_store(namespaces, n);
	rcu_read_lock();
}

TestSuite(zone, .init = init, .fini = fini);

static int
apply(enum k8s_kind kind, enum k8s_event ev, const char *text)
{
	char err[256] = "";

	return k8s_store_apply(st, kind, ev, text, strlen(text), err, sizeof(err));
}

static void
ns(const char *name)
{
	char b[256];

	snprintf(b, sizeof(b), "{\"metadata\":{\"name\":\"%s\"}}", name);
	cr_assert_eq(apply(K8S_NAMESPACE, K8S_ADDED, b), 0);
}

static void
svc(enum k8s_event ev, const char *ns_, const char *name, const char *ip, int port)
{
	char b[512];

	snprintf(b, sizeof(b),
	         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},"
	         "\"spec\":{\"clusterIP\":\"%s\",\"ports\":[{\"port\":%d}]}}",
	         name, ns_, ip, port);
	cr_assert_eq(apply(K8S_SERVICE, ev, b), 0);
}

static void
slice(enum k8s_event ev, const char *ns_, const char *name, const char *svc_, const char *addrs)
{
	char b[1024];

	snprintf(b, sizeof(b),
	         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":"
	         "{\"kubernetes.io/service-name\":\"%s\"}},\"addressType\":\"IPv4\","
	         "\"endpoints\":[%s],\"ports\":[{\"name\":\"http\",\"port\":8080}]}",
	         name, ns_, svc_, addrs);
	cr_assert_eq(apply(K8S_SLICE, ev, b), 0);
}

/* The view of ns/name as workers see it (NULL: none). */
static const struct k8s_view *
view(const char *ns_, const char *name)
{
	return k8s_zone_view(st, ns_, strlen(ns_), name, strlen(name));
}

/* Ready addresses over all the slices of @v. */
/* The first ClusterIP of Service view @v. */
static const uint8_t *
cluster_ip(const struct k8s_view *v)
{
	uint8_t fam;

	return k8s_svc_ip(k8s_view_svc(v), 0, &fam);
}

static unsigned
ready(const struct k8s_view *v)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->nslices; i++) {
		n += k8s_view_slices(v)[i]->neps;
	}
	return n;
}

static bool
rev_first(const struct k8s_view *v, void *arg)
{
	*(const struct k8s_view **)arg = v;
	return false;
}

static const struct k8s_view *
rev_svc(const char *addr)
{
	const struct k8s_view *v = NULL;
	struct k8s_ip ip;

	cr_assert(k8s_ip_parse(&ip, addr));
	k8s_zone_rev_svc(st, &ip, rev_first, &v);
	return v;
}

static bool
rev_count(const struct k8s_ep *ep, void *arg)
{
	(*(unsigned *)arg)++;
	return true;
}

static unsigned
rev_eps(const char *addr)
{
	unsigned n = 0;
	struct k8s_ip ip;

	cr_assert(k8s_ip_parse(&ip, addr));
	k8s_zone_rev_ep(st, &ip, rev_count, &n);
	return n;
}

Test(zone, service_added_modified_deleted)
{
	const struct k8s_view *v1, *v2;

	ns("testns");
	svc(K8S_ADDED, "testns", "svc1", "10.96.1.1", 80);
	v1 = view("testns", "svc1");
	cr_assert_not_null(v1);
	cr_assert_eq(cluster_ip(v1)[3], 1);
	cr_assert_eq(rev_svc("10.96.1.1"), v1);

	svc(K8S_MODIFIED, "testns", "svc1", "10.96.1.2", 80);
	v2 = view("testns", "svc1");
	cr_assert_not_null(v2);
	cr_assert_neq(v2, v1);
	cr_assert_eq(cluster_ip(v2)[3], 2);
	cr_assert_null(rev_svc("10.96.1.1"));
	cr_assert_eq(rev_svc("10.96.1.2"), v2);

	svc(K8S_DELETED, "testns", "svc1", "10.96.1.2", 80);
	cr_assert_null(view("testns", "svc1"));
	cr_assert_null(rev_svc("10.96.1.2"));
}

Test(zone, unchanged_object_is_not_republished)
{
	const struct k8s_view *v1;

	ns("testns");
	svc(K8S_ADDED, "testns", "svc1", "10.96.1.1", 80);
	slice(K8S_ADDED, "testns", "svc1-x", "svc1", "{\"addresses\":[\"10.244.1.10\"]}");
	v1 = view("testns", "svc1");
	st->serial = 7;
	svc(K8S_MODIFIED, "testns", "svc1", "10.96.1.1", 80);
	slice(K8S_MODIFIED, "testns", "svc1-x", "svc1", "{\"addresses\":[\"10.244.1.10\"]}");
	cr_assert_eq(view("testns", "svc1"), v1);
	cr_assert_eq(k8s_zone_serial(st), 7);
	svc(K8S_MODIFIED, "testns", "svc1", "10.96.1.1", 81);
	cr_assert_neq(view("testns", "svc1"), v1);
	cr_assert_neq(k8s_zone_serial(st), 7);
}

Test(zone, an_event_touches_only_its_service)
{
	const struct k8s_view *a, *b, *a2;

	ns("testns");
	svc(K8S_ADDED, "testns", "a", "10.96.1.1", 80);
	svc(K8S_ADDED, "testns", "b", "10.96.1.2", 80);
	slice(K8S_ADDED, "testns", "a-1", "a", "{\"addresses\":[\"10.244.1.1\"]}");
	slice(K8S_ADDED, "testns", "b-1", "b", "{\"addresses\":[\"10.244.2.1\"]}");
	a = view("testns", "a");
	b = view("testns", "b");
	slice(K8S_MODIFIED, "testns", "a-1", "a",
	      "{\"addresses\":[\"10.244.1.1\"]},{\"addresses\":[\"10.244.1.2\"]}");
	a2 = view("testns", "a");
	cr_assert_neq(a2, a);
	cr_assert_eq(view("testns", "b"), b);
	cr_assert_eq(ready(a2), 2);
	cr_assert_eq(a2->nslices, 1);
	cr_assert_eq(rev_eps("10.244.1.2"), 1);
}

Test(zone, slices_wait_for_their_service)
{
	struct k8s_store_stats s;

	ns("testns");
	slice(K8S_ADDED, "testns", "late-1", "late", "{\"addresses\":[\"10.244.3.1\"]}");
	slice(K8S_ADDED, "testns", "late-2", "late", "{\"addresses\":[\"10.244.3.2\"]}");
	cr_assert_null(view("testns", "late"));
	cr_assert_eq(rev_eps("10.244.3.1"), 1); /* PTR needs no Service (as CoreDNS) */
	svc(K8S_ADDED, "testns", "late", "10.96.3.1", 80);
	cr_assert_not_null(view("testns", "late"));
	cr_assert_eq(ready(view("testns", "late")), 2);
	cr_assert_eq(view("testns", "late")->nslices, 2);
	k8s_store_stats(st, &s);
	cr_assert_eq(s.services, 1);
	cr_assert_eq(s.slices, 2);
	cr_assert_eq(s.endpoints, 2);
	/* The Service goes, its slices stay for when it comes back. */
	svc(K8S_DELETED, "testns", "late", "10.96.3.1", 80);
	cr_assert_null(view("testns", "late"));
	svc(K8S_ADDED, "testns", "late", "10.96.3.1", 80);
	cr_assert_eq(ready(view("testns", "late")), 2);
}

/* The view of ns/name in the table, with or without a Service (workers see only the former). */
static const struct k8s_view *
table_view(const char *ns_, const char *name)
{
	struct k8s_pair key = { ns_, strlen(ns_), name, strlen(name) };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(st->services, k8s_hash_pair(key.ns, key.ns_len, name, key.len),
	                k8s_match_view, &key, &it);
	n = cds_lfht_iter_get_node(&it);
	return n ? caa_container_of(n, struct k8s_view, node) : NULL;
}

/*
 * During the Services' first LIST, a slice whose Service is not in yet makes
 * no view: it is held until the Service's view takes it in. With pages most
 * slices come first, and the views they made were replaced at once.
 */
Test(zone, slices_before_their_service_make_no_view_in_the_first_list)
{
	const struct k8s_view *v;

	ns("testns");
	k8s_store_relist_begin(st, K8S_SERVICE);
	k8s_store_relist_begin(st, K8S_SLICE);
	slice(K8S_ADDED, "testns", "w-1", "w", "{\"addresses\":[\"10.244.5.1\"]}");
	slice(K8S_ADDED, "testns", "w-2", "w", "{\"addresses\":[\"10.244.5.2\"]}");
	slice(K8S_ADDED, "testns", "w-3", "w", "{\"addresses\":[\"10.244.5.3\"]}");
	cr_assert_null(table_view("testns", "w"));
	cr_assert_eq(rev_eps("10.244.5.1"), 1); /* PTR needs no Service */
	/* Held slices change, go, and move to another Service as any do. */
	slice(K8S_MODIFIED, "testns", "w-1", "w", "{\"addresses\":[\"10.244.5.9\"]}");
	slice(K8S_DELETED, "testns", "w-2", "w", "{\"addresses\":[\"10.244.5.2\"]}");
	slice(K8S_MODIFIED, "testns", "w-3", "other", "{\"addresses\":[\"10.244.5.3\"]}");
	cr_assert_null(table_view("testns", "w"));
	cr_assert_null(table_view("testns", "other"));

	svc(K8S_ADDED, "testns", "w", "10.96.5.1", 80);
	v = view("testns", "w");
	cr_assert_not_null(v);
	cr_assert_eq(v->nslices, 1);
	cr_assert_eq(k8s_slice_addr(k8s_view_slices(v)[0], 0)[3], 9);
	cr_assert_eq(rev_eps("10.244.5.2"), 0);

	/* Still held at the end of the Services' LIST: no Service, a view of its own. */
	k8s_store_relist_end(st, K8S_SERVICE);
	cr_assert_not_null(table_view("testns", "other"));
	cr_assert_null(view("testns", "other"));
	k8s_store_relist_end(st, K8S_SLICE);
	svc(K8S_ADDED, "testns", "other", "10.96.5.2", 80);
	cr_assert_eq(ready(view("testns", "other")), 1);
	/* From then on a slice makes its view at once, Service or not. */
	slice(K8S_ADDED, "testns", "z-1", "z", "{\"addresses\":[\"10.244.5.4\"]}");
	cr_assert_not_null(table_view("testns", "z"));
}

Test(zone, slice_moves_to_another_service)
{
	ns("testns");
	svc(K8S_ADDED, "testns", "a", "10.96.1.1", 80);
	svc(K8S_ADDED, "testns", "b", "10.96.1.2", 80);
	slice(K8S_ADDED, "testns", "s", "a", "{\"addresses\":[\"10.244.1.1\"]}");
	cr_assert_eq(ready(view("testns", "a")), 1);
	slice(K8S_MODIFIED, "testns", "s", "b", "{\"addresses\":[\"10.244.1.1\"]}");
	cr_assert_eq(ready(view("testns", "a")), 0);
	cr_assert_eq(ready(view("testns", "b")), 1);
	cr_assert_eq(rev_eps("10.244.1.1"), 1);
	slice(K8S_DELETED, "testns", "s", "b", "{\"addresses\":[\"10.244.1.1\"]}");
	cr_assert_eq(ready(view("testns", "b")), 0);
	cr_assert_eq(rev_eps("10.244.1.1"), 0);
}

/*
 * Objects named in upper case (a manifests directory takes them) are stored, updated and
 * removed under their lower-case name: once, changes and deletions of an EndpointSlice or Pod
 * so named were lost, and a Service so named never answered.
 */
Test(zone, upper_case_names_are_updated_and_removed)
{
	struct k8s_store_stats s;
	struct k8s_ip ip;

	ns("Shop");
	svc(K8S_ADDED, "Shop", "HL", "10.96.1.1", 80);
	slice(K8S_ADDED, "shop", "HL-Abc", "hl", "{\"addresses\":[\"10.244.1.1\"]}");
	cr_assert_not_null(k8s_zone_ns(st, "shop", 4));
	cr_assert_eq(ready(view("shop", "hl")), 1);
	cr_assert_eq(rev_eps("10.244.1.1"), 1);

	slice(K8S_MODIFIED, "SHOP", "HL-ABC", "HL", "{\"addresses\":[\"10.244.1.2\"]}");
	cr_assert_eq(ready(view("shop", "hl")), 1);
	cr_assert_eq(rev_eps("10.244.1.1"), 0);
	cr_assert_eq(rev_eps("10.244.1.2"), 1);
	k8s_store_stats(st, &s);
	cr_assert_eq(s.slices, 1);

	slice(K8S_DELETED, "Shop", "HL-Abc", "HL", "");
	svc(K8S_DELETED, "Shop", "HL", "10.96.1.1", 80);
	cr_assert_null(view("shop", "hl"));
	cr_assert_eq(rev_eps("10.244.1.2"), 0);
	cr_assert_null(rev_svc("10.96.1.1"));

	/* A relist that no longer has them removes them too. */
	svc(K8S_ADDED, "Shop", "Web", "10.96.1.3", 80);
	slice(K8S_ADDED, "Shop", "Web-1", "Web", "{\"addresses\":[\"10.244.1.3\"]}");
	cr_assert_eq(apply(K8S_POD, K8S_ADDED,
	                   "{\"metadata\":{\"name\":\"Web-0\",\"namespace\":\"Shop\"},"
	                   "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.9\"}}"),
	             0);
	cr_assert(k8s_ip_parse(&ip, "10.244.1.9"));
	cr_assert(k8s_zone_pod(st, &ip, "shop", 4));
	cr_assert_eq(apply(K8S_POD, K8S_MODIFIED,
	                   "{\"metadata\":{\"name\":\"WEB-0\",\"namespace\":\"shop\"},"
	                   "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.8\"}}"),
	             0);
	cr_assert_not(k8s_zone_pod(st, &ip, "shop", 4));
	k8s_store_stats(st, &s);
	cr_assert_eq(s.pods, 1);
	for (int k = 0; k < K8S_NKINDS; k++) {
		k8s_store_relist_begin(st, (enum k8s_kind)k);
		k8s_store_relist_end(st, (enum k8s_kind)k);
	}
	k8s_store_stats(st, &s);
	cr_assert_eq(s.services + s.slices + s.pods, 0);
	cr_assert_eq(rev_eps("10.244.1.3"), 0);
	cr_assert_null(k8s_zone_ns(st, "shop", 4));
}

Test(zone, relist_deletes_what_vanished)
{
	struct k8s_store_stats s;
	const struct k8s_view *keep;

	ns("testns");
	svc(K8S_ADDED, "testns", "keep", "10.96.1.1", 80);
	svc(K8S_ADDED, "testns", "gone", "10.96.1.2", 80);
	slice(K8S_ADDED, "testns", "gone-1", "gone", "{\"addresses\":[\"10.244.1.1\"]}");
	keep = view("testns", "keep");

	k8s_store_relist_begin(st, K8S_SERVICE);
	svc(K8S_ADDED, "testns", "keep", "10.96.1.1", 80);
	k8s_store_relist_end(st, K8S_SERVICE);
	cr_assert_eq(view("testns", "keep"), keep); /* unchanged: not even republished */
	cr_assert_null(view("testns", "gone"));
	cr_assert_null(rev_svc("10.96.1.2"));

	k8s_store_relist_begin(st, K8S_SLICE);
	k8s_store_relist_end(st, K8S_SLICE);
	cr_assert_eq(rev_eps("10.244.1.1"), 0);
	k8s_store_stats(st, &s);
	cr_assert_eq(s.services, 1);
	cr_assert_eq(s.slices, 0);

	/* A relist also takes namespaces that went away. */
	k8s_store_relist_begin(st, K8S_NAMESPACE);
	k8s_store_relist_end(st, K8S_NAMESPACE);
	cr_assert_null(k8s_zone_ns(st, "testns", 6));
}

Test(zone, synced_after_every_needed_kind)
{
	cr_assert_not(k8s_store_synced(st));
	for (int k = 0; k < K8S_NKINDS; k++) {
		cr_assert_not(k8s_store_synced(st));
		k8s_store_relist_begin(st, (enum k8s_kind)k);
		k8s_store_relist_end(st, (enum k8s_kind)k);
	}
	cr_assert(k8s_store_synced(st));
	/* A later relist does not take readiness back. */
	k8s_store_relist_begin(st, K8S_SERVICE);
	cr_assert(k8s_store_synced(st));
	k8s_store_relist_end(st, K8S_SERVICE);
}

Test(zone, namespaces_exist_with_their_object)
{
	svc(K8S_ADDED, "testns", "a", "10.96.1.1", 80);
	cr_assert_null(k8s_zone_ns(st, "testns", 6));
	ns("testns");
	cr_assert_not_null(k8s_zone_ns(st, "testns", 6));
	cr_assert_eq(apply(K8S_NAMESPACE, K8S_DELETED, "{\"metadata\":{\"name\":\"testns\"}}"), 0);
	cr_assert_null(k8s_zone_ns(st, "testns", 6));
	cr_assert_not_null(view("testns", "a")); /* objects stay: only the namespace hides */
}

Test(zone, namespaces_filter)
{
	char *only[] = { "testns" };

	reset_store(only, 1);
	ns("testns");
	ns("other");
	svc(K8S_ADDED, "other", "b", "10.96.1.2", 80);
	cr_assert_not_null(k8s_zone_ns(st, "testns", 6));
	cr_assert_null(k8s_zone_ns(st, "other", 5)); /* exists, but not in `namespaces` */
	cr_assert_not_null(view("other", "b"));      /* kept: PTR filters on its own */
}

#define POD(ip, phase)                                             \
	"{\"metadata\":{\"name\":\"p\",\"namespace\":\"testns\"}," \
	"\"status\":{\"phase\":\"" phase "\",\"podIP\":\"" ip "\"}}"

Test(zone, pods_by_ip)
{
	struct k8s_ip ip;

	cr_assert(k8s_ip_parse(&ip, "10.244.1.10"));
	cr_assert_eq(apply(K8S_POD, K8S_ADDED, POD("10.244.1.10", "Running")), 0);
	cr_assert(k8s_zone_pod(st, &ip, "testns", 6));
	cr_assert_not(k8s_zone_pod(st, &ip, "other", 5));
	cr_assert_eq(apply(K8S_POD, K8S_MODIFIED, POD("10.244.1.11", "Running")), 0);
	cr_assert_not(k8s_zone_pod(st, &ip, "testns", 6));
	cr_assert(k8s_ip_parse(&ip, "10.244.1.11"));
	cr_assert(k8s_zone_pod(st, &ip, "testns", 6));
	/* A finished pod is gone, as if deleted. */
	cr_assert_eq(apply(K8S_POD, K8S_MODIFIED, POD("10.244.1.11", "Succeeded")), 0);
	cr_assert_not(k8s_zone_pod(st, &ip, "testns", 6));
}

/* The namespace the pod address index gives @addr, or "" for none. */
static const char *
podns_at(const char *addr)
{
	static char out[64];
	struct k8s_ip ip;
	const char *ns;
	size_t len = 0;

	cr_assert(k8s_ip_parse(&ip, addr));
	ns = k8s_podns_lookup(st->podns, &ip, &len);
	snprintf(out, sizeof(out), "%.*s", ns ? (int)len : 0, ns ? ns : "");
	return out;
}

#define POD_IN(ns, name, ip, phase)                                       \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns "\"}," \
	"\"status\":{\"phase\":\"" phase "\",\"podIP\":\"" ip "\"}}"

Test(zone, pod_address_index)
{
	cr_assert_eq(apply(K8S_POD, K8S_ADDED, POD_IN("a", "p1", "10.244.1.10", "Running")), 0);
	cr_assert_eq(apply(K8S_POD, K8S_ADDED, POD_IN("b", "p2", "fd00::10", "Running")), 0);
	cr_assert_eq(apply(K8S_POD, K8S_ADDED, POD_IN("b", "p3", "10.244.1.9", "Pending")), 0);
	cr_assert_str_eq(podns_at("10.244.1.10"), "a");
	cr_assert_str_eq(podns_at("fd00::10"), "b");
	/* Only running pods: CoreDNS's podWithIP takes no other. */
	cr_assert_str_eq(podns_at("10.244.1.9"), "");
	cr_assert_eq(apply(K8S_POD, K8S_MODIFIED, POD_IN("b", "p3", "10.244.1.9", "Running")), 0);
	cr_assert_str_eq(podns_at("10.244.1.9"), "b");
	cr_assert_str_eq(podns_at("10.244.1.11"), "");
	/* The address passes to a pod of another namespace before the old one's deletion. */
	cr_assert_eq(apply(K8S_POD, K8S_ADDED, POD_IN("c", "p4", "10.244.1.10", "Running")), 0);
	cr_assert_str_eq(podns_at("10.244.1.10"), "c");
	cr_assert_eq(apply(K8S_POD, K8S_DELETED, POD_IN("a", "p1", "10.244.1.10", "Running")), 0);
	cr_assert_str_eq(podns_at("10.244.1.10"), "c");
	cr_assert_eq(apply(K8S_POD, K8S_DELETED, POD_IN("c", "p4", "10.244.1.10", "Running")), 0);
	cr_assert_str_eq(podns_at("10.244.1.10"), "");
	/* A relist keeps what it lists, and only that. */
	k8s_store_relist_begin(st, K8S_POD);
	cr_assert_eq(apply(K8S_POD, K8S_ADDED, POD_IN("d", "p5", "10.244.1.20", "Running")), 0);
	cr_assert_eq(apply(K8S_POD, K8S_ADDED, POD_IN("b", "p3", "10.244.1.9", "Running")), 0);
	k8s_store_relist_end(st, K8S_POD);
	cr_assert_str_eq(podns_at("10.244.1.20"), "d");
	cr_assert_str_eq(podns_at("10.244.1.9"), "b");
	cr_assert_str_eq(podns_at("fd00::10"), "");
	cr_assert_eq(k8s_podns_count(st->podns), 2);
	cr_assert_eq(k8s_podns_bytes(st->podns) > 2 * 8, true);
}

Test(zone, duplicate_endpoints_are_marked)
{
	const struct k8s_view *v;

	ns("testns");
	svc(K8S_ADDED, "testns", "h", "None", 80);
	slice(K8S_ADDED, "testns", "h-1", "h",
	      "{\"addresses\":[\"10.0.0.1\"],\"hostname\":\"web-0\"},{\"addresses\":[\"10.0.0.2\"]}");
	v = view("testns", "h");
	cr_assert_eq(v->dup_off, 0);
	slice(K8S_ADDED, "testns", "h-2", "h",
	      "{\"addresses\":[\"10.0.0.2\"]},{\"addresses\":[\"10.0.0.3\"],\"hostname\":\"web-0\"}");
	v = view("testns", "h");
	cr_assert_eq(ready(v), 4);
	cr_assert_eq(k8s_view_dup(v, 0), 0);
	cr_assert_eq(k8s_view_dup(v, 1), 0);
	cr_assert_eq(k8s_view_dup(v, 2), K8S_DUP_ADDR | K8S_DUP_NAME); /* 10.0.0.2 again */
	cr_assert_eq(k8s_view_dup(v, 3), K8S_DUP_NAME);                /* web-0 again */
}

Test(zone, malformed_objects_change_nothing)
{
	char err[256] = "";
	const char *j = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"testns\"},"
	                "\"spec\":{\"clusterIP\":\"bogus\"}}";

	svc(K8S_ADDED, "testns", "a", "10.96.1.1", 80);
	cr_assert_eq(k8s_store_apply(st, K8S_SERVICE, K8S_MODIFIED, j, strlen(j), err, sizeof(err)),
	             SX_EINVAL);
	cr_assert_str_eq(err, "service testns/a: invalid cluster IP \"bogus\"");
	cr_assert_eq(cluster_ip(view("testns", "a"))[3], 1);
}

Test(zone, unwatched_kinds_are_ignored)
{
	struct k8s_store_opts o = { 0 };
	struct k8s_ip ip;

	rcu_read_unlock();
	k8s_store_free(st);
	o.need[K8S_SERVICE] = o.need[K8S_NAMESPACE] = o.need[K8S_SLICE] = true;
	cr_assert_eq(k8s_store_new(&st, &o), 0);
	rcu_read_lock();
	cr_assert_eq(apply(K8S_POD, K8S_ADDED,
	                   "{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\"},"
	                   "\"status\":{\"podIP\":\"10.1.1.1\"}}"),
	             0);
	cr_assert(k8s_ip_parse(&ip, "10.1.1.1"));
	cr_assert_not(k8s_zone_pod(st, &ip, "n", 1));
	/* Synced without pods: they are not needed. */
	k8s_store_relist_begin(st, K8S_SERVICE);
	k8s_store_relist_end(st, K8S_SERVICE);
	k8s_store_relist_begin(st, K8S_SLICE);
	k8s_store_relist_end(st, K8S_SLICE);
	cr_assert_not(k8s_store_synced(st));
	k8s_store_relist_begin(st, K8S_NAMESPACE);
	k8s_store_relist_end(st, K8S_NAMESPACE);
	cr_assert(k8s_store_synced(st));
}

static atomic_bool stop;

/* A worker: look the service up and read everything it reaches, as answers do. */
static void *
reader(void *arg)
{
	unsigned long *sum = arg;

	rcu_register_thread();
	while (!atomic_load(&stop)) {
		rcu_read_lock();
		const struct k8s_view *v = view("testns", "churn");
		if (v != NULL) {
			struct k8s_slice *const *sl = k8s_view_slices(v);
			*sum += cluster_ip(v)[3] + k8s_view_svc(v)->nports;
			for (unsigned s = 0; s < v->nslices; s++) {
				for (unsigned e = 0; e < sl[s]->neps; e++) {
					char name[64];
					*sum += k8s_slice_addr(sl[s], e)[3] +
					        k8s_ep_name(name, &sl[s]->eps[e], false);
				}
			}
		}
		*sum += rev_eps("10.244.8.1");
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	return NULL;
}

/* Readers never see a view or slice freed under them while events replace them. */
Test(zone, readers_and_a_writer)
{
	pthread_t th[4];
	unsigned long sums[4] = { 0 };
	char addrs[256];

	rcu_read_unlock(); /* the writer here is the control thread: no lock held */
	ns("testns");
	atomic_store(&stop, false);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(pthread_create(&th[i], NULL, reader, &sums[i]), 0);
	}
	for (int round = 0; round < 2000; round++) {
		svc(K8S_MODIFIED, "testns", "churn", round % 2 ? "10.96.8.1" : "10.96.8.2",
		    80 + round % 7);
		snprintf(addrs, sizeof(addrs),
		         "{\"addresses\":[\"10.244.8.%d\"]},"
		         "{\"addresses\":[\"10.244.8.1\"]}",
		         2 + round % 50);
		slice(round % 3 ? K8S_MODIFIED : K8S_ADDED, "testns",
		      round % 2 ? "churn-a" : "churn-b", "churn", addrs);
		if (round % 100 == 50) {
			svc(K8S_DELETED, "testns", "churn", "10.96.8.1", 80);
		}
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
	}
	rcu_read_lock();
	cr_assert_not_null(view("testns", "churn"));
	cr_assert_eq(view("testns", "churn")->nslices, 2);
}
