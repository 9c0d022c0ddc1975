/* header.c -- the header plugin: set or clear flags of queries and of replies. */
#include <strings.h>

#include <sextant/plugin.h>

/*
 * Rules are applied in the order written, the last one for a flag winning, so
 * each direction folds into one mask of bits to set and one to clear.
 * Response rules run as a reply hook, whoever wrote the reply.
 */
struct header {
	uint16_t qset, qclear; /* query: what the plugins after this one see */
	uint16_t rset, rclear; /* response */
	bool any_query, any_response;
};

static void
header_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	const struct header *h = arg;

	(void)req;
	sx_msg_clear_flags(msg, h->rclear);
	sx_msg_set_flags(msg, h->rset);
}

static enum sx_verdict
header_handle(struct sx_req *req, void *inst)
{
	struct header *h = inst;

	if (h->any_query) {
		sx_req_set_flags(req, h->qset, h->qclear);
	}
	if (h->any_response) {
		if (sx_req_on_reply(req, header_reply, h) < 0) {
			return sx_req_error(req, SX_RCODE_SERVFAIL,
			                    "plugin/header: too many reply hooks");
		}
	}
	return SX_NEXT;
}

static const struct {
	const char *name;
	uint16_t bit;
} flags[] = {
	{ "aa", SX_FLAG_AA },
	{ "ra", SX_FLAG_RA },
	{ "rd", SX_FLAG_RD },
};

/* [query|response] set|clear FLAG... */
static int
set_rule(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct header *h = inst;
	const char *sel = sx_cf_arg(cf, 0), *action;
	bool query = false, set;
	int i = 1;
	uint16_t *on, *off;

	(void)d;
	if (!strcasecmp(sel, "query") || !strcasecmp(sel, "response")) {
		query = !strcasecmp(sel, "query");
		action = sx_cf_arg(cf, i++);
	} else if (!strcasecmp(sel, "set") || !strcasecmp(sel, "clear")) {
		action = sel; /* older form: a response rule */
	} else {
		return sx_cf_err(cf,
		                 "setting up rule: invalid selector=%s should be query or response",
		                 sel);
	}
	if (!action) {
		return sx_cf_err(cf, "setting up rule: no flag action provided");
	}
	if (!strcasecmp(action, "set")) {
		set = true;
	} else if (!strcasecmp(action, "clear")) {
		set = false;
	} else {
		return sx_cf_err(cf,
		                 "setting up rule: unknown flag action=%s, should be set or clear",
		                 action);
	}
	if (i >= sx_cf_nargs(cf)) {
		return sx_cf_err(cf,
		                 "setting up rule: invalid length for flags, at least one should "
		                 "be provided");
	}
	on = set ? (query ? &h->qset : &h->rset) : (query ? &h->qclear : &h->rclear);
	off = set ? (query ? &h->qclear : &h->rclear) : (query ? &h->qset : &h->rset);
	for (; i < sx_cf_nargs(cf); i++) {
		const char *f = sx_cf_arg(cf, i);
		size_t k;

		for (k = 0; k < sizeof(flags) / sizeof(flags[0]) && strcasecmp(f, flags[k].name);
		     k++) {
		}
		if (k == sizeof(flags) / sizeof(flags[0])) {
			return sx_cf_err(cf, "setting up rule: unknown/unsupported flag=%s", f);
		}
		*on |= flags[k].bit;
		*off &= (uint16_t)~flags[k].bit;
	}
	h->any_query |= query;
	h->any_response |= !query;
	return 0;
}

static const struct sx_directive header_directives[] = {
	{ "*", 0, -1, set_rule, .repeat = true },
	{ NULL },
};

/* header { RULE... } */
static int
header_setup(struct sx_cf *cf, void *inst)
{
	struct header *h = inst;

	if (sx_cf_nargs(cf) > 1) {
		return sx_cf_err(cf, "wrong argument count: header takes no arguments");
	}
	if (!h->any_query && !h->any_response) {
		return sx_cf_err(cf, "header needs at least one rule in its block");
	}
	return 0;
}

const struct sx_plugin sx_plugin_header = {
	.name = "header",
	.inst_size = sizeof(struct header),
	.directives = header_directives,
	.setup = header_setup,
	.handle = header_handle,
};
