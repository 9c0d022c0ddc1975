/* loadbalance.c -- the loadbalance plugin: round_robin or weighted order, then `prefer`. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lb.h"

#define DEFAULT_RELOAD_MS 30000 /* CoreDNS's weight file reload */

static void
lb_reply(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	struct lb *lb = arg;
	uint16_t qtype = sx_req_query(req)->qtype;

	if (sx_msg_rcode(msg) != SX_RCODE_NOERROR || qtype == SX_TYPE_AXFR ||
	    qtype == SX_TYPE_IXFR) {
		return;
	}
	if (!lb->weightfile) {
		lb_shuffle(msg, &lb->workers[sx_req_worker(req)]);
	} else if (qtype == SX_TYPE_A || qtype == SX_TYPE_AAAA || qtype == SX_TYPE_SRV) {
		lb_weighted(msg, &lb->workers[sx_req_worker(req)], rcu_dereference(lb->weights));
	}
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

static int
set_reload(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct lb *lb = inst;

	lb->reload_set = true;
	return sx_set_duration(cf, d, inst);
}

static const struct sx_directive lb_directives[] = {
	{ "reload", 1, 1, set_reload, SX_FIELD(struct lb, reload_ms, uint64_t) }, /* weighted's */
	{ "prefer", 1, -1, set_prefer, .repeat = true },
	{ NULL },
};

/* loadbalance [round_robin | weighted WEIGHTFILE] */
static int
lb_setup(struct sx_cf *cf, void *inst)
{
	struct lb *lb = inst;
	const char *policy = sx_cf_arg(cf, 1);
	struct lb_weights *ws;
	char err[512];
	int rc;

	if (policy && strcmp(policy, "weighted") == 0) {
		if (sx_cf_nargs(cf) != 3) {
			return sx_cf_err(cf, "weighted needs one WEIGHTFILE");
		}
		/* Relative to the Corefile's directory, as Sextant's other files (CoreDNS: `root`). */
		if (sx_cf_arg(cf, 2)[0] == '/' || sx_cf_dir(cf) == NULL) {
			lb->weightfile = strdup(sx_cf_arg(cf, 2));
		} else if (asprintf(&lb->weightfile, "%s/%s", sx_cf_dir(cf), sx_cf_arg(cf, 2)) <
		           0) {
			lb->weightfile = NULL;
		}
		if (!lb->weightfile) {
			return -ENOMEM;
		}
		lb->reload_ms = lb->reload_set ? lb->reload_ms : DEFAULT_RELOAD_MS;
		/* Checked now, so that -check tells; a file still missing may come (with reload). */
		rc = lb_weights_load(lb->weightfile, &ws, &lb->digest, err, sizeof(err));
		free(ws);
		if (rc == SX_EINVAL || (rc < 0 && (rc != -ENOENT || lb->reload_ms == 0))) {
			return sx_cf_err(cf, "%s", rc == -ENOMEM ? "out of memory" : err);
		}
		return 0;
	}
	if (lb->reload_set) {
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

static void
free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct lb_weights, rcu));
}

/* Control thread, every `reload` and after a change: read the weight file when it changed. */
static void
lb_reload(void *arg)
{
	struct lb *lb = arg;
	struct lb_weights *ws, *old;
	uint64_t digest;
	char err[512];
	int rc = lb_weights_load(lb->weightfile, &ws, &digest, err, sizeof(err));

	if (rc == -ENOENT) {
		return; /* gone for now: the last weights stay */
	}
	if (rc < 0) {
		sx_plog(SX_LOG_ERROR, "loadbalance", "%s", rc == -ENOMEM ? "out of memory" : err);
		return;
	}
	if (lb->weights && digest == lb->digest) {
		free(ws);
		return;
	}
	lb->digest = digest;
	old = rcu_xchg_pointer(&lb->weights, ws);
	if (old) {
		call_rcu(&old->rcu, free_rcu);
	}
	sx_plog(SX_LOG_INFO, "loadbalance", "Successfully reloaded weight file %s", lb->weightfile);
}

static int
lb_start_weighted(struct lb *lb)
{
	struct sx_filewatch_opts fo = { .poll_ms = lb->reload_ms, .poll_always = true };
	struct lb_weights *ws;
	char err[512];
	int rc = lb_weights_load(lb->weightfile, &ws, &lb->digest, err, sizeof(err));

	if (rc == -ENOENT && lb->reload_ms > 0) {
		sx_plog(SX_LOG_WARNING, "loadbalance",
		        "Failed to open weight file: %s. Will try again", err);
	} else if (rc < 0) {
		sx_plog(SX_LOG_ERROR, "loadbalance", "%s", rc == -ENOMEM ? "out of memory" : err);
		return rc;
	}
	rcu_set_pointer(&lb->weights, ws);
	if (lb->reload_ms == 0) {
		return 0;
	}
	lb->watch = sx_filewatch_new(lb->weightfile, &fo, lb_reload, lb);
	return lb->watch ? 0 : -ENOMEM;
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
	return lb->weightfile ? lb_start_weighted(lb) : 0;
}

static void
lb_teardown(void *inst)
{
	struct lb *lb = inst;

	sx_filewatch_free(lb->watch);
	/* No worker can reach the instance any more, so the weights go at once. */
	free(lb->weights);
	free(lb->weightfile);
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
