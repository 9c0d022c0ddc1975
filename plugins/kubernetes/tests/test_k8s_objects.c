/* test_k8s_objects.c -- API objects (JSON) to compact structs; malformed objects refused. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/error.h>

#include "../objects.h"

/*
 * Read @text as an object of @kind; expect @want, and with SX_EINVAL an error
 * holding @why. @return the object, which the caller finishes.
 */
static struct k8s_obj
read_obj(enum k8s_kind kind, const char *text, unsigned flags, int want, const char *why)
{
	struct k8s_obj o;
	char err[256] = "";

	cr_assert_eq(k8s_obj_read(&o, kind, text, strlen(text), flags, err, sizeof(err)), want,
	             "%s: %s", text, err);
	if (why != NULL) {
		cr_assert(strstr(err, why) != NULL, "error \"%s\" lacks \"%s\"", err, why);
	}
	return o;
}

static struct k8s_svc *
svc_ok(const char *text)
{
	struct k8s_obj o = read_obj(K8S_SERVICE, text, 0, 0, NULL);
	struct k8s_svc *s = o.svc;

	cr_assert_not_null(s);
	o.svc = NULL;
	k8s_obj_fini(&o);
	return s;
}

static void
svc_bad(const char *text, const char *why)
{
	struct k8s_obj o = read_obj(K8S_SERVICE, text, 0, SX_EINVAL, why);

	cr_assert_null(o.svc);
	k8s_obj_fini(&o);
}

static struct k8s_slice *
slice_of(const char *text, int want)
{
	struct k8s_obj o = read_obj(K8S_SLICE, text, K8S_READ_POD_NAMES, want, NULL);
	struct k8s_slice *s = o.slice;

	o.slice = NULL;
	k8s_obj_fini(&o);
	return s;
}

static void
port_is(const char *base, const struct k8s_port *p, const char *name, unsigned num, int proto)
{
	cr_assert_eq(p->port, num);
	cr_assert_eq(p->proto, proto);
	cr_assert_eq(p->name_len, strlen(name));
	cr_assert(memcmp(base + p->name_off, name, p->name_len) == 0);
}

Test(objects, service_clusterip)
{
	struct k8s_svc *s = svc_ok(
	        "{\"metadata\":{\"name\":\"kube-dns\",\"namespace\":\"kube-system\"},"
	        "\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.10\","
	        "\"clusterIPs\":[\"10.96.0.10\"],\"ports\":["
	        "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"},"
	        "{\"name\":\"DNS-tcp\",\"port\":53,\"protocol\":\"TCP\"},"
	        "{\"port\":9153}]}}");
	static const uint8_t ip[4] = { 10, 96, 0, 10 };

	cr_assert_eq(s->type, K8S_SVC_CLUSTERIP);
	uint8_t fam;
	cr_assert_eq(s->nips, 1);
	cr_assert(memcmp(k8s_svc_ip(s, 0, &fam), ip, 4) == 0);
	cr_assert_eq(fam, 4);
	cr_assert_eq(k8s_svc_ports_off(s), sizeof(*s) + 4); /* an IPv4 ClusterIP takes 4 bytes */
	cr_assert_eq(s->nports, 3);
	port_is((const char *)s, &k8s_svc_ports(s)[0], "dns", 53, K8S_UDP);
	port_is((const char *)s, &k8s_svc_ports(s)[1], "dns-tcp", 53, K8S_TCP); /* lower case */
	port_is((const char *)s, &k8s_svc_ports(s)[2], "", 9153, K8S_TCP);      /* TCP by default */
	cr_assert_eq(s->ext_len, 0);
	free(s);
}

Test(objects, service_outside_addresses)
{
	/* status before spec: spec.externalIPs still come first, as CoreDNS lists them. */
	struct k8s_svc *s = svc_ok(
	        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
	        "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"203.0.113.7\","
	        "\"hostname\":\"ignored.example\"},{\"hostname\":\"LB-1.Example.com.\"},"
	        "{\"ip\":\"2001:db8::7\"},{\"ports\":[]},{\"ip\":\"not an ip\"}]}},"
	        "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.20\","
	        "\"externalIPs\":[\"192.0.2.1\",\"bogus\",7],"
	        "\"ports\":[{\"name\":\"http\",\"port\":80}]}}");
	static const uint8_t want[] = {
		K8S_XADDR_V4,
		192,
		0,
		2,
		1,
		K8S_XADDR_V4,
		203,
		0,
		113,
		7,
		K8S_XADDR_HOST,
		4,
		'l',
		'b',
		'-',
		'1',
		7,
		'e',
		'x',
		'a',
		'm',
		'p',
		'l',
		'e',
		3,
		'c',
		'o',
		'm',
		0,
		K8S_XADDR_V6,
		0x20,
		0x01,
		0x0d,
		0xb8,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		7,
	};
	const uint8_t *x = k8s_svc_xaddrs(s);

	cr_assert_eq(s->nxaddrs, 4);
	cr_assert(memcmp(x, want, sizeof(want)) == 0);
	for (unsigned i = 0; i < s->nxaddrs; i++) {
		x = k8s_xaddr_next(x);
	}
	cr_assert_eq(x - k8s_svc_xaddrs(s), (long)sizeof(want));
	port_is((const char *)s, &k8s_svc_ports(s)[0], "http", 80, K8S_TCP); /* names after */
	cr_assert_eq(s->size, sizeof(*s) + 4 + sizeof(struct k8s_port) + sizeof(want) + 4);
	free(s);

	/* None: no byte more than a Service never had any. */
	s = svc_ok("{\"metadata\":{\"name\":\"a\"},\"status\":{\"loadBalancer\":{}},"
	           "\"spec\":{\"clusterIP\":\"10.96.0.21\",\"externalIPs\":[],"
	           "\"ports\":[{\"port\":80}]}}");
	cr_assert_eq(s->nxaddrs, 0);
	cr_assert_eq(s->size, sizeof(*s) + 4 + sizeof(struct k8s_port));
	free(s);

	/* More than K8S_XADDR_BYTES: those past it are left out, the Service is kept. */
	char *big = malloc(300 * 20 + 256), *p = big;
	p += sprintf(p, "{\"metadata\":{\"name\":\"many\"},\"spec\":{\"clusterIP\":\"None\","
	                "\"externalIPs\":[");
	for (int i = 0; i < 300; i++) {
		p += sprintf(p, "%s\"2001:db8::%x\"", i ? "," : "", i + 1);
	}
	strcpy(p, "]}}");
	s = svc_ok(big);
	cr_assert_eq(s->nxaddrs, K8S_XADDR_BYTES / 17);
	free(s);
	free(big);
}

Test(objects, service_dual_stack_and_single_field)
{
	struct k8s_svc *s = svc_ok(
	        "{\"metadata\":{\"name\":\"d\",\"namespace\":\"n\"},\"spec\":{"
	        "\"clusterIPs\":[\"10.96.1.2\",\"fd00:10:96::1:2\"],\"ports\":[{\"port\":80}]}}");

	static const uint8_t v4[4] = { 10, 96, 1, 2 };
	uint8_t fam;
	cr_assert_eq(s->nips, 2);
	cr_assert(memcmp(k8s_svc_ip(s, 0, &fam), v4, 4) == 0);
	cr_assert_eq(fam, 4);
	const uint8_t *a = k8s_svc_ip(s, 1, &fam);
	cr_assert_eq(fam, 6);
	cr_assert_eq(a[0], 0xfd);
	cr_assert_eq(a[15], 2);
	cr_assert_not(k8s_svc_ip_repeats(s, 1));
	cr_assert_eq(k8s_svc_ports(s)[0].port, 80);
	free(s);
	/* Older objects have only spec.clusterIP. */
	s = svc_ok("{\"metadata\":{\"name\":\"d\"},\"spec\":{\"clusterIP\":\"10.0.0.1\","
	           "\"ports\":[{\"port\":80}]}}");
	cr_assert_eq(s->nips, 1);
	cr_assert_eq(k8s_svc_ip(s, 0, &fam)[3], 1);
	free(s);
}

Test(objects, service_headless)
{
	struct k8s_svc *s = svc_ok("{\"metadata\":{\"name\":\"h\",\"namespace\":\"n\"},"
	                           "\"spec\":{\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"]}}");

	cr_assert_eq(s->type, K8S_SVC_HEADLESS);
	cr_assert_eq(s->nips, 0);
	cr_assert_eq(s->nports, 0);
	free(s);
}

Test(objects, service_external_name)
{
	struct k8s_svc *s = svc_ok(
	        "{\"metadata\":{\"name\":\"e\",\"namespace\":\"n\"},\"spec\":{"
	        "\"type\":\"ExternalName\",\"externalName\":\"Ext.Example.NET.\"}}");

	cr_assert_eq(s->type, K8S_SVC_EXTERNAL);
	cr_assert_eq(s->ext_len, 17);
	cr_assert(memcmp(k8s_svc_ext(s), "\003ext\007example\003net", 17) == 0);
	free(s);
	/* An address is no name: kept, but unusable (CoreDNS answers NXDOMAIN). */
	s = svc_ok("{\"metadata\":{\"name\":\"e\"},\"spec\":{\"type\":\"ExternalName\","
	           "\"externalName\":\"1.2.3.4\"}}");
	cr_assert_eq(s->type, K8S_SVC_EXTERNAL);
	cr_assert_eq(s->ext_len, 0);
	free(s);
}

Test(objects, service_malformed)
{
	svc_bad("{\"spec\":{}}", "metadata");
	svc_bad("{\"metadata\":{\"namespace\":\"n\"},\"spec\":{}}", "metadata.name");
	svc_bad("{\"metadata\":{\"name\":\"a.b\",\"namespace\":\"n\"},\"spec\":{}}",
	        "invalid name");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n.x\"},\"spec\":{}}",
	        "invalid namespace");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"}}", "no spec");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":\"10.1\"}}",
	        "invalid cluster IP");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"clusterIPs\":"
	        "[\"10.0.0.1\",\"fd00::1\",\"10.0.0.2\"]}}",
	        "more than two");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":"
	        "\"10.0.0.1\",\"ports\":[{\"port\":\"80\"}]}}",
	        "spec.ports[0].port");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":"
	        "\"10.0.0.1\",\"ports\":[{\"port\":80},{\"port\":70000}]}}",
	        "spec.ports[1].port");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":"
	        "\"10.0.0.1\",\"ports\":[{\"port\":80,\"protocol\":\"QUIC\"}]}}",
	        "protocol");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":"
	        "\"10.0.0.1\",\"ports\":[{}]}}",
	        "no port number");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"type\":"
	        "\"ExternalName\"}}",
	        "without spec.externalName");
	svc_bad("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"type\":"
	        "\"ExternalName\",\"externalName\":\"a..b\"}}",
	        "invalid externalName");
}

Test(objects, meta_defaults_namespace)
{
	const char *text = "{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"42\"}}";
	struct k8s_obj o = read_obj(K8S_SERVICE, text, K8S_READ_META, 0, NULL);

	cr_assert_str_eq(o.ns, "default");
	cr_assert_eq(o.ns_len, 7);
	cr_assert_str_eq(o.name, "web");
	cr_assert_eq(o.name_len, 3);
	cr_assert_str_eq(o.rv, "42");
	cr_assert_null(o.svc);
	o = read_obj(K8S_NAMESPACE, text, 0, 0, NULL);
	cr_assert_str_eq(o.ns, "");
	cr_assert_eq(o.ns_len, 0);
}

#define SLICE_HEAD                                                                    \
	"{\"metadata\":{\"name\":\"svc1-a1b2c\",\"namespace\":\"testns\",\"labels\":" \
	"{\"kubernetes.io/service-name\":\"svc1\"}},"

Test(objects, slice_ready_endpoints_only)
{
	struct k8s_slice *s = slice_of(
	        SLICE_HEAD
	        "\"addressType\":\"IPv4\",\"endpoints\":["
	        "{\"addresses\":[\"10.244.1.10\"],\"conditions\":{\"ready\":true},"
	        "\"targetRef\":{\"kind\":\"Pod\",\"name\":\"Pod-Svc1-11\"}},"
	        "{\"addresses\":[\"10.244.1.11\"],\"hostname\":\"ep1b\"},"
	        "{\"addresses\":[\"10.244.1.12\"],\"conditions\":{\"ready\":false}},"
	        "{\"addresses\":[\"10.244.1.13\",\"10.244.1.14\"],\"conditions\":{\"ready\":null}}],"
	        "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"},"
	        "{\"name\":\"c-port\",\"port\":1234,\"protocol\":\"UDP\"},{\"port\":null}]}",
	        0);
	const char *base = (const char *)s;

	cr_assert_not_null(s);
	cr_assert_eq(s->fam, 4);
	cr_assert_eq(s->neps, 4); /* one per ready address */
	cr_assert_eq(k8s_slice_addr(s, 0)[3], 10);
	cr_assert_eq(k8s_slice_addr(s, 1)[3], 11);
	cr_assert_eq(k8s_slice_addr(s, 2)[3], 13);
	cr_assert_eq(k8s_slice_addr(s, 3)[3], 14);
	cr_assert_eq(s->eps[0].host_len, 0);
	cr_assert_eq(s->eps[0].pod_len, 11);
	cr_assert(memcmp(base + s->eps[0].str_off, "pod-svc1-11", 11) == 0);
	cr_assert_eq(s->eps[1].host_len, 4);
	cr_assert(memcmp(base + s->eps[1].str_off, "ep1b", 4) == 0);
	for (unsigned i = 0; i < s->neps; i++) {
		cr_assert_eq(k8s_ep_slice(&s->eps[i]), s);
	}
	cr_assert_eq(s->nports, 2); /* the null port is skipped */
	port_is(base, &k8s_slice_ports(s)[0], "http", 8080, K8S_TCP);
	port_is(base, &k8s_slice_ports(s)[1], "c-port", 1234, K8S_UDP);
	cr_assert_eq(s->name_len, 10);
	cr_assert(memcmp(k8s_slice_name(s), "svc1-a1b2c", 10) == 0);
	cr_assert(memcmp(k8s_slice_svc(s), "svc1", s->svc_len) == 0);
	free(s);
}

Test(objects, slice_ipv6_and_portless)
{
	struct k8s_slice *s = slice_of(
	        SLICE_HEAD
	        "\"addressType\":\"IPv6\",\"endpoints\":[{\"addresses\":[\"fd00:10:244:1::20\"]}]}",
	        0);

	cr_assert_not_null(s);
	cr_assert_eq(s->fam, 6);
	cr_assert_eq(s->nports, 0);
	cr_assert_eq(k8s_slice_addr(s, 0)[0], 0xfd);
	cr_assert_eq(k8s_slice_addr(s, 0)[15], 0x20);
	free(s);
}

Test(objects, slice_serving_nothing)
{
	/* No service label, FQDN addresses, or nothing ready: nothing to keep. */
	cr_assert_null(slice_of("{\"metadata\":{\"name\":\"x\",\"namespace\":\"n\"},"
	                        "\"addressType\":\"IPv4\","
	                        "\"endpoints\":[{\"addresses\":[\"1.2.3.4\"]}]}",
	                        0));
	cr_assert_null(slice_of(SLICE_HEAD "\"addressType\":\"FQDN\",\"endpoints\":"
	                                   "[{\"addresses\":[\"a.example\"]}]}",
	                        0));
	cr_assert_null(slice_of(SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":"
	                                   "[\"1.2.3.4\"],\"conditions\":{\"ready\":false}}]}",
	                        0));
	cr_assert_null(slice_of(SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":null}", 0));
}

Test(objects, slice_malformed)
{
	cr_assert_null(slice_of(SLICE_HEAD "\"endpoints\":[]}", SX_EINVAL)); /* no addressType */
	cr_assert_null(slice_of(SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":"
	                                   "[{\"addresses\":[\"fd00::1\"]}]}",
	                        SX_EINVAL));
	cr_assert_null(slice_of(SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":"
	                                   "[{\"addresses\":[\"10.0.0.300\"]}]}",
	                        SX_EINVAL));
	cr_assert_null(
	        slice_of(SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":[{}]}", SX_EINVAL));
	cr_assert_null(slice_of(SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":"
	                                   "[\"1.2.3.4\"],\"hostname\":\"a.b\"}]}",
	                        SX_EINVAL));
	cr_assert_null(slice_of(SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":"
	                                   "[\"1.2.3.4\"]}],\"ports\":[{\"port\":-1}]}",
	                        SX_EINVAL));
}

Test(objects, slice_same)
{
	const char *a = SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":"
	                           "[\"1.2.3.4\"],\"hostname\":\"h\"}],\"ports\":[{\"port\":80}]}";
	const char *b = SLICE_HEAD "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":"
	                           "[\"1.2.3.4\"],\"hostname\":\"g\"}],\"ports\":[{\"port\":80}]}";
	struct k8s_slice *x = slice_of(a, 0), *y = slice_of(a, 0), *z = slice_of(b, 0);

	cr_assert(k8s_slice_same(x, y));
	cr_assert_not(k8s_slice_same(x, z));
	free(x);
	free(y);
	free(z);
}

static struct k8s_pod *
pod_of(const char *text, int want)
{
	struct k8s_obj o = read_obj(K8S_POD, text, 0, want, NULL);
	struct k8s_pod *p = o.pod;

	o.pod = NULL;
	k8s_obj_fini(&o);
	return p;
}

Test(objects, pods)
{
	struct k8s_pod *p = pod_of("{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"testns\"},"
	                           "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.10\"}}",
	                           0);

	cr_assert_not_null(p);
	cr_assert_eq(p->ip.fam, 4);
	cr_assert_eq(p->ip.a[3], 10);
	cr_assert_eq(p->name_len, 5);
	free(p);
	cr_assert_null(pod_of("{\"metadata\":{\"name\":\"a\","
	                      "\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},"
	                      "\"status\":{\"podIP\":\"10.0.0.1\"}}",
	                      0));
	cr_assert_null(pod_of("{\"metadata\":{\"name\":\"a\"},\"status\":{\"phase\":\"Succeeded\","
	                      "\"podIP\":\"10.0.0.1\"}}",
	                      0));
	cr_assert_null(
	        pod_of("{\"metadata\":{\"name\":\"a\"},\"status\":{\"phase\":\"Pending\"}}", 0));
	cr_assert_null(
	        pod_of("{\"metadata\":{\"name\":\"a\"},\"status\":{\"podIP\":\"x\"}}", SX_EINVAL));
}

static void
dashed_is(const char *addr, const char *want)
{
	struct k8s_ip ip;
	char out[40];
	size_t n;

	cr_assert(k8s_ip_parse(&ip, addr), "%s", addr);
	n = k8s_ip_dashed(out, &ip);
	cr_assert_eq(n, strlen(want), "%s: %.*s", addr, (int)n, out);
	cr_assert(memcmp(out, want, n) == 0, "%s: %.*s", addr, (int)n, out);
}

Test(objects, dashed_names)
{
	dashed_is("10.244.1.10", "10-244-1-10");
	dashed_is("fd00:10:244:1::20", "fd00-10-244-1--20");
	dashed_is("2001:db8::", "2001-db8--0"); /* a trailing '-' gets a 0 */
	dashed_is("::1", "--1");
	dashed_is("2001:db8:0:1:1:1:1:1", "2001-db8-0-1-1-1-1-1"); /* one zero group stays */
	dashed_is("2001:0:0:1:0:0:0:1", "2001-0-0-1--1");          /* the longest run goes */
	dashed_is("::ffff:1.2.3.4", "1-2-3-4");                    /* as Go prints it */
	dashed_is("FD00::ABCD", "fd00--abcd");
}

Test(objects, any_order_and_spacing_read_alike)
{
	/* What the API server sends: metadata first, bookkeeping everywhere. */
	struct k8s_svc *a = svc_ok(
	        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"testns\",\"uid\":\"u\","
	        "\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{\"f:spec\":{}}}]},"
	        "\"spec\":{\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,"
	        "\"targetPort\":8080}],\"selector\":{\"app\":\"web\"},\"clusterIP\":\"10.96.1.1\","
	        "\"clusterIPs\":[\"10.96.1.1\"],\"type\":\"ClusterIP\"},\"status\":{"
	        "\"loadBalancer\":{}}}");
	/* The same, in another order, spaced, with escapes. */
	struct k8s_svc *b = svc_ok(
	        " { \"status\" : { } , \"spec\" : { \"type\" : \"Cluster\\u0049P\" , "
	        "\"clusterIPs\" : [ \"10.96.1.1\" ] , \"ports\" : [ { \"port\" : 80 , "
	        "\"name\" : \"ht\\u0074p\" } ] } , \"metadata\" : { \"namespace\" : \"testns\" , "
	        "\"name\" : \"w\\u0065b\" } } ");

	cr_assert_eq(a->size, b->size);
	cr_assert(memcmp(a, b, a->size) == 0);
	free(a);
	free(b);
}

Test(objects, not_json_is_refused)
{
	struct k8s_obj o;

	o = read_obj(K8S_SERVICE, "{\"metadata\":{\"name\":\"a\"},\"spec\":{", 0, SX_EINVAL,
	             "invalid JSON");
	o = read_obj(K8S_SERVICE, "{\"metadata\":{\"name\":\"a\"}} x", 0, SX_EINVAL,
	             "invalid JSON");
	o = read_obj(K8S_SERVICE, "[1]", 0, SX_EINVAL, "without metadata");
	o = read_obj(K8S_SERVICE, "{\"metadata\":{\"name\":1}}", 0, SX_EINVAL,
	             "without metadata.name");
	(void)o;
}

Test(objects, slice_label_and_trigger_time)
{
	struct k8s_obj o = read_obj(
	        K8S_SLICE,
	        "{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\",\"annotations\":{"
	        "\"endpoints.kubernetes.io/last-change-trigger-time\":\"2024-05-01T10:00:01.5Z\"},"
	        "\"labels\":{\"x\":\"y\",\"kubernetes.io/service-name\":\"Web\"}},"
	        "\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]}]}",
	        0, 0, NULL);

	cr_assert_str_eq(o.svc_name, "Web");
	cr_assert(o.has_trigger);
	cr_assert_float_eq(o.trigger, 1714557601.5, 1e-6);
	cr_assert_not_null(o.slice);
	cr_assert_eq(memcmp(k8s_slice_svc(o.slice), "web", 3), 0);
	k8s_obj_fini(&o);
	/* A deletion reads who it is only: nothing else is checked. */
	o = read_obj(K8S_SLICE,
	             "{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"addressType\":1,"
	             "\"endpoints\":\"x\"}",
	             K8S_READ_META, 0, NULL);
	cr_assert_null(o.slice);
	cr_assert_str_eq(o.name, "s");
}

Test(objects, ident_reads_the_metadata_only)
{
	char id[64], rv[16];
	const char *text = "{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"77\",\"name\":"
	                   "\"p\",\"namespace\":\"n\"},\"spec\":[[[ not json";

	k8s_obj_ident(text, strlen(text), id, sizeof(id), rv, sizeof(rv));
	cr_assert_str_eq(id, "n/p");
	cr_assert_str_eq(rv, "77");
	k8s_obj_ident("{\"metadata\":{\"name\":\"ns1\"}}", 27, id, sizeof(id), rv, sizeof(rv));
	cr_assert_str_eq(id, "ns1");
	cr_assert_str_eq(rv, "");
	k8s_obj_ident("null", 4, id, sizeof(id), rv, sizeof(rv));
	cr_assert_str_eq(id, "?");
	/* A resourceVersion too long to keep is none. */
	text = "{\"metadata\":{\"resourceVersion\":\"12345678901234567890\"}}";
	k8s_obj_ident(text, strlen(text), id, sizeof(id), rv, sizeof(rv));
	cr_assert_str_eq(rv, "");
}
