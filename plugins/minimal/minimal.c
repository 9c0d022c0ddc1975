/* minimal.c -- the minimal plugin: positive replies lose their authority and additional sections. */
#include <sextant/plugin.h>

/*
 * As CoreDNS classifies replies: NOERROR with an answer, or NOERROR with
 * neither SOA nor NS in the authority section, is a positive reply and keeps
 * only its answer section. Denials (NXDOMAIN, NODATA with its SOA), errors and
 * delegations (their NS and glue matter) go out unchanged, as do transfers.
 */
static void
minimal_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	struct sx_rr_walk it;
	struct sx_rr rr;

	(void)req;
	(void)arg;
	if (sx_msg_rcode(msg) != SX_RCODE_NOERROR) {
		return;
	}
	if (sx_msg_count(msg, SX_SEC_ANSWER) == 0) {
		sx_rr_walk_start(&it, msg->wire, msg->len, 0);
		while (sx_rr_walk_next(&it, &rr) == 1 && rr.section <= SX_SEC_AUTHORITY) {
			if (rr.section == SX_SEC_AUTHORITY &&
			    (rr.type == SX_TYPE_SOA || rr.type == SX_TYPE_NS)) {
				return; /* NODATA or a delegation */
			}
		}
	}
	sx_msg_keep(msg, SX_SEC_ANSWER);
}

static enum sx_verdict
minimal_handle(struct sx_req *req, void *inst)
{
	uint16_t t = sx_req_query(req)->qtype;

	if (t != SX_TYPE_AXFR && t != SX_TYPE_IXFR) {
		if (sx_req_on_reply(req, minimal_reply, inst) < 0) {
			return sx_req_error(req, SX_RCODE_SERVFAIL,
			                    "plugin/minimal: too many reply hooks");
		}
	}
	return SX_NEXT;
}

const struct sx_plugin sx_plugin_minimal = {
	.name = "minimal",
	.handle = minimal_handle,
};
