/* k8s.h -- what the kubernetes plugin offers the plugins of its block (k8s_external). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/plugin.h>

/*
 * k8s_external serves Services under an outside zone from the zone of the
 * kubernetes plugin of its server block: it finds that instance with
 * sx_rt_peer(rt, inst, &sx_plugin_kubernetes) in its start hook and asks
 * these functions, from its handler (on a worker, inside the core's RCU read
 * side, as every handler and sub-query callback runs). Nothing is allocated.
 */
extern const struct sx_plugin sx_plugin_kubernetes;

/* One thing an outside name stands for: an address (or hostname) and a port. */
struct sx_k8s_ext {
	uint8_t fam;         /* 4 or 6; 0: @addr is a load balancer's hostname */
	uint8_t ep_len;      /* a headless Service's endpoint: its name, else 0 */
	int32_t port;        /* -1: the Service has no port */
	const uint8_t *addr; /* 4 or 16 bytes, or an uncompressed lower-case wire name */
	char ep[63];
};

/**
 * What query name @lname (lower-case wire, @nlabels labels) stands for, the
 * last @zlabels of which are the outside zone, as CoreDNS's External() reads
 * it: `NS`, `SVC.NS`, `EP.SVC.NS` or `_PORT._PROTO.SVC.NS`. A Service gives
 * its externalIPs then its load balancer ingress, once per port that matches
 * (`_PORT._PROTO` only filters); with @headless, a Service that has none of
 * these and is headless (or is asked for with an endpoint label) gives its
 * ready endpoints instead, EP matching the endpoint's name. The first @cap go
 * into @out; they live as long as the RCU read side.
 * @param rcode SX_RCODE_NOERROR when something was found or the name is a
 *        namespace alone, else SX_RCODE_NXDOMAIN
 * @return how many there are in all (more than @cap when they did not fit)
 */
size_t sx_k8s_external(const void *k8s, const uint8_t *lname, unsigned nlabels, unsigned zlabels,
                       bool headless, struct sx_k8s_ext *out, size_t cap, unsigned *rcode);

/**
 * The 20 bytes that end an SOA rdata as the kubernetes zone's SOA has them:
 * its serial (unix time of the zone's last change), refresh, retry, expire,
 * then @minimum. A zone served from the kubernetes zone (k8s_external) uses
 * the same numbers.
 */
void sx_k8s_soa_numbers(const void *k8s, uint32_t minimum, uint8_t out[20]);

/**
 * This server's addresses of family @fam (4 or 6), as the kubernetes plugin
 * gives them for ns.dns.<zone>: up to @cap pointers to 4 or 16 bytes, valid as
 * long as the instance. @return how many were written.
 */
size_t sx_k8s_ns_addrs(const void *k8s, uint8_t fam, const uint8_t **out, size_t cap);
