/* objects.c -- API objects (jansson) to the compact structs the plugin keeps. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sextant/error.h>

#include "objects.h"

#define SVC_LABEL "kubernetes.io/service-name"

static int
fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return SX_EINVAL;
}

/* A DNS label as Kubernetes names are: [a-z0-9-], at most 63 (upper case is folded). */
static bool
valid_label(const char *s, size_t len)
{
	if (len == 0 || len > K8S_LABEL_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_') {
			return false;
		}
	}
	return true;
}

/* A DNS subdomain (slice and pod names): labels joined by dots, at most 253. */
static bool
valid_subdomain(const char *s, size_t len)
{
	if (len == 0 || len > K8S_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_') {
			return false;
		}
	}
	return true;
}

static void
copy_lower(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		dst[i] = (char)tolower((unsigned char)src[i]);
	}
}

bool
k8s_ip_parse(struct k8s_ip *ip, const char *s)
{
	memset(ip, 0, sizeof(*ip));
	if (strchr(s, ':') == NULL) {
		ip->fam = 4;
		return inet_pton(AF_INET, s, ip->a) == 1;
	}
	ip->fam = 6;
	return inet_pton(AF_INET6, s, ip->a) == 1;
}

/* Formatting by hand: this runs per answered endpoint, and printf costs ten times more. */
static size_t
put_dec(char *out, unsigned v)
{
	size_t n = v >= 100 ? 3 : v >= 10 ? 2 : 1;

	for (size_t i = n; i > 0; i--, v /= 10) {
		out[i - 1] = (char)('0' + v % 10);
	}
	return n;
}

static size_t
put_hex(char *out, unsigned v)
{
	size_t n = v >= 0x1000 ? 4 : v >= 0x100 ? 3 : v >= 0x10 ? 2 : 1;

	for (size_t i = n; i > 0; i--, v >>= 4) {
		out[i - 1] = "0123456789abcdef"[v & 15];
	}
	return n;
}

static size_t
put_v4(char *out, const uint8_t *a, char sep)
{
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			out[n++] = sep;
		}
		n += put_dec(out + n, a[i]);
	}
	return n;
}

size_t
k8s_ip_dashed(char out[40], const struct k8s_ip *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *a = ip->a;
	unsigned w[8];
	int best = -1, bestlen = 0;
	size_t n = 0;

	if (ip->fam == 4) {
		return put_v4(out, a, '-');
	}
	/* Go prints an IPv4-mapped address in dotted form. */
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		return put_v4(out, a + 12, '-');
	}
	for (int i = 0; i < 8; i++) {
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	}
	/* RFC 5952: the longest run of two or more zero groups becomes "::". */
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && w[j] == 0) {
			j++;
		}
		if (j - i > bestlen && j - i >= 2) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			out[n++] = '-';
			out[n++] = '-';
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && i != best + bestlen) {
			out[n++] = '-';
		}
		n += put_hex(out + n, w[i]);
	}
	if (out[n - 1] == '-') {
		out[n++] = '0';
	}
	return n;
}

static const char *
str_field(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int
parse_proto(const char *s, uint8_t *proto)
{
	if (s == NULL || strcmp(s, "TCP") == 0) {
		*proto = K8S_TCP;
	} else if (strcmp(s, "UDP") == 0) {
		*proto = K8S_UDP;
	} else if (strcmp(s, "SCTP") == 0) {
		*proto = K8S_SCTP;
	} else {
		return SX_EINVAL;
	}
	return 0;
}

int
k8s_obj_meta(json_t *obj, enum k8s_kind kind, struct k8s_meta *m, char *err, size_t errlen)
{
	json_t *md = json_object_get(obj, "metadata");

	memset(m, 0, sizeof(*m));
	if (!json_is_object(md)) {
		return fail(err, errlen, "object without metadata");
	}
	m->name = str_field(md, "name");
	if (m->name == NULL) {
		return fail(err, errlen, "object without metadata.name");
	}
	m->name_len = strlen(m->name);
	if (kind == K8S_NAMESPACE) {
		if (!valid_label(m->name, m->name_len)) {
			return fail(err, errlen, "namespace \"%s\": invalid name", m->name);
		}
		return 0;
	}
	m->ns = str_field(md, "namespace");
	if (m->ns == NULL || m->ns[0] == '\0') {
		m->ns = "default"; /* as kubectl does for a manifest without one */
	}
	m->ns_len = strlen(m->ns);
	if (!valid_label(m->ns, m->ns_len)) {
		return fail(err, errlen, "%s: invalid namespace \"%s\"", m->name, m->ns);
	}
	if (kind == K8S_SERVICE ? !valid_label(m->name, m->name_len)
	                        : !valid_subdomain(m->name, m->name_len)) {
		return fail(err, errlen, "%s/%s: invalid name", m->ns, m->name);
	}
	return 0;
}

/* Presentation name to lower-case uncompressed wire form; @return length or 0. */
static size_t
to_wire(uint8_t out[255], const char *s)
{
	size_t n = 0, len = strlen(s);

	if (len > 0 && s[len - 1] == '.') {
		len--;
	}
	if (len == 0) {
		return 0;
	}
	for (size_t i = 0; i <= len;) {
		size_t j = i;
		while (j < len && s[j] != '.') {
			j++;
		}
		if (j == i || j - i > 63 || n + 1 + (j - i) + 1 > 255) {
			return 0;
		}
		out[n++] = (uint8_t)(j - i);
		copy_lower((char *)out + n, s + i, j - i);
		n += j - i;
		i = j + 1;
	}
	out[n++] = 0;
	return n;
}

struct portin {
	uint16_t port;
	uint8_t proto;
	const char *name;
	size_t name_len;
};

/*
 * Read a ports array. Entries without a port number are skipped when
 * @skip_null (EndpointSlice ports may be null), an error otherwise.
 */
static int
read_ports(json_t *arr, struct portin *out, size_t *n, bool skip_null, const char *what, char *err,
           size_t errlen)
{
	size_t i;
	json_t *p;

	*n = 0;
	if (arr == NULL || json_is_null(arr)) {
		return 0;
	}
	if (!json_is_array(arr)) {
		return fail(err, errlen, "%s: not an array", what);
	}
	if (json_array_size(arr) > 255) {
		return fail(err, errlen, "%s: more than 255 ports", what);
	}
	json_array_foreach(arr, i, p)
	{
		json_t *num = json_object_get(p, "port");
		struct portin *o = &out[*n];

		if (!json_is_object(p)) {
			return fail(err, errlen, "%s[%zu]: not an object", what, i);
		}
		if (num == NULL || json_is_null(num)) {
			if (skip_null) {
				continue;
			}
			return fail(err, errlen, "%s[%zu]: no port number", what, i);
		}
		if (!json_is_integer(num) || json_integer_value(num) < 0 ||
		    json_integer_value(num) > 65535) {
			return fail(err, errlen, "%s[%zu].port: not a port number", what, i);
		}
		o->port = (uint16_t)json_integer_value(num);
		if (parse_proto(str_field(p, "protocol"), &o->proto) < 0) {
			return fail(err, errlen, "%s[%zu].protocol: unknown protocol", what, i);
		}
		o->name = str_field(p, "name");
		o->name_len = o->name ? strlen(o->name) : 0;
		if (o->name_len > K8S_LABEL_MAX) {
			return fail(err, errlen, "%s[%zu].name: longer than 63", what, i);
		}
		(*n)++;
	}
	return 0;
}

int
k8s_svc_from_json(json_t *obj, struct k8s_svc **out, char *err, size_t errlen)
{
	struct portin ports[255];
	struct k8s_svc hdr;
	struct k8s_meta m;
	uint8_t ext[255];
	size_t nports = 0, ext_len = 0, size, names = 0;
	json_t *spec, *ips;
	const char *type;
	int r;

	*out = NULL;
	r = k8s_obj_meta(obj, K8S_SERVICE, &m, err, errlen);
	if (r < 0) {
		return r;
	}
	spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		return fail(err, errlen, "service %s/%s: no spec", m.ns, m.name);
	}
	memset(&hdr, 0, sizeof(hdr));
	type = str_field(spec, "type");
	if (type != NULL && strcmp(type, "ExternalName") == 0) {
		const char *en = str_field(spec, "externalName");
		struct k8s_ip ip;

		hdr.type = K8S_SVC_EXTERNAL;
		if (en == NULL || en[0] == '\0') {
			return fail(err, errlen,
			            "service %s/%s: ExternalName without spec.externalName", m.ns,
			            m.name);
		}
		/* An IP address there is not a name: CoreDNS ignores the service. */
		if (!k8s_ip_parse(&ip, en)) {
			ext_len = to_wire(ext, en);
			if (ext_len == 0) {
				return fail(err, errlen,
				            "service %s/%s: invalid externalName \"%s\"", m.ns,
				            m.name, en);
			}
		}
	} else {
		const char *one = str_field(spec, "clusterIP");
		size_t i;

		hdr.type = K8S_SVC_CLUSTERIP;
		ips = json_object_get(spec, "clusterIPs");
		if (ips != NULL && !json_is_null(ips) && !json_is_array(ips)) {
			return fail(err, errlen, "service %s/%s: spec.clusterIPs: not an array",
			            m.ns, m.name);
		}
		if (ips == NULL || json_array_size(ips) == 0) {
			ips = NULL;
		}
		for (i = 0; ips ? i < json_array_size(ips) : i < 1; i++) {
			const char *s = ips ? json_string_value(json_array_get(ips, i)) : one;

			if (ips && s == NULL) {
				return fail(err, errlen,
				            "service %s/%s: spec.clusterIPs[%zu]: not a string",
				            m.ns, m.name, i);
			}
			if (s == NULL || s[0] == '\0') {
				continue;
			}
			if (strcmp(s, "None") == 0) {
				hdr.type = K8S_SVC_HEADLESS;
				hdr.nips = 0;
				break;
			}
			if (hdr.nips == 2) {
				return fail(err, errlen, "service %s/%s: more than two cluster IPs",
				            m.ns, m.name);
			}
			if (!k8s_ip_parse(&hdr.ips[hdr.nips], s)) {
				return fail(err, errlen, "service %s/%s: invalid cluster IP \"%s\"",
				            m.ns, m.name, s);
			}
			hdr.nips++;
		}
		r = read_ports(json_object_get(spec, "ports"), ports, &nports, false, "spec.ports",
		               err, errlen);
		if (r < 0) {
			char why[256];
			snprintf(why, sizeof(why), "%s", err);
			return fail(err, errlen, "service %s/%s: %s", m.ns, m.name, why);
		}
	}
	for (size_t i = 0; i < nports; i++) {
		names += ports[i].name_len;
	}
	size = sizeof(hdr) + nports * sizeof(struct k8s_port) + names + ext_len;
	hdr.size = (uint32_t)size;
	hdr.nports = (uint8_t)nports;
	hdr.ext_len = (uint8_t)ext_len;
	*out = malloc(size);
	if (*out == NULL) {
		return -ENOMEM;
	}
	memcpy(*out, &hdr, sizeof(hdr));
	struct k8s_port *pp = (struct k8s_port *)(*out + 1);
	uint32_t off = (uint32_t)(sizeof(hdr) + nports * sizeof(struct k8s_port));
	for (size_t i = 0; i < nports; i++) {
		pp[i].port = ports[i].port;
		pp[i].proto = ports[i].proto;
		pp[i].name_len = (uint8_t)ports[i].name_len;
		pp[i].name_off = off;
		copy_lower((char *)*out + off, ports[i].name, ports[i].name_len);
		off += (uint32_t)ports[i].name_len;
	}
	memcpy((char *)*out + off, ext, ext_len);
	return 0;
}

/* Whether endpoint @e is ready: conditions.ready true or not given. */
static bool
ep_ready(json_t *e)
{
	json_t *ready = json_object_get(json_object_get(e, "conditions"), "ready");

	return ready == NULL || json_is_null(ready) || json_is_true(ready);
}

int
k8s_slice_from_json(json_t *obj, bool pod_names, struct k8s_slice **out, char *err, size_t errlen)
{
	struct portin ports[255];
	struct k8s_meta m;
	const char *svc, *atype;
	size_t nports, neps = 0, strs, size, i, j;
	json_t *eps, *e;
	uint8_t fam;
	int r;

	*out = NULL;
	r = k8s_obj_meta(obj, K8S_SLICE, &m, err, errlen);
	if (r < 0) {
		return r;
	}
	svc = str_field(json_object_get(json_object_get(obj, "metadata"), "labels"), SVC_LABEL);
	if (svc == NULL || svc[0] == '\0') {
		return 0; /* not owned by a Service: nothing to serve */
	}
	if (!valid_label(svc, strlen(svc))) {
		return fail(err, errlen, "endpointslice %s/%s: invalid service name \"%s\"", m.ns,
		            m.name, svc);
	}
	atype = str_field(obj, "addressType");
	if (atype == NULL) {
		return fail(err, errlen, "endpointslice %s/%s: no addressType", m.ns, m.name);
	}
	if (strcmp(atype, "IPv4") == 0) {
		fam = 4;
	} else if (strcmp(atype, "IPv6") == 0) {
		fam = 6;
	} else {
		return 0; /* FQDN slices carry no address a DNS record can use */
	}
	r = read_ports(json_object_get(obj, "ports"), ports, &nports, true, "ports", err, errlen);
	if (r < 0) {
		char why[256];
		snprintf(why, sizeof(why), "%s", err);
		return fail(err, errlen, "endpointslice %s/%s: %s", m.ns, m.name, why);
	}

	/* First pass: validate, count addresses and string bytes. */
	strs = m.name_len + strlen(svc);
	for (i = 0; i < nports; i++) {
		strs += ports[i].name_len;
	}
	eps = json_object_get(obj, "endpoints");
	if (eps != NULL && !json_is_null(eps) && !json_is_array(eps)) {
		return fail(err, errlen, "endpointslice %s/%s: endpoints: not an array", m.ns,
		            m.name);
	}
	json_array_foreach(eps, i, e)
	{
		json_t *addrs = json_object_get(e, "addresses");
		const char *host = str_field(e, "hostname");
		const char *pod = str_field(json_object_get(e, "targetRef"), "name");
		size_t nh = host ? strlen(host) : 0, np = pod ? strlen(pod) : 0;
		json_t *a;

		if (!json_is_object(e) || !json_is_array(addrs)) {
			return fail(err, errlen,
			            "endpointslice %s/%s: endpoints[%zu]: no addresses", m.ns,
			            m.name, i);
		}
		if (nh > 0 && !valid_label(host, nh)) {
			return fail(err, errlen,
			            "endpointslice %s/%s: endpoints[%zu]: invalid hostname", m.ns,
			            m.name, i);
		}
		json_array_foreach(addrs, j, a)
		{
			struct k8s_ip ip;
			const char *s = json_string_value(a);

			if (s == NULL || !k8s_ip_parse(&ip, s) || ip.fam != fam) {
				return fail(
				        err, errlen,
				        "endpointslice %s/%s: endpoints[%zu]: invalid IPv%u address",
				        m.ns, m.name, i, fam);
			}
		}
		if (!ep_ready(e)) {
			continue;
		}
		neps += json_array_size(addrs);
		/* A pod name that is not one label cannot be an endpoint name. */
		strs += (nh + (pod_names && valid_label(pod ? pod : "", np) ? np : 0)) *
		        json_array_size(addrs);
	}
	if (neps == 0) {
		return 0;
	}
	if (neps > UINT16_MAX) {
		return fail(err, errlen, "endpointslice %s/%s: too many endpoints", m.ns, m.name);
	}

	size = sizeof(struct k8s_slice) + neps * sizeof(struct k8s_ep);
	size_t ports_off = size;
	size += nports * sizeof(struct k8s_port);
	size_t names_off = size;
	size += strs;
	struct k8s_slice *sl = calloc(1, size);
	if (sl == NULL) {
		return -ENOMEM;
	}
	sl->size = (uint32_t)size;
	sl->ports_off = (uint32_t)ports_off;
	sl->neps = (uint16_t)neps;
	sl->nports = (uint8_t)nports;
	sl->fam = fam;
	sl->name_len = (uint8_t)m.name_len;
	sl->svc_len = (uint8_t)strlen(svc);
	sl->names_off = (uint32_t)names_off;
	char *sp = (char *)sl + names_off;
	copy_lower(sp, m.name, m.name_len);
	sp += m.name_len;
	copy_lower(sp, svc, sl->svc_len);
	sp += sl->svc_len;
	struct k8s_port *pp = (struct k8s_port *)((char *)sl + ports_off);
	for (i = 0; i < nports; i++) {
		pp[i].port = ports[i].port;
		pp[i].proto = ports[i].proto;
		pp[i].name_len = (uint8_t)ports[i].name_len;
		pp[i].name_off = (uint32_t)(sp - (char *)sl);
		copy_lower(sp, ports[i].name, ports[i].name_len);
		sp += ports[i].name_len;
	}
	size_t k = 0;
	json_array_foreach(eps, i, e)
	{
		json_t *addrs = json_object_get(e, "addresses"), *a;
		const char *host = str_field(e, "hostname");
		const char *pod = str_field(json_object_get(e, "targetRef"), "name");
		size_t nh = host ? strlen(host) : 0, np = pod ? strlen(pod) : 0;

		if (!ep_ready(e)) {
			continue;
		}
		if (!pod_names || !valid_label(pod ? pod : "", np)) {
			np = 0;
		}
		json_array_foreach(addrs, j, a)
		{
			struct k8s_ep *ep = &sl->eps[k];
			struct k8s_ip ip;

			k8s_ip_parse(&ip, json_string_value(a));
			memcpy(ep->a, ip.a, sizeof(ep->a));
			ep->idx = (uint16_t)k;
			ep->host_len = (uint8_t)nh;
			ep->pod_len = (uint8_t)np;
			ep->str_off = (uint32_t)(sp - (char *)sl);
			copy_lower(sp, host, nh);
			sp += nh;
			copy_lower(sp, pod, np);
			sp += np;
			k++;
		}
	}
	*out = sl;
	return 0;
}

int
k8s_pod_from_json(json_t *obj, struct k8s_pod **out, char *err, size_t errlen)
{
	struct k8s_meta m;
	struct k8s_ip ip;
	json_t *status, *del;
	const char *phase, *pip;
	int r;

	*out = NULL;
	r = k8s_obj_meta(obj, K8S_POD, &m, err, errlen);
	if (r < 0) {
		return r;
	}
	del = json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp");
	if (del != NULL && !json_is_null(del)) {
		return 0;
	}
	status = json_object_get(obj, "status");
	phase = str_field(status, "phase");
	if (phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0 ||
	                      strcmp(phase, "Unknown") == 0)) {
		return 0;
	}
	pip = str_field(status, "podIP");
	if (pip == NULL || pip[0] == '\0') {
		return 0;
	}
	if (!k8s_ip_parse(&ip, pip)) {
		return fail(err, errlen, "pod %s/%s: invalid status.podIP \"%s\"", m.ns, m.name,
		            pip);
	}
	struct k8s_pod *p = calloc(1, sizeof(*p) + m.name_len);
	if (p == NULL) {
		return -ENOMEM;
	}
	p->ip = ip;
	p->name_len = (uint8_t)m.name_len;
	copy_lower(p->name, m.name, m.name_len);
	*out = p;
	return 0;
}

bool
k8s_slice_same(const struct k8s_slice *a, const struct k8s_slice *b)
{
	if (a->fam != b->fam || a->neps != b->neps || a->nports != b->nports ||
	    a->name_len != b->name_len || a->svc_len != b->svc_len ||
	    memcmp(k8s_slice_name(a), k8s_slice_name(b), a->name_len + a->svc_len) != 0) {
		return false;
	}
	for (unsigned i = 0; i < a->nports; i++) {
		const struct k8s_port *p = &k8s_slice_ports(a)[i], *q = &k8s_slice_ports(b)[i];
		if (p->port != q->port || p->proto != q->proto || p->name_len != q->name_len ||
		    memcmp(k8s_slice_str(a, p->name_off), k8s_slice_str(b, q->name_off),
		           p->name_len) != 0) {
			return false;
		}
	}
	for (unsigned i = 0; i < a->neps; i++) {
		const struct k8s_ep *p = &a->eps[i], *q = &b->eps[i];
		if (memcmp(p->a, q->a, sizeof(p->a)) != 0 || p->host_len != q->host_len ||
		    p->pod_len != q->pod_len ||
		    memcmp(k8s_slice_str(a, p->str_off), k8s_slice_str(b, q->str_off),
		           p->host_len + p->pod_len) != 0) {
			return false;
		}
	}
	return true;
}

/* @n decimal digits at @s. @return the value, or -1. */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return -1;
		}
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool
k8s_time_parse(const char *s, double *t)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	double frac = 0, scale = 0.1;
	int off = 0;
	time_t secs;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':') {
		return false;
	}
	int year = digits(s, 4), mon = digits(s + 5, 2), day = digits(s + 8, 2);
	int hour = digits(s + 11, 2), min = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour < 0 ||
	    hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59) {
		return false;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	s += 19;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9') {
			return false;
		}
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10) {
			frac += (*s - '0') * scale;
		}
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
		off = 0;
	} else if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':' &&
	           digits(s + 1, 2) >= 0 && digits(s + 1, 2) < 24 && digits(s + 4, 2) >= 0 &&
	           digits(s + 4, 2) < 60) {
		off = (digits(s + 1, 2) * 60 + digits(s + 4, 2)) * 60 * (*s == '-' ? -1 : 1);
	} else {
		return false;
	}
	secs = timegm(&tm);
	*t = (double)secs - off + frac;
	return true;
}

bool
k8s_trigger_time(json_t *obj, double *t)
{
	json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
	const char *v = str_field(ann, "endpoints.kubernetes.io/last-change-trigger-time");

	return v != NULL && k8s_time_parse(v, t);
}
