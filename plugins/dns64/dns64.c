/* dns64.c -- the dns64 plugin: AAAA records synthesised from A records (RFC 6147). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/plugin.h>

/*
 * An AAAA query (class IN, from an IPv6 client unless allow_ipv4) goes to the
 * rest of the chain first. Unless that answers NXDOMAIN, or has AAAA records
 * and translate_all is off, the name's A records are then resolved through the
 * whole server (as CoreDNS's upstream lookups) and each becomes an AAAA record
 * of the prefix with the IPv4 address embedded as RFC 6052 places it.
 */
struct dns64 {
	uint8_t prefix[16];
	unsigned plen;   /* bits: 32, 40, 48, 56, 64 or 96 */
	bool prefix_opt; /* set by the `prefix` option, which wins over the argument */
	bool translate_all;
	bool allow_ipv4;
	uint16_t port;
	char server[32];
	struct sx_wcounters translated;
};

/* One translation in flight, in the request's memory. */
struct pending {
	struct dns64 *d;
	uint32_t soa_ttl; /* TTL of the AAAA reply's SOA, else 600 (RFC 6147 5.1.7) */
};

/* RFC 6052 section 2.2: the IPv4 bytes fill the bits after the prefix, skipping bits 64-71. */
static void
embed(const struct dns64 *d, const uint8_t v4[4], uint8_t out[16])
{
	unsigned i = d->plen / 8, j = 0;

	memset(out, 0, 16);
	memcpy(out, d->prefix, i);
	for (; j < 4; i++) {
		if (i == 8) {
			continue;
		}
		out[i] = v4[j++];
	}
}

/* The reply to the AAAA question built from the A reply @wire. */
static void
synthesize(struct sx_req *req, const struct pending *p, const uint8_t *wire, size_t len)
{
	struct sx_msg *msg = sx_req_msg(req);
	uint8_t owner[SX_DNAME_MAX], aaaa[16];
	struct sx_rr_walk it;
	struct sx_rr rr;
	int rc;

	sx_msg_reset(msg);
	sx_msg_clear_flags(msg, SX_FLAG_RA);
	sx_msg_set_flags(msg, (uint16_t)(((wire[2] << 8) | wire[3]) & SX_FLAG_RA));
	sx_msg_set_rcode(msg, wire[3] & 0x0f);
	sx_rr_walk_start(&it, wire, len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		if (rr.type == SX_TYPE_OPT) {
			continue;
		}
		if (rr.section == SX_SEC_ANSWER && rr.type == SX_TYPE_A && rr.rdlen == 4) {
			if (sx_wire_name(wire, len, rr.owner_off, owner) < 0) {
				continue;
			}
			embed(p->d, wire + rr.rdata_off, aaaa);
			rc = sx_msg_put_rr(msg, SX_SEC_ANSWER, owner, SX_TYPE_AAAA, rr.rclass,
			                   rr.ttl < p->soa_ttl ? rr.ttl : p->soa_ttl, aaaa, 16);
		} else {
			rc = sx_msg_copy_rr(msg, rr.section, wire, len, &rr);
		}
		/* What does not fit is left out; TC is already set where it matters. */
		if (rc == SX_ETRUNC && rr.section != SX_SEC_ADDITIONAL) {
			break;
		}
	}
	sx_wcounters_add(&p->d->translated, sx_req_worker(req), 0, 1);
}

static void
got_a(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	if (!wire || len < 12) {
		sx_req_resume(req, sx_req_error(req, SX_RCODE_SERVFAIL,
		                                "plugin/dns64: no answer to the A lookup"));
		return;
	}
	synthesize(req, arg, wire, len);
	sx_req_resume(req, SX_DONE);
}

/* Whether the rest of the chain's reply @wire stands as it is (RFC 6147 5.1.1, 5.1.2). */
static bool
keep_reply(const struct dns64 *d, struct pending *p, const uint8_t *wire, size_t len)
{
	bool aaaa = false;
	struct sx_rr_walk it;
	struct sx_rr rr;

	if ((wire[3] & 0x0f) == SX_RCODE_NXDOMAIN) {
		return true;
	}
	sx_rr_walk_start(&it, wire, len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1 && rr.section <= SX_SEC_AUTHORITY) {
		if (rr.section == SX_SEC_ANSWER && rr.type == SX_TYPE_AAAA) {
			aaaa = true;
		}
		if (rr.section == SX_SEC_AUTHORITY && rr.type == SX_TYPE_SOA) {
			p->soa_ttl = rr.ttl;
		}
	}
	return aaaa && !d->translate_all;
}

static void
got_aaaa(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	struct pending *p = arg;
	int rc;

	if (!wire) { /* the rest of the chain dropped it */
		sx_req_drop(req);
		sx_req_resume(req, SX_DONE);
		return;
	}
	if (len < 12 || keep_reply(p->d, p, wire, len)) {
		if (sx_msg_set_wire(sx_req_msg(req), wire, len) < 0) {
			sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/dns64: malformed reply");
		}
		sx_req_resume(req, SX_DONE);
		return;
	}
	rc = sx_req_subquery(req, sx_req_query(req)->lname, SX_TYPE_A, got_a, p);
	if (rc < 0) {
		sx_req_resume(req, sx_req_error(req, SX_RCODE_SERVFAIL,
		                                "plugin/dns64: A lookup not started: %s",
		                                sx_strerror(rc)));
	}
}

/* A client address that is IPv4, or IPv4 mapped into IPv6, counts as IPv4 (as in CoreDNS). */
static bool
from_ipv4(const struct sx_query *q)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&q->client;

	return q->client.ss_family == AF_INET ||
	       (q->client.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr));
}

static enum sx_verdict
dns64_handle(struct sx_req *req, void *inst)
{
	struct dns64 *d = inst;
	const struct sx_query *q = sx_req_query(req);
	struct pending *p;

	if (q->qtype != SX_TYPE_AAAA || q->qclass != SX_CLASS_IN ||
	    (!d->allow_ipv4 && from_ipv4(q))) {
		return SX_NEXT;
	}
	p = sx_req_alloc(req, sizeof(*p));
	if (!p) {
		return SX_NEXT;
	}
	p->d = d;
	p->soa_ttl = 600;
	if (sx_req_subquery_next(req, SX_TYPE_AAAA, got_aaaa, p) < 0) {
		return SX_NEXT;
	}
	return SX_SUSPEND;
}

/* PREFIX: an IPv6 network of 32, 40, 48, 56, 64 or 96 bits (RFC 6052), host bits cleared. */
static int
parse_prefix(struct sx_cf *cf, struct dns64 *d, const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	char *end;
	long len;

	if (!slash || (size_t)(slash - s) >= sizeof(addr)) {
		return sx_cf_err(cf, "PREFIX %s is not an IPv6 network (ADDRESS/LENGTH)", s);
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET6, addr, d->prefix) != 1) {
		return sx_cf_err(cf, "PREFIX %s is not an IPv6 network (ADDRESS/LENGTH)", s);
	}
	len = strtol(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || len < 32 || len > 96 || len % 8 != 0) {
		return sx_cf_err(cf, "PREFIX %s: the length must be 32, 40, 48, 56, 64 or 96", s);
	}
	d->plen = (unsigned)len;
	memset(d->prefix + len / 8, 0, 16 - (size_t)len / 8);
	return 0;
}

static int
set_prefix(struct sx_cf *cf, const struct sx_directive *dir, void *inst)
{
	struct dns64 *d = inst;

	(void)dir;
	d->prefix_opt = true;
	return parse_prefix(cf, d, sx_cf_arg(cf, 1));
}

static const struct sx_directive dns64_directives[] = {
	{ .name = "prefix", .min_args = 1, .max_args = 1, .set = set_prefix },
	SX_DIR_FLAG("translate_all", struct dns64, translate_all),
	SX_DIR_FLAG("allow_ipv4", struct dns64, allow_ipv4),
	{ 0 },
};

/* dns64 [PREFIX] */
static int
dns64_setup(struct sx_cf *cf, void *inst)
{
	struct dns64 *d = inst;
	int rc;

	if (sx_cf_nargs(cf) > 2) {
		return sx_cf_err(cf, "wrong argument count: dns64 [PREFIX]");
	}
	if (!d->prefix_opt) {
		rc = parse_prefix(cf, d, sx_cf_nargs(cf) == 2 ? sx_cf_arg(cf, 1) : "64:ff9b::/96");
		if (rc < 0) {
			return rc;
		}
	}
	d->port = sx_cf_block_port(cf, 0);
	return sx_wcounters_init(&d->translated, 1, sx_cf_workers(cf));
}

static int
dns64_start(void *inst, struct sx_runtime *rt)
{
	struct dns64 *d = inst;

	snprintf(d->server, sizeof(d->server), "dns://:%u", sx_rt_port(rt, d->port));
	return 0;
}

static void
dns64_collect(void *inst, struct sx_metrics *m)
{
	struct dns64 *d = inst;
	char l[64];

	snprintf(l, sizeof(l), "server=\"%s\"", d->server);
	sx_metrics_add(m, "coredns_dns64_requests_translated_total", SX_METRIC_COUNTER,
	               "Counter of DNS requests translated by dns64.", l,
	               (double)sx_wcounters_sum(&d->translated, 0));
}

static void
dns64_teardown(void *inst)
{
	struct dns64 *d = inst;

	sx_wcounters_fini(&d->translated);
}

const struct sx_plugin sx_plugin_dns64 = {
	.name = "dns64",
	.inst_size = sizeof(struct dns64),
	.directives = dns64_directives,
	.setup = dns64_setup,
	.start = dns64_start,
	.handle = dns64_handle,
	.collect = dns64_collect,
	.teardown = dns64_teardown,
};
