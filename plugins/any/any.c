/* any.c -- the any plugin: ANY queries get the short RFC 8482 answer. */
#include <string.h>

#include <sextant/plugin.h>

/*
 * RFC 8482 section 4.2: answer ANY with one synthesized HINFO record instead
 * of everything the name has. CoreDNS's text and TTL, so that clients and
 * dashboards see the same record.
 */
static const uint8_t any_hinfo[] = "\015ANY obsoleted"
                                   "\014See RFC 8482";
#define ANY_TTL 8482

static enum sx_verdict
any_handle(struct sx_req *req, void *inst)
{
	const struct sx_query *q = sx_req_query(req);

	(void)inst;
	if (q->qtype != SX_TYPE_ANY) {
		return SX_NEXT;
	}
	/* The record is always class IN, whatever the query's class, as CoreDNS writes it. */
	sx_msg_put_rr(sx_req_msg(req), SX_SEC_ANSWER, q->qname, SX_TYPE_HINFO, SX_CLASS_IN, ANY_TTL,
	              any_hinfo, sizeof(any_hinfo) - 1);
	return SX_DONE;
}

const struct sx_plugin sx_plugin_any = {
	.name = "any",
	.handle = any_handle,
};
