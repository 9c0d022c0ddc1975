/* whoami.c -- answer with the client's address and port, as CoreDNS's whoami does. */
#include <netinet/in.h>
#include <string.h>

#include <sextant/plugin.h>

/*
 * The reply has an empty answer section; the additional section carries an
 * A or AAAA record with the client's address and an SRV record
 * _<proto>.<qname> with the client's port, both with TTL 0.
 */
static enum sx_verdict
whoami_handle(struct sx_req *req, void *inst)
{
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg = sx_req_msg(req);
	uint8_t owner[SX_DNAME_MAX];
	uint8_t srv[6 + 1] = { 0 };
	uint16_t port;

	(void)inst;
	sx_msg_set_flags(msg, SX_FLAG_AA);
	if (q->client.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&q->client;

		sx_msg_put_rr(msg, SX_SEC_ADDITIONAL, q->qname, SX_TYPE_AAAA, q->qclass, 0,
		              sin6->sin6_addr.s6_addr, 16);
		port = ntohs(sin6->sin6_port);
	} else {
		const struct sockaddr_in *sin = (const void *)&q->client;

		sx_msg_put_rr(msg, SX_SEC_ADDITIONAL, q->qname, SX_TYPE_A, q->qclass, 0,
		              (const uint8_t *)&sin->sin_addr, 4);
		port = ntohs(sin->sin_port);
	}
	/* _udp.<qname> or _tcp.<qname>; the target is the root. */
	if (q->qname_len + 5 <= SX_DNAME_MAX) {
		memcpy(owner, q->proto == SX_PROTO_TCP ? "\4_tcp" : "\4_udp", 5);
		memcpy(owner + 5, q->qname, q->qname_len);
		srv[4] = (uint8_t)(port >> 8);
		srv[5] = (uint8_t)port;
		sx_msg_put_rr(msg, SX_SEC_ADDITIONAL, owner, SX_TYPE_SRV, q->qclass, 0, srv,
		              sizeof(srv));
	}
	return SX_DONE;
}

const struct sx_plugin sx_plugin_whoami = {
	.name = "whoami",
	.handle = whoami_handle,
};
