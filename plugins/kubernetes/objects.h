/* objects.h -- compact forms of the API objects the kubernetes plugin keeps. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <urcu.h>
#include <urcu/rculfhash.h>

#include "k8s.h"

/*
 * Each API object becomes one malloc'ed block as soon as it arrives: fixed
 * header, arrays, then its strings; JSON is never kept. Addresses are 4 or 16
 * bytes, names are lower case. Objects are immutable once published to the
 * workers (only the control thread's bookkeeping fields change), and are freed
 * after a grace period once unlinked (see zone.h).
 */

#define K8S_NAME_MAX  253 /* longest object name (DNS subdomain) */
#define K8S_LABEL_MAX 63  /* longest namespace, service, port or host name */

struct k8s_ns;

/** An address: @fam is 4 or 6; an IPv4 address uses a[0..3]. */
struct k8s_ip {
	uint8_t fam;
	uint8_t a[16];
};

enum k8s_proto {
	K8S_TCP,
	K8S_UDP,
	K8S_SCTP
};

/** A named port; the name lives in the owning object's strings. */
struct k8s_port {
	uint16_t port;
	uint8_t proto;    /* enum k8s_proto */
	uint8_t name_len; /* 0: unnamed */
	uint32_t name_off;
};

enum k8s_svc_type {
	K8S_SVC_CLUSTERIP,
	K8S_SVC_HEADLESS,
	K8S_SVC_EXTERNAL
};

/*
 * A Service's DNS data, position independent so that it can be copied into
 * the view that publishes it: header, the ClusterIPs (4 or 16 bytes each, as
 * @v6 says), ports[nports], the outside addresses (k8s_xaddr_next()), port
 * names, externalName in wire form. @size covers all of it (at most 255 ports
 * with names of 63 bytes, and K8S_XADDR_BYTES of outside addresses: 16 bits
 * do). Only the ClusterIPs it has take room, and an IPv4 one only its 4
 * bytes: most Services have one, headless ones none. Outside addresses
 * (spec.externalIPs, then status.loadBalancer.ingress, as CoreDNS lists them
 * for k8s_external) take a tag byte and the address: 5 bytes an IPv4 one, and
 * nothing at all for the Services without any (@nxaddrs sits in what was
 * padding).
 */
struct k8s_svc {
	uint16_t size;
	uint8_t type; /* enum k8s_svc_type */
	uint8_t nips; /* ClusterIPs (0..2) */
	uint8_t v6;   /* bit i: ClusterIP i is IPv6 */
	uint8_t nports;
	uint8_t ext_len; /* wire length of externalName; 0 when none or unusable */
	uint8_t nxaddrs; /* outside addresses (externalIPs, load balancer ingress) */
};

/* Most bytes of outside addresses kept for one Service; more are dropped. */
#define K8S_XADDR_BYTES 4096

/* Tags of an outside address: an IPv4 or IPv6 address, or a hostname (wire form). */
#define K8S_XADDR_HOST 0
#define K8S_XADDR_V4   4
#define K8S_XADDR_V6   6

/** ClusterIP @i of @s: 4 or 16 bytes, its family (4 or 6) in *@fam. */
static inline const uint8_t *
k8s_svc_ip(const struct k8s_svc *s, unsigned i, uint8_t *fam)
{
	const uint8_t *a = (const uint8_t *)(s + 1);

	if (i == 1) {
		a += s->v6 & 1 ? 16 : 4;
	}
	*fam = s->v6 >> i & 1 ? 6 : 4;
	return a;
}

/** Whether ClusterIP @i of @s repeats the first (answers give it once). */
static inline bool
k8s_svc_ip_repeats(const struct k8s_svc *s, unsigned i)
{
	uint8_t f0, f1;
	const uint8_t *a0, *a1;

	if (i == 0) {
		return false;
	}
	a0 = k8s_svc_ip(s, 0, &f0);
	a1 = k8s_svc_ip(s, i, &f1);
	return f0 == f1 && memcmp(a0, a1, f0 == 4 ? 4 : 16) == 0;
}

/** Where the ports of Service @s begin (its nips and v6 set). */
static inline size_t
k8s_svc_ports_off(const struct k8s_svc *s)
{
	size_t off = sizeof(*s);

	for (unsigned i = 0; i < s->nips; i++) {
		off += s->v6 >> i & 1 ? 16 : 4;
	}
	return off;
}

static inline const struct k8s_port *
k8s_svc_ports(const struct k8s_svc *s)
{
	return (const struct k8s_port *)((const char *)s + k8s_svc_ports_off(s));
}

/** The first outside address of Service @s (nxaddrs > 0): a tag byte, then the address. */
static inline const uint8_t *
k8s_svc_xaddrs(const struct k8s_svc *s)
{
	return (const uint8_t *)k8s_svc_ports(s) + s->nports * sizeof(struct k8s_port);
}

/** The address of outside address @x (its tag in x[0]): 4 or 16 bytes, or a wire name. */
static inline const uint8_t *
k8s_xaddr_data(const uint8_t *x)
{
	return x + 1;
}

/** The outside address after @x. */
static inline const uint8_t *
k8s_xaddr_next(const uint8_t *x)
{
	if (x[0] != K8S_XADDR_HOST) {
		return x + 1 + (x[0] == K8S_XADDR_V4 ? 4 : 16);
	}
	x++;
	while (*x != 0) {
		x += *x + 1;
	}
	return x + 1;
}

/** A string of Service @s at offset @off (a port name: not NUL-terminated). */
static inline const char *
k8s_svc_str(const struct k8s_svc *s, uint32_t off)
{
	return (const char *)s + off;
}

static inline const uint8_t *
k8s_svc_ext(const struct k8s_svc *s)
{
	return (const uint8_t *)s + s->size - s->ext_len;
}

/* One ready address of an EndpointSlice; the address itself is k8s_ep_addr(). */
struct k8s_ep {
	struct cds_lfht_node rnode; /* in the reverse table, keyed by address */
	uint16_t idx;               /* position in the slice, to get back to it */
	uint8_t host_len, pod_len;  /* hostname, targetRef name (< 64) or 0 */
	uint32_t str_off;           /* hostname then pod name, from the slice start */
};

/*
 * An EndpointSlice, ready endpoints only (one k8s_ep per address): header,
 * eps[neps], ports[nports], the addresses (4 or 16 bytes each, as the
 * slice's family: an IPv4 endpoint takes 28 bytes, not 40), then strings
 * (slice name, service name, names). A slice without ports has nports 0
 * (CoreDNS's "port -1" sentinel). Where each part begins follows from neps,
 * nports and fam: a header of 32 bytes instead of 48, 1.4 MB of 90,000 slices.
 */
struct k8s_slice {
	struct cds_lfht_node node; /* in the slice index, keyed by namespace and name */
	struct k8s_ns *ns;
	uint16_t neps;
	uint8_t nports;
	uint8_t fam;               /* 4 or 6 */
	uint8_t name_len, svc_len; /* slice name, then kubernetes.io/service-name */
	uint8_t stale;             /* control thread: not seen in the current relist */
	struct k8s_ep eps[];
};

/** Where the ports of a slice of @neps endpoints begin. */
static inline size_t
k8s_slice_ports_off(unsigned neps)
{
	return sizeof(struct k8s_slice) + neps * sizeof(struct k8s_ep);
}

/** Where the addresses begin. */
static inline size_t
k8s_slice_addrs_off(unsigned neps, unsigned nports)
{
	return k8s_slice_ports_off(neps) + nports * sizeof(struct k8s_port);
}

/** Where the strings begin (slice name, service name, endpoint names). */
static inline size_t
k8s_slice_names_off(unsigned neps, unsigned nports, unsigned fam)
{
	return k8s_slice_addrs_off(neps, nports) + neps * (fam == 4 ? 4u : 16u);
}

static inline const struct k8s_port *
k8s_slice_ports(const struct k8s_slice *s)
{
	return (const struct k8s_port *)((const char *)s + k8s_slice_ports_off(s->neps));
}

static inline const char *
k8s_slice_str(const struct k8s_slice *s, uint32_t off)
{
	return (const char *)s + off;
}

static inline const char *
k8s_slice_name(const struct k8s_slice *s)
{
	return (const char *)s + k8s_slice_names_off(s->neps, s->nports, s->fam);
}

static inline const char *
k8s_slice_svc(const struct k8s_slice *s)
{
	return k8s_slice_name(s) + s->name_len;
}

/** The slice an endpoint belongs to. */
static inline const struct k8s_slice *
k8s_ep_slice(const struct k8s_ep *ep)
{
	return (const struct k8s_slice *)((const char *)(ep - ep->idx) -
	                                  offsetof(struct k8s_slice, eps));
}

/** The address of endpoint @i of @s: 4 or 16 bytes, as s->fam. */
static inline const uint8_t *
k8s_slice_addr(const struct k8s_slice *s, unsigned i)
{
	return (const uint8_t *)s + k8s_slice_addrs_off(s->neps, s->nports) +
	       i * (s->fam == 4 ? 4u : 16u);
}

static inline const uint8_t *
k8s_ep_addr(const struct k8s_ep *ep)
{
	return k8s_slice_addr(k8s_ep_slice(ep), ep->idx);
}

/* A Pod with an IP (kept only with `pods verified`). */
struct k8s_pod {
	struct cds_lfht_node node;  /* in the pod index, keyed by namespace and name */
	struct cds_lfht_node inode; /* in the pods-by-IP table */
	struct k8s_ns *ns;
	struct k8s_ip ip;
	uint8_t stale;
	uint8_t name_len;
	char name[];
};

#define K8S_RV_MAX 63 /* longest resourceVersion kept (etcd's are 64-bit integers) */

/*
 * One API object as read from its JSON: who it is, and what the plugin keeps
 * of it. The JSON is read in place (jpull.h) and never kept.
 */
struct k8s_obj {
	char ns[K8S_LABEL_MAX + 1];  /* metadata.namespace, "default" when none; "" for a
	                                 Namespace */
	char name[K8S_NAME_MAX + 1]; /* metadata.name */
	size_t ns_len, name_len;
	char rv[K8S_RV_MAX + 1]; /* metadata.resourceVersion, "" when none */
	/* The kept form, by kind (owned; NULL when the object serves nothing). */
	struct k8s_svc *svc;
	struct k8s_slice *slice; /* its ns is left NULL for the store to fill */
	struct k8s_pod *pod;
	/* A Pod's status.podIP (fam 0: none or invalid), and whether it is Running, not
	 * being deleted and not on the host's network: what the pod address index keeps. */
	struct k8s_ip pod_ip;
	bool pod_indexed;
	/* EndpointSlices: the kubernetes.io/service-name label ("" when none) and the
	 * endpoints.kubernetes.io/last-change-trigger-time annotation: when the change
	 * the endpoints controller wrote into the slice began. */
	char svc_name[K8S_LABEL_MAX + 1];
	bool has_trigger;
	double trigger;
};

#define K8S_READ_META      1u /* who it is only (a deletion): the rest is not checked */
#define K8S_READ_POD_NAMES 2u /* keep the names of pods behind endpoints (endpoint_pod_names) */

/**
 * Read an object of @kind from @len bytes of JSON. Names are checked, the
 * kind's fields converted: a Service always gives @svc; an EndpointSlice gives
 * @slice unless it serves nothing (no kubernetes.io/service-name label, FQDN
 * addresses, no ready endpoint); a Pod gives @pod unless it has no IP, is
 * being deleted, or has finished (Succeeded, Failed, Unknown).
 * @return 0; SX_EINVAL with the reason in @err (the object cannot be used, or
 * is not JSON); -ENOMEM. Call k8s_obj_fini() in every case.
 */
int k8s_obj_read(struct k8s_obj *o, enum k8s_kind kind, const char *json, size_t len,
                 unsigned flags, char *err, size_t errlen);

/** Free what @o holds and was not taken (pointers set to NULL by the taker). */
void k8s_obj_fini(struct k8s_obj *o);

/**
 * Who an object is, for log lines and resourceVersions, whatever else is
 * wrong with it: "ns/name" (or "name", "?") in @id and metadata.resourceVersion
 * ("" when none) in @rv. Reads no further than the metadata.
 */
void k8s_obj_ident(const char *json, size_t len, char *id, size_t idsize, char *rv, size_t rvsize);

/** Whether two slices carry the same DNS data (names, addresses, ports). */
bool k8s_slice_same(const struct k8s_slice *a, const struct k8s_slice *b);

/**
 * Parse an IPv4 or IPv6 address in text form.
 * @return true and the address in *@ip, or false.
 */
bool k8s_ip_parse(struct k8s_ip *ip, const char *s);

/**
 * The endpoint name CoreDNS derives from an address: the address with '.'
 * or ':' replaced by '-' ("10-0-0-1", "fd00--1"; a trailing '-' gets a '0').
 * IPv6 is written in RFC 5952 form, as Go prints it.
 * @return its length (at most 40); @out gets no NUL.
 */
size_t k8s_ip_dashed(char out[40], const struct k8s_ip *ip);

/**
 * Parse an RFC 3339 time ("2024-05-01T10:00:00Z", fractions of a second and
 * "+02:00" offsets allowed, as Go's time.RFC3339Nano reads them).
 * @return true and seconds since the epoch in *@t, or false.
 */
bool k8s_time_parse(const char *s, double *t);
