/* loadbalance.c -- the loadbalance plugin: round_robin shuffling of address records in replies. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lb.h"

static void
lb_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	struct lb *lb = arg;
	uint16_t qtype = sx_req_query(req)->qtype;

	if (sx_msg_rcode(msg) != SX_RCODE_NOERROR || qtype == SX_TYPE_AXFR ||
	    qtype == SX_TYPE_IXFR) {
		return;
	}
	lb_shuffle(msg, &lb->workers[sx_req_worker(req)]);
}

static enum sx_verdict
lb_handle(struct sx_req *req, void *inst)
{
	if (sx_req_on_reply(req, lb_reply, inst) < 0) {
		return sx_req_error(req, SX_RCODE_SERVFAIL,
		                    "plugin/loadbalance: too many reply hooks");
	}
	return SX_NEXT;
}

static int
lb_unsupported(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	(void)inst;
	return sx_cf_err(cf, "%s is not supported", d->name);
}

static const struct sx_directive lb_directives[] = {
	{ "reload", 1, 1, sx_set_flag, SX_FIELD(struct lb, reload, bool) }, /* weighted's */
	{ "prefer", 0, -1, lb_unsupported },
	{ NULL },
};

/* loadbalance [round_robin | weighted WEIGHTFILE] */
static int
lb_setup(struct sx_cf *cf, void *inst)
{
	struct lb *lb = inst;
	const char *policy = sx_cf_arg(cf, 1);

	if (policy && strcmp(policy, "weighted") == 0) {
		return sx_cf_err(cf, "weighted is not supported");
	}
	if (lb->reload) {
		return sx_cf_err(cf, "reload is only for the weighted policy");
	}
	if (policy && strcmp(policy, "round_robin") != 0) {
		return sx_cf_err(cf, "unknown policy: %s", policy);
	}
	if (sx_cf_nargs(cf) > 2) {
		return sx_cf_err(cf, "unknown property for %s", policy);
	}
	return 0;
}

static int
lb_start(void *inst, struct sx_runtime *rt)
{
	struct lb *lb = inst;

	lb->nworkers = sx_rt_workers(rt);
	lb->workers = aligned_alloc(64, lb->nworkers * sizeof(*lb->workers));
	if (!lb->workers) {
		return -ENOMEM;
	}
	for (unsigned i = 0; i < lb->nworkers; i++) {
		uint64_t seed = 0;

		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
			seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&lb->workers[i];
		}
		lb->workers[i].rng = seed | 1; /* xorshift never leaves 0, nor reaches it */
	}
	return 0;
}

static void
lb_teardown(void *inst)
{
	struct lb *lb = inst;

	free(lb->workers);
}

const struct sx_plugin sx_plugin_loadbalance = {
	.name = "loadbalance",
	.inst_size = sizeof(struct lb),
	.directives = lb_directives,
	.setup = lb_setup,
	.start = lb_start,
	.handle = lb_handle,
	.teardown = lb_teardown,
};
