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

#include "jpull.h"
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

#define KEY_MAX 64 /* longest key compared (the trigger-time annotation is 48), plus one */
#define IP_MAX  64 /* longest address text read; longer ones are invalid anyway */

/* What the top level of an object holds, read in one pass: fields the kind
 * needs are read at once, values read later are kept as cursors. */
struct objin {
	bool meta_seen; /* metadata is an object */
	bool name_seen; /* metadata.name is a string */
	bool ns_seen;   /* metadata.namespace is a non-empty string */
	bool deleting;  /* metadata.deletionTimestamp is set */
	size_t svc_len; /* of the service-name label; 0: none */
	char phase[16]; /* status.phase of a Pod */
	char pod_ip[IP_MAX];
	bool pod_ip_seen;
	bool host_network; /* spec.hostNetwork of a Pod */
	char atype[16];    /* addressType of a slice; "" when not a string */
	bool atype_seen;
	struct k8s_jp spec, status, ports, eps;
	bool spec_seen, status_seen, ports_seen, eps_seen;
};

/* @jp at a value: if it is an object, each key in turn; else the value is skipped. */
#define EACH_KEY(jp, key) for (bool in_ = k8s_jp_object(jp); in_ && k8s_jp_key(jp, key, KEY_MAX);)

/* Read a string value into @buf, or "" when it is not one. @return its length. */
static size_t
str(struct k8s_jp *jp, char *buf, size_t size, bool *seen)
{
	ssize_t n = k8s_jp_str(jp, buf, size);

	if (seen != NULL) {
		*seen = n >= 0;
	}
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

static void
read_meta(struct k8s_jp *jp, enum k8s_kind kind, struct k8s_obj *o, struct objin *in)
{
	char key[KEY_MAX], key2[KEY_MAX], buf[40];
	size_t n;
	bool seen;

	in->meta_seen = k8s_jp_peek(jp) == K8S_JT_OBJECT;
	EACH_KEY(jp, key)
	{
		if (!strcmp(key, "name")) {
			o->name_len = str(jp, o->name, sizeof(o->name), &in->name_seen);
		} else if (!strcmp(key, "namespace")) {
			o->ns_len = str(jp, o->ns, sizeof(o->ns), &seen);
			in->ns_seen = seen && o->ns_len > 0;
		} else if (!strcmp(key, "resourceVersion")) {
			if (str(jp, o->rv, sizeof(o->rv), NULL) >= sizeof(o->rv)) {
				o->rv[0] = '\0'; /* cut: of no use */
			}
		} else if (!strcmp(key, "deletionTimestamp")) {
			in->deleting = k8s_jp_peek(jp) != K8S_JT_NULL;
			k8s_jp_skip(jp, NULL, NULL);
		} else if (!strcmp(key, "labels") && kind == K8S_SLICE) {
			EACH_KEY(jp, key2)
			{
				if (!strcmp(key2, SVC_LABEL)) {
					in->svc_len = str(jp, o->svc_name, sizeof(o->svc_name),
					                  NULL);
				} else {
					k8s_jp_skip(jp, NULL, NULL);
				}
			}
		} else if (!strcmp(key, "annotations") && kind == K8S_SLICE) {
			EACH_KEY(jp, key2)
			{
				if (!strcmp(key2,
				            "endpoints.kubernetes.io/last-change-trigger-time")) {
					n = str(jp, buf, sizeof(buf), &seen);
					o->has_trigger = seen && n < sizeof(buf) &&
					                 k8s_time_parse(buf, &o->trigger);
				} else {
					k8s_jp_skip(jp, NULL, NULL);
				}
			}
		} else {
			k8s_jp_skip(jp, NULL, NULL);
		}
	}
}

/* The top level of an object; @jp is at its first byte. */
static void
read_top(struct k8s_jp *jp, enum k8s_kind kind, struct k8s_obj *o, struct objin *in)
{
	char key[KEY_MAX];

	EACH_KEY(jp, key)
	{
		struct k8s_jp *keep = NULL;
		bool *seen = NULL;

		if (!strcmp(key, "metadata")) {
			read_meta(jp, kind, o, in);
			continue;
		}
		if (kind == K8S_SERVICE && !strcmp(key, "spec")) {
			keep = &in->spec, seen = &in->spec_seen;
		} else if (kind == K8S_SERVICE && !strcmp(key, "status")) {
			keep = &in->status, seen = &in->status_seen;
		} else if (kind == K8S_SLICE && !strcmp(key, "ports")) {
			keep = &in->ports, seen = &in->ports_seen;
		} else if (kind == K8S_SLICE && !strcmp(key, "endpoints")) {
			keep = &in->eps, seen = &in->eps_seen;
		} else if (kind == K8S_SLICE && !strcmp(key, "addressType")) {
			str(jp, in->atype, sizeof(in->atype), &in->atype_seen);
			continue;
		} else if (kind == K8S_POD && !strcmp(key, "spec")) {
			char key2[KEY_MAX];
			EACH_KEY(jp, key2)
			{
				if (!strcmp(key2, "hostNetwork")) {
					in->host_network = k8s_jp_bool(jp) == 1;
				} else {
					k8s_jp_skip(jp, NULL, NULL);
				}
			}
			continue;
		} else if (kind == K8S_POD && !strcmp(key, "status")) {
			char key2[KEY_MAX];
			EACH_KEY(jp, key2)
			{
				if (!strcmp(key2, "phase")) {
					str(jp, in->phase, sizeof(in->phase), NULL);
				} else if (!strcmp(key2, "podIP")) {
					str(jp, in->pod_ip, sizeof(in->pod_ip), &in->pod_ip_seen);
				} else {
					k8s_jp_skip(jp, NULL, NULL);
				}
			}
			continue;
		}
		if (keep != NULL) {
			/* Come back to it once the whole object is known to be JSON. */
			k8s_jp_peek(jp);
			*keep = *jp;
			*seen = true;
		}
		k8s_jp_skip(jp, NULL, NULL);
	}
}

static int
check_meta(const struct k8s_obj *o, const struct objin *in, enum k8s_kind kind, char *err,
           size_t errlen)
{
	if (!in->meta_seen) {
		return fail(err, errlen, "object without metadata");
	}
	if (!in->name_seen) {
		return fail(err, errlen, "object without metadata.name");
	}
	if (kind == K8S_NAMESPACE) {
		if (!valid_label(o->name, o->name_len)) {
			return fail(err, errlen, "namespace \"%s\": invalid name", o->name);
		}
		return 0;
	}
	if (!valid_label(o->ns, o->ns_len)) {
		return fail(err, errlen, "%s: invalid namespace \"%s\"", o->name, o->ns);
	}
	if (kind == K8S_SERVICE ? !valid_label(o->name, o->name_len)
	                        : !valid_subdomain(o->name, o->name_len)) {
		return fail(err, errlen, "%s/%s: invalid name", o->ns, o->name);
	}
	return 0;
}

struct portin {
	uint16_t port;
	uint8_t proto;
	uint8_t name_len;
	char name[K8S_LABEL_MAX + 1];
};

/*
 * Read a ports array. Entries without a port number are skipped when
 * @skip_null (EndpointSlice ports may be null), an error otherwise.
 */
static int
read_ports(struct k8s_jp *jp, struct portin *out, size_t *n, bool skip_null, const char *what,
           char *err, size_t errlen)
{
	char key[KEY_MAX], proto[16];
	enum k8s_jt t = k8s_jp_peek(jp);
	size_t i;

	*n = 0;
	if (t == K8S_JT_NULL || t == K8S_JT_NONE) {
		return 0;
	}
	if (!k8s_jp_array(jp)) {
		return fail(err, errlen, "%s: not an array", what);
	}
	for (i = 0; k8s_jp_next(jp); i++) {
		struct portin *o = &out[*n];
		bool has_port = false, bad_port = false, has_proto = false;
		size_t name_len = 0;
		int64_t v;

		if (i == 255) {
			return fail(err, errlen, "%s: more than 255 ports", what);
		}
		if (k8s_jp_peek(jp) != K8S_JT_OBJECT) {
			return fail(err, errlen, "%s[%zu]: not an object", what, i);
		}
		o->name[0] = '\0';
		EACH_KEY(jp, key)
		{
			if (!strcmp(key, "port")) {
				t = k8s_jp_peek(jp);
				has_port = t != K8S_JT_NULL;
				if (t == K8S_JT_NULL) {
					k8s_jp_skip(jp, NULL, NULL);
				} else if (!k8s_jp_int(jp, &v) || v < 0 || v > 65535) {
					bad_port = true;
				} else {
					o->port = (uint16_t)v;
				}
			} else if (!strcmp(key, "protocol")) {
				str(jp, proto, sizeof(proto), &has_proto);
			} else if (!strcmp(key, "name")) {
				name_len = str(jp, o->name, sizeof(o->name), NULL);
			} else {
				k8s_jp_skip(jp, NULL, NULL);
			}
		}
		if (!has_port) {
			if (skip_null) {
				continue;
			}
			return fail(err, errlen, "%s[%zu]: no port number", what, i);
		}
		if (bad_port) {
			return fail(err, errlen, "%s[%zu].port: not a port number", what, i);
		}
		if (parse_proto(has_proto ? proto : NULL, &o->proto) < 0) {
			return fail(err, errlen, "%s[%zu].protocol: unknown protocol", what, i);
		}
		if (name_len > K8S_LABEL_MAX) {
			return fail(err, errlen, "%s[%zu].name: longer than 63", what, i);
		}
		o->name_len = (uint8_t)name_len;
		(*n)++;
	}
	return 0;
}

/* One ClusterIP (or "None") of a Service. @return 0, or SX_EINVAL. */
static int
cluster_ip(struct k8s_svc *hdr, struct k8s_ip ips[2], const char *s, size_t len,
           const struct k8s_obj *o, char *err, size_t errlen)
{
	if (len == 0) {
		return 0;
	}
	if (!strcmp(s, "None")) {
		hdr->type = K8S_SVC_HEADLESS;
		hdr->nips = 0;
		hdr->v6 = 0;
		return 1; /* the rest does not matter */
	}
	if (hdr->nips == 2) {
		return fail(err, errlen, "service %s/%s: more than two cluster IPs", o->ns,
		            o->name);
	}
	if (len >= IP_MAX || !k8s_ip_parse(&ips[hdr->nips], s)) {
		return fail(err, errlen, "service %s/%s: invalid cluster IP \"%s\"", o->ns, o->name,
		            s);
	}
	hdr->v6 |= (uint8_t)((ips[hdr->nips].fam == 6) << hdr->nips);
	hdr->nips++;
	return 0;
}

/* The outside addresses of a Service, as build_svc() gathers them. */
struct xaddrs {
	uint8_t buf[K8S_XADDR_BYTES];
	size_t len;
	unsigned n;
};

/*
 * Add outside address @s (text): an IP address, else (@may_be_host, a load
 * balancer's hostname) a name. What is neither, and what no longer fits, is
 * left out: the Service still serves its cluster names.
 */
static void
xaddr_add(struct xaddrs *x, const char *s, size_t len, bool may_be_host)
{
	uint8_t wire[255];
	struct k8s_ip ip;
	size_t n;

	if (len == 0 || len >= IP_MAX + K8S_NAME_MAX || x->n == 255) {
		return;
	}
	if (len < IP_MAX && k8s_ip_parse(&ip, s)) {
		n = ip.fam == 4 ? 4 : 16;
		if (x->len + 1 + n <= sizeof(x->buf)) {
			x->buf[x->len] = ip.fam == 4 ? K8S_XADDR_V4 : K8S_XADDR_V6;
			memcpy(x->buf + x->len + 1, ip.a, n);
			x->len += 1 + n;
			x->n++;
		}
		return;
	}
	if (may_be_host && (n = to_wire(wire, s)) > 0 && x->len + 1 + n <= sizeof(x->buf)) {
		x->buf[x->len] = K8S_XADDR_HOST;
		memcpy(x->buf + x->len + 1, wire, n);
		x->len += 1 + n;
		x->n++;
	}
}

/* spec.externalIPs (at @jp): strings; anything else in it is skipped. */
static void
read_external_ips(struct k8s_jp *jp, struct xaddrs *x)
{
	char s[IP_MAX];
	ssize_t n;

	if (k8s_jp_peek(jp) != K8S_JT_ARRAY || !k8s_jp_array(jp)) {
		k8s_jp_skip(jp, NULL, NULL);
		return;
	}
	while (k8s_jp_next(jp)) {
		if ((n = k8s_jp_str(jp, s, sizeof(s))) > 0 && (size_t)n < sizeof(s)) {
			xaddr_add(x, s, (size_t)n, false);
		}
	}
}

/* status.loadBalancer.ingress (@jp at status): each entry's ip, else its hostname. */
static void
read_ingress(struct k8s_jp *jp, struct xaddrs *x)
{
	char key[KEY_MAX], key2[KEY_MAX], key3[KEY_MAX], ip[IP_MAX], host[K8S_NAME_MAX + 3];
	size_t ip_len, host_len;

	EACH_KEY(jp, key)
	{
		if (strcmp(key, "loadBalancer") != 0) {
			k8s_jp_skip(jp, NULL, NULL);
			continue;
		}
		EACH_KEY(jp, key2)
		{
			if (strcmp(key2, "ingress") != 0 || k8s_jp_peek(jp) != K8S_JT_ARRAY ||
			    !k8s_jp_array(jp)) {
				k8s_jp_skip(jp, NULL, NULL);
				continue;
			}
			while (k8s_jp_next(jp)) {
				ip_len = host_len = 0;
				EACH_KEY(jp, key3)
				{
					if (!strcmp(key3, "ip")) {
						ip_len = str(jp, ip, sizeof(ip), NULL);
					} else if (!strcmp(key3, "hostname")) {
						host_len = str(jp, host, sizeof(host), NULL);
					} else {
						k8s_jp_skip(jp, NULL, NULL);
					}
				}
				/* CoreDNS takes the ip when there is one, else the hostname. */
				if (ip_len > 0) {
					xaddr_add(x, ip, ip_len < sizeof(ip) ? ip_len : 0, false);
				} else if (host_len > 0 && host_len < sizeof(host)) {
					xaddr_add(x, host, host_len, true);
				}
			}
		}
	}
}

static int
build_svc(struct k8s_obj *o, struct objin *in, char *err, size_t errlen)
{
	struct xaddrs xa;
	struct portin ports[255];
	struct k8s_svc hdr;
	struct k8s_ip cips[2];
	char key[KEY_MAX], type[16] = "", ext_name[K8S_NAME_MAX + 3] = "", one[IP_MAX] = "";
	uint8_t ext[255];
	size_t nports = 0, ext_len = 0, size, names = 0, one_len = 0, ext_n = 0;
	struct k8s_jp ips = { 0 }, pj = { 0 };
	bool ips_seen = false, ports_seen = false, ext_seen = false;
	int r;

	if (!in->spec_seen || k8s_jp_peek(&in->spec) != K8S_JT_OBJECT) {
		return fail(err, errlen, "service %s/%s: no spec", o->ns, o->name);
	}
	xa.len = 0;
	xa.n = 0;
	EACH_KEY(&in->spec, key)
	{
		if (!strcmp(key, "type")) {
			str(&in->spec, type, sizeof(type), NULL);
		} else if (!strcmp(key, "externalName")) {
			ext_n = str(&in->spec, ext_name, sizeof(ext_name), &ext_seen);
		} else if (!strcmp(key, "clusterIP")) {
			one_len = str(&in->spec, one, sizeof(one), NULL);
		} else if (!strcmp(key, "externalIPs")) {
			read_external_ips(&in->spec, &xa);
		} else if (!strcmp(key, "clusterIPs") || !strcmp(key, "ports")) {
			bool is_ips = key[1] == 'l';
			k8s_jp_peek(&in->spec);
			*(is_ips ? &ips : &pj) = in->spec;
			*(is_ips ? &ips_seen : &ports_seen) = true;
			k8s_jp_skip(&in->spec, NULL, NULL);
		} else {
			k8s_jp_skip(&in->spec, NULL, NULL);
		}
	}
	memset(&hdr, 0, sizeof(hdr));
	if (!strcmp(type, "ExternalName")) {
		struct k8s_ip ip;

		hdr.type = K8S_SVC_EXTERNAL;
		if (!ext_seen || ext_n == 0) {
			return fail(err, errlen,
			            "service %s/%s: ExternalName without spec.externalName", o->ns,
			            o->name);
		}
		/* An IP address there is not a name: CoreDNS ignores the service. */
		if (ext_n >= sizeof(ext_name) || !k8s_ip_parse(&ip, ext_name)) {
			ext_len = ext_n < sizeof(ext_name) ? to_wire(ext, ext_name) : 0;
			if (ext_len == 0) {
				return fail(err, errlen,
				            "service %s/%s: invalid externalName \"%s\"", o->ns,
				            o->name, ext_name);
			}
		}
	} else {
		enum k8s_jt t = ips_seen ? k8s_jp_peek(&ips) : K8S_JT_NULL;
		size_t i = 0;

		hdr.type = K8S_SVC_CLUSTERIP;
		if (t != K8S_JT_NULL && t != K8S_JT_ARRAY) {
			return fail(err, errlen, "service %s/%s: spec.clusterIPs: not an array",
			            o->ns, o->name);
		}
		if (t == K8S_JT_ARRAY && k8s_jp_array(&ips)) {
			for (r = 0; r == 0 && k8s_jp_next(&ips); i++) {
				char s[IP_MAX];
				ssize_t n = k8s_jp_str(&ips, s, sizeof(s));
				if (n < 0) {
					return fail(
					        err, errlen,
					        "service %s/%s: spec.clusterIPs[%zu]: not a string",
					        o->ns, o->name, i);
				}
				r = cluster_ip(&hdr, cips, s, (size_t)n, o, err, errlen);
			}
			if (r < 0) {
				return r;
			}
		}
		if (i == 0 && (r = cluster_ip(&hdr, cips, one, one_len, o, err, errlen)) < 0) {
			return r;
		}
		if (ports_seen &&
		    (r = read_ports(&pj, ports, &nports, false, "spec.ports", err, errlen)) < 0) {
			char why[256];
			snprintf(why, sizeof(why), "%s", err);
			return fail(err, errlen, "service %s/%s: %s", o->ns, o->name, why);
		}
	}
	if (in->status_seen) {
		read_ingress(&in->status, &xa);
	}
	if (hdr.type == K8S_SVC_EXTERNAL) {
		xa.len = 0; /* an ExternalName Service has no outside address of its own */
		xa.n = 0;
	}
	for (size_t i = 0; i < nports; i++) {
		names += ports[i].name_len;
	}
	size_t ports_off = k8s_svc_ports_off(&hdr);
	size = ports_off + nports * sizeof(struct k8s_port) + xa.len + names + ext_len;
	hdr.size = (uint16_t)size;
	hdr.nports = (uint8_t)nports;
	hdr.ext_len = (uint8_t)ext_len;
	hdr.nxaddrs = (uint8_t)xa.n;
	if ((o->svc = malloc(size)) == NULL) {
		return -ENOMEM;
	}
	memset(o->svc, 0, sizeof(hdr)); /* padding too: views compare svcs whole */
	memcpy(o->svc, &hdr, sizeof(hdr));
	uint8_t *ap = (uint8_t *)(o->svc + 1);
	for (unsigned i = 0; i < hdr.nips; i++) {
		size_t n = cips[i].fam == 4 ? 4 : 16;
		memcpy(ap, cips[i].a, n);
		ap += n;
	}
	struct k8s_port *pp = (struct k8s_port *)((char *)o->svc + ports_off);
	uint32_t off = (uint32_t)(ports_off + nports * sizeof(struct k8s_port));
	memcpy((char *)o->svc + off, xa.buf, xa.len);
	off += (uint32_t)xa.len;
	for (size_t i = 0; i < nports; i++) {
		pp[i].port = ports[i].port;
		pp[i].proto = ports[i].proto;
		pp[i].name_len = ports[i].name_len;
		pp[i].name_off = off;
		copy_lower((char *)o->svc + off, ports[i].name, ports[i].name_len);
		off += ports[i].name_len;
	}
	memcpy((char *)o->svc + off, ext, ext_len);
	return 0;
}

/* One endpoint of a slice: @addrs is left at its addresses. */
struct epin {
	struct k8s_jp addrs;
	bool is_obj, addrs_seen, ready;
	char host[K8S_LABEL_MAX + 1], pod[K8S_LABEL_MAX + 1];
	size_t host_len, pod_len;
};

static void
read_ep(struct k8s_jp *jp, struct epin *e)
{
	char key[KEY_MAX], key2[KEY_MAX];

	memset(e, 0, sizeof(*e));
	e->ready = true; /* conditions.ready true or not given */
	e->is_obj = k8s_jp_peek(jp) == K8S_JT_OBJECT;
	EACH_KEY(jp, key)
	{
		if (!strcmp(key, "addresses")) {
			e->addrs_seen = k8s_jp_peek(jp) == K8S_JT_ARRAY;
			e->addrs = *jp;
			k8s_jp_skip(jp, NULL, NULL);
		} else if (!strcmp(key, "hostname")) {
			e->host_len = str(jp, e->host, sizeof(e->host), NULL);
		} else if (!strcmp(key, "targetRef")) {
			EACH_KEY(jp, key2)
			{
				if (!strcmp(key2, "name")) {
					e->pod_len = str(jp, e->pod, sizeof(e->pod), NULL);
				} else {
					k8s_jp_skip(jp, NULL, NULL);
				}
			}
		} else if (!strcmp(key, "conditions")) {
			EACH_KEY(jp, key2)
			{
				if (!strcmp(key2, "ready")) {
					enum k8s_jt t = k8s_jp_peek(jp);
					e->ready = t == K8S_JT_NULL ||
					           (t == K8S_JT_BOOL && *jp->p == 't');
				}
				k8s_jp_skip(jp, NULL, NULL);
			}
		} else {
			k8s_jp_skip(jp, NULL, NULL);
		}
	}
}

/* The next address of an endpoint. @return false at the end (or on an error: *@bad). */
static bool
next_addr(struct k8s_jp *addrs, uint8_t fam, struct k8s_ip *ip, bool *bad)
{
	char s[IP_MAX];
	ssize_t n;

	if (!k8s_jp_next(addrs)) {
		return false;
	}
	n = k8s_jp_str(addrs, s, sizeof(s));
	*bad = n < 0 || n >= IP_MAX || !k8s_ip_parse(ip, s) || ip->fam != fam;
	return !*bad;
}

static int
build_slice(struct k8s_obj *o, struct objin *in, bool pod_names, char *err, size_t errlen)
{
	struct portin ports[255];
	size_t nports = 0, neps = 0, strs, i;
	struct epin e;
	struct k8s_jp eps;
	uint8_t fam;
	int r;

	if (in->svc_len == 0) {
		return 0; /* not owned by a Service: nothing to serve */
	}
	if (!valid_label(o->svc_name, in->svc_len)) {
		return fail(err, errlen, "endpointslice %s/%s: invalid service name \"%s\"", o->ns,
		            o->name, o->svc_name);
	}
	if (!in->atype_seen) {
		return fail(err, errlen, "endpointslice %s/%s: no addressType", o->ns, o->name);
	}
	if (strcmp(in->atype, "IPv4") == 0) {
		fam = 4;
	} else if (strcmp(in->atype, "IPv6") == 0) {
		fam = 6;
	} else {
		return 0; /* FQDN slices carry no address a DNS record can use */
	}
	if (in->ports_seen &&
	    (r = read_ports(&in->ports, ports, &nports, true, "ports", err, errlen)) < 0) {
		char why[256];
		snprintf(why, sizeof(why), "%s", err);
		return fail(err, errlen, "endpointslice %s/%s: %s", o->ns, o->name, why);
	}

	/* First pass: validate, count addresses and string bytes. */
	strs = o->name_len + in->svc_len;
	for (i = 0; i < nports; i++) {
		strs += ports[i].name_len;
	}
	enum k8s_jt t = in->eps_seen ? k8s_jp_peek(&in->eps) : K8S_JT_NULL;
	if (t != K8S_JT_NULL && t != K8S_JT_ARRAY) {
		return fail(err, errlen, "endpointslice %s/%s: endpoints: not an array", o->ns,
		            o->name);
	}
	eps = in->eps;
	bool more = t == K8S_JT_ARRAY && k8s_jp_array(&eps) && k8s_jp_next(&eps);
	for (i = 0; more; i++, more = k8s_jp_next(&eps)) {
		struct k8s_ip ip;
		size_t naddrs = 0;
		bool bad = false;

		read_ep(&eps, &e);
		if (!e.is_obj || !e.addrs_seen) {
			return fail(err, errlen,
			            "endpointslice %s/%s: endpoints[%zu]: no addresses", o->ns,
			            o->name, i);
		}
		if (e.host_len > 0 && !valid_label(e.host, e.host_len)) {
			return fail(err, errlen,
			            "endpointslice %s/%s: endpoints[%zu]: invalid hostname", o->ns,
			            o->name, i);
		}
		k8s_jp_array(&e.addrs);
		while (next_addr(&e.addrs, fam, &ip, &bad)) {
			naddrs++;
		}
		if (bad) {
			return fail(err, errlen,
			            "endpointslice %s/%s: endpoints[%zu]: invalid IPv%u address",
			            o->ns, o->name, i, fam);
		}
		if (!e.ready) {
			continue;
		}
		neps += naddrs;
		/* A pod name that is not one label cannot be an endpoint name. */
		strs += (e.host_len +
		         (pod_names && valid_label(e.pod, e.pod_len) ? e.pod_len : 0)) *
		        naddrs;
	}
	if (neps == 0) {
		return 0;
	}
	if (neps > UINT16_MAX) {
		return fail(err, errlen, "endpointslice %s/%s: too many endpoints", o->ns, o->name);
	}

	size_t ports_off = k8s_slice_ports_off((unsigned)neps);
	size_t names_off = k8s_slice_names_off((unsigned)neps, (unsigned)nports, fam);
	struct k8s_slice *sl = calloc(1, names_off + strs);
	if (sl == NULL) {
		return -ENOMEM;
	}
	sl->neps = (uint16_t)neps;
	sl->nports = (uint8_t)nports;
	sl->fam = fam;
	sl->name_len = (uint8_t)o->name_len;
	sl->svc_len = (uint8_t)in->svc_len;
	char *sp = (char *)sl + names_off;
	copy_lower(sp, o->name, o->name_len);
	sp += o->name_len;
	copy_lower(sp, o->svc_name, in->svc_len);
	sp += in->svc_len;
	struct k8s_port *pp = (struct k8s_port *)((char *)sl + ports_off);
	for (i = 0; i < nports; i++) {
		pp[i].port = ports[i].port;
		pp[i].proto = ports[i].proto;
		pp[i].name_len = ports[i].name_len;
		pp[i].name_off = (uint32_t)(sp - (char *)sl);
		copy_lower(sp, ports[i].name, ports[i].name_len);
		sp += ports[i].name_len;
	}
	/* Second pass: the ready addresses. */
	size_t k = 0;
	eps = in->eps;
	for (more = k8s_jp_array(&eps) && k8s_jp_next(&eps); more; more = k8s_jp_next(&eps)) {
		struct k8s_ip ip;
		bool bad = false;

		read_ep(&eps, &e);
		if (!e.ready) {
			continue;
		}
		size_t np = pod_names && valid_label(e.pod, e.pod_len) ? e.pod_len : 0;
		k8s_jp_array(&e.addrs);
		while (next_addr(&e.addrs, fam, &ip, &bad)) {
			struct k8s_ep *ep = &sl->eps[k];

			memcpy((uint8_t *)k8s_slice_addr(sl, (unsigned)k), ip.a, fam == 4 ? 4 : 16);
			ep->idx = (uint16_t)k;
			ep->host_len = (uint8_t)e.host_len;
			ep->pod_len = (uint8_t)np;
			ep->str_off = (uint32_t)(sp - (char *)sl);
			copy_lower(sp, e.host, e.host_len);
			sp += e.host_len;
			copy_lower(sp, e.pod, np);
			sp += np;
			k++;
		}
	}
	o->slice = sl;
	return 0;
}

static int
build_pod(struct k8s_obj *o, struct objin *in, char *err, size_t errlen)
{
	struct k8s_ip ip;
	struct k8s_pod *p;

	/* Pods on the host's network share its address: it tells no namespace. */
	if (in->pod_ip_seen && strlen(in->pod_ip) + 1 < sizeof(in->pod_ip) &&
	    k8s_ip_parse(&o->pod_ip, in->pod_ip)) {
		o->pod_indexed = !in->deleting && !in->host_network &&
		                 !strcmp(in->phase, "Running");
	}
	if (in->deleting) {
		return 0;
	}
	if (!strcmp(in->phase, "Succeeded") || !strcmp(in->phase, "Failed") ||
	    !strcmp(in->phase, "Unknown")) {
		return 0;
	}
	if (!in->pod_ip_seen || in->pod_ip[0] == '\0') {
		return 0;
	}
	if (strlen(in->pod_ip) + 1 >= sizeof(in->pod_ip) || !k8s_ip_parse(&ip, in->pod_ip)) {
		return fail(err, errlen, "pod %s/%s: invalid status.podIP \"%s\"", o->ns, o->name,
		            in->pod_ip);
	}
	if ((p = calloc(1, sizeof(*p) + o->name_len)) == NULL) {
		return -ENOMEM;
	}
	p->ip = ip;
	p->name_len = (uint8_t)o->name_len;
	copy_lower(p->name, o->name, o->name_len);
	o->pod = p;
	return 0;
}

int
k8s_obj_read(struct k8s_obj *o, enum k8s_kind kind, const char *json, size_t len, unsigned flags,
             char *err, size_t errlen)
{
	struct objin in;
	struct k8s_jp jp;
	char why[128];
	int r;

	memset(o, 0, sizeof(*o));
	memset(&in, 0, sizeof(in));
	k8s_jp_init(&jp, json, len);
	read_top(&jp, kind, o, &in);
	if (!k8s_jp_end(&jp)) {
		return fail(err, errlen, "invalid JSON: %s", k8s_jp_error(&jp, why, sizeof(why)));
	}
	if (kind != K8S_NAMESPACE && !in.ns_seen) {
		strcpy(o->ns, "default"); /* as kubectl does for a manifest without one */
		o->ns_len = 7;
	} else if (kind == K8S_NAMESPACE) {
		o->ns[0] = '\0';
		o->ns_len = 0;
	}
	if ((r = check_meta(o, &in, kind, err, errlen)) < 0 || (flags & K8S_READ_META)) {
		return r;
	}
	switch (kind) {
	case K8S_SERVICE:
		return build_svc(o, &in, err, errlen);
	case K8S_SLICE:
		return build_slice(o, &in, flags & K8S_READ_POD_NAMES, err, errlen);
	case K8S_POD:
		return build_pod(o, &in, err, errlen);
	case K8S_NAMESPACE:
	case K8S_NKINDS:
		break;
	}
	return 0;
}

void
k8s_obj_fini(struct k8s_obj *o)
{
	free(o->svc);
	free(o->slice);
	free(o->pod);
	o->svc = NULL;
	o->slice = NULL;
	o->pod = NULL;
}

void
k8s_obj_ident(const char *json, size_t len, char *id, size_t idsize, char *rv, size_t rvsize)
{
	char key[KEY_MAX], ns[K8S_LABEL_MAX + 1] = "", name[K8S_NAME_MAX + 1] = "?";
	struct k8s_jp jp;

	rv[0] = '\0';
	k8s_jp_init(&jp, json, len);
	EACH_KEY(&jp, key)
	{
		if (strcmp(key, "metadata")) {
			k8s_jp_skip(&jp, NULL, NULL);
			continue;
		}
		EACH_KEY(&jp, key)
		{
			if (!strcmp(key, "name")) {
				str(&jp, name, sizeof(name), NULL);
			} else if (!strcmp(key, "namespace")) {
				str(&jp, ns, sizeof(ns), NULL);
			} else if (!strcmp(key, "resourceVersion")) {
				if (str(&jp, rv, rvsize, NULL) >= rvsize) {
					rv[0] = '\0';
				}
			} else {
				k8s_jp_skip(&jp, NULL, NULL);
			}
		}
		break; /* nothing more is needed */
	}
	snprintf(id, idsize, "%s%s%s", ns, ns[0] ? "/" : "", name[0] ? name : "?");
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
	if (memcmp(k8s_slice_addr(a, 0), k8s_slice_addr(b, 0),
	           a->neps * (a->fam == 4 ? 4u : 16u))) {
		return false;
	}
	for (unsigned i = 0; i < a->neps; i++) {
		const struct k8s_ep *p = &a->eps[i], *q = &b->eps[i];
		if (p->host_len != q->host_len || p->pod_len != q->pod_len ||
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
