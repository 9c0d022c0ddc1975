/* loadbalance.c -- the loadbalance plugin: round_robin shuffling, then `prefer` subnets first. */
#include <arpa/inet.h>
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
	if (lb->nprefer) {
		lb_prefer(msg, &lb->workers[sx_req_worker(req)], lb->prefer, lb->nprefer);
	}
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

/* prefer CIDR...: several lines add up, in order. */
static int
set_prefer(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct lb *lb = inst;

	(void)d;
	for (int i = 1; i < sx_cf_nargs(cf); i++) {
		const char *arg = sx_cf_arg(cf, i), *slash = strchr(arg, '/');
		struct lb_net net = { 0 };
		char addr[INET6_ADDRSTRLEN], *end;
		struct lb_net *nets;
		unsigned long bits;
		size_t len = slash ? (size_t)(slash - arg) : 0;

		if (!slash || len >= sizeof(addr)) {
			return sx_cf_err(cf, "invalid CIDR: %s", arg);
		}
		memcpy(addr, arg, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET, addr, net.addr) == 1) {
			net.type = SX_TYPE_A;
		} else if (inet_pton(AF_INET6, addr, net.addr) == 1) {
			net.type = SX_TYPE_AAAA;
		} else {
			return sx_cf_err(cf, "invalid CIDR: %s", arg);
		}
		bits = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || bits > (net.type == SX_TYPE_A ? 32u : 128u)) {
			return sx_cf_err(cf, "invalid CIDR: %s", arg);
		}
		net.bits = (unsigned)bits;
		nets = realloc(lb->prefer, (lb->nprefer + 1) * sizeof(*nets));
		if (!nets) {
			return -ENOMEM;
		}
		lb->prefer = nets;
		lb->prefer[lb->nprefer++] = net;
	}
	return 0;
}

static const struct sx_directive lb_directives[] = {
	{ "reload", 1, 1, sx_set_flag, SX_FIELD(struct lb, reload, bool) }, /* weighted's */
	{ "prefer", 1, -1, set_prefer, .repeat = true },
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
	free(lb->prefer);
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
