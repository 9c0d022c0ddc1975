/* answer.c -- kubernetes answers: the name grammar, records and negative answers (per query). */
#include <arpa/inet.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/k8s.h>

#include "zone.h"

#define DNS_VERSION_TTL 28800 /* as CoreDNS serves dns-version.<zone> */
#define SOA_TTL_MAX     300   /* SOA header TTL: min(ttl, 300) */
#define MAX_CNAMES      K8S_MAX_CNAMES
#define MAX_PTR         16 /* PTR records for one address, repeats dropped */
#define QNAME_OFF       12 /* where a reply's question name starts (sx_msg_put_wire_rr()) */

/* A label of a lower-case name: its bytes (no length byte). */
struct lab {
	const char *p;
	uint8_t len;
};

struct ctx {
	const struct k8s *k;
	struct k8s_store *st;
	const struct sx_query *q;
	struct sx_msg *msg;
	const struct sx_zone *zone; /* the matched plugin zone (lower case) */
	const uint8_t *zq;          /* the zone part of the query name, in the query's case */
	unsigned zlabels;
	bool full[3];            /* a record did not fit in this section: stop writing it */
	struct k8s_chain *chain; /* where a target outside the zone goes, or NULL */
};

/* What a name is, after CoreDNS's parseRequest and the lookups it leads to. */
enum rkind {
	R_ERR,       /* name error (NXDOMAIN) */
	R_NONE,      /* exists, no records (apex, svc, pod, <ns>.svc, <ns>.pod) */
	R_NSDNS,     /* ns.dns.<zone>: this server's addresses */
	R_CLUSTER,   /* a ClusterIP service, maybe with a port filter */
	R_ENDPOINTS, /* a headless service, or an endpoint name */
	R_EXTERNAL,  /* an ExternalName service */
	R_POD,       /* a pod name */
};

struct res {
	enum rkind kind;
	bool pod;
	bool has_ep, has_port;
	struct lab ns, svc, ep, port, proto;
	const struct k8s_view *v;
	struct k8s_ip ip; /* R_POD: its address; has_ep: the label as an address, fam 0 if none */
	uint32_t n;       /* entries as CoreDNS lists them (SRV weights, TXT existence) */
};

/* LOOKUP: the answer needs a name outside the zone (c->chain tells which). */
enum outcome {
	OK,
	NODATA,
	NXDOMAIN,
	LOOKUP
};

static const char *const proto_names[] = { "tcp", "udp", "sctp" };

static bool
lab_is(struct lab l, const char *s)
{
	size_t n = strlen(s);

	return l.len == n && memcmp(l.p, s, n) == 0;
}

static bool
lab_eq(struct lab l, const char *s, size_t n)
{
	return l.len == n && memcmp(l.p, s, n) == 0;
}

/* The first @max labels of wire name @name. */
static unsigned
split(const uint8_t *name, struct lab *out, unsigned max)
{
	unsigned n = 0;

	while (*name != 0 && n < max) {
		out[n].len = *name;
		out[n].p = (const char *)name + 1;
		name += 1 + *name;
		n++;
	}
	return n;
}

static const uint8_t in_addr_arpa[] = "\007in-addr\004arpa";
static const uint8_t ip6_arpa[] = "\003ip6\004arpa";

/* Whether the last two labels of @name are @suffix (a two-label wire name). */
static bool
ends_with(const uint8_t *name, unsigned nlabels, const uint8_t *suffix)
{
	return nlabels >= 2 && sx_dname_eq(sx_dname_skip(name, nlabels - 2), suffix);
}

static bool
is_reverse(const uint8_t *name, unsigned nlabels)
{
	return ends_with(name, nlabels, in_addr_arpa) || ends_with(name, nlabels, ip6_arpa);
}

/* The address a full reverse name stands for. */
static bool
reverse_ip(const uint8_t *name, unsigned nlabels, struct k8s_ip *ip)
{
	struct lab l[32];
	char s[16];
	size_t n = 0;

	memset(ip, 0, sizeof(*ip));
	if (nlabels == 6 && ends_with(name, nlabels, in_addr_arpa)) {
		split(name, l, 4);
		for (int i = 3; i >= 0; i--) {
			if (l[i].len == 0 || l[i].len > 3) {
				return false;
			}
			memcpy(s + n, l[i].p, l[i].len);
			n += l[i].len;
			s[n++] = i ? '.' : '\0';
		}
		ip->fam = 4;
		return inet_pton(AF_INET, s, ip->a) == 1;
	}
	if (nlabels == 34 && ends_with(name, nlabels, ip6_arpa)) {
		split(name, l, 32);
		for (int i = 0; i < 32; i++) {
			char c = l[i].len == 1 ? l[i].p[0] : 'x';
			int v = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			                               : -1;
			if (v < 0) {
				return false;
			}
			ip->a[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
		}
		ip->fam = 6;
		return true;
	}
	return false;
}

/*
 * A dashed-address label as CoreDNS reads a pod name: exactly three '-' and
 * no "--" is IPv4 ('-' to '.'), anything else IPv6 ('-' to ':').
 */
static bool
label_ip(struct lab l, struct k8s_ip *ip)
{
	char s[64];
	unsigned dashes = 0;
	bool dd = false;

	if (l.len == 0 || l.len >= sizeof(s)) {
		return false;
	}
	for (unsigned i = 0; i < l.len; i++) {
		dashes += l.p[i] == '-';
		dd = dd || (i > 0 && l.p[i] == '-' && l.p[i - 1] == '-');
	}
	for (unsigned i = 0; i < l.len; i++) {
		s[i] = l.p[i] != '-' ? l.p[i] : dashes == 3 && !dd ? '.' : ':';
	}
	s[l.len] = '\0';
	if (dashes == 3 && !dd) {
		memset(ip, 0, sizeof(*ip));
		ip->fam = 4;
		return inet_pton(AF_INET, s, ip->a) == 1;
	}
	memset(ip, 0, sizeof(*ip));
	ip->fam = 6;
	return strchr(s, ':') != NULL && inet_pton(AF_INET6, s, ip->a) == 1;
}

static size_t
ip_len(uint8_t fam)
{
	return fam == 4 ? 4 : 16;
}

static bool
port_match(const struct res *r, const char *name, size_t len, int proto)
{
	if (r->port.len > 0 && !lab_eq(r->port, name, len)) {
		return false;
	}
	if (r->proto.len > 0 && (proto < 0 || !lab_is(r->proto, proto_names[proto]))) {
		return false;
	}
	return true;
}

/* Ports of @sl that the query's port filter takes (a portless slice has one, CoreDNS's -1). */
static unsigned
slice_ports(const struct res *r, const struct k8s_slice *sl)
{
	unsigned n = 0;

	if (sl->nports == 0) {
		return port_match(r, "", 0, -1);
	}
	for (unsigned i = 0; i < sl->nports; i++) {
		const struct k8s_port *p = &k8s_slice_ports(sl)[i];
		n += port_match(r, k8s_slice_str(sl, p->name_off), p->name_len, p->proto);
	}
	return n;
}

static bool
slice_port_ok(const struct res *r, const struct k8s_slice *sl, unsigned i)
{
	const struct k8s_port *p = &k8s_slice_ports(sl)[i];

	return port_match(r, k8s_slice_str(sl, p->name_off), p->name_len, p->proto);
}

static bool
ep_match(const struct ctx *c, const struct res *r, const struct k8s_slice *sl,
         const struct k8s_ep *ep)
{
	if (!r->has_ep) {
		return true;
	}
	if (ep->host_len > 0) {
		return lab_eq(r->ep, k8s_slice_str(sl, ep->str_off), ep->host_len);
	}
	if (c->k->endpoint_pod_names && ep->pod_len > 0) {
		return lab_eq(r->ep, k8s_slice_str(sl, ep->str_off + ep->host_len), ep->pod_len);
	}
	return r->ip.fam == sl->fam && memcmp(r->ip.a, k8s_ep_addr(ep), ip_len(sl->fam)) == 0;
}

/* Whether endpoint @ep of @sl stands in the answer to @r (name and port filters). */
static bool
ep_used(const struct ctx *c, const struct res *r, const struct k8s_slice *sl,
        const struct k8s_ep *ep)
{
	return ep_match(c, r, sl, ep) && slice_ports(r, sl) > 0;
}

static void
find_pod(const struct ctx *c, struct res *r, unsigned nbase)
{
	if (c->k->pods == K8S_PODS_DISABLED) {
		r->kind = R_ERR;
	} else if (nbase == 2) {
		r->kind = R_NONE;
	} else if (r->has_ep || r->has_port || !label_ip(r->svc, &r->ip)) {
		/* CoreDNS ignores labels left of a pod name; such names do not exist here. */
		r->kind = R_ERR;
	} else if (c->k->pods == K8S_PODS_INSECURE ||
	           k8s_zone_pod(c->st, &r->ip, r->ns.p, r->ns.len)) {
		r->kind = R_POD;
		r->n = 1;
	} else {
		r->kind = R_ERR;
	}
}

static void
find_svc(const struct ctx *c, struct res *r)
{
	const struct k8s_svc *svc;
	const struct k8s_view *v;

	r->kind = R_ERR;
	v = k8s_zone_view(c->st, r->ns.p, r->ns.len, r->svc.p, r->svc.len);
	/* Its namespace cannot go while the view is read: freed after it, through RCU. */
	if (v == NULL || !CMM_LOAD_SHARED(v->ns->exposed)) {
		return;
	}
	r->v = v;
	svc = k8s_view_svc(v);
	if (c->k->ignore_empty && svc->type == K8S_SVC_CLUSTERIP && v->nslices == 0) {
		return;
	}
	if (svc->type == K8S_SVC_EXTERNAL) {
		if (!r->has_ep && !r->has_port && svc->ext_len > 0) {
			r->kind = R_EXTERNAL;
			r->n = 1;
		}
		return;
	}
	if (svc->type == K8S_SVC_HEADLESS || r->has_ep) {
		struct k8s_slice *const *sl = k8s_view_slices(v);
		/* An endpoint label names an address only in the dashed form CoreDNS prints. */
		if (r->has_ep && label_ip(r->ep, &r->ip)) {
			char d[40];
			if (!lab_eq(r->ep, d, k8s_ip_dashed(d, &r->ip))) {
				r->ip.fam = 0;
			}
		} else {
			r->ip.fam = 0;
		}
		for (unsigned s = 0; s < v->nslices; s++) {
			unsigned mp = slice_ports(r, sl[s]);
			for (unsigned e = 0; mp > 0 && e < sl[s]->neps; e++) {
				r->n += ep_match(c, r, sl[s], &sl[s]->eps[e]) ? mp : 0;
			}
		}
		r->kind = r->n > 0 ? R_ENDPOINTS : R_ERR;
		return;
	}
	unsigned mp = 0;
	for (unsigned i = 0; i < svc->nports; i++) {
		const struct k8s_port *p = &k8s_svc_ports(svc)[i];
		mp += port_match(r, k8s_svc_str(svc, p->name_off), p->name_len, p->proto);
	}
	if (mp > 0) {
		r->kind = R_CLUSTER;
		r->n = mp * svc->nips;
	}
}

/* CoreDNS's Records(): what lower-case @name (in the matched zone) is. */
static void
records(const struct ctx *c, const uint8_t *name, unsigned nlabels, struct res *r)
{
	unsigned nbase = nlabels - c->zlabels;
	struct lab seg[6]; /* 5 used: gcc -O3 sees split() write a 6th once inlined */

	memset(r, 0, sizeof(*r));
	r->kind = R_ERR;
	if (nbase > 5) {
		return;
	}
	split(name, seg, nbase);
	if (nbase == 0) {
		r->kind = R_NONE;
		return;
	}
	if (lab_is(seg[nbase - 1], "pod")) {
		r->pod = true;
	} else if (!lab_is(seg[nbase - 1], "svc")) {
		return;
	}
	if (nbase == 1) {
		r->kind = R_NONE;
		return;
	}
	/* Within a zone of two labels or more, a name ends as its zone does. */
	if (c->zlabels >= 2 ? is_reverse(c->zone->wire, c->zlabels) : is_reverse(name, nlabels)) {
		return;
	}
	r->ns = seg[nbase - 2];
	if (nbase >= 3) {
		r->svc = seg[nbase - 3];
	}
	if (nbase == 4) {
		r->has_ep = true;
		r->ep = seg[0];
	} else if (nbase == 5) {
		r->has_port = true;
		r->port = seg[0];
		r->proto = seg[1];
		for (struct lab *l = &r->port; l <= &r->proto; l++) {
			if (l->len > 0 && l->p[0] == '_') {
				l->p++;
				l->len--;
			}
		}
	}
	/* A Service found vouches for its namespace: one lookup, not two. */
	if (!r->pod && nbase > 2) {
		find_svc(c, r);
		return;
	}
	if (k8s_zone_ns(c->st, r->ns.p, r->ns.len) == NULL) {
		return;
	}
	if (r->pod) {
		find_pod(c, r, nbase);
	} else {
		r->kind = R_NONE; /* the namespace's own name */
	}
}

/*
 * CoreDNS's Services(): Records() plus ns.dns.<zone>, and dns.<zone> above it, which
 * CoreDNS calls NXDOMAIN although ns.dns.<zone> exists (an empty non-terminal, RFC 8020).
 */
static void
services(const struct ctx *c, const uint8_t *name, unsigned nlabels, struct res *r)
{
	struct lab seg[2];
	unsigned nbase = nlabels - c->zlabels;

	if (nbase == 2 && split(name, seg, 2) == 2 && lab_is(seg[0], "ns") &&
	    lab_is(seg[1], "dns")) {
		memset(r, 0, sizeof(*r));
		r->kind = R_NSDNS;
		return;
	}
	if (nbase == 1 && name[0] == 3 && memcmp(name + 1, "dns", 3) == 0) {
		memset(r, 0, sizeof(*r));
		r->kind = R_NONE;
		return;
	}
	records(c, name, nlabels, r);
}

static void
put(struct ctx *c, enum sx_section sec, const uint8_t *owner, uint16_t type, uint32_t ttl,
    const uint8_t *rdata, size_t rdlen)
{
	if (!c->full[sec] &&
	    sx_msg_put_rr(c->msg, sec, owner, type, SX_CLASS_IN, ttl, rdata, (uint16_t)rdlen) < 0) {
		c->full[sec] = true;
	}
}

static void
put_ip(struct ctx *c, enum sx_section sec, const uint8_t *owner, uint8_t fam, const uint8_t *a)
{
	put(c, sec, owner, fam == 4 ? SX_TYPE_A : SX_TYPE_AAAA, c->k->ttl, a, ip_len(fam));
}

/* Labels, then the wire name @tail. @return wire length, or 0 when over 255. */
static size_t
mkname(uint8_t out[SX_DNAME_MAX], const struct lab *l, unsigned n, const uint8_t *tail)
{
	size_t len = 0, tl = sx_dname_len(tail);

	for (unsigned i = 0; i < n; i++) {
		if (len + 1 + l[i].len + tl > SX_DNAME_MAX) {
			return 0;
		}
		out[len++] = l[i].len;
		memcpy(out + len, l[i].p, l[i].len);
		len += l[i].len;
	}
	if (len + tl > SX_DNAME_MAX) {
		return 0;
	}
	memcpy(out + len, tail, tl);
	return len + tl;
}

size_t
k8s_svc_target(uint8_t out[SX_DNAME_MAX], const char *ep, size_t ep_len, const struct k8s_ns *ns,
               const char *svc, size_t svc_len, const uint8_t *tail)
{
	struct lab l[4] = {
		{ ep, (uint8_t)ep_len },
		{ svc, (uint8_t)svc_len },
		{ ns->name, ns->len },
		{ "svc", 3 },
	};

	return ep ? mkname(out, l, 4, tail) : mkname(out, l + 1, 3, tail);
}

/*
 * An earlier endpoint (index below @g) of the answer with the same name, and
 * the same address (@a) or a matching port numbered @port (when @a is NULL).
 */
static bool
earlier(const struct ctx *c, const struct res *r, uint32_t g, const char *name, size_t len,
        uint8_t fam, const uint8_t *a, int port)
{
	struct k8s_slice *const *sl = k8s_view_slices(r->v);
	uint32_t j = 0;

	for (unsigned s = 0; s < r->v->nslices && j < g; s++) {
		for (unsigned e = 0; e < sl[s]->neps && j < g; e++, j++) {
			const struct k8s_ep *ep = &sl[s]->eps[e];
			char n2[64];

			if (!ep_used(c, r, sl[s], ep)) {
				continue;
			}
			if (name != NULL && (k8s_ep_name(n2, ep, c->k->endpoint_pod_names) != len ||
			                     memcmp(n2, name, len) != 0)) {
				continue;
			}
			if (a != NULL) {
				if (sl[s]->fam == fam &&
				    memcmp(k8s_ep_addr(ep), a, ip_len(fam)) == 0) {
					return true;
				}
				continue;
			}
			for (unsigned i = 0; i < sl[s]->nports; i++) {
				if (k8s_slice_ports(sl[s])[i].port == port &&
				    slice_port_ok(r, sl[s], i)) {
					return true;
				}
			}
		}
	}
	return false;
}

/* The address records of @r for family @fam, owner @owner; counted only unless @write. */
static unsigned
put_addrs(struct ctx *c, const struct res *r, uint8_t fam, const uint8_t *owner, bool write)
{
	unsigned n = 0;

	switch (r->kind) {
	case R_NSDNS:
		for (size_t i = 0; i < c->k->nlocal; i++) {
			if (c->k->local[i].fam == fam) {
				if (write) {
					put_ip(c, SX_SEC_ANSWER, owner, fam, c->k->local[i].a);
				}
				n++;
			}
		}
		break;
	case R_CLUSTER: {
		const struct k8s_svc *svc = k8s_view_svc(r->v);
		for (unsigned i = 0; i < svc->nips; i++) {
			uint8_t f;
			const uint8_t *a = k8s_svc_ip(svc, i, &f);
			if (f == fam && !k8s_svc_ip_repeats(svc, i)) {
				if (write) {
					put_ip(c, SX_SEC_ANSWER, owner, fam, a);
				}
				n++;
			}
		}
		break;
	}
	case R_ENDPOINTS: {
		struct k8s_slice *const *sl = k8s_view_slices(r->v);
		uint32_t g = 0;
		for (unsigned s = 0; s < r->v->nslices; s++) {
			for (unsigned e = 0; e < sl[s]->neps; e++, g++) {
				const struct k8s_ep *ep = &sl[s]->eps[e];
				if (sl[s]->fam != fam || !ep_used(c, r, sl[s], ep) ||
				    ((k8s_view_dup(r->v, g) & K8S_DUP_ADDR) &&
				     earlier(c, r, g, NULL, 0, fam, k8s_ep_addr(ep), 0))) {
					continue;
				}
				if (write) {
					put_ip(c, SX_SEC_ANSWER, owner, fam, k8s_ep_addr(ep));
				}
				n++;
			}
		}
		break;
	}
	case R_POD:
		if (r->ip.fam == fam) {
			if (write) {
				put_ip(c, SX_SEC_ANSWER, owner, fam, r->ip.a);
			}
			n++;
		}
		break;
	default:
		break;
	}
	return n;
}

static void
put_cnames(struct ctx *c, const uint8_t *const *names, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *owner = i == 0 ? c->q->qname : names[i];
		put(c, SX_SEC_ANSWER, owner, SX_TYPE_CNAME, c->k->ttl, names[i + 1],
		    sx_dname_len(names[i + 1]));
	}
}

/*
 * A, AAAA or TXT on an ExternalName service, as CoreDNS's backend lookups do:
 * the CNAME, then what the target has. A target inside the zone is followed
 * here (the CNAME is dropped when it has nothing of the type; services have
 * no TXT); a target outside it is looked up through the server's own chain
 * (LOOKUP, with the CNAMEs in c->chain), or, when the caller cannot do that,
 * answered with the CNAMEs alone. Loops and chains longer than 8 are cut.
 */
static enum outcome
chase(struct ctx *c, const struct res *first, uint16_t qtype)
{
	const uint8_t *names[MAX_CNAMES + 1]; /* lower case; names[0] is the query name */
	uint8_t fam = qtype == SX_TYPE_A ? 4 : qtype == SX_TYPE_AAAA ? 6 : 0;
	struct res cur = *first;
	unsigned n = 0;

	names[0] = c->q->lname;
	for (;;) {
		const uint8_t *t = k8s_svc_ext(k8s_view_svc(cur.v));

		if (n == MAX_CNAMES || sx_dname_is_sub(t, names[n])) {
			return NODATA;
		}
		for (unsigned i = 0; i < n; i++) {
			if (sx_dname_eq(t, names[i])) {
				return NODATA; /* a loop */
			}
		}
		names[++n] = t;
		if (!sx_dname_is_sub(t, c->zone->wire)) {
			if (c->chain != NULL) {
				c->chain->n = n;
				memcpy(c->chain->targets, names + 1, n * sizeof(names[0]));
				return LOOKUP;
			}
			put_cnames(c, names, n);
			return OK;
		}
		services(c, t, sx_dname_labels(t), &cur);
		if (cur.kind != R_EXTERNAL) {
			break;
		}
	}
	if (fam == 0 || put_addrs(c, &cur, fam, names[n], false) == 0) {
		return NODATA;
	}
	put_cnames(c, names, n);
	put_addrs(c, &cur, fam, names[n], true);
	return OK;
}

static enum outcome
ans_addr(struct ctx *c, uint8_t fam)
{
	struct res r;

	services(c, c->q->lname, c->q->nlabels, &r);
	if (r.kind == R_ERR) {
		return NXDOMAIN;
	}
	if (r.kind == R_EXTERNAL) {
		return chase(c, &r, c->q->qtype);
	}
	return put_addrs(c, &r, fam, c->q->qname, true) > 0 ? OK : NODATA;
}

static void
srv_rdata(uint8_t *rd, uint16_t weight, uint16_t port)
{
	rd[0] = 0; /* priority */
	rd[1] = 0;
	rd[2] = (uint8_t)(weight >> 8);
	rd[3] = (uint8_t)weight;
	rd[4] = (uint8_t)(port >> 8);
	rd[5] = (uint8_t)port;
}

static void
srv_cluster(struct ctx *c, const struct res *r, uint16_t weight)
{
	const struct k8s_svc *svc = k8s_view_svc(r->v);
	uint8_t rd[6 + SX_DNAME_MAX];
	size_t tl;

	tl = k8s_svc_target(rd + 6, NULL, 0, r->v->ns, k8s_view_name(r->v), r->v->name_len, c->zq);
	if (tl == 0 || svc->nips == 0) {
		return;
	}
	for (unsigned i = 0; i < svc->nports; i++) {
		const struct k8s_port *p = &k8s_svc_ports(svc)[i];
		bool seen = false;

		if (!port_match(r, k8s_svc_str(svc, p->name_off), p->name_len, p->proto)) {
			continue;
		}
		/* One SRV per (target, port): TCP and UDP 53 make one record. */
		for (unsigned j = 0; j < i && !seen; j++) {
			const struct k8s_port *q = &k8s_svc_ports(svc)[j];
			seen = q->port == p->port &&
			       port_match(r, k8s_svc_str(svc, q->name_off), q->name_len, q->proto);
		}
		if (!seen) {
			srv_rdata(rd, weight, p->port);
			put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_SRV, c->k->ttl, rd, 6 + tl);
		}
	}
	for (unsigned i = 0; i < svc->nips; i++) {
		uint8_t fam;
		const uint8_t *a = k8s_svc_ip(svc, i, &fam);
		if (!k8s_svc_ip_repeats(svc, i)) {
			put_ip(c, SX_SEC_ADDITIONAL, rd + 6, fam, a);
		}
	}
}

static void
srv_endpoints(struct ctx *c, const struct res *r, uint16_t weight)
{
	struct k8s_slice *const *sl = k8s_view_slices(r->v);
	uint8_t rd[6 + SX_DNAME_MAX];

	for (int pass = 0; pass < 2; pass++) {
		uint32_t g = 0;
		for (unsigned s = 0; s < r->v->nslices; s++) {
			for (unsigned e = 0; e < sl[s]->neps; e++, g++) {
				const struct k8s_ep *ep = &sl[s]->eps[e];
				unsigned dup = k8s_view_dup(r->v, g);
				char name[64];
				size_t nl, tl;

				if (sl[s]->nports == 0 || !ep_used(c, r, sl[s], ep)) {
					continue;
				}
				nl = k8s_ep_name(name, ep, c->k->endpoint_pod_names);
				tl = k8s_svc_target(rd + 6, name, nl, r->v->ns, k8s_view_name(r->v),
				                    r->v->name_len, c->zq);
				if (tl == 0) {
					continue;
				}
				if (pass == 1) {
					if ((dup & (K8S_DUP_NAME | K8S_DUP_ADDR)) ==
					            (K8S_DUP_NAME | K8S_DUP_ADDR) &&
					    earlier(c, r, g, name, nl, sl[s]->fam, k8s_ep_addr(ep),
					            0)) {
						continue;
					}
					put_ip(c, SX_SEC_ADDITIONAL, rd + 6, sl[s]->fam,
					       k8s_ep_addr(ep));
					continue;
				}
				for (unsigned i = 0; i < sl[s]->nports; i++) {
					const struct k8s_port *p = &k8s_slice_ports(sl[s])[i];
					bool seen = false;
					if (!slice_port_ok(r, sl[s], i)) {
						continue;
					}
					for (unsigned j = 0; j < i && !seen; j++) {
						seen = k8s_slice_ports(sl[s])[j].port == p->port &&
						       slice_port_ok(r, sl[s], j);
					}
					if (seen ||
					    ((dup & K8S_DUP_NAME) &&
					     earlier(c, r, g, name, nl, 0, NULL, p->port))) {
						continue;
					}
					srv_rdata(rd, weight, p->port);
					put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_SRV, c->k->ttl,
					    rd, 6 + tl);
				}
			}
		}
	}
}

static enum outcome
ans_srv(struct ctx *c)
{
	struct res r;
	uint16_t weight;

	services(c, c->q->lname, c->q->nlabels, &r);
	if (r.kind == R_ERR) {
		return NXDOMAIN;
	}
	/* CoreDNS: weight = 100 / entries (portless ones counted), at least 1. */
	weight = r.n > 0 && r.n <= 100 ? (uint16_t)(100 / r.n) : 1;
	switch (r.kind) {
	case R_CLUSTER:
		srv_cluster(c, &r, weight);
		break;
	case R_ENDPOINTS:
		srv_endpoints(c, &r, weight);
		break;
	case R_POD: {
		/* As CoreDNS: port 0, the pod name as target, its address in additional. */
		uint8_t rd[6 + SX_DNAME_MAX];
		struct lab l[3] = { r.svc, r.ns, { "pod", 3 } };
		size_t tl = mkname(rd + 6, l, 3, c->zq);
		if (tl > 0) {
			srv_rdata(rd, 100, 0);
			put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_SRV, c->k->ttl, rd, 6 + tl);
			put_ip(c, SX_SEC_ADDITIONAL, rd + 6, r.ip.fam, r.ip.a);
		}
		break;
	}
	default:
		break;
	}
	return OK;
}

static enum outcome
ans_txt(struct ctx *c)
{
	static const uint8_t version[] = "\0051.1.0";
	struct lab seg[1];
	struct res r;

	if (c->q->nlabels == c->zlabels + 1 && split(c->q->lname, seg, 1) == 1 &&
	    lab_is(seg[0], "dns-version")) {
		put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_TXT, DNS_VERSION_TTL, version,
		    sizeof(version) - 1);
		return OK;
	}
	/*
	 * Another name: NODATA when it exists. CoreDNS says NXDOMAIN for names with no
	 * records of any type (the apex, svc, <ns>.svc, pod, <ns>.pod), which by RFC 8020
	 * denies everything below them; every other type already says NODATA there.
	 */
	services(c, c->q->lname, c->q->nlabels, &r);
	if (r.kind == R_EXTERNAL) {
		return chase(c, &r, SX_TYPE_TXT);
	}
	return r.kind == R_ERR ? NXDOMAIN : NODATA;
}

static enum outcome
ans_cname(struct ctx *c)
{
	struct res r;

	services(c, c->q->lname, c->q->nlabels, &r);
	if (r.kind == R_ERR) {
		return NXDOMAIN;
	}
	if (r.kind == R_EXTERNAL) {
		const uint8_t *t = k8s_svc_ext(k8s_view_svc(r.v));
		put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_CNAME, c->k->ttl, t, sx_dname_len(t));
		return OK;
	}
	return NODATA;
}

struct ptr_state {
	struct ctx *c;
	const struct k8s_ns *ns; /* ns filter applies */
	unsigned n;
	uint8_t seen[MAX_PTR][SX_DNAME_MAX];
	size_t seen_len[MAX_PTR];
};

static bool
ns_ok(const struct ctx *c, const struct k8s_ns *ns)
{
	return c->k->nnamespaces == 0 || CMM_LOAD_SHARED(ns->exposed);
}

static void
put_ptr(struct ptr_state *ps, const uint8_t *target, size_t len)
{
	for (unsigned i = 0; i < ps->n; i++) {
		if (ps->seen_len[i] == len && memcmp(ps->seen[i], target, len) == 0) {
			return;
		}
	}
	if (ps->n == MAX_PTR) {
		return;
	}
	memcpy(ps->seen[ps->n], target, len);
	ps->seen_len[ps->n++] = len;
	put(ps->c, SX_SEC_ANSWER, ps->c->q->qname, SX_TYPE_PTR, ps->c->k->ttl, target, len);
}

static bool
ptr_svc(const struct k8s_view *v, void *arg)
{
	struct ptr_state *ps = arg;
	const struct k8s *k = ps->c->k;
	uint8_t t[SX_DNAME_MAX];
	size_t tl;

	if (!ns_ok(ps->c, v->ns)) {
		return true;
	}
	tl = k8s_svc_target(t, NULL, 0, v->ns, k8s_view_name(v), v->name_len,
	                    k->zones.z[k->primary].wire);
	if (tl > 0) {
		put_ptr(ps, t, tl);
	}
	return false; /* the first Service holding the address answers alone */
}

static bool
ptr_ep(const struct k8s_ep *ep, void *arg)
{
	struct ptr_state *ps = arg;
	const struct k8s *k = ps->c->k;
	const struct k8s_slice *sl = k8s_ep_slice(ep);
	uint8_t t[SX_DNAME_MAX];
	char name[64];
	size_t nl, tl;

	if (!ns_ok(ps->c, sl->ns)) {
		return true;
	}
	nl = k8s_ep_name(name, ep, k->endpoint_pod_names);
	tl = k8s_svc_target(t, name, nl, sl->ns, k8s_slice_svc(sl), sl->svc_len,
	                    k->zones.z[k->primary].wire);
	if (tl > 0) {
		put_ptr(ps, t, tl);
	}
	return true;
}

static enum outcome
ans_ptr(struct ctx *c)
{
	struct ptr_state ps;
	struct k8s_ip ip;
	struct res r;

	if (!reverse_ip(c->q->lname, c->q->nlabels, &ip)) {
		services(c, c->q->lname, c->q->nlabels, &r);
		return r.kind == R_ERR ? NXDOMAIN : NODATA;
	}
	ps.c = c;
	ps.n = 0;
	k8s_zone_rev_svc(c->st, &ip, ptr_svc, &ps);
	if (ps.n == 0) {
		k8s_zone_rev_ep(c->st, &ip, ptr_ep, &ps);
	}
	return ps.n > 0 ? OK : NXDOMAIN;
}

/* "ns.dns." or "hostmaster." before the zone @tail. */
static size_t
zone_name(uint8_t out[SX_DNAME_MAX], const uint8_t *tail, const char *first, const char *second)
{
	struct lab l[2] = { { first, (uint8_t)strlen(first) }, { second, 0 } };

	if (second != NULL) {
		l[1].len = (uint8_t)strlen(second);
	}
	return mkname(out, l, second ? 2 : 1, tail);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
sx_k8s_soa_numbers(const void *k8s, uint32_t minimum, uint8_t out[20])
{
	const struct k8s *k = k8s;

	put_u32(out, k->st ? k8s_zone_serial(k->st) : 0);
	put_u32(out + 4, 7200);   /* refresh */
	put_u32(out + 8, 1800);   /* retry */
	put_u32(out + 12, 86400); /* expire */
	put_u32(out + 16, minimum);
}

/*
 * Every negative answer carries the SOA: its two names are the zone behind fixed
 * labels, copied as bytes (the zone as the query spells it, so that compression
 * points into the question); of the numbers, only the serial changes.
 */
size_t
k8s_soa(const struct k8s *k, const uint8_t *zone, uint8_t rd[K8S_SOA_MAX], uint32_t *ttl)
{
	static const uint8_t mname[7] = "\002ns\003dns";
	static const uint8_t rname[11] = "\012hostmaster";
	size_t zl = sx_dname_len(zone), n;

	if (sizeof(rname) + zl > SX_DNAME_MAX) {
		return 0;
	}
	memcpy(rd, mname, sizeof(mname));
	memcpy(rd + sizeof(mname), zone, zl);
	n = sizeof(mname) + zl;
	memcpy(rd + n, rname, sizeof(rname));
	memcpy(rd + n + sizeof(rname), zone, zl);
	n += sizeof(rname) + zl;
	sx_k8s_soa_numbers(k, k->ttl, rd + n);
	*ttl = k->ttl < SOA_TTL_MAX ? k->ttl : SOA_TTL_MAX;
	return n + 20;
}

/*
 * The SOA as sx_msg_put_rr() compresses it into a reply that holds only the question:
 * the owner and both names point at the zone in the question, unless the question ends
 * in dns.<zone> or hostmaster.<zone>, which they would point at instead.
 */
static bool
soa_ready(const struct ctx *c)
{
	const struct sx_query *q = c->q;
	const uint8_t *l;

	/* hostmaster.<zone> over 255 bytes: k8s_soa() says there is no SOA. */
	if (c->msg->len != c->msg->qend || c->zlabels == 0 || 11 + c->zone->len > SX_DNAME_MAX) {
		return false;
	}
	if (q->nlabels == c->zlabels) {
		return true;
	}
	l = sx_dname_skip(q->lname, q->nlabels - c->zlabels - 1);
	return !(l[0] == 3 && memcmp(l + 1, "dns", 3) == 0) &&
	       !(l[0] == 10 && memcmp(l + 1, "hostmaster", 10) == 0);
}

/* A negative answer's SOA: 54 bytes copied from the zone's fixed form when soa_ready(). */
static void
put_soa(struct ctx *c, enum sx_section sec)
{
	/* Owner (a pointer), type SOA, class IN, TTL, rdlength 42; ns.dns.; hostmaster. */
	static const uint8_t form[34] = "\xC0\0"
	                                "\0\6\0\1"
	                                "\0\0\0\0"
	                                "\0\52"
	                                "\2ns\3dns\xC0\0"
	                                "\12hostmaster\xC0"; /* and the NUL: the last offset */
	uint8_t rr[sizeof(form) + 20], rd[K8S_SOA_MAX];
	uint32_t ttl = c->k->ttl < SOA_TTL_MAX ? c->k->ttl : SOA_TTL_MAX;
	size_t n;

	if (c->full[sec]) {
		return;
	}
	if (soa_ready(c)) {
		uint8_t zoff = (uint8_t)(QNAME_OFF + c->q->qname_len - c->zone->len);
		int rc;

		memcpy(rr, form, sizeof(form));
		rr[1] = rr[20] = rr[33] = zoff;
		put_u32(rr + 6, ttl);
		sx_k8s_soa_numbers(c->k, c->k->ttl, rr + sizeof(form));
		rc = sx_msg_put_wire_rr(c->msg, sec, rr, sizeof(rr));
		if (rc != SX_EINVAL) {
			c->full[sec] = rc < 0;
			return;
		}
	}
	n = k8s_soa(c->k, c->zq, rd, &ttl);
	if (n > 0) {
		put(c, sec, c->zq, SX_TYPE_SOA, ttl, rd, n);
	}
}

static enum outcome
ans_ns(struct ctx *c)
{
	uint8_t ns[SX_DNAME_MAX];
	size_t n = zone_name(ns, c->zq, "ns", "dns");

	if (n == 0 || c->k->nlocal == 0) {
		return NODATA;
	}
	put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_NS, c->k->ttl, ns, n);
	for (size_t i = 0; i < c->k->nlocal; i++) {
		put_ip(c, SX_SEC_ADDITIONAL, ns, c->k->local[i].fam, c->k->local[i].a);
	}
	return OK;
}

/* Any other type: the name exists or not, as CoreDNS's fake lookup decides. */
static enum outcome
ans_other(struct ctx *c)
{
	struct res r;

	services(c, c->q->lname, c->q->nlabels, &r);
	return r.kind == R_ERR ? NXDOMAIN : NODATA;
}

enum sx_verdict
k8s_answer(const struct k8s *k, const struct sx_query *q, struct sx_msg *msg,
           struct k8s_chain *chain)
{
	struct ctx c;
	enum outcome out;
	int zi;

	if (q->qclass != SX_CLASS_IN) {
		return SX_NEXT;
	}
	zi = sx_zones_match(&k->zones, q->lname);
	if (zi < 0) {
		return SX_NEXT;
	}
	memset(&c, 0, sizeof(c));
	c.k = k;
	c.st = k->st;
	c.q = q;
	c.msg = msg;
	c.zone = &k->zones.z[zi];
	c.zq = q->qname + (q->qname_len - c.zone->len);
	c.zlabels = sx_dname_labels(c.zone->wire);
	c.chain = chain;
	switch (q->qtype) {
	case SX_TYPE_AXFR:
	case SX_TYPE_IXFR:
		sx_msg_set_rcode(msg, SX_RCODE_REFUSED);
		return SX_DONE;
	case SX_TYPE_A:
		out = ans_addr(&c, 4);
		break;
	case SX_TYPE_AAAA:
		out = ans_addr(&c, 6);
		break;
	case SX_TYPE_SRV:
		out = ans_srv(&c);
		break;
	case SX_TYPE_TXT:
		out = ans_txt(&c);
		break;
	case SX_TYPE_CNAME:
		out = ans_cname(&c);
		break;
	case SX_TYPE_PTR:
		out = ans_ptr(&c);
		break;
	case SX_TYPE_SOA:
		out = NODATA;
		if (q->nlabels == c.zlabels) {
			put_soa(&c, SX_SEC_ANSWER);
			out = OK;
		}
		break;
	case SX_TYPE_NS:
		out = q->nlabels == c.zlabels ? ans_ns(&c) : ans_other(&c);
		break;
	default:
		out = ans_other(&c);
		break;
	}
	if (out == LOOKUP) {
		return SX_SUSPEND;
	}
	if (out == NXDOMAIN) {
		if (k->fall.n > 0 && sx_zones_match(&k->fall, q->lname) >= 0) {
			return SX_NEXT;
		}
		/* Until the first full list, a missing name may just not be loaded yet. */
		sx_msg_set_rcode(msg,
		                 k8s_store_synced(k->st) ? SX_RCODE_NXDOMAIN : SX_RCODE_SERVFAIL);
	}
	sx_msg_set_flags(msg, SX_FLAG_AA);
	if (sx_msg_count(msg, SX_SEC_ANSWER) == 0 && !msg->truncated) {
		put_soa(&c, SX_SEC_AUTHORITY);
	}
	return SX_DONE;
}

/*
 * ExternalName targets outside the zone are looked up through the server's own
 * chain, as CoreDNS's upstream lookups do. The reply, built anew when the
 * request resumes, carries the CNAMEs and then the answer section of the
 * sub-query's reply, with rcode NOERROR whatever the target's rcode was, and
 * TC when that reply had it. When the target cannot be looked up (no reply,
 * sub-queries nested too deep, no memory), the CNAMEs alone answer: that is
 * what CoreDNS sends when its nested lookup ends in an error reply.
 */

/* The CNAMEs of a suspended answer, copied out of the zone into the request arena. */
struct pending {
	const struct k8s *k;
	unsigned n;
	uint8_t names[]; /* n lower-case wire names back to back, the last one looked up */
};

static void
put_chain(const struct k8s *k, const struct sx_query *q, struct sx_msg *msg,
          const uint8_t *const *targets, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *owner = i == 0 ? q->qname : targets[i - 1];
		if (sx_msg_put_rr(msg, SX_SEC_ANSWER, owner, SX_TYPE_CNAME, SX_CLASS_IN, k->ttl,
		                  targets[i], (uint16_t)sx_dname_len(targets[i])) == SX_ETRUNC) {
			break;
		}
	}
	sx_msg_set_flags(msg, SX_FLAG_AA);
}

/* Append the answer section of reply @wire to @msg; TC follows that reply's. */
static void
copy_answer(struct sx_msg *msg, const uint8_t *wire, size_t len)
{
	struct sx_rr_walk it;
	struct sx_rr rr;

	if (len >= 12 && (wire[2] & 0x02)) {
		sx_msg_set_flags(msg, SX_FLAG_TC);
	}
	sx_rr_walk_start(&it, wire, len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1 && rr.section == SX_SEC_ANSWER) {
		if (sx_msg_copy_rr(msg, SX_SEC_ANSWER, wire, len, &rr) == SX_ETRUNC) {
			break;
		}
	}
}

static void
resolved(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	const struct pending *p = arg;
	struct sx_msg *msg = sx_req_msg(req);
	const uint8_t *t[MAX_CNAMES];
	const uint8_t *name = p->names;

	for (unsigned i = 0; i < p->n; i++) {
		t[i] = name;
		name += sx_dname_len(name);
	}
	put_chain(p->k, sx_req_query(req), msg, t, p->n);
	if (wire != NULL && !msg->truncated) {
		copy_answer(msg, wire, len);
	}
	sx_req_resume(req, SX_DONE);
}

enum sx_verdict
k8s_serve(struct sx_req *req, const struct k8s *k)
{
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg = sx_req_msg(req);
	struct k8s_chain ch;
	struct pending *p;
	enum sx_verdict v;
	size_t len = 0;

	if ((q->qtype == SX_TYPE_AXFR || q->qtype == SX_TYPE_IXFR) && q->qclass == SX_CLASS_IN) {
		int zi = sx_zones_match(&k->zones, q->lname);

		if (zi >= 0) {
			return k8s_transfer(req, k, zi);
		}
	}
	v = k8s_answer(k, q, msg, &ch);
	if (v != SX_SUSPEND) {
		return v;
	}
	/* The names live in the zone, which may change once this handler returns. */
	for (unsigned i = 0; i < ch.n; i++) {
		len += sx_dname_len(ch.targets[i]);
	}
	p = sx_req_alloc(req, sizeof(*p) + len);
	if (p != NULL) {
		p->k = k;
		p->n = ch.n;
		len = 0;
		for (unsigned i = 0; i < ch.n; i++) {
			memcpy(p->names + len, ch.targets[i], sx_dname_len(ch.targets[i]));
			len += sx_dname_len(ch.targets[i]);
		}
	}
	if (p == NULL || sx_req_subquery(req, ch.targets[ch.n - 1], q->qtype, resolved, p) < 0) {
		put_chain(k, q, msg, ch.targets, ch.n);
		return SX_DONE;
	}
	return SX_SUSPEND;
}
