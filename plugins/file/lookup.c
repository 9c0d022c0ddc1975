/* lookup.c -- answers from a zone snapshot: RFC 1034 4.3.2 with RFC 4592 wildcards. */
#include "file.h"

#include <string.h>

#include <sextant/dname.h>

enum kind {
	HIT_NONE,     /* name error */
	HIT_EXACT,    /* the name exists (maybe as an empty non-terminal) */
	HIT_WILDCARD, /* synthesised from "*.<closest encloser>" */
	HIT_CUT,      /* at or below a delegation: refer */
};

struct hit {
	const struct fz_node *node; /* the answering node, or the delegation for HIT_CUT */
	enum kind kind;
};

static uint32_t
rec_ttl(const uint8_t *rec)
{
	uint32_t v;
	memcpy(&v, rec, 4);
	return v;
}

static uint16_t
rec_rdlen(const uint8_t *rec)
{
	uint16_t v;
	memcpy(&v, rec + 4, 2);
	return v;
}

/* Bytes @rs takes at most in a reply, owner uncompressed. */
static size_t
rrset_size(const struct fz_rrset *rs, size_t ownerlen)
{
	size_t size = 0;
	const uint8_t *p = rs->data;
	for (uint16_t i = 0; i < rs->count; i++) {
		size += ownerlen + 10 + rec_rdlen(p);
		p += 6 + rec_rdlen(p);
	}
	return size;
}

static int
put_rrset(struct sx_msg *msg, enum sx_section sec, const uint8_t *owner, const struct fz_rrset *rs)
{
	const uint8_t *p = rs->data;
	for (uint16_t i = 0; i < rs->count; i++) {
		int rc = sx_msg_put_rr(msg, sec, owner, rs->type, SX_CLASS_IN, rec_ttl(p), p + 6,
		                       rec_rdlen(p));
		if (rc < 0) {
			return rc;
		}
		p += 6 + rec_rdlen(p);
	}
	return 0;
}

/*
 * Records that only help (apex NS in authority, addresses in additional) go in
 * whole or not at all, and never set TC: a client has what it asked for.
 */
static void
put_optional(struct sx_msg *msg, enum sx_section sec, const uint8_t *owner,
             const struct fz_rrset *rs)
{
	size_t room = msg->limit < msg->cap ? msg->limit : msg->cap;
	if (rs != NULL && msg->len + rrset_size(rs, sx_dname_len(owner)) <= room) {
		put_rrset(msg, sec, owner, rs);
	}
}

/* The SOA as the negative answer's authority, with its TTL capped by MINIMUM (RFC 2308 3). */
static void
put_soa(const struct fz_zone *z, struct sx_msg *msg)
{
	const uint8_t *p = z->soa->data;
	sx_msg_put_rr(msg, SX_SEC_AUTHORITY, z->apex->name, SX_TYPE_SOA, SX_CLASS_IN, z->neg_ttl,
	              p + 6, rec_rdlen(p));
}

/* What answers @name (lower-case wire) in @z. */
static struct hit
resolve(const struct fz_zone *z, const uint8_t *name, size_t len, uint16_t qtype)
{
	const struct fz_node *n = fz_zone_find(z, name, len);
	if (n != NULL) {
		/* DS belongs to the parent side of a cut (RFC 4035 3.1.4.1). */
		if (n->cut != NULL && !(n->cut == n && qtype == SX_TYPE_DS)) {
			return (struct hit){ n->cut, HIT_CUT };
		}
		return (struct hit){ n, HIT_EXACT };
	}
	/* The closest encloser: empty non-terminals are nodes, so the first ancestor found. */
	const struct fz_node *ce = NULL;
	const uint8_t *anc = name;
	while (ce == NULL && anc[0] != 0) {
		anc = sx_dname_skip(anc, 1);
		ce = fz_zone_find(z, anc, len - (size_t)(anc - name));
	}
	if (ce == NULL) {
		return (struct hit){ NULL, HIT_NONE };
	}
	if (ce->cut != NULL) {
		return (struct hit){ ce->cut, HIT_CUT };
	}
	uint8_t wild[SX_DNAME_MAX];
	if ((size_t)ce->len + 2 > sizeof(wild)) {
		return (struct hit){ NULL, HIT_NONE };
	}
	wild[0] = 1;
	wild[1] = '*';
	memcpy(wild + 2, ce->name, ce->len);
	n = fz_zone_find(z, wild, (size_t)ce->len + 2);
	return n != NULL ? (struct hit){ n, HIT_WILDCARD } : (struct hit){ NULL, HIT_NONE };
}

/* The domain name inside rdata of @type that additional processing looks up, or NULL. */
static const uint8_t *
rdata_target(uint16_t type, const uint8_t *rdata)
{
	switch (type) {
	case SX_TYPE_NS:
		return rdata;
	case SX_TYPE_MX:
		return rdata + 2;
	case SX_TYPE_SRV:
		return rdata + 6;
	default:
		return NULL;
	}
}

/*
 * A and AAAA of the names the records of @rs point to, when they lie below
 * @within: the owner for NS (glue), the zone for MX and SRV (as CoreDNS does).
 */
static void
put_additional(const struct fz_zone *z, struct sx_msg *msg, const struct fz_rrset *rs,
               const uint8_t *within)
{
	const uint8_t *p = rs->data;
	for (uint16_t i = 0; i < rs->count; i++, p += 6 + rec_rdlen(p)) {
		const uint8_t *target = rdata_target(rs->type, p + 6);
		if (target == NULL) {
			return;
		}
		uint8_t name[SX_DNAME_MAX];
		size_t len = sx_dname_lower(name, target);
		if (!sx_dname_is_sub(name, within)) {
			continue;
		}
		const struct fz_node *n = fz_zone_find(z, name, len);
		if (n != NULL) {
			put_optional(msg, SX_SEC_ADDITIONAL, target, fz_node_rrset(n, SX_TYPE_A));
			put_optional(msg, SX_SEC_ADDITIONAL, target,
			             fz_node_rrset(n, SX_TYPE_AAAA));
		}
	}
}

static void
referral(const struct fz_zone *z, const struct fz_node *cut, struct sx_msg *msg)
{
	const struct fz_rrset *ns = fz_node_rrset(cut, SX_TYPE_NS);
	if (put_rrset(msg, SX_SEC_AUTHORITY, cut->name, ns) == 0) {
		put_additional(z, msg, ns, cut->name);
	}
}

/*
 * After a CNAME, go on inside the zone with its target (RFC 1034 4.3.2 step
 * 3a), for at most FZ_MAX_CHAIN more names, stopping at a name seen before.
 */
static void
follow(const struct fz_zone *z, const struct sx_query *q, struct sx_msg *msg,
       const struct fz_rrset *cname)
{
	uint8_t seen[FZ_MAX_CHAIN + 1][SX_DNAME_MAX];
	unsigned nseen = 0;
	memcpy(seen[nseen++], q->lname, q->qname_len);
	for (unsigned i = 0; i < FZ_MAX_CHAIN; i++) {
		const uint8_t *target = cname->data + 6; /* a CNAME RRset holds one record */
		uint8_t *name = seen[nseen];
		size_t len = sx_dname_lower(name, target);
		if (!sx_dname_is_sub(name, z->apex->name)) {
			return;
		}
		for (unsigned k = 0; k < nseen; k++) {
			if (sx_dname_eq(seen[k], name)) {
				return;
			}
		}
		nseen++;
		struct hit h = resolve(z, name, len, q->qtype);
		if (h.kind != HIT_EXACT && h.kind != HIT_WILDCARD) {
			return;
		}
		cname = fz_node_rrset(h.node, SX_TYPE_CNAME);
		if (cname != NULL && q->qtype != SX_TYPE_CNAME) {
			if (put_rrset(msg, SX_SEC_ANSWER, target, cname) < 0) {
				return;
			}
			continue;
		}
		const struct fz_rrset *rs = fz_node_rrset(h.node, q->qtype);
		if (rs != NULL) {
			put_rrset(msg, SX_SEC_ANSWER, target, rs);
		}
		return;
	}
}

/* @node answers for the query name, found as such or through a wildcard. */
static void
answer(const struct fz_zone *z, const struct sx_query *q, struct sx_msg *msg,
       const struct fz_node *node)
{
	sx_msg_set_flags(msg, SX_FLAG_AA);
	const struct fz_rrset *cname = fz_node_rrset(node, SX_TYPE_CNAME);
	if (cname != NULL && q->qtype != SX_TYPE_CNAME) {
		if (put_rrset(msg, SX_SEC_ANSWER, q->qname, cname) == 0) {
			follow(z, q, msg, cname);
			put_optional(msg, SX_SEC_AUTHORITY, z->apex->name, z->ns);
		}
		return;
	}
	const struct fz_rrset *rs = fz_node_rrset(node, q->qtype);
	if (rs == NULL) {
		put_soa(z, msg); /* NODATA, RFC 2308 2.2 */
		return;
	}
	if (put_rrset(msg, SX_SEC_ANSWER, q->qname, rs) < 0) {
		return;
	}
	/* CoreDNS lists the apex NS with a positive answer, except when they are the answer. */
	bool apex_ns = node == z->apex && q->qtype == SX_TYPE_NS;
	if (!apex_ns) {
		put_optional(msg, SX_SEC_AUTHORITY, z->apex->name, z->ns);
	}
	put_additional(z, msg, rs, q->qtype == SX_TYPE_NS ? node->name : z->apex->name);
}

enum sx_verdict
fz_answer(const struct fz_zone *z, const struct sx_zones *fall, const struct sx_query *q,
          struct sx_msg *msg)
{
	struct hit h = resolve(z, q->lname, q->qname_len, q->qtype);
	switch (h.kind) {
	case HIT_CUT:
		referral(z, h.node, msg); /* not authoritative: no AA */
		break;
	case HIT_NONE:
		if (fall->n > 0 && sx_zones_match(fall, q->lname) >= 0) {
			return SX_NEXT;
		}
		sx_msg_set_flags(msg, SX_FLAG_AA);
		sx_msg_set_rcode(msg, SX_RCODE_NXDOMAIN);
		put_soa(z, msg);
		break;
	case HIT_EXACT:
	case HIT_WILDCARD:
		answer(z, q, msg, h.node);
		break;
	}
	return SX_DONE;
}
