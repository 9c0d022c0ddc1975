/* autopath.c -- the autopath plugin: the client's search path walked on the server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/plugin.h>
#include <sextant/resolv.h>

/*
 * A query for NAME.<first search domain of the client> is the first of a
 * search walk (glibc's resolver with ndots:5 tries the search domains in
 * order, then the bare name). Instead of answering NXDOMAIN and waiting for
 * the client's next try, the rest of the chain is asked for NAME in each
 * search domain in turn, then for NAME itself; the first reply that is not
 * NXDOMAIN is returned under the client's question, with a CNAME from that
 * question to the name that answered. The search path comes from a
 * resolv.conf-style file, or from a plugin of the block (`@kubernetes`: from
 * the namespace of the pod that has the client's address).
 */
struct autopath {
	struct sx_zones zones;
	char *plugin;                 /* @PLUGIN: who gives the search path; else the file's */
	uint8_t (*dom)[SX_DNAME_MAX]; /* the file's search domains, then the root */
	struct sx_search search;      /* pointers into @dom */
	uint16_t port;
	char server[32];
	struct sx_wcounters success;
};

/* One walk in flight, in the request's memory. */
struct walk {
	struct autopath *ap;
	struct sx_search s;
	unsigned next; /* the search domain to try next */
	uint16_t qtype;
	size_t base_len;            /* bytes of the client's name before its first search domain */
	uint8_t base[SX_DNAME_MAX]; /* those labels, in the client's case */
	uint8_t name[SX_DNAME_MAX]; /* the name asked now */
	const uint8_t *first;       /* the reply for the client's own name, kept for the end */
	size_t first_len;
};

static void got(struct sx_req *req, const uint8_t *wire, size_t len, void *arg);

/* Ask the rest of the chain for the base name in the next domain. @return 0, or <0: no more. */
static int
step(struct sx_req *req, struct walk *w)
{
	while (w->next < w->s.n) {
		const uint8_t *dom = w->s.dom[w->next++];
		size_t dlen = sx_dname_len(dom);

		if (w->base_len + dlen > SX_DNAME_MAX) {
			continue; /* too long a name with this domain: the client cannot ask it either */
		}
		memcpy(w->name, w->base, w->base_len);
		memcpy(w->name + w->base_len, dom, dlen);
		return sx_req_subquery_next_name(req, w->name, w->qtype, got, w);
	}
	return SX_EINVAL;
}

/*
 * The reply @wire, found for w->name, under the client's question. When
 * that is another name, a CNAME to the owner of the first answer record not
 * named as the client asked comes first, with that record's TTL (as
 * CoreDNS's cnamer): an empty answer (NODATA) gets none.
 */
static void
found(struct sx_req *req, const struct walk *w, const uint8_t *wire, size_t len)
{
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg = sx_req_msg(req);
	uint16_t flags = (uint16_t)((wire[2] << 8) | wire[3]);
	uint8_t owner[SX_DNAME_MAX];
	struct sx_rr_walk it;
	struct sx_rr rr;
	int rc;

	sx_msg_reset(msg);
	sx_msg_clear_flags(msg, SX_FLAG_RA | SX_FLAG_AD);
	sx_msg_set_flags(msg, flags & (SX_FLAG_AA | SX_FLAG_RA | SX_FLAG_AD));
	sx_msg_set_rcode(msg, wire[3] & 0x0f);
	sx_rr_walk_start(&it, wire, len, SX_WALK_CHECKED);
	while (w->next > 1 && sx_rr_walk_next(&it, &rr) == 1 && rr.section == SX_SEC_ANSWER) {
		rc = sx_wire_name(wire, len, rr.owner_off, owner);
		if (rc > 0 && !sx_dname_eq(owner, q->lname)) {
			(void)sx_msg_put_rr(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_CNAME,
			                    SX_CLASS_IN, rr.ttl, owner, (uint16_t)rc);
			break;
		}
	}
	sx_rr_walk_start(&it, wire, len, SX_WALK_CHECKED);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		if (rr.type == SX_TYPE_OPT) {
			continue;
		}
		rc = sx_msg_copy_rr(msg, rr.section, wire, len, &rr);
		/* What does not fit is left out; TC is already set where it matters. */
		if (rc == SX_ETRUNC && rr.section != SX_SEC_ADDITIONAL) {
			break;
		}
	}
}

/* The reply @wire (or none) stands for the client as it is. */
static void
finish(struct sx_req *req, const uint8_t *wire, size_t len)
{
	if (sx_msg_set_wire(sx_req_msg(req), wire, len) < 0) {
		sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/autopath: malformed reply");
	}
	sx_req_resume(req, SX_DONE);
}

static void
got(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	struct walk *w = arg;
	unsigned rcode;
	uint8_t *copy;

	if (!wire) { /* the rest of the chain dropped it */
		sx_req_drop(req);
		sx_req_resume(req, SX_DONE);
		return;
	}
	if (len < 12) {
		sx_req_resume(req, sx_req_error(req, SX_RCODE_SERVFAIL,
		                                "plugin/autopath: malformed reply"));
		return;
	}
	rcode = wire[3] & 0x0f;
	if (w->next == 1 && (copy = sx_req_alloc(req, len)) != NULL) {
		memcpy(copy, wire, len);
		w->first = copy;
		w->first_len = len;
	}
	/* A failure ends the walk, as an error from CoreDNS's Next does. */
	if (rcode == SX_RCODE_SERVFAIL) {
		finish(req, wire, len);
		return;
	}
	/* Refusals and the like mean "not here": the walk goes on past them, as past NXDOMAIN. */
	if (rcode != SX_RCODE_NXDOMAIN && rcode != SX_RCODE_REFUSED && rcode != SX_RCODE_FORMERR &&
	    rcode != SX_RCODE_NOTIMP) {
		found(req, w, wire, len);
		sx_wcounters_add(&w->ap->success, sx_req_worker(req), 0, 1);
		sx_req_resume(req, SX_DONE);
		return;
	}
	if (step(req, w) == 0) {
		return;
	}
	/* Nothing anywhere: the reply for the client's own name, and the client walks on. */
	if (w->first) {
		finish(req, w->first, w->first_len);
	} else {
		finish(req, wire, len);
	}
}

static enum sx_verdict
ap_handle(struct sx_req *req, void *inst)
{
	struct autopath *ap = inst;
	const struct sx_query *q = sx_req_query(req);
	struct sx_search s;
	struct walk *w;
	size_t flen;

	if (sx_zones_match(&ap->zones, q->lname) < 0) {
		return SX_NEXT;
	}
	if (ap->plugin) {
		if (!sx_req_search_path(req, ap->plugin, &s)) {
			return SX_NEXT;
		}
	} else {
		s = ap->search;
	}
	/* Only a name below the client's first search domain starts a walk. */
	if (s.n == 0) {
		return SX_NEXT;
	}
	flen = sx_dname_len(s.dom[0]);
	if (q->qname_len <= flen || !sx_dname_is_sub(q->lname, s.dom[0])) {
		return SX_NEXT;
	}
	w = sx_req_alloc(req, sizeof(*w));
	if (!w) {
		return SX_NEXT;
	}
	w->ap = ap;
	w->s = s;
	w->next = 0;
	w->qtype = q->qtype;
	w->base_len = q->qname_len - flen;
	memcpy(w->base, q->qname, w->base_len);
	w->first = NULL;
	if (step(req, w) < 0) {
		return SX_NEXT;
	}
	return SX_SUSPEND;
}

/* Whether a compiled plugin named @name can give search paths. */
static bool
provider(const char *name)
{
	for (size_t i = 0; sx_plugins[i]; i++) {
		if (!strcmp(sx_plugins[i]->name, name)) {
			return sx_plugins[i]->search_path != NULL;
		}
	}
	return false;
}

/* RESOLV-CONF as a file: its search domains, then the bare name. */
static int
read_file(struct sx_cf *cf, struct autopath *ap, const char *arg)
{
	char err[512], *path = NULL;
	int n;

	if (arg[0] == '/' || !sx_cf_dir(cf)) {
		path = strdup(arg);
	} else if (asprintf(&path, "%s/%s", sx_cf_dir(cf), arg) < 0) {
		path = NULL;
	}
	ap->dom = calloc(SX_SEARCH_MAX, sizeof(*ap->dom));
	if (!path || !ap->dom) {
		free(path);
		return -ENOMEM;
	}
	n = sx_resolv_search(path, ap->dom, SX_SEARCH_MAX - 1, err, sizeof(err));
	free(path);
	if (n < 0) {
		return n == -ENOMEM ? n : sx_cf_err(cf, "%s", err);
	}
	ap->dom[n][0] = 0; /* the root: the bare name last */
	for (int i = 0; i <= n; i++) {
		ap->search.dom[i] = ap->dom[i];
	}
	ap->search.n = (unsigned)n + 1;
	return 0;
}

/* autopath [ZONE...] RESOLV-CONF */
static int
ap_setup(struct sx_cf *cf, void *inst)
{
	struct autopath *ap = inst;
	int n = sx_cf_nargs(cf), rc;
	const char *last;

	if (n < 2) {
		return sx_cf_err(cf, "no resolv-conf specified");
	}
	last = sx_cf_arg(cf, n - 1);
	if (last[0] == '@') {
		/* As CoreDNS: a plugin that is not in the block just means no autopath. */
		if (last[1] == '\0' ||
		    (sx_cf_block_has(cf, last + 1, NULL) && !provider(last + 1))) {
			return sx_cf_err(cf, "%s does not implement the AutoPather interface",
			                 last + 1);
		}
		if ((ap->plugin = strdup(last + 1)) == NULL) {
			return -ENOMEM;
		}
	} else if ((rc = read_file(cf, ap, last)) < 0) {
		return rc;
	}
	rc = sx_cf_zones_until(cf, 1, n - 1, sx_cf_block_zones(cf), NULL, &ap->zones);
	if (rc < 0) {
		return rc;
	}
	ap->port = sx_cf_block_port(cf, 0);
	return sx_wcounters_init(&ap->success, 1, sx_cf_workers(cf));
}

static int
ap_start(void *inst, struct sx_runtime *rt)
{
	struct autopath *ap = inst;

	snprintf(ap->server, sizeof(ap->server), "dns://:%u", sx_rt_port(rt, ap->port));
	return 0;
}

static void
ap_collect(void *inst, struct sx_metrics *m)
{
	struct autopath *ap = inst;
	char l[64];

	snprintf(l, sizeof(l), "server=\"%s\"", ap->server);
	sx_metrics_add(m, "coredns_autopath_success_total", SX_METRIC_COUNTER,
	               "Counter of requests that did autopath.", l,
	               (double)sx_wcounters_sum(&ap->success, 0));
}

static void
ap_teardown(void *inst)
{
	struct autopath *ap = inst;

	sx_wcounters_fini(&ap->success);
	sx_zones_fini(&ap->zones);
	free(ap->plugin);
	free(ap->dom);
}

const struct sx_plugin sx_plugin_autopath = {
	.name = "autopath",
	.inst_size = sizeof(struct autopath),
	.setup = ap_setup,
	.start = ap_start,
	.handle = ap_handle,
	.collect = ap_collect,
	.teardown = ap_teardown,
};
