/* external.c -- Services as names outside the cluster see them (<sextant/k8s.h>, k8s_external). */
#include <string.h>
#include <strings.h>

#include <sextant/dname.h>
#include <sextant/k8s.h>

#include "zone.h"

/* A label of a query name: @len bytes at @s. */
struct label {
	const char *s;
	size_t len;
};

/* The port and protocol labels, '_' taken off as CoreDNS does; empty matches all. */
static struct label
strip(struct label l)
{
	if (l.len > 0 && l.s[0] == '_') {
		l.s++;
		l.len--;
	}
	return l;
}

static bool
match(struct label want, const char *s, size_t len)
{
	return want.len == 0 || (want.len == len && strncasecmp(want.s, s, len) == 0);
}

static bool
port_match(struct label port, struct label proto, const char *name, size_t len, uint8_t p)
{
	static const char *const protos[] = { "tcp", "udp", "sctp" };

	return match(port, name, len) && match(proto, protos[p], strlen(protos[p]));
}

struct found {
	struct sx_k8s_ext *out;
	size_t cap, n;
};

static void
add(struct found *f, uint8_t fam, const uint8_t *addr, int32_t port, const char *ep, size_t ep_len)
{
	if (f->n < f->cap) {
		struct sx_k8s_ext *e = &f->out[f->n];
		e->fam = fam;
		e->addr = addr;
		e->port = port;
		e->ep_len = (uint8_t)ep_len;
		if (ep_len > 0) {
			memcpy(e->ep, ep, ep_len);
		}
	}
	f->n++;
}

/* The outside addresses of @svc, once per port matching. */
static void
outside(struct found *f, const struct k8s_svc *svc, struct label port, struct label proto)
{
	const struct k8s_port *ports = k8s_svc_ports(svc);
	const uint8_t *x = k8s_svc_xaddrs(svc);

	for (unsigned i = 0; i < svc->nxaddrs; i++, x = k8s_xaddr_next(x)) {
		uint8_t fam = x[0] == K8S_XADDR_HOST ? 0 : x[0];
		/* A Service without ports has one that matches no port label (CoreDNS's -1). */
		if (svc->nports == 0 && port.len == 0 && proto.len == 0) {
			add(f, fam, k8s_xaddr_data(x), -1, NULL, 0);
		}
		for (unsigned p = 0; p < svc->nports; p++) {
			if (port_match(port, proto, k8s_svc_str(svc, ports[p].name_off),
			               ports[p].name_len, ports[p].proto)) {
				add(f, fam, k8s_xaddr_data(x), ports[p].port, NULL, 0);
			}
		}
	}
}

/* The ready endpoints of view @v (named @ep, when given), once per port matching. */
static void
endpoints(struct found *f, const struct k8s *k, const struct k8s_view *v, struct label ep,
          struct label port, struct label proto)
{
	struct k8s_slice *const *sl = k8s_view_slices(v);
	char name[64];

	for (unsigned s = 0; s < v->nslices; s++) {
		const struct k8s_port *ports = k8s_slice_ports(sl[s]);
		for (unsigned e = 0; e < sl[s]->neps; e++) {
			size_t len = k8s_ep_name(name, &sl[s]->eps[e], k->endpoint_pod_names);
			const uint8_t *a = k8s_slice_addr(sl[s], e);
			if (ep.len > 0 && (ep.len != len || memcmp(ep.s, name, len) != 0)) {
				continue;
			}
			if (sl[s]->nports == 0 && port.len == 0 && proto.len == 0) {
				add(f, sl[s]->fam, a, -1, name, len);
			}
			for (unsigned p = 0; p < sl[s]->nports; p++) {
				if (port_match(port, proto, k8s_slice_str(sl[s], ports[p].name_off),
				               ports[p].name_len, ports[p].proto)) {
					add(f, sl[s]->fam, a, ports[p].port, name, len);
				}
			}
		}
	}
}

size_t
sx_k8s_external(const void *k8s, const uint8_t *lname, unsigned nlabels, unsigned zlabels,
                bool headless, struct sx_k8s_ext *out, size_t cap, unsigned *rcode)
{
	const struct k8s *k = k8s;
	struct found f = { .out = out, .cap = cap };
	struct label l[4] = { 0 }, ep = { 0 }, port = { 0 }, proto = { 0 };
	unsigned n = nlabels - zlabels;
	const struct k8s_view *v;
	const struct k8s_svc *svc;

	*rcode = SX_RCODE_NXDOMAIN;
	if (nlabels <= zlabels || n > 4 || k->st == NULL) {
		return 0;
	}
	for (unsigned i = 0; i < n; i++, lname += 1 + lname[0]) {
		l[i] = (struct label){ (const char *)lname + 1, lname[0] };
	}
	/* Read from the zone end: the namespace, the Service, then what comes before it. */
	if (k8s_zone_ns(k->st, l[n - 1].s, l[n - 1].len) == NULL) {
		return 0;
	}
	if (n == 1) {
		*rcode = SX_RCODE_NOERROR;
		return 0;
	}
	if (n == 3) {
		ep = l[0];
	} else if (n == 4) {
		port = strip(l[0]);
		proto = strip(l[1]);
	}
	v = k8s_zone_view(k->st, l[n - 1].s, l[n - 1].len, l[n - 2].s, l[n - 2].len);
	svc = v ? k8s_view_svc(v) : NULL;
	if (svc == NULL) {
		return 0;
	}
	if (headless && svc->nxaddrs == 0 && (svc->type == K8S_SVC_HEADLESS || ep.len > 0)) {
		endpoints(&f, k, v, ep, port, proto);
	} else {
		/* CoreDNS reads no endpoint label here: EP.SVC.NS stands for SVC.NS. */
		outside(&f, svc, port, proto);
	}
	if (f.n > 0) {
		*rcode = SX_RCODE_NOERROR;
	}
	return f.n;
}

size_t
sx_k8s_ns_addrs(const void *k8s, uint8_t fam, const uint8_t **out, size_t cap)
{
	const struct k8s *k = k8s;
	size_t n = 0;

	for (size_t i = 0; i < k->nlocal && n < cap; i++) {
		if (k->local[i].fam == fam) {
			out[n++] = k->local[i].a;
		}
	}
	return n;
}
