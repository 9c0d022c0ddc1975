/* ready.c -- readiness on /ready: 200 once every plugin that reports readiness is ready. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/http.h>
#include <sextant/plugin.h>

#define DEFAULT_ADDR ":8181"

struct ready {
	char *addr;
	struct sx_runtime *rt;
	struct sx_http_route *route;
	bool was_ready; /* monitor until-ready: once ready, stay ready */
	bool continuously;
};

static void
serve_ready(struct sx_http_req *req, void *arg)
{
	struct ready *r = arg;
	char names[4096], *why;

	if (sx_rt_shutting_down(r->rt)) {
		sx_http_reply(req, 503, "Shutting down", 13);
		return;
	}
	if ((r->was_ready && !r->continuously) ||
	    sx_rt_not_ready(r->rt, names, sizeof(names)) == 0) {
		r->was_ready = true;
		sx_http_reply(req, 200, "OK", 2);
		return;
	}
	sx_http_reply(req, 503, names, strlen(names));
	/* The names, as CoreDNS logs them; then why, when the plugins said, on the same line. */
	if ((why = strchr(names, '\n'))) {
		*why++ = '\0';
		for (char *nl = why; (nl = strchr(nl, '\n'));) {
			*nl = ';';
		}
	}
	sx_plog(SX_LOG_INFO, "ready", "Plugins not ready: \"%s\"%s%s%s", names, why ? " (" : "",
	        why ? why : "", why ? ")" : "");
}

static int
set_monitor(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct ready *r = inst;
	const char *mode = sx_cf_arg(cf, 1);

	(void)d;
	if (!strcmp(mode, "continuously")) {
		r->continuously = true;
	} else if (strcmp(mode, "until-ready") != 0) {
		return sx_cf_err(cf, "monitor must be 'until-ready' or 'continuously', not '%s'",
		                 mode);
	}
	return 0;
}

static const struct sx_directive ready_directives[] = {
	{ "monitor", 1, 1, set_monitor },
	{ NULL },
};

static int
ready_setup(struct sx_cf *cf, void *inst)
{
	struct ready *r = inst;

	if (sx_cf_nargs(cf) > 2) {
		return sx_cf_err(cf, "at most one address is expected");
	}
	r->addr = strdup(sx_cf_nargs(cf) == 2 ? sx_cf_arg(cf, 1) : DEFAULT_ADDR);
	if (!r->addr) {
		return sx_cf_err(cf, "out of memory");
	}
	if (!strchr(r->addr, ':')) {
		return sx_cf_err(cf, "invalid address '%s' (want [HOST]:PORT)", r->addr);
	}
	return 0;
}

static int
ready_start(void *inst, struct sx_runtime *rt)
{
	struct ready *r = inst;
	char err[256];
	int rc;

	r->rt = rt;
	rc = sx_http_route_add(&r->route, r->addr, "/ready", serve_ready, r, err, sizeof(err));
	if (rc < 0) {
		sx_plog(SX_LOG_ERROR, "ready", "%s", err);
		return rc;
	}
	return 0;
}

static void
ready_teardown(void *inst)
{
	struct ready *r = inst;

	sx_http_route_free(r->route);
	free(r->addr);
}

const struct sx_plugin sx_plugin_ready = {
	.name = "ready",
	.flags = SX_PLUGIN_READINESS,
	.inst_size = sizeof(struct ready),
	.directives = ready_directives,
	.setup = ready_setup,
	.start = ready_start,
	.teardown = ready_teardown,
};
