/* rewrite.c -- the rewrite plugin: change the question on its way in, the reply on its way out. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

#define NAMEBUF SX_DNAME_STRMAX

/*
 * `stop`: a rule that applied ends the rewriting, so the rewrite instances
 * after it (each directive is one, next to each other in the chain, run in
 * one go on one worker) must skip the request. The mark lives until that
 * request's reply, whose hook clears it.
 */
static _Thread_local struct {
	const struct sx_req *req;
	uint64_t start;
	uint16_t id;
} stopped;

static bool
is_stopped(const struct sx_req *req)
{
	return stopped.req == req && stopped.start == sx_req_start_ns(req) &&
	       stopped.id == sx_req_query(req)->id;
}

static void
clear_stop(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (stopped.req == req) {
		stopped.req = NULL;
	}
}

static void
stop(struct sx_req *req)
{
	if (sx_req_on_reply(req, clear_stop, NULL) == 0) {
		stopped.req = req;
		stopped.start = sx_req_start_ns(req);
		stopped.id = sx_req_query(req)->id;
	}
}

/* ---- names as strings: CoreDNS matches the lower-case name with its final dot ---- */

static int
regex_match(const struct rewrite *r, unsigned w, const pcre2_code *re, const char *s)
{
	return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, r->md[w], NULL);
}

/* Groups of @re: those past the last one set are unset in the match data, so {N} is empty. */
static uint32_t
captures(const pcre2_code *re)
{
	uint32_t n = 0;

	pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n);
	return n;
}

static bool
ends_with(const char *s, size_t n, const char *suffix, size_t m)
{
	return n >= m && !memcmp(s + n - m, suffix, m);
}

/* Replace every @from in @s by @to into @out. @return false when @from is absent or it overflows. */
static bool
replace_all(const char *s, const char *from, const char *to, char *out, size_t cap)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p = s, *hit;
	bool any = false;

	if (fl == 0) {
		return false;
	}
	while ((hit = strstr(p, from))) {
		size_t k = (size_t)(hit - p);

		if (n + k + tl >= cap) {
			return false;
		}
		memcpy(out + n, p, k);
		memcpy(out + n + k, to, tl);
		n += k + tl;
		p = hit + fl;
		any = true;
	}
	if (!any || n + strlen(p) >= cap) {
		return false;
	}
	strcpy(out + n, p);
	return true;
}

/* Whether @name (lower case) matches the rule's name, for name, ttl and rcode rules. */
static bool
name_matches(const struct rewrite *r, unsigned w, const char *name)
{
	size_t n = strlen(name);

	switch (r->match) {
	case RW_EXACT:
		return !strcmp(name, r->from);
	case RW_PREFIX:
		return !strncmp(name, r->from, strlen(r->from));
	case RW_SUFFIX:
		return ends_with(name, n, r->from, strlen(r->from));
	case RW_SUBSTRING:
		return strstr(name, r->from) != NULL;
	default:
		return regex_match(r, w, r->re, name) > 0;
	}
}

/* The new name for @name, into @out. @return false when the rule does not apply. */
static bool
name_rewrite(const struct rewrite *r, unsigned w, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name), fl = r->from ? strlen(r->from) : 0;
	int rc;

	switch (r->match) {
	case RW_EXACT:
		return !strcmp(name, r->from) && snprintf(out, cap, "%s", r->to) < (int)cap;
	case RW_PREFIX:
		return !strncmp(name, r->from, fl) &&
		       snprintf(out, cap, "%s%s", r->to, name + fl) < (int)cap;
	case RW_SUFFIX:
		return ends_with(name, n, r->from, fl) &&
		       snprintf(out, cap, "%.*s%s", (int)(n - fl), name, r->to) < (int)cap;
	case RW_SUBSTRING:
		return replace_all(name, r->from, r->to, out, cap);
	default:
		rc = regex_match(r, w, r->re, name);
		return rc > 0 && rw_expand(r->to, name, pcre2_get_ovector_pointer(r->md[w]),
		                           captures(r->re), out, cap) >= 0;
	}
}

/* ---- the reply ---- */

/* What a name rule needs to put the reply right: the names before and after it. */
struct rw_names {
	const struct rewrite *r;
	unsigned w;
	const char *asked; /* the question name before this rule */
	const char *sent;  /* after it */
};

/* The reverse of the rule, for `answer auto` (and exact rules, which always revert). */
static bool
revert(const struct rw_names *st, const char *name, char *out, size_t cap)
{
	const struct rewrite *r = st->r;
	size_t n = strlen(name), tl = strlen(r->to), fl = r->from ? strlen(r->from) : 0;

	switch (r->match) {
	case RW_EXACT:
		return !strcmp(name, r->to) && snprintf(out, cap, "%s", r->from) < (int)cap;
	case RW_PREFIX:
		return !strncmp(name, r->to, tl) &&
		       snprintf(out, cap, "%s%s", r->from, name + tl) < (int)cap;
	case RW_SUFFIX:
		return ends_with(name, n, r->to, tl) &&
		       snprintf(out, cap, "%.*s%s", (int)(n - tl), name, r->from) < (int)cap;
	case RW_SUBSTRING:
		return replace_all(name, r->to, r->from, out, cap);
	default:
		(void)fl;
		return !strcmp(name, st->sent) && snprintf(out, cap, "%s", st->asked) < (int)cap;
	}
}

static bool
by_regex(const struct rw_names *st, const struct rw_regex *x, const char *name, char *out,
         size_t cap)
{
	int rc = regex_match(st->r, st->w, x->re, name);

	return rc > 0 && rw_expand(x->to, name, pcre2_get_ovector_pointer(st->r->md[st->w]),
	                           captures(x->re), out, cap) >= 0;
}

static bool
rename_one(void *arg, uint16_t type, bool in_rdata, const uint8_t *name, uint8_t out[255])
{
	const struct rw_names *st = arg;
	const struct rewrite *r = st->r;
	uint8_t low[SX_DNAME_MAX];
	char s[NAMEBUF], t[NAMEBUF];
	bool done;

	(void)type;
	sx_dname_lower(low, name);
	if (sx_dname_to_str(s, sizeof(s), low) < 0) {
		return false;
	}
	if (r->answer_name.re || r->answer_value.re) {
		const struct rw_regex *x = in_rdata ? &r->answer_value : &r->answer_name;

		done = x->re && by_regex(st, x, s, t, sizeof(t));
	} else {
		/* Exact rules revert owner names by themselves, as CoreDNS's do. */
		done = (r->answer_auto || !in_rdata) && revert(st, s, t, sizeof(t));
	}
	return done && sx_dname_from_str(out, t) > 0;
}

static void
answer_hook(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	uint8_t *scratch = sx_req_alloc(req, msg->len);

	if (scratch) {
		sx_msg_rename(msg, scratch, rename_one, arg);
	}
}

static void
ttl_hook(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	const struct rewrite *r = arg;
	struct sx_rr_walk it;
	struct sx_rr rr;

	(void)req;
	sx_rr_walk_start(&it, msg->wire, msg->len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1 && rr.section == SX_SEC_ANSWER) {
		uint32_t ttl = rr.ttl < r->ttl_min   ? r->ttl_min
		               : rr.ttl > r->ttl_max ? r->ttl_max
		                                     : rr.ttl;
		uint8_t *p = msg->wire + rr.ttl_off;

		p[0] = (uint8_t)(ttl >> 24);
		p[1] = (uint8_t)(ttl >> 16);
		p[2] = (uint8_t)(ttl >> 8);
		p[3] = (uint8_t)ttl;
	}
}

static void
rcode_hook(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	const struct rewrite *r = arg;

	(void)req;
	if (sx_msg_rcode(msg) == r->rcode_from) {
		sx_msg_set_rcode(msg, r->rcode_to);
	}
}

/* ---- the request ---- */

static char *
arena_str(struct sx_req *req, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = sx_req_alloc(req, n);

	if (d) {
		memcpy(d, s, n);
	}
	return d;
}

static enum sx_verdict
do_name(struct sx_req *req, const struct rewrite *r, const char *name, bool *hit)
{
	const struct sx_query *q = sx_req_query(req);
	unsigned w = sx_req_worker(req);
	char out[NAMEBUF];
	uint8_t wire[SX_DNAME_MAX];
	struct rw_names *st;

	if (!name_rewrite(r, w, name, out, sizeof(out))) {
		return SX_NEXT;
	}
	*hit = true;
	if (sx_dname_from_str(wire, out) < 0) {
		return sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/rewrite: invalid name '%s'",
		                    out);
	}
	if (sx_req_set_question(req, wire, q->qtype, q->qclass) < 0) {
		return sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/rewrite: too many reply hooks");
	}
	if (r->match == RW_EXACT || r->answer_auto || r->answer_name.re || r->answer_value.re) {
		st = sx_req_alloc(req, sizeof(*st));
		if (!st || !(st->asked = arena_str(req, name)) ||
		    !(st->sent = arena_str(req, out))) {
			return sx_req_error(req, SX_RCODE_SERVFAIL,
			                    "plugin/rewrite: out of memory");
		}
		st->r = r;
		st->w = w;
		if (sx_req_on_reply(req, answer_hook, st) < 0) {
			return sx_req_error(req, SX_RCODE_SERVFAIL,
			                    "plugin/rewrite: too many reply hooks");
		}
	}
	return SX_NEXT;
}

/* The data of the option to put in, into @buf. @return its length, or -1. */
static int
option_data(struct sx_req *req, const struct rewrite *r, uint8_t *buf, size_t cap)
{
	const struct sx_query *q = sx_req_query(req);
	const struct sockaddr_storage *ss = &q->client;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	int n;

	if (r->ekind == RW_EDNS_NSID) {
		return 0;
	}
	if (r->ekind == RW_EDNS_SUBNET) {
		bool v4 = ss->ss_family == AF_INET;
		const uint8_t *a = v4 ? (const uint8_t *)&sin->sin_addr : sin6->sin6_addr.s6_addr;
		unsigned bits = v4 ? r->v4bits : r->v6bits, bytes = (bits + 7) / 8;

		buf[0] = 0;
		buf[1] = v4 ? 1 : 2;
		buf[2] = (uint8_t)bits;
		buf[3] = 0;
		memcpy(buf + 4, a, bytes);
		if (bits % 8) {
			buf[4 + bytes - 1] &= (uint8_t)(0xFF << (8 - bits % 8));
		}
		return (int)(4 + bytes);
	}
	switch (r->var) {
	case RW_VAR_NONE:
		memcpy(buf, r->edata, r->elen);
		return r->elen;
	case RW_VAR_QNAME:
		return sx_dname_to_str((char *)buf, cap, q->qname);
	case RW_VAR_QTYPE:
		buf[0] = (uint8_t)(q->qtype >> 8);
		buf[1] = (uint8_t)q->qtype;
		return 2;
	case RW_VAR_CLIENT_IP:
		if (ss->ss_family == AF_INET) {
			memcpy(buf, &sin->sin_addr, 4);
			return 4;
		}
		memcpy(buf, sin6->sin6_addr.s6_addr, 16);
		return 16;
	case RW_VAR_CLIENT_PORT: {
		uint16_t port = ntohs(ss->ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);

		buf[0] = (uint8_t)(port >> 8);
		buf[1] = (uint8_t)port;
		return 2;
	}
	case RW_VAR_PROTOCOL:
		memcpy(buf, q->proto == SX_PROTO_TCP ? "tcp" : "udp", 3);
		return 3;
	case RW_VAR_SERVER_PORT:
		buf[0] = (uint8_t)(q->local_port >> 8);
		buf[1] = (uint8_t)q->local_port;
		return 2;
	default:
		/* A label nobody provides is an empty value, as in CoreDNS. */
		n = sx_req_meta(req, r->label, (char *)buf, cap);
		return n < 0 ? 0 : n;
	}
}

static enum sx_verdict
do_edns0(struct sx_req *req, const struct rewrite *r, bool *hit)
{
	const struct sx_query *q = sx_req_query(req);
	uint8_t data[SX_DNAME_STRMAX];
	int dlen = 0;
	bool found = false;
	size_t n = 0;

	if (r->eaction != RW_UNSET && (dlen = option_data(req, r, data, sizeof(data))) < 0) {
		dlen = 0;
	}
	uint8_t *opt = sx_req_alloc(req, (size_t)q->optlen + 4 + (size_t)dlen);
	if (!opt) {
		return sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/rewrite: out of memory");
	}
	for (size_t off = 0; off + 4 <= q->optlen;) {
		uint16_t code = (uint16_t)(q->opt[off] << 8 | q->opt[off + 1]);
		size_t len = (size_t)(q->opt[off + 2] << 8 | q->opt[off + 3]);

		if (off + 4 + len > q->optlen) {
			break;
		}
		if (code != r->ecode || r->eaction == RW_APPEND) {
			memcpy(opt + n, q->opt + off, 4 + len);
			n += 4 + len;
		}
		found = found || code == r->ecode;
		off += 4 + len;
	}
	if ((r->eaction == RW_REPLACE && !found) || (r->eaction == RW_UNSET && !found) ||
	    (r->eaction == RW_APPEND && found)) {
		return SX_NEXT;
	}
	if (r->eaction != RW_UNSET) {
		opt[n] = (uint8_t)(r->ecode >> 8);
		opt[n + 1] = (uint8_t)r->ecode;
		opt[n + 2] = (uint8_t)(dlen >> 8);
		opt[n + 3] = (uint8_t)dlen;
		memcpy(opt + n + 4, data, (size_t)dlen);
		n += 4 + (size_t)dlen;
	}
	*hit = true;
	sx_req_set_edns_options(req, opt, (uint16_t)n);
	return SX_NEXT;
}

static enum sx_verdict
rw_handle(struct sx_req *req, void *inst)
{
	struct rewrite *r = inst;
	const struct sx_query *q = sx_req_query(req);
	unsigned w = sx_req_worker(req);
	enum sx_verdict v = SX_NEXT;
	char name[NAMEBUF];
	bool hit = false;

	if (is_stopped(req)) {
		return SX_NEXT;
	}
	if ((r->field == RW_NAME || r->field == RW_TTL || r->field == RW_RCODE) &&
	    sx_dname_to_str(name, sizeof(name), q->lname) < 0) {
		return SX_NEXT;
	}
	switch (r->field) {
	case RW_NAME:
		v = do_name(req, r, name, &hit);
		break;
	case RW_TYPE:
		hit = q->qtype == r->type_from &&
		      sx_req_set_question(req, q->qname, r->type_to, q->qclass) == 0;
		break;
	case RW_CLASS:
		hit = q->qclass == r->type_from &&
		      sx_req_set_question(req, q->qname, q->qtype, r->type_to) == 0;
		break;
	case RW_TTL:
		hit = name_matches(r, w, name) && sx_req_on_reply(req, ttl_hook, inst) == 0;
		break;
	case RW_RCODE:
		hit = name_matches(r, w, name) && sx_req_on_reply(req, rcode_hook, inst) == 0;
		break;
	case RW_EDNS0:
		v = do_edns0(req, r, &hit);
		break;
	}
	if (hit) {
		sx_wcounters_add(&r->c, w, 0, 1);
		if (!r->cont) {
			stop(req);
		}
	}
	return v;
}

/* ---- setup ---- */

static int
rw_setup(struct sx_cf *cf, void *inst)
{
	struct rewrite *r = inst;
	uint32_t ngroups = 0;
	const pcre2_code *res[3];
	int rc = rw_parse(cf, r);

	if (rc < 0) {
		return rc;
	}
	res[0] = r->re;
	res[1] = r->answer_name.re;
	res[2] = r->answer_value.re;
	for (int i = 0; i < 3; i++) {
		uint32_t n = 0;

		if (res[i]) {
			pcre2_pattern_info(res[i], PCRE2_INFO_CAPTURECOUNT, &n);
		}
		ngroups = n > ngroups ? n : ngroups;
	}
	r->workers = sx_cf_workers(cf);
	r->md = calloc(r->workers, sizeof(*r->md));
	if (!r->md) {
		return -ENOMEM;
	}
	for (unsigned w = 0; w < r->workers; w++) {
		if (!(r->md[w] = pcre2_match_data_create(ngroups + 1, NULL))) {
			return -ENOMEM;
		}
	}
	r->port = sx_cf_block_port(cf, 0);
	return sx_wcounters_init(&r->c, 1, r->workers);
}

static int
rw_start(void *inst, struct sx_runtime *rt)
{
	struct rewrite *r = inst;

	snprintf(r->server, sizeof(r->server), "dns://:%u", sx_rt_port(rt, r->port));
	return 0;
}

static void
rw_collect(void *inst, struct sx_metrics *m)
{
	static const char *const matches[] = { "exact", "prefix", "suffix", "substring", "regex" };
	static const char *const kinds[] = { "local", "nsid", "subnet" };
	struct rewrite *r = inst;
	char l[2 * SX_DNAME_STRMAX + 256], a[SX_DNAME_STRMAX], b[SX_DNAME_STRMAX], t1[16], t2[16];
	double v = (double)sx_wcounters_sum(&r->c, 0);

	switch (r->field) {
	case RW_NAME:
		snprintf(l, sizeof(l), "server=\"%s\",match_type=\"%s\",src=\"%s\",dest=\"%s\"",
		         r->server, matches[r->match], sx_metrics_escape(r->from, a, sizeof(a)),
		         sx_metrics_escape(r->to, b, sizeof(b)));
		sx_metrics_add(m, "coredns_rewrite_request_rewrite_name_total", SX_METRIC_COUNTER,
		               "Counter of request name rewrites.", l, v);
		break;
	case RW_TYPE:
	case RW_CLASS:
		snprintf(l, sizeof(l), "server=\"%s\",src=\"%s\",dest=\"%s\"", r->server,
		         r->field == RW_TYPE ? sx_rrtype_name(r->type_from, t1)
		                             : sx_class_name(r->type_from, t1),
		         r->field == RW_TYPE ? sx_rrtype_name(r->type_to, t2)
		                             : sx_class_name(r->type_to, t2));
		sx_metrics_add(m,
		               r->field == RW_TYPE ? "coredns_rewrite_request_rewrite_type_total"
		                                   : "coredns_rewrite_request_rewrite_class_total",
		               SX_METRIC_COUNTER,
		               r->field == RW_TYPE ? "Counter of request type rewrites."
		                                   : "Counter of request class rewrites.",
		               l, v);
		break;
	case RW_EDNS0:
		snprintf(l, sizeof(l), "server=\"%s\",type=\"%s\"", r->server, kinds[r->ekind]);
		sx_metrics_add(m, "coredns_rewrite_request_rewrite_edns_total", SX_METRIC_COUNTER,
		               "Counter of request EDNS0 rewrites.", l, v);
		break;
	case RW_TTL:
		snprintf(l, sizeof(l), "server=\"%s\",match_type=\"%s\"", r->server,
		         matches[r->match]);
		sx_metrics_add(m, "coredns_rewrite_rewrite_request_ttl_total", SX_METRIC_COUNTER,
		               "Counter of request TTL rewrites.", l, v);
		break;
	case RW_RCODE:
		break;
	}
}

static void
rw_teardown(void *inst)
{
	struct rewrite *r = inst;

	pcre2_code_free(r->re);
	pcre2_code_free(r->answer_name.re);
	pcre2_code_free(r->answer_value.re);
	free(r->answer_name.to);
	free(r->answer_value.to);
	free(r->from);
	free(r->to);
	free(r->edata);
	free(r->label);
	for (unsigned w = 0; r->md && w < r->workers; w++) {
		pcre2_match_data_free(r->md[w]);
	}
	free(r->md);
	sx_wcounters_fini(&r->c);
}

const struct sx_plugin sx_plugin_rewrite = {
	.name = "rewrite",
	.flags = SX_PLUGIN_ANY_CLASS,
	.inst_size = sizeof(struct rewrite),
	.repeat = true,
	.setup = rw_setup,
	.start = rw_start,
	.handle = rw_handle,
	.collect = rw_collect,
	.teardown = rw_teardown,
};
