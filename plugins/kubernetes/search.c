/* search.c -- a client pod's DNS search path, for `autopath @kubernetes`. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>

#include <sextant/resolv.h>

#include "podns.h"
#include "zone.h"

/*
 * The search path kubelet writes into a pod's resolv.conf (dnsPolicy
 * ClusterFirst): <namespace>.svc.<zone>, svc.<zone>, <zone>, then the
 * node's own search domains; autopath ends it with the bare name. As
 * CoreDNS, the node's are taken from this server's /etc/resolv.conf, and
 * <zone> is the zone of the plugin the query falls in.
 */

int
k8s_search_init(struct k8s *k)
{
	static const uint8_t svc[] = "\003svc";
	char err[256];
	int n;

	k->svc_zones = calloc(k->zones.n, sizeof(*k->svc_zones));
	k->host_search = calloc(K8S_HOST_SEARCH, sizeof(*k->host_search));
	if (!k->svc_zones || !k->host_search) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < k->zones.n; i++) {
		if (k->zones.z[i].len + 4 <= SX_DNAME_MAX) {
			memcpy(k->svc_zones[i], svc, 4);
			memcpy(k->svc_zones[i] + 4, k->zones.z[i].wire, k->zones.z[i].len);
		}
	}
	/* No readable resolv.conf: no node search domains, as CoreDNS goes on without them. */
	n = sx_resolv_search("/etc/resolv.conf", k->host_search, K8S_HOST_SEARCH, err, sizeof(err));
	k->nhost_search = n > 0 ? (unsigned)n : 0;
	return 0;
}

void
k8s_search_fini(struct k8s *k)
{
	free(k->svc_zones);
	free(k->host_search);
}

/* The client's address; an IPv4-mapped IPv6 one as IPv4. */
static bool
client_ip(const struct sx_query *q, struct k8s_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (q->client.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&q->client;

		ip->fam = 4;
		memcpy(ip->a, &sin->sin_addr, 4);
		return true;
	}
	if (q->client.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&q->client;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ip->fam = 4;
			memcpy(ip->a, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			ip->fam = 6;
			memcpy(ip->a, &sin6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

int
k8s_search_path(struct sx_req *req, void *inst, struct sx_search *out)
{
	static const uint8_t root[1] = { 0 };
	const struct k8s *k = inst;
	const struct sx_query *q = sx_req_query(req);
	int z = sx_zones_match(&k->zones, q->lname);
	const char *ns = NULL;
	struct k8s_ip ip;
	size_t len = 0, zlen;
	uint8_t *first;

	if (z < 0 || !k->st || !k->st->podns || !k->svc_zones[z][0] || !client_ip(q, &ip)) {
		return 0;
	}
	rcu_read_lock();
	ns = k8s_podns_lookup(k->st->podns, &ip, &len);
	zlen = sx_dname_len(k->svc_zones[z]);
	/* The namespace's name, copied out while the index holds it. */
	first = ns && len < 64 && 1 + len + zlen <= SX_DNAME_MAX ? sx_req_alloc(req, 1 + len + zlen)
	                                                         : NULL;
	if (first) {
		first[0] = (uint8_t)len;
		memcpy(first + 1, ns, len);
		memcpy(first + 1 + len, k->svc_zones[z], zlen);
	}
	rcu_read_unlock();
	if (!first) {
		return 0;
	}
	out->dom[0] = first;
	out->dom[1] = k->svc_zones[z];
	out->dom[2] = k->zones.z[z].wire;
	out->n = 3;
	for (unsigned i = 0; i < k->nhost_search && out->n < SX_SEARCH_MAX - 1; i++) {
		out->dom[out->n++] = k->host_search[i];
	}
	out->dom[out->n++] = root;
	return 1;
}
