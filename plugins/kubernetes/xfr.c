/* xfr.c -- the kubernetes zone copied out whole (AXFR) for the transfer plugin. */
#include <string.h>

#include <sextant/dname.h>

#include "zone.h"

/* A transfer in progress: the first error ends it. */
struct xfr {
	struct sx_req *req;
	const struct k8s *k;
	const uint8_t *zone;
	int rc;
};

static void
emit(struct xfr *x, const uint8_t *owner, uint16_t type, const uint8_t *rd, size_t len)
{
	if (x->rc == 0) {
		x->rc = sx_req_stream_rr(x->req, owner, type, x->k->ttl, rd, (uint16_t)len);
	}
}

static void
emit_ip(struct xfr *x, const uint8_t *owner, uint8_t fam, const uint8_t *a)
{
	emit(x, owner, fam == 4 ? SX_TYPE_A : SX_TYPE_AAAA, a, fam == 4 ? 4 : 16);
}

/* SRV rdata: priority 0, @weight, @port, @target. @return its length. */
static size_t
srv(uint8_t rd[6 + SX_DNAME_MAX], uint16_t weight, uint16_t port, const uint8_t *target)
{
	size_t tl = sx_dname_len(target);

	rd[0] = 0;
	rd[1] = 0;
	rd[2] = (uint8_t)(weight >> 8);
	rd[3] = (uint8_t)weight;
	rd[4] = (uint8_t)(port >> 8);
	rd[5] = (uint8_t)port;
	memcpy(rd + 6, target, tl);
	return 6 + tl;
}

/* _<port>._<proto>.<@base>, for a named port. @return its length, 0: too long. */
static size_t
port_name(uint8_t out[SX_DNAME_MAX], const char *name, size_t len, uint8_t proto,
          const uint8_t *base)
{
	static const char *const protos[] = {
		[K8S_TCP] = "tcp", [K8S_UDP] = "udp", [K8S_SCTP] = "sctp"
	};
	const char *p = proto < 3 ? protos[proto] : "tcp";
	size_t pl = strlen(p), bl = sx_dname_len(base);

	if (len == 0 || 2 + len + 2 + pl + bl > SX_DNAME_MAX) {
		return 0;
	}
	out[0] = (uint8_t)(len + 1);
	out[1] = '_';
	memcpy(out + 2, name, len);
	out[2 + len] = (uint8_t)(pl + 1);
	out[3 + len] = '_';
	memcpy(out + 4 + len, p, pl);
	memcpy(out + 4 + len + pl, base, bl);
	return 4 + len + pl + bl;
}

/*
 * A Service with ClusterIPs: its addresses, an SRV per port at its name, and one per
 * named port at _port._proto (CoreDNS's records: the SRV at the name is for peer-finder).
 */
static void
cluster(struct xfr *x, const struct k8s_svc *svc, const uint8_t *name)
{
	uint8_t rd[6 + SX_DNAME_MAX], owner[SX_DNAME_MAX];

	for (unsigned i = 0; i < svc->nips; i++) {
		uint8_t fam;
		const uint8_t *a = k8s_svc_ip(svc, i, &fam);

		if (!k8s_svc_ip_repeats(svc, i)) {
			emit_ip(x, name, fam, a);
		}
	}
	for (unsigned i = 0; i < svc->nports; i++) {
		const struct k8s_port *p = &k8s_svc_ports(svc)[i];
		bool seen = false;

		/* One SRV per port at the name: TCP and UDP 53 make one record, as answers do. */
		for (unsigned j = 0; j < i && !seen; j++) {
			seen = k8s_svc_ports(svc)[j].port == p->port;
		}
		if (!seen) {
			emit(x, name, SX_TYPE_SRV, rd, srv(rd, 100, p->port, name));
		}
		if (port_name(owner, k8s_svc_str(svc, p->name_off), p->name_len, p->proto, name)) {
			emit(x, owner, SX_TYPE_SRV, rd, srv(rd, 100, p->port, name));
		}
	}
}

/*
 * A headless Service: each ready endpoint's address at the Service's name and at the
 * endpoint's own, and an SRV per named port to the endpoint's name. An endpoint that
 * repeats an earlier one's address adds no record at the Service's name; one that
 * repeats its name too, none at that name; one that repeats a name adds no SRV to it
 * (slices of one Service have the same ports).
 */
static void
headless(struct xfr *x, const struct k8s_view *v, const uint8_t *name)
{
	struct k8s_slice *const *sl = k8s_view_slices(v);
	uint8_t rd[6 + SX_DNAME_MAX], owner[SX_DNAME_MAX], target[SX_DNAME_MAX];
	uint32_t g = 0;

	for (unsigned s = 0; s < v->nslices; s++) {
		/* CoreDNS: weight 100 / the endpoints of the subset. */
		uint16_t weight = sl[s]->neps > 0 && sl[s]->neps <= 100 ? 100 / sl[s]->neps : 1;

		for (unsigned e = 0; e < sl[s]->neps; e++, g++) {
			const struct k8s_ep *ep = &sl[s]->eps[e];
			unsigned dup = k8s_view_dup(v, g);
			char epname[64];
			size_t nl = k8s_ep_name(epname, ep, x->k->endpoint_pod_names);

			if (!(dup & K8S_DUP_ADDR)) {
				emit_ip(x, name, sl[s]->fam, k8s_ep_addr(ep));
			}
			if (k8s_svc_target(target, epname, nl, v->ns, k8s_view_name(v), v->name_len,
			                   x->zone) == 0) {
				continue;
			}
			if ((dup & (K8S_DUP_ADDR | K8S_DUP_NAME)) !=
			    (K8S_DUP_ADDR | K8S_DUP_NAME)) {
				emit_ip(x, target, sl[s]->fam, k8s_ep_addr(ep));
			}
			for (unsigned i = 0; !(dup & K8S_DUP_NAME) && i < sl[s]->nports; i++) {
				const struct k8s_port *p = &k8s_slice_ports(sl[s])[i];

				if (port_name(owner, k8s_slice_str(sl[s], p->name_off), p->name_len,
				              p->proto, name)) {
					emit(x, owner, SX_TYPE_SRV, rd,
					     srv(rd, weight, p->port, target));
				}
			}
		}
	}
}

static void
service(struct xfr *x, const struct k8s_view *v)
{
	const struct k8s_svc *svc = k8s_view_svc(v);
	uint8_t name[SX_DNAME_MAX];

	if (svc == NULL || !v->ns->exposed ||
	    k8s_svc_target(name, NULL, 0, v->ns, k8s_view_name(v), v->name_len, x->zone) == 0) {
		return;
	}
	switch (svc->type) {
	case K8S_SVC_CLUSTERIP:
		cluster(x, svc, name);
		break;
	case K8S_SVC_HEADLESS:
		headless(x, v, name);
		break;
	case K8S_SVC_EXTERNAL:
		if (svc->ext_len > 0) {
			emit(x, name, SX_TYPE_CNAME, k8s_svc_ext(svc), svc->ext_len);
		}
		break;
	}
}

/* The apex: NS ns.dns.<zone>, and its addresses (this host's), as answers give them. */
static void
apex(struct xfr *x, const uint8_t *soa)
{
	const uint8_t *ns = soa; /* the SOA's MNAME is ns.dns.<zone> */

	if (x->k->nlocal == 0) {
		return;
	}
	emit(x, x->zone, SX_TYPE_NS, ns, sx_dname_len(ns));
	for (size_t i = 0; i < x->k->nlocal; i++) {
		emit_ip(x, ns, x->k->local[i].fam, x->k->local[i].a);
	}
}

static bool
reverse(const uint8_t *zone)
{
	static const uint8_t v4[] = "\7in-addr\4arpa", v6[] = "\3ip6\4arpa";

	return sx_dname_is_sub(zone, v4) || sx_dname_is_sub(zone, v6);
}

enum sx_verdict
k8s_transfer(struct sx_req *req, const struct k8s *k, int zi)
{
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg = sx_req_msg(req);
	struct xfr x = { .req = req, .k = k, .zone = k->zones.z[zi].wire };
	uint8_t soa[K8S_SOA_MAX];
	uint32_t soa_ttl;
	size_t soa_len;
	struct cds_lfht_iter it;
	struct k8s_view *v;

	/* As CoreDNS: the reverse zones are not transferred. */
	if (!sx_req_transfer_allowed(req) || q->qname_len != k->zones.z[zi].len ||
	    reverse(x.zone)) {
		sx_msg_set_rcode(msg, SX_RCODE_REFUSED);
		return SX_DONE;
	}
	/* Until the first full list the zone is partial: a secondary must not take it. */
	if (!k8s_store_synced(k->st) || (soa_len = k8s_soa(k, x.zone, soa, &soa_ttl)) == 0) {
		sx_msg_set_rcode(msg, SX_RCODE_SERVFAIL);
		return SX_DONE;
	}
	sx_msg_set_flags(msg, SX_FLAG_AA);
	x.rc = sx_req_stream_rr(req, x.zone, SX_TYPE_SOA, soa_ttl, soa, (uint16_t)soa_len);
	apex(&x, soa);
	cds_lfht_for_each_entry (k->st->services, &it, v, node) {
		service(&x, v);
	}
	if (x.rc == 0) {
		x.rc = sx_req_stream_rr(req, x.zone, SX_TYPE_SOA, soa_ttl, soa, (uint16_t)soa_len);
	}
	if (x.rc < 0) {
		return sx_req_error(req, SX_RCODE_SERVFAIL,
		                    "plugin/kubernetes: transfer of zone cut short");
	}
	return SX_DONE;
}
