/* nsid.c -- the nsid plugin: the name server identifier (RFC 5001) for clients that ask for it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sextant/plugin.h>

#define EDNS_NSID 3

/*
 * A query carrying the NSID option gets its reply's OPT record with an NSID
 * option holding DATA, whoever wrote the reply; other queries are untouched.
 */
struct nsid {
	char *data;
	uint16_t len;
};

static void
nsid_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	const struct nsid *n = arg;

	(void)req;
	/* No room left: the reply goes without it rather than truncated. */
	sx_msg_add_option(msg, EDNS_NSID, (const uint8_t *)n->data, n->len);
}

static enum sx_verdict
nsid_handle(struct sx_req *req, void *inst)
{
	uint16_t len;

	if (sx_query_edns_option(sx_req_query(req), EDNS_NSID, &len)) {
		if (sx_req_on_reply(req, nsid_reply, inst) < 0) {
			return sx_req_error(req, SX_RCODE_SERVFAIL,
			                    "plugin/nsid: too many reply hooks");
		}
	}
	return SX_NEXT;
}

/* nsid [DATA...]: the words joined by spaces, the host name by default */
static int
nsid_setup(struct sx_cf *cf, void *inst)
{
	struct nsid *n = inst;
	size_t len = 0;
	char host[256];

	if (sx_cf_nargs(cf) == 1) {
		if (gethostname(host, sizeof(host)) != 0) {
			strcpy(host, "localhost");
		}
		host[sizeof(host) - 1] = '\0';
		n->data = strdup(host);
		if (!n->data) {
			return -ENOMEM;
		}
		n->len = (uint16_t)strlen(n->data);
		return 0;
	}
	for (int i = 1; i < sx_cf_nargs(cf); i++) {
		len += strlen(sx_cf_arg(cf, i)) + 1;
	}
	if (len - 1 > 512) {
		return sx_cf_err(cf, "DATA is %zu bytes, more than 512", len - 1);
	}
	n->data = malloc(len);
	if (!n->data) {
		return -ENOMEM;
	}
	n->data[0] = '\0';
	for (int i = 1; i < sx_cf_nargs(cf); i++) {
		if (i > 1) {
			strcat(n->data, " ");
		}
		strcat(n->data, sx_cf_arg(cf, i));
	}
	n->len = (uint16_t)(len - 1);
	return 0;
}

static void
nsid_teardown(void *inst)
{
	struct nsid *n = inst;

	free(n->data);
}

const struct sx_plugin sx_plugin_nsid = {
	.name = "nsid",
	.inst_size = sizeof(struct nsid),
	.setup = nsid_setup,
	.handle = nsid_handle,
	.teardown = nsid_teardown,
};
