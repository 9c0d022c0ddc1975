/* bufsize.c -- the bufsize plugin: lower the EDNS UDP payload size clients ask for. */
#include <stdlib.h>

#include <sextant/plugin.h>

/*
 * A client's advertised UDP payload size above SIZE is lowered to SIZE before
 * the rest of the chain runs: replies are truncated to it, and forward asks
 * its upstream with it, so that no reply is large enough to be fragmented.
 */
struct bufsize {
	uint16_t size;
};

static enum sx_verdict
bufsize_handle(struct sx_req *req, void *inst)
{
	struct bufsize *b = inst;

	sx_req_set_udp_size(req, b->size);
	return SX_NEXT;
}

/* bufsize [SIZE] */
static int
bufsize_setup(struct sx_cf *cf, void *inst)
{
	struct bufsize *b = inst;
	const char *arg = sx_cf_arg(cf, 1);
	char *end;
	long v;

	b->size = 1232; /* DNS Flag Day 2020's value, CoreDNS's default */
	if (sx_cf_nargs(cf) > 2) {
		return sx_cf_err(cf, "wrong argument count: bufsize takes at most one");
	}
	if (arg) {
		v = strtol(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end || v < 512 || v > 4096) {
			return sx_cf_err(cf, "SIZE must be a number from 512 to 4096, not '%s'",
			                 arg);
		}
		b->size = (uint16_t)v;
	}
	return 0;
}

const struct sx_plugin sx_plugin_bufsize = {
	.name = "bufsize",
	.inst_size = sizeof(struct bufsize),
	.setup = bufsize_setup,
	.handle = bufsize_handle,
};
