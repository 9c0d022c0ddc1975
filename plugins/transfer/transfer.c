/* transfer.c -- the transfer plugin: who may copy a zone out (AXFR, IXFR as AXFR). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "xfr.h"

/* "5300" into *@port; 1..65535. */
static int
parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s < '0' || *s > '9' || *end != '\0' || v < 1 || v > 65535) {
		return SX_EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

/*
 * "1.2.3.4", "1.2.3.4:5300", "[::1]:5300", "::1", "10.0.0.0/8". The port is only where
 * NOTIFY goes (53 when none is written); a network gets none, as `*` (CoreDNS has
 * no networks, and notifies every address but `*`).
 */
static int
parse_net(const char *s, struct xfr_net *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	long bits = -1;
	uint16_t port = 53;

	memset(out, 0, sizeof(*out));
	if (strcmp(s, "*") == 0) {
		return 0;
	}
	if (strlen(s) >= sizeof(buf)) {
		return SX_EINVAL;
	}
	strcpy(buf, s);
	if (slash) {
		char *end;

		buf[slash - s] = '\0';
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1 || bits < 0) {
			return SX_EINVAL;
		}
	}
	char *host = buf;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close || (close[1] != '\0' && close[1] != ':') || slash) {
			return SX_EINVAL;
		}
		*close = '\0';
		host = buf + 1;
		if (close[1] == ':' && parse_port(close + 2, &port) < 0) {
			return SX_EINVAL;
		}
	} else if (strchr(buf, '.') && strchr(buf, ':')) {
		char *colon = strchr(buf, ':'); /* IPv4:port */

		*colon = '\0';
		if (slash || parse_port(colon + 1, &port) < 0) {
			return SX_EINVAL;
		}
	}
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->fam = 4;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->fam = 6;
		out->bits = 128;
	} else {
		return SX_EINVAL;
	}
	if (bits > out->bits) {
		return SX_EINVAL;
	}
	if (bits >= 0) {
		out->bits = (uint8_t)bits;
	} else {
		out->port = port;
	}
	return 0;
}

static int
set_to(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct xfr *t = inst;
	int n = sx_cf_nargs(cf) - 1;
	struct xfr_net *to = realloc(t->to, (t->nto + (size_t)n) * sizeof(*to));

	if (!to) {
		return -ENOMEM;
	}
	t->to = to;
	for (int i = 1; i <= n; i++) {
		if (parse_net(sx_cf_arg(cf, i), &t->to[t->nto]) < 0) {
			return sx_cf_err(cf, "'%s' is not an IP address, IP:port or CIDR network",
			                 sx_cf_arg(cf, i));
		}
		t->nto++;
	}
	return 0;
}

static const struct sx_directive xfr_directives[] = {
	{ "to", 1, -1, set_to, 0, .repeat = true },
	{ NULL },
};

static int
xfr_setup(struct sx_cf *cf, void *inst)
{
	struct xfr *t = inst;
	int rc = sx_cf_zones(cf, 1, sx_cf_block_zones(cf), NULL, &t->zones);

	if (rc < 0) {
		return rc;
	}
	if (t->nto == 0) {
		return sx_cf_err(cf, "'to' is required: no address would get the zone");
	}
	return 0;
}

static bool
net_has(const struct xfr_net *n, uint8_t fam, const uint8_t *addr)
{
	unsigned full = n->bits / 8u, rest = n->bits % 8u;

	if (n->fam == 0) {
		return true;
	}
	if (n->fam != fam || memcmp(n->addr, addr, full) != 0) {
		return false;
	}
	return rest == 0 || ((n->addr[full] ^ addr[full]) & (0xFFu << (8 - rest))) == 0;
}

static bool
allowed(const struct xfr *t, const struct sockaddr_storage *ss)
{
	static const uint8_t v4mapped[12] = { [10] = 0xFF, [11] = 0xFF };
	const uint8_t *addr;
	uint8_t fam;

	if (ss->ss_family == AF_INET) {
		fam = 4;
		addr = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		fam = 6;
		if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
			fam = 4;
			addr += 12;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < t->nto; i++) {
		if (net_has(&t->to[i], fam, addr)) {
			return true;
		}
	}
	return false;
}

/*
 * Only the mark is set here: the plugin holding the zone (file, kubernetes)
 * streams it, and refuses transfers that were not marked.
 */
static enum sx_verdict
xfr_handle(struct sx_req *req, void *inst)
{
	const struct xfr *t = inst;
	const struct sx_query *q = sx_req_query(req);
	int i;

	if (q->qtype != SX_TYPE_AXFR && q->qtype != SX_TYPE_IXFR) {
		return SX_NEXT;
	}
	i = sx_zones_match(&t->zones, q->lname);
	if (i < 0 || t->zones.z[i].len != q->qname_len) {
		return SX_NEXT;
	}
	if (!allowed(t, &q->client)) {
		sx_msg_set_rcode(sx_req_msg(req), SX_RCODE_REFUSED);
		return SX_DONE;
	}
	if (q->proto != SX_PROTO_TCP) {
		/* A zone does not fit a datagram: the client asks again over TCP (RFC 1995 2). */
		sx_msg_set_flags(sx_req_msg(req), SX_FLAG_TC | SX_FLAG_AA);
		return SX_DONE;
	}
	sx_req_allow_transfer(req);
	return SX_NEXT;
}

static void
xfr_zone_changed(void *inst, const struct sx_zone_version *v)
{
	xfr_notify(inst, v);
}

static void
xfr_teardown(void *inst)
{
	struct xfr *t = inst;

	xfr_notify_stop(t);

	sx_zones_fini(&t->zones);
	free(t->to);
}

const struct sx_plugin sx_plugin_transfer = {
	.name = "transfer",
	.inst_size = sizeof(struct xfr),
	.directives = xfr_directives,
	.setup = xfr_setup,
	.handle = xfr_handle,
	.zone_changed = xfr_zone_changed,
	.teardown = xfr_teardown,
};
