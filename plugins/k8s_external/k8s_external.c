/* k8s_external.c -- Services' outside addresses under an outside zone, as CoreDNS's k8s_external. */
#include <string.h>

#include <sextant/dname.h>
#include <sextant/k8s.h>
#include <sextant/plugin.h>

#define MAX_ITEMS 128 /* records looked at per answer: more do not fit a reply anyway */
#define MAX_NS    16

struct ext {
	struct sx_zones zones;
	struct sx_zones fall;            /* n == 0: no fallthrough */
	uint8_t apex_wire[SX_DNAME_MAX]; /* `apex`: where the NS and SOA names live */
	size_t apex_len;                 /* its labels in wire form, without the root */
	unsigned apex_labels;
	unsigned ttl;
	bool ttl_set;
	bool headless;
	const void *k8s; /* the kubernetes plugin of the block, found at start */
};

/* What one answer needs, on the worker's stack. */
struct ctx {
	const struct ext *e;
	const struct sx_query *q;
	struct sx_msg *msg;
	const struct sx_zone *zone;
	const uint8_t *zq; /* the zone inside the query name, in the client's case */
	struct sx_k8s_ext it[MAX_ITEMS];
	size_t n, all; /* items kept, items there are */
};

/* @labels (wire, no root, @len bytes) then @tail (a wire name) into @out. @return length, 0. */
static size_t
join(uint8_t out[SX_DNAME_MAX], const uint8_t *labels, size_t len, const uint8_t *tail)
{
	size_t tl = sx_dname_len(tail);

	if (len + tl > SX_DNAME_MAX) {
		return 0;
	}
	memcpy(out, labels, len);
	memcpy(out + len, tail, tl);
	return len + tl;
}

/* "ns1.APEX.ZONE" or "hostmaster.APEX.ZONE" into @out. @return its length, or 0. */
static size_t
apex_name(uint8_t out[SX_DNAME_MAX], const struct ctx *c, const char *first)
{
	uint8_t l[SX_DNAME_MAX];
	size_t n = strlen(first);

	l[0] = (uint8_t)n;
	memcpy(l + 1, first, n);
	memcpy(l + 1 + n, c->e->apex_wire, c->e->apex_len);
	return join(out, l, 1 + n + c->e->apex_len, c->zq);
}

static void
put(struct ctx *c, enum sx_section sec, const uint8_t *owner, uint16_t type, const void *rd,
    size_t len)
{
	sx_msg_put_rr(c->msg, sec, owner, type, SX_CLASS_IN, c->e->ttl, rd, (uint16_t)len);
}

/* The zone's SOA, as CoreDNS's: ns1.APEX, hostmaster.APEX, the kubernetes zone's serial. */
static void
put_soa(struct ctx *c, enum sx_section sec)
{
	uint8_t rd[2 * SX_DNAME_MAX + 20];
	size_t n = apex_name(rd, c, "ns1"), m;

	if (n == 0 || (m = apex_name(rd + n, c, "hostmaster")) == 0) {
		return;
	}
	n += m;
	sx_k8s_soa_numbers(c->e->k8s, c->e->ttl, rd + n);
	put(c, sec, c->zq, SX_TYPE_SOA, rd, n + 20);
}

/* This server's addresses of family @fam as records of @owner in @sec. @return how many. */
static size_t
put_ns_addrs(struct ctx *c, enum sx_section sec, const uint8_t *owner, uint8_t fam)
{
	const uint8_t *a[MAX_NS];
	size_t n = sx_k8s_ns_addrs(c->e->k8s, fam, a, MAX_NS);

	for (size_t i = 0; i < n; i++) {
		put(c, sec, owner, fam == 4 ? SX_TYPE_A : SX_TYPE_AAAA, a[i], fam == 4 ? 4 : 16);
	}
	return n;
}

/* The zone's own name: SOA, NS (with its addresses), else no data. */
static void
apex(struct ctx *c)
{
	uint8_t ns[SX_DNAME_MAX];
	size_t n;

	if (c->q->qtype == SX_TYPE_SOA) {
		put_soa(c, SX_SEC_ANSWER);
	} else if (c->q->qtype == SX_TYPE_NS && (n = apex_name(ns, c, "ns1")) > 0) {
		put(c, SX_SEC_ANSWER, c->zq, SX_TYPE_NS, ns, n);
		put_ns_addrs(c, SX_SEC_ADDITIONAL, ns, 4);
		put_ns_addrs(c, SX_SEC_ADDITIONAL, ns, 6);
	} else {
		put_soa(c, SX_SEC_AUTHORITY);
	}
}

/*
 * Under APEX.ZONE: APEX itself is an empty non-terminal, ns1.APEX has this
 * server's addresses, anything else there does not exist.
 */
static void
sub_apex(struct ctx *c, unsigned below)
{
	const uint8_t *l = c->q->lname;
	size_t n = 0;

	if (below > 1 || (below == 1 && (l[0] != 3 || memcmp(l + 1, "ns1", 3) != 0))) {
		sx_msg_set_rcode(c->msg, SX_RCODE_NXDOMAIN);
	} else if (below == 1 && (c->q->qtype == SX_TYPE_A || c->q->qtype == SX_TYPE_AAAA)) {
		n = put_ns_addrs(c, SX_SEC_ANSWER, c->q->qname, c->q->qtype == SX_TYPE_A ? 4 : 6);
	}
	if (n == 0) {
		put_soa(c, SX_SEC_AUTHORITY);
	}
}

static size_t
addr_len(uint8_t fam)
{
	return fam == 4 ? 4 : 16;
}

/* Whether item @i repeats the address (or hostname) of an earlier one. */
static bool
addr_seen(const struct ctx *c, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (c->it[j].fam != c->it[i].fam) {
			continue;
		}
		if (c->it[i].fam == 0
		            ? sx_dname_eq(c->it[j].addr, c->it[i].addr)
		            : memcmp(c->it[j].addr, c->it[i].addr, addr_len(c->it[i].fam)) == 0) {
			return true;
		}
	}
	return false;
}

/* The SRV target of item @i: the hostname, EP.SVC.NS.ZONE, or SVC.NS.ZONE. */
static size_t
target(uint8_t out[SX_DNAME_MAX], const struct ctx *c, const uint8_t *svc, size_t i)
{
	const struct sx_k8s_ext *x = &c->it[i];
	uint8_t l[64];

	if (x->fam == 0) {
		return sx_dname_lower(out, x->addr);
	}
	if (x->ep_len == 0) {
		return sx_dname_lower(out, svc);
	}
	l[0] = x->ep_len;
	memcpy(l + 1, x->ep, x->ep_len);
	return join(out, l, 1u + x->ep_len, svc);
}

/* Whether item @i has the same target as an earlier one and (@port) the same port. */
static bool
target_seen(const struct ctx *c, size_t i, bool port)
{
	const struct sx_k8s_ext *x = &c->it[i];

	for (size_t j = 0; j < i; j++) {
		const struct sx_k8s_ext *y = &c->it[j];
		if ((x->fam == 0) != (y->fam == 0) || (port && x->port != y->port)) {
			continue;
		}
		if (x->fam == 0 ? sx_dname_eq(x->addr, y->addr)
		                : x->ep_len == y->ep_len && memcmp(x->ep, y->ep, x->ep_len) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * SRV as CoreDNS's k8s_external: priority 0, weight 100 / items (at least 1),
 * one record per target and port, the addresses of the targets in additional
 * (a hostname target's addresses are not looked up).
 */
static void
srv(struct ctx *c)
{
	const uint8_t *svc;
	uint16_t weight = c->all <= 100 ? (uint16_t)(100 / c->all) : 1;
	uint8_t rd[6 + SX_DNAME_MAX], t[SX_DNAME_MAX];
	size_t n;

	/* SVC.NS.ZONE: the query name without its port, protocol or endpoint labels. */
	svc = sx_dname_skip(c->q->lname, c->q->nlabels - sx_dname_labels(c->zone->wire) - 2);
	for (size_t i = 0; i < c->n; i++) {
		if (c->it[i].port < 0 || target_seen(c, i, true) ||
		    (n = target(rd + 6, c, svc, i)) == 0) {
			continue;
		}
		rd[0] = rd[1] = 0;
		rd[2] = (uint8_t)(weight >> 8);
		rd[3] = (uint8_t)weight;
		rd[4] = (uint8_t)(c->it[i].port >> 8);
		rd[5] = (uint8_t)c->it[i].port;
		put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_SRV, rd, 6 + n);
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct sx_k8s_ext *x = &c->it[i];
		bool again = false;
		if (x->fam == 0 || x->port < 0 || (n = target(t, c, svc, i)) == 0) {
			continue;
		}
		/* Once per target and address. */
		for (size_t j = 0; j < i && !again; j++) {
			const struct sx_k8s_ext *y = &c->it[j];
			again = y->fam == x->fam && y->port >= 0 && y->ep_len == x->ep_len &&
			        memcmp(y->ep, x->ep, x->ep_len) == 0 &&
			        memcmp(y->addr, x->addr, addr_len(x->fam)) == 0;
		}
		if (!again) {
			put(c, SX_SEC_ADDITIONAL, t, x->fam == 4 ? SX_TYPE_A : SX_TYPE_AAAA,
			    x->addr, addr_len(x->fam));
		}
	}
}

/*
 * A or AAAA: each address of the family once; a load balancer's hostname is a
 * CNAME to it. @return the first hostname (whose addresses the caller looks
 * up), or NULL.
 */
static const uint8_t *
addrs(struct ctx *c, uint8_t fam)
{
	const uint8_t *host = NULL;

	for (size_t i = 0; i < c->n; i++) {
		const struct sx_k8s_ext *x = &c->it[i];
		if ((x->fam != fam && x->fam != 0) || addr_seen(c, i)) {
			continue;
		}
		if (x->fam == 0) {
			put(c, SX_SEC_ANSWER, c->q->qname, SX_TYPE_CNAME, x->addr,
			    sx_dname_len(x->addr));
			host = host ? host : x->addr;
		} else {
			put(c, SX_SEC_ANSWER, c->q->qname, fam == 4 ? SX_TYPE_A : SX_TYPE_AAAA,
			    x->addr, addr_len(fam));
		}
	}
	return host;
}

/*
 * Answer @q into @msg. @return SX_NEXT (not ours, or NXDOMAIN falling
 * through), SX_DONE, or SX_SUSPEND with a hostname to look up copied into
 * @host (nothing written: the caller writes the answer again with the lookup).
 */
static enum sx_verdict
answer(const struct ext *e, const struct sx_query *q, struct sx_msg *msg, uint8_t *host)
{
	struct ctx c;
	unsigned rcode, zl, al;
	const uint8_t *h = NULL;
	int zi;

	if (q->qclass != SX_CLASS_IN || (zi = sx_zones_match(&e->zones, q->lname)) < 0) {
		return SX_NEXT;
	}
	c.e = e;
	c.q = q;
	c.msg = msg;
	c.zone = &e->zones.z[zi];
	c.zq = q->qname + (q->qname_len - c.zone->len);
	zl = sx_dname_labels(c.zone->wire);
	al = zl + e->apex_labels;
	sx_msg_set_flags(msg, SX_FLAG_AA);
	if (q->nlabels == zl) {
		apex(&c);
		return SX_DONE;
	}
	if (q->nlabels >= al &&
	    memcmp(sx_dname_skip(q->lname, q->nlabels - al), e->apex_wire, e->apex_len) == 0) {
		sub_apex(&c, q->nlabels - al);
		return SX_DONE;
	}
	c.all = sx_k8s_external(e->k8s, q->lname, q->nlabels, zl, e->headless, c.it, MAX_ITEMS,
	                        &rcode);
	c.n = c.all < MAX_ITEMS ? c.all : MAX_ITEMS;
	if (c.all == 0) {
		if (rcode == SX_RCODE_NXDOMAIN && e->fall.n > 0 &&
		    sx_zones_match(&e->fall, q->lname) >= 0) {
			sx_msg_clear_flags(msg, SX_FLAG_AA);
			return SX_NEXT;
		}
		sx_msg_set_rcode(msg, rcode);
		put_soa(&c, SX_SEC_AUTHORITY);
		return SX_DONE;
	}
	switch (q->qtype) {
	case SX_TYPE_A:
		h = addrs(&c, 4);
		break;
	case SX_TYPE_AAAA:
		h = addrs(&c, 6);
		break;
	case SX_TYPE_SRV:
		srv(&c);
		break;
	default:
		break;
	}
	if (h != NULL && host != NULL) {
		sx_dname_lower(host, h);
		return SX_SUSPEND;
	}
	if (sx_msg_count(msg, SX_SEC_ANSWER) == 0 && !msg->truncated) {
		put_soa(&c, SX_SEC_AUTHORITY);
	}
	return SX_DONE;
}

/* The load balancer's hostname was looked up: the answer again, then what the lookup found. */
static void
resolved(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	struct sx_msg *msg = sx_req_msg(req);
	struct sx_rr_walk it;
	struct sx_rr rr;

	answer(arg, sx_req_query(req), msg, NULL);
	if (wire != NULL && !msg->truncated) {
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
	sx_req_resume(req, SX_DONE);
}

static enum sx_verdict
ext_handle(struct sx_req *req, void *inst)
{
	const struct sx_query *q = sx_req_query(req);
	uint8_t host[SX_DNAME_MAX];
	enum sx_verdict v = answer(inst, q, sx_req_msg(req), host);

	/* The CNAME's target is resolved as CoreDNS's upstream lookup does: through our chain. */
	if (v == SX_SUSPEND) {
		if (sx_req_subquery(req, host, q->qtype, resolved, inst) < 0) {
			answer(inst, q, sx_req_msg(req), NULL);
			return SX_DONE;
		}
	}
	return v;
}

static int
set_apex(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct ext *e = inst;
	uint8_t w[SX_DNAME_MAX];
	const char *s = sx_cf_arg(cf, 1);
	int n = strcmp(s, ".") == 0 ? -1 : sx_dname_from_str(w, s);

	if (n <= 1) {
		return sx_cf_err(cf, "apex: invalid name \"%s\"", s);
	}
	e->apex_len = sx_dname_lower(e->apex_wire, w) - 1; /* no root: zones follow it */
	e->apex_labels = sx_dname_labels(w);
	return 0;
}

/* A ttl line may say 0, so whether there was one is kept apart (the default is 5). */
static int
set_ttl(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	int r = sx_set_uint(cf, d, inst);

	((struct ext *)inst)->ttl_set = r == 0;
	return r;
}

static const struct sx_directive ext_directives[] = {
	{ "apex", 1, 1, set_apex },
	{ "ttl", 1, 1, set_ttl, SX_FIELD(struct ext, ttl, unsigned), 0, 3600 },
	SX_DIR_FLAG("headless", struct ext, headless),
	SX_DIR_ZONES("fallthrough", struct ext, fall),
	{ NULL },
};

static int
ext_setup(struct sx_cf *cf, void *inst)
{
	struct ext *e = inst;
	int r;

	if (e->apex_len == 0) {
		e->apex_wire[0] = 3;
		memcpy(e->apex_wire + 1, "dns", 3);
		e->apex_len = 4;
		e->apex_labels = 1;
	}
	if (!e->ttl_set) {
		e->ttl = 5;
	}
	r = sx_cf_zones(cf, 1, sx_cf_block_zones(cf), NULL, &e->zones);
	if (r < 0) {
		return r;
	}
	if (!sx_cf_block_has(cf, sx_plugin_kubernetes.name, NULL)) {
		return sx_cf_err(cf, "needs the kubernetes plugin in its server block");
	}
	return 0;
}

static int
ext_start(void *inst, struct sx_runtime *rt)
{
	struct ext *e = inst;

	e->k8s = sx_rt_peer(rt, inst, &sx_plugin_kubernetes);
	return e->k8s ? 0 : SX_EINVAL;
}

static void
ext_teardown(void *inst)
{
	struct ext *e = inst;

	sx_zones_fini(&e->zones);
	sx_zones_fini(&e->fall);
}

const struct sx_plugin sx_plugin_k8s_external = {
	.name = "k8s_external",
	.inst_size = sizeof(struct ext),
	.directives = ext_directives,
	.setup = ext_setup,
	.start = ext_start,
	.handle = ext_handle,
	.teardown = ext_teardown,
};
