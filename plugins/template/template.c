/* template.c -- the template plugin: answers built from the query name by regexes and templates. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "template.h"

#define EDNS_EDE     15 /* Extended DNS Error option code (RFC 8914) */
#define C_TEMPLATE   0  /* failure counters: the template could not be expanded */
#define C_RR         1  /* ... its text was no record */
#define C_FAIL_KINDS 2

static const char *const section_names[] = { "answer", "authority", "additional" };

/* What one matched query's templates print; copied to the request arena while a lookup runs. */
struct tpl_state {
	struct tmpl_data d;
	int zone;
	char name[SX_DNAME_STRMAX], remote[64], class[16], type[16];
	PCRE2_SIZE *ov; /* the arena's copy of the ovector */
};

static size_t
match_counter(int zone, const struct sx_query *q)
{
	size_t cls = q->qclass == SX_CLASS_IN ? 0 : q->qclass == SX_CLASS_CH ? 1 : 2;
	size_t typ = q->qtype < TPL_TYPE_SLOTS - 1 ? q->qtype : TPL_TYPE_SLOTS - 1;

	return ((size_t)zone * TPL_CLASS_SLOTS + cls) * TPL_TYPE_SLOTS + typ;
}

static void
count_failure(struct template *t, struct sx_req *req, const struct tpl_rr *r, int zone, int kind)
{
	sx_wcounters_add(&t->c, sx_req_worker(req),
	                 r->counter + (size_t)zone * C_FAIL_KINDS + (size_t)kind, 1);
}

static void
remote_str(const struct sx_query *q, char *out, size_t cap)
{
	const struct sockaddr_storage *ss = &q->client;

	out[0] = '\0';
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, out,
		          (socklen_t)cap);
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr,
		          out, (socklen_t)cap);
	}
}

/* The answer section of the lookup's reply @wire after the CNAME, and its TC bit. */
static void
copy_answer(struct sx_msg *msg, const uint8_t *wire, size_t len)
{
	struct sx_rr_walk it;
	struct sx_rr rr;

	if (len >= 4 && (wire[2] & 0x02)) {
		sx_msg_set_flags(msg, SX_FLAG_TC);
	}
	sx_rr_walk_start(&it, wire, len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1 && rr.section == SX_SEC_ANSWER) {
		if (sx_msg_copy_rr(msg, SX_SEC_ANSWER, wire, len, &rr) < 0) {
			return;
		}
	}
}

/*
 * Write the reply: flags, rcode, EDE, then the lines of each section in turn.
 * A CNAME answer to an A or AAAA query is followed by what this server answers
 * for its target (CoreDNS's upstream lookup). The first time through, that
 * lookup is asked for instead (*@target set, SX_SUSPEND returned); the reply
 * is then written again, whole, with the lookup's reply @up (NULL if it failed).
 */
static enum sx_verdict
build(struct sx_req *req, struct template *t, const struct tpl_state *st, bool resumed,
      const uint8_t *up, size_t uplen, const uint8_t **target)
{
	const struct sx_query *q = sx_req_query(req);
	struct sx_msg *msg = sx_req_msg(req);
	bool cname_done = false;
	struct rr_wire tmp;
	char text[2048];

	sx_msg_set_flags(msg, SX_FLAG_AA);
	sx_msg_set_rcode(msg, t->rcode);
	if (t->ede) {
		sx_msg_add_option(msg, EDNS_EDE, t->ede, t->ede_len);
	}
	for (int sec = SX_SEC_ANSWER; sec <= SX_SEC_ADDITIONAL; sec++) {
		for (size_t i = 0; i < t->nrr[sec]; i++) {
			const struct tpl_rr *r = &t->rrs[sec][i];
			const struct rr_wire *rr = r->fixed;

			if (!rr) {
				if (tmpl_expand(&r->t, &st->d, text, sizeof(text)) < 0) {
					count_failure(t, req, r, st->zone, C_TEMPLATE);
					return sx_req_error(
					        req, SX_RCODE_SERVFAIL,
					        "plugin/template: %s template '%s' failed",
					        section_names[sec], r->src);
				}
				if (rr_parse(text, &tmp) < 0) {
					count_failure(t, req, r, st->zone, C_RR);
					return sx_req_error(req, SX_RCODE_SERVFAIL,
					                    "plugin/template: '%s' is not a record",
					                    text);
				}
				rr = &tmp;
			}
			if (sx_msg_put_rr(msg, (enum sx_section)sec, rr->owner, rr->type,
			                  rr->rclass, rr->ttl, rr->rdata, rr->rdlen) == SX_ETRUNC) {
				return SX_DONE; /* TC is set */
			}
			if (sec != SX_SEC_ANSWER || rr->type != SX_TYPE_CNAME || cname_done ||
			    (q->qtype != SX_TYPE_A && q->qtype != SX_TYPE_AAAA)) {
				continue;
			}
			cname_done = true;
			if (resumed) {
				if (up) {
					copy_answer(msg, up, uplen);
				}
				continue;
			}
			uint8_t *name = sx_req_alloc(req, rr->rdlen);

			if (name) {
				memcpy(name, rr->rdata, rr->rdlen);
				*target = name;
				return SX_SUSPEND;
			}
		}
	}
	return SX_DONE;
}

/* A query waiting for the lookup of a CNAME's target: its instance and what its templates print. */
struct pending {
	struct template *t;
	struct tpl_state st;
	PCRE2_SIZE ov[];
};

static void
point(struct tpl_state *st, const char *zone)
{
	st->d.name = st->d.subject = st->name;
	st->d.zone = zone;
	st->d.class = st->class;
	st->d.type = st->type;
	st->d.remote = st->remote;
}

static void
looked_up(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	struct pending *p = arg;

	sx_req_resume(req, build(req, p->t, &p->st, true, wire, len, NULL));
}

/* Keep what the templates print past this handler (the match data is the worker's) and look up. */
static enum sx_verdict
suspend(struct sx_req *req, struct template *t, const struct tpl_state *st, const uint8_t *target)
{
	size_t ovsize = 2 * st->d.ngroups * sizeof(PCRE2_SIZE);
	struct pending *p = sx_req_alloc(req, sizeof(*p) + ovsize);

	if (p) {
		p->t = t;
		p->st = *st;
		memcpy(p->ov, st->d.ov, ovsize);
		p->st.d.ov = p->ov;
		point(&p->st, st->d.zone);
		if (sx_req_subquery(req, target, sx_req_query(req)->qtype, looked_up, p) == 0) {
			return SX_SUSPEND;
		}
	}
	sx_msg_reset(sx_req_msg(req));
	return build(req, t, st, true, NULL, 0, NULL);
}

static enum sx_verdict
tpl_handle(struct sx_req *req, void *inst)
{
	struct template *t = inst;
	const struct sx_query *q = sx_req_query(req);
	unsigned w = sx_req_worker(req);
	int z = sx_zones_match(&t->zones, q->lname), n, rc = -1;
	const uint8_t *target = NULL;
	struct tpl_state st;
	enum sx_verdict v;
	char buf[16];
	size_t i;

	if (z < 0 ||
	    (t->qclass != SX_TYPE_ANY && q->qclass != SX_TYPE_ANY && q->qclass != t->qclass) ||
	    (t->qtype != SX_TYPE_ANY && q->qtype != SX_TYPE_ANY && q->qtype != t->qtype)) {
		return SX_NEXT;
	}
	n = sx_dname_to_str(st.name, sizeof(st.name), q->lname);
	for (i = 0; n > 0 && i < t->nre; i++) {
		rc = pcre2_match(t->re[i], (PCRE2_SPTR)st.name, (size_t)n, 0, 0, t->md[w], NULL);
		if (rc >= 0) {
			break;
		}
	}
	if (rc < 0) {
		if (t->fall_on && sx_zones_match(&t->fall, q->lname) >= 0) {
			return SX_NEXT;
		}
		sx_msg_set_rcode(sx_req_msg(req), SX_RCODE_SERVFAIL);
		return SX_DONE;
	}
	sx_wcounters_add(&t->c, w, match_counter(z, q), 1);
	if (t->rcode == SX_RCODE_SERVFAIL) {
		sx_msg_set_rcode(sx_req_msg(req), SX_RCODE_SERVFAIL);
		return SX_DONE;
	}
	st.zone = z;
	point(&st, t->zones.z[z].name);
	remote_str(q, st.remote, sizeof(st.remote));
	snprintf(st.class, sizeof(st.class), "%s", sx_class_name(q->qclass, buf));
	snprintf(st.type, sizeof(st.type), "%s", sx_rrtype_name(q->qtype, buf));
	st.d.re = t->re[i];
	st.d.ov = pcre2_get_ovector_pointer(t->md[w]);
	st.d.ngroups = (uint32_t)rc;
	v = build(req, t, &st, false, NULL, 0, &target);
	return v == SX_SUSPEND ? suspend(req, t, &st, target) : v;
}

/* ---- setup ---- */

static int
add_regex(struct sx_cf *cf, struct template *t, const char *src)
{
	pcre2_code **re = realloc(t->re, (t->nre + 1) * sizeof(*re));
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE at;
	int err;

	if (!re) {
		return -ENOMEM;
	}
	t->re = re;
	/* Go's regexp: "$" is the end of the text alone. */
	re[t->nre] = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_DOLLAR_ENDONLY,
	                           &err, &at, NULL);
	if (!re[t->nre]) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		return sx_cf_err(cf, "invalid regex '%s' at offset %zu: %s", src, (size_t)at,
		                 (const char *)msg);
	}
	pcre2_jit_compile(re[t->nre], PCRE2_JIT_COMPLETE); /* the interpreter runs if JIT cannot */
	t->nre++;
	return 0;
}

static int
set_match(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	int rc = 0;

	for (int i = 1; i < sx_cf_nargs(cf) && rc == 0; i++) {
		rc = add_regex(cf, inst, sx_cf_arg(cf, i));
	}
	return rc;
}

static int
add_rr(struct sx_cf *cf, struct template *t, enum sx_section sec, const char *src)
{
	struct tpl_rr *rrs = realloc(t->rrs[sec], (t->nrr[sec] + 1) * sizeof(*rrs)), *r;
	char err[256];

	if (!rrs) {
		return -ENOMEM;
	}
	t->rrs[sec] = rrs;
	r = &rrs[t->nrr[sec]++];
	memset(r, 0, sizeof(*r));
	r->src = strdup(src);
	if (!r->src) {
		return -ENOMEM;
	}
	switch (tmpl_compile(&r->t, src, err, sizeof(err))) {
	case 0:
		break;
	case SX_EINVAL:
		return sx_cf_err(cf, "%s", err);
	default:
		return -ENOMEM;
	}
	if (!r->t.fixed) {
		return 0;
	}
	r->fixed = malloc(sizeof(*r->fixed));
	if (!r->fixed) {
		return -ENOMEM;
	}
	if (rr_parse(src, r->fixed) < 0) {
		return sx_cf_err(cf, "invalid %s record '%s'", section_names[sec], src);
	}
	return 0;
}

static int
set_rr(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	int rc = 0;

	for (int i = 1; i < sx_cf_nargs(cf) && rc == 0; i++) {
		rc = add_rr(cf, inst, (enum sx_section)d->offset, sx_cf_arg(cf, i));
	}
	return rc;
}

static int
set_rcode(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct template *t = inst;
	const char *arg = sx_cf_arg(cf, 1);
	char buf[16];

	for (unsigned r = 0; r < 24; r++) {
		if (strcasecmp(arg, sx_rcode_name(r, buf)) == 0 && strncmp(buf, "RCODE", 5) != 0) {
			t->rcode = r;
			return 0;
		}
	}
	return sx_cf_err(cf, "unknown rcode %s", arg);
}

static int
set_ede(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct template *t = inst;
	const char *code = sx_cf_arg(cf, 1), *reason = sx_cf_arg(cf, 2);
	size_t rlen = reason ? strlen(reason) : 0;
	char *end;
	unsigned long v = strtoul(code, &end, 10);

	if (*code < '0' || *code > '9' || *end || v > 24) {
		return sx_cf_err(cf, "invalid extended DNS error code %s (0 to 24)", code);
	}
	if (rlen > 512) {
		return sx_cf_err(cf, "extended DNS error reason longer than 512 bytes");
	}
	free(t->ede);
	t->ede = malloc(2 + rlen);
	if (!t->ede) {
		return -ENOMEM;
	}
	t->ede[0] = 0;
	t->ede[1] = (uint8_t)v;
	memcpy(t->ede + 2, reason ? reason : "", rlen);
	t->ede_len = (uint16_t)(2 + rlen);
	return 0;
}

static int
set_fall(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct template *t = inst;

	t->fall_on = true;
	return sx_set_zones(cf, d, inst);
}

/* Accepted and ignored, as CoreDNS does: CNAME targets are always looked up. */
static int
set_upstream(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	return 0;
}

static const struct sx_directive tpl_directives[] = {
	{ "match", 1, -1, set_match, .repeat = true },
	{ "answer", 1, -1, set_rr, SX_SEC_ANSWER, .repeat = true },
	{ "authority", 1, -1, set_rr, SX_SEC_AUTHORITY, .repeat = true },
	{ "additional", 1, -1, set_rr, SX_SEC_ADDITIONAL, .repeat = true },
	{ "rcode", 1, 1, set_rcode },
	{ "ederror", 1, 2, set_ede },
	{ "fallthrough", 0, -1, set_fall, SX_FIELD(struct template, fall, struct sx_zones) },
	{ "upstream", 0, -1, set_upstream },
	{ NULL },
};

static int
parse_class(struct sx_cf *cf, const char *s, uint16_t *out)
{
	static const struct {
		const char *name;
		uint16_t v;
	} classes[] = { { "IN", 1 }, { "CS", 2 },     { "CH", 3 },
		        { "HS", 4 }, { "NONE", 254 }, { "ANY", 255 } };

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (strcmp(s, classes[i].name) == 0) {
			*out = classes[i].v;
			return 0;
		}
	}
	if (strncmp(s, "CLASS", 5) == 0 && s[5] >= '0' && s[5] <= '9') {
		unsigned long v = strtoul(s + 5, NULL, 10);

		if (v <= UINT16_MAX) {
			*out = (uint16_t)v;
			return 0;
		}
	}
	return sx_cf_err(cf, "invalid query class %s", s);
}

/* template [CLASS [TYPE [ZONE...]]] */
static int
tpl_setup(struct sx_cf *cf, void *inst)
{
	struct template *t = inst;
	uint32_t groups = 0;
	size_t nc = 0;
	int rc;

	t->qclass = t->qtype = SX_TYPE_ANY;
	if (sx_cf_nargs(cf) > 1 && (rc = parse_class(cf, sx_cf_arg(cf, 1), &t->qclass)) < 0) {
		return rc;
	}
	if (sx_cf_nargs(cf) > 2) {
		rc = sx_rrtype_from_name(sx_cf_arg(cf, 2));
		if (rc < 0) {
			return sx_cf_err(cf, "invalid query type %s", sx_cf_arg(cf, 2));
		}
		t->qtype = (uint16_t)rc;
	}
	rc = sx_cf_zones(cf, 3, sx_cf_block_zones(cf), NULL, &t->zones);
	if (rc < 0) {
		return rc;
	}
	if (t->nre == 0 && (rc = add_regex(cf, t, ".*")) < 0) {
		return rc;
	}
	t->workers = sx_cf_workers(cf);
	t->md = calloc(t->workers, sizeof(*t->md));
	if (!t->md) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->nre; i++) {
		uint32_t n;

		pcre2_pattern_info(t->re[i], PCRE2_INFO_CAPTURECOUNT, &n);
		groups = n > groups ? n : groups;
	}
	for (unsigned w = 0; w < t->workers; w++) {
		t->md[w] = pcre2_match_data_create(groups + 1, NULL);
		if (!t->md[w]) {
			return -ENOMEM;
		}
	}
	nc = t->zones.n * TPL_CLASS_SLOTS * TPL_TYPE_SLOTS;
	for (int sec = 0; sec < 3; sec++) {
		for (size_t i = 0; i < t->nrr[sec]; i++) {
			t->rrs[sec][i].counter = nc;
			nc += t->zones.n * C_FAIL_KINDS;
		}
	}
	t->port = sx_cf_block_port(cf, 0);
	return sx_wcounters_init(&t->c, nc, t->workers);
}

static int
tpl_start(void *inst, struct sx_runtime *rt)
{
	struct template *t = inst;

	snprintf(t->server, sizeof(t->server), "dns://:%u", sx_rt_port(rt, t->port));
	return 0;
}

static void
tpl_collect(void *inst, struct sx_metrics *m)
{
	struct template *t = inst;
	char zone[SX_DNAME_STRMAX * 2], src[4096], l[sizeof(zone) + sizeof(src) + 256], c[16],
	        ty[16], tc[16], tt[16];

	snprintf(tc, sizeof(tc), "%s",
	         t->qclass == SX_TYPE_ANY ? "ANY" : sx_class_name(t->qclass, c));
	snprintf(tt, sizeof(tt), "%s",
	         t->qtype == SX_TYPE_ANY ? "ANY" : sx_rrtype_name(t->qtype, ty));
	for (size_t z = 0; z < t->zones.n; z++) {
		sx_metrics_escape(t->zones.z[z].name, zone, sizeof(zone));
		for (size_t cls = 0; cls < TPL_CLASS_SLOTS; cls++) {
			for (size_t typ = 0; typ < TPL_TYPE_SLOTS; typ++) {
				size_t i = (z * TPL_CLASS_SLOTS + cls) * TPL_TYPE_SLOTS + typ;
				uint64_t v = sx_wcounters_sum(&t->c, i);

				if (v == 0) {
					continue;
				}
				snprintf(
				        l, sizeof(l),
				        "server=\"%s\",zone=\"%s\",view=\"\",class=\"%s\",type=\"%s\"",
				        t->server, zone,
				        cls == 0   ? "IN"
				        : cls == 1 ? "CH"
				                   : "other",
				        typ == TPL_TYPE_SLOTS - 1
				                ? "other"
				                : sx_rrtype_name((uint16_t)typ, ty));
				sx_metrics_add(m, "coredns_template_matches_total",
				               SX_METRIC_COUNTER,
				               "Counter of template regex matches.", l, (double)v);
			}
		}
		for (int sec = 0; sec < 3; sec++) {
			for (size_t i = 0; i < t->nrr[sec]; i++) {
				const struct tpl_rr *r = &t->rrs[sec][i];
				size_t k = r->counter + z * C_FAIL_KINDS;

				sx_metrics_escape(r->src, src, sizeof(src));
				snprintf(
				        l, sizeof(l),
				        "server=\"%s\",zone=\"%s\",view=\"\",class=\"%s\",type=\"%s\","
				        "section=\"%s\",template=\"%s\"",
				        t->server, zone, tc, tt, section_names[sec], src);
				sx_metrics_add(m, "coredns_template_template_failures_total",
				               SX_METRIC_COUNTER,
				               "Counter of go template failures.", l,
				               (double)sx_wcounters_sum(&t->c, k + C_TEMPLATE));
				sx_metrics_add(m, "coredns_template_rr_failures_total",
				               SX_METRIC_COUNTER, "Counter of mis-templated RRs.",
				               l, (double)sx_wcounters_sum(&t->c, k + C_RR));
			}
		}
	}
}

static void
tpl_teardown(void *inst)
{
	struct template *t = inst;

	for (size_t i = 0; i < t->nre; i++) {
		pcre2_code_free(t->re[i]);
	}
	free(t->re);
	for (unsigned w = 0; t->md && w < t->workers; w++) {
		pcre2_match_data_free(t->md[w]);
	}
	free(t->md);
	for (int sec = 0; sec < 3; sec++) {
		for (size_t i = 0; i < t->nrr[sec]; i++) {
			tmpl_fini(&t->rrs[sec][i].t);
			free(t->rrs[sec][i].src);
			free(t->rrs[sec][i].fixed);
		}
		free(t->rrs[sec]);
	}
	free(t->ede);
	sx_zones_fini(&t->zones);
	sx_zones_fini(&t->fall);
	sx_wcounters_fini(&t->c);
}

const struct sx_plugin sx_plugin_template = {
	.name = "template",
	.flags = SX_PLUGIN_ANY_CLASS,
	.inst_size = sizeof(struct template),
	.directives = tpl_directives,
	.repeat = true,
	.setup = tpl_setup,
	.start = tpl_start,
	.handle = tpl_handle,
	.collect = tpl_collect,
	.teardown = tpl_teardown,
};
