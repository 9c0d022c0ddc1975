/* local.c -- the local plugin: answers for localhost and the loopback reverse zones, never upstream. */
#include <string.h>

#include <sextant/plugin.h>

/*
 * The names RFC 6761 says stay on the host (localhost. and its subdomains)
 * and the reverse zones of 0/8, 127/8 and 255/8 get a reply here, so they
 * never reach an upstream: loopback addresses for localhost, a PTR for
 * 127.0.0.1, an SOA at each apex, NODATA or NXDOMAIN for the rest. Records,
 * TTLs and the SOA are CoreDNS's. Nothing is allocated per query.
 */

#define LOCAL_TTL 604800u

static const uint8_t z_localhost[] = "\011localhost";
static const uint8_t z_rev0[] = "\0010\007in-addr\004arpa";
static const uint8_t z_rev127[] = "\003127\007in-addr\004arpa";
static const uint8_t z_rev255[] = "\003255\007in-addr\004arpa";
static const uint8_t n_ptr127[] = "\0011\0010\0010\003127\007in-addr\004arpa";
static const uint8_t *const zones[] = { z_localhost, z_rev0, z_rev127, z_rev255 };

/* SOA localhost. root.localhost. 1 0 0 0 604800 */
static const uint8_t soa_rdata[] = "\011localhost\0"
                                   "\004root\011localhost\0"
                                   "\0\0\0\1"
                                   "\0\0\0\0"
                                   "\0\0\0\0"
                                   "\0\0\0\0"
                                   "\0\11\072\200";
static const uint8_t ns_rdata[] = "\011localhost";
static const uint8_t loop4[4] = { 127, 0, 0, 1 };
static const uint8_t loop6[16] = { [15] = 1 };

#define LOCALHOST_TOTAL "coredns_local_localhost_requests_total"

struct local {
	bool no_prefix; /* localhost_prefix off */
	/*
	 * Queries under localhost. (and localhost.*), for the whole process as
	 * CoreDNS counts them (no labels, kept across reloads): a series the core
	 * owns, one counter per worker. NULL (out of memory): not counted.
	 */
	struct sx_series *localhost;
};

static void
put(struct sx_msg *msg, enum sx_section sec, const uint8_t *owner, uint16_t type,
    const uint8_t *rdata, uint16_t len)
{
	sx_msg_put_rr(msg, sec, owner, type, SX_CLASS_IN, LOCAL_TTL, rdata, len);
}

static void
nodata(struct sx_msg *msg, const uint8_t *owner)
{
	put(msg, SX_SEC_AUTHORITY, owner, SX_TYPE_SOA, soa_rdata, sizeof(soa_rdata) - 1);
}

/* Loopback addresses for A and AAAA, NODATA for other types. */
static void
loopback(struct sx_msg *msg, const struct sx_query *q)
{
	if (q->qtype == SX_TYPE_A) {
		put(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_A, loop4, sizeof(loop4));
	} else if (q->qtype == SX_TYPE_AAAA) {
		put(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_AAAA, loop6, sizeof(loop6));
	} else {
		nodata(msg, q->qname);
	}
}

static enum sx_verdict
local_handle(struct sx_req *req, void *inst)
{
	struct local *l = inst;
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg = sx_req_msg(req);
	const uint8_t *zone = NULL;
	size_t i, zlen = 0;

	/* Below localhost. (RFC 6761 6.3), or the legacy localhost.<anything>. */
	if (q->nlabels > 1 && (sx_dname_is_sub(q->lname, z_localhost) ||
	                       (!l->no_prefix && memcmp(q->lname, z_localhost, 10) == 0))) {
		if (l->localhost) {
			sx_wcounters_add(sx_series_counters(l->localhost), sx_req_worker(req), 0,
			                 1);
		}
		loopback(msg, q);
		return SX_DONE;
	}
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (sx_dname_is_sub(q->lname, zones[i])) {
			zlen = sx_dname_len(zones[i]);
			/* The zone as the client wrote it: the tail of its name. */
			zone = q->qname + q->qname_len - zlen;
			break;
		}
	}
	if (!zone) {
		return SX_NEXT;
	}
	if (q->qname_len == zlen) { /* a zone apex */
		switch (q->qtype) {
		case SX_TYPE_A:
		case SX_TYPE_AAAA:
			if (zones[i] == z_localhost) {
				loopback(msg, q);
			} else {
				nodata(msg, q->qname);
			}
			break;
		case SX_TYPE_SOA:
			put(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_SOA, soa_rdata,
			    sizeof(soa_rdata) - 1);
			break;
		case SX_TYPE_NS:
			put(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_NS, ns_rdata, sizeof(ns_rdata));
			break;
		default:
			nodata(msg, q->qname);
		}
	} else if (sx_dname_eq(q->lname, n_ptr127)) {
		if (q->qtype == SX_TYPE_PTR) {
			put(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_PTR, ns_rdata, sizeof(ns_rdata));
		} else {
			nodata(msg, zone);
		}
	} else {
		sx_msg_set_rcode(msg, SX_RCODE_NXDOMAIN);
		nodata(msg, zone);
	}
	return SX_DONE;
}

static int
set_prefix(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct local *l = inst;
	const char *v = sx_cf_arg(cf, 1);

	(void)d;
	if (strcmp(v, "on") == 0) {
		l->no_prefix = false;
	} else if (strcmp(v, "off") == 0) {
		l->no_prefix = true;
	} else {
		return sx_cf_err(cf, "localhost_prefix expects 'on' or 'off', got \"%s\"", v);
	}
	return 0;
}

static const struct sx_directive local_directives[] = {
	{ "localhost_prefix", 1, 1, set_prefix },
	{ NULL },
};

/* local */
static int
local_setup(struct sx_cf *cf, void *inst)
{
	struct local *l = inst;

	if (sx_cf_nargs(cf) > 1) {
		return sx_cf_err(cf, "wrong argument count: local takes no arguments");
	}
	l->localhost = sx_series_get(LOCALHOST_TOTAL, "", 1, sx_cf_workers(cf));
	return 0;
}

/* One series for the process: any instance finds it. */
static void
local_collect(void *const *insts, size_t n, struct sx_metrics *m)
{
	const struct local *l = insts[0];

	(void)n;
	if (l->localhost) {
		sx_metrics_add(m, LOCALHOST_TOTAL, SX_METRIC_COUNTER,
		               "Counter of localhost.<domain> requests.", NULL,
		               (double)sx_wcounters_sum(sx_series_counters(l->localhost), 0));
	}
}

const struct sx_plugin sx_plugin_local = {
	.name = "local",
	.inst_size = sizeof(struct local),
	.directives = local_directives,
	.setup = local_setup,
	.handle = local_handle,
	.collect_all = local_collect,
};
