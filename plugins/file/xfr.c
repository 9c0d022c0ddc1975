/* xfr.c -- a zone snapshot copied out whole (AXFR) for the transfer plugin. */
#include "file.h"

#include <string.h>

static int
stream_rrset(struct sx_req *req, const uint8_t *owner, const struct fz_rrset *rs)
{
	const uint8_t *p = rs->data;

	for (uint16_t i = 0; i < rs->count; i++) {
		uint32_t ttl;
		uint16_t rdlen;

		memcpy(&ttl, p, 4);
		memcpy(&rdlen, p + 4, 2);
		int rc = sx_req_stream_rr(req, owner, rs->type, ttl, p + 6, rdlen);
		if (rc < 0) {
			return rc;
		}
		p += 6 + rdlen;
	}
	return 0;
}

enum sx_verdict
fz_transfer(struct sx_req *req, const struct fz_zone *z)
{
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg = sx_req_msg(req);
	int rc;

	if (!sx_req_transfer_allowed(req) || q->qname_len != z->apex->len) {
		sx_msg_set_rcode(msg, SX_RCODE_REFUSED);
		return SX_DONE;
	}
	sx_msg_set_flags(msg, SX_FLAG_AA);
	/* The SOA opens and closes the transfer (RFC 5936 2.2); the apex SOA is not repeated. */
	rc = stream_rrset(req, z->apex->name, z->soa);
	for (uint32_t i = 0; rc == 0 && i <= z->mask; i++) {
		const struct fz_node *n = z->table[i];

		for (uint16_t j = 0; n && rc == 0 && j < n->nrrsets; j++) {
			if (n->rrsets[j].type != SX_TYPE_SOA) {
				rc = stream_rrset(req, n->name, &n->rrsets[j]);
			}
		}
	}
	if (rc == 0) {
		rc = stream_rrset(req, z->apex->name, z->soa);
	}
	if (rc < 0) {
		return sx_req_error(req, SX_RCODE_SERVFAIL,
		                    "plugin/file: transfer of zone cut short");
	}
	return SX_DONE;
}
