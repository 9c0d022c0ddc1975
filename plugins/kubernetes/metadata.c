/* metadata.c -- the kubernetes plugin as a metadata provider: what a query name means, who asks. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "k8s.h"
#include "zone.h"

/*
 * Labels as CoreDNS's kubernetes plugin sets them, each computed when read:
 * the parts of a query name under the plugin's zones (kind, namespace,
 * service, endpoint, port-name, protocol; or parse-error for a name that
 * cannot be a record), and with `pods verified` the namespace and name of
 * the pod the query came from.
 */
struct parts {
	const uint8_t *kind, *ns, *svc, *ep, *port, *proto; /* length-prefixed labels, or NULL */
	bool star;                                          /* port and protocol default to "*" */
	bool bad;
};

/* Split the query name as CoreDNS's parseRequest does; false when outside the zones. */
static bool
parse(const struct k8s *k, const struct sx_query *q, struct parts *r)
{
	const uint8_t *lab[128];
	int zi = sx_zones_match(&k->zones, q->lname), n = 0, base;

	memset(r, 0, sizeof(*r));
	if (zi < 0) {
		return false;
	}
	for (const uint8_t *p = q->lname; *p && n < 128; p += 1u + *p) {
		lab[n++] = p;
	}
	base = n - (int)sx_dname_labels(k->zones.z[zi].wire);
	/* The apex and svc.<zone>, pod.<zone> are names with nothing to tell. */
	if (base == 0 ||
	    (base == 1 && (!memcmp(lab[0], "\3svc", 4) || !memcmp(lab[0], "\3pod", 4)))) {
		return true;
	}
	r->star = true;
	r->kind = lab[--base];
	if (memcmp(r->kind, "\3svc", 4) != 0 && memcmp(r->kind, "\3pod", 4) != 0) {
		r->bad = true;
		return true;
	}
	if (base > 0) {
		r->ns = lab[--base];
	}
	if (base > 0) {
		r->svc = lab[--base];
	}
	if (base == 1) {
		r->ep = lab[0];
	} else if (base == 2) {
		r->port = lab[0];
		r->proto = lab[1];
	} else if (base > 2) {
		r->bad = true;
	}
	return true;
}

/* A label's text, with a leading underscore stripped for ports and protocols. */
static int
text(const uint8_t *l, bool strip, char *buf, size_t cap)
{
	size_t n = l ? l[0] : 0, off = 1;

	if (strip && n > 0 && l[1] == '_') {
		off = 2;
		n--;
	}
	if (n >= cap) {
		n = cap - 1;
	}
	memcpy(buf, l ? l + off : (const uint8_t *)"", n);
	buf[n] = '\0';
	return (int)n;
}

enum part {
	P_KIND,
	P_NS,
	P_SVC,
	P_EP,
	P_PORT,
	P_PROTO,
};

static int
part(const struct sx_req *req, const void *arg, char *buf, size_t cap, enum part which)
{
	struct parts r;

	if (!parse(arg, sx_req_query(req), &r) || r.bad) {
		return -1;
	}
	switch (which) {
	case P_KIND:
		return text(r.kind, false, buf, cap);
	case P_NS:
		return text(r.ns, false, buf, cap);
	case P_SVC:
		return text(r.svc, false, buf, cap);
	case P_EP:
		return text(r.ep, false, buf, cap);
	case P_PORT:
	case P_PROTO:
		if (!(which == P_PORT ? r.port : r.proto)) {
			return r.star ? snprintf(buf, cap, "*") : text(NULL, false, buf, cap);
		}
		return text(which == P_PORT ? r.port : r.proto, true, buf, cap);
	}
	return -1;
}

static int
m_kind(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return part(req, arg, buf, cap, P_KIND);
}

static int
m_ns(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return part(req, arg, buf, cap, P_NS);
}

static int
m_svc(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return part(req, arg, buf, cap, P_SVC);
}

static int
m_ep(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return part(req, arg, buf, cap, P_EP);
}

static int
m_port(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return part(req, arg, buf, cap, P_PORT);
}

static int
m_proto(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return part(req, arg, buf, cap, P_PROTO);
}

static int
m_parse_error(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	(void)req;
	(void)arg;
	return snprintf(buf, cap, "invalid query name");
}

/* The pod the query came from, looked up by the client's address. */
static int
client_pod(const struct sx_req *req, const void *arg, char *buf, size_t cap, bool want_ns)
{
	const struct k8s *k = arg;
	const struct sx_query *q = sx_req_query(req);
	struct k8s_ip ip = { 0 };
	char ns[256], name[256];

	if (q->client.ss_family == AF_INET) {
		ip.fam = 4;
		memcpy(ip.a, &((const struct sockaddr_in *)&q->client)->sin_addr, 4);
	} else {
		const uint8_t *a = ((const struct sockaddr_in6 *)&q->client)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		if (memcmp(a, mapped, 12) == 0) {
			ip.fam = 4;
			memcpy(ip.a, a + 12, 4);
		} else {
			ip.fam = 6;
			memcpy(ip.a, a, 16);
		}
	}
	if (!k8s_zone_pod_at(k->st, &ip, ns, name)) {
		return -1;
	}
	return snprintf(buf, cap, "%s", want_ns ? ns : name);
}

static int
m_client_ns(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return client_pod(req, arg, buf, cap, true);
}

static int
m_client_pod(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	return client_pod(req, arg, buf, cap, false);
}

void
k8s_metadata(struct sx_req *req, void *inst)
{
	const struct k8s *k = inst;
	struct parts r;

	if (k->pods == K8S_PODS_VERIFIED && k->st) {
		sx_req_meta_set(req, "kubernetes/client-namespace", m_client_ns, k);
		sx_req_meta_set(req, "kubernetes/client-pod-name", m_client_pod, k);
	}
	if (!parse(k, sx_req_query(req), &r)) {
		return;
	}
	if (r.bad) {
		sx_req_meta_set(req, "kubernetes/parse-error", m_parse_error, k);
		return;
	}
	sx_req_meta_set(req, "kubernetes/port-name", m_port, k);
	sx_req_meta_set(req, "kubernetes/protocol", m_proto, k);
	sx_req_meta_set(req, "kubernetes/endpoint", m_ep, k);
	sx_req_meta_set(req, "kubernetes/service", m_svc, k);
	sx_req_meta_set(req, "kubernetes/namespace", m_ns, k);
	sx_req_meta_set(req, "kubernetes/kind", m_kind, k);
}
