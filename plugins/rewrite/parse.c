/* parse.c -- a rewrite rule from its directive line and block, checked as -check does. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rewrite.h"

/*
 * The rule's words, read across the directive line and its block lines as
 * one stream (CoreDNS joins them the same way). Errors name the line of the
 * word being read.
 */
struct words {
	struct sx_cf *cf;
	int i;
};

static const char *
peek(struct words *w)
{
	const char *a;

	while (!(a = sx_cf_arg(w->cf, w->i))) {
		if (!sx_cf_has_block(w->cf) || !sx_cf_next_line(w->cf)) {
			return NULL;
		}
		w->i = 0;
	}
	return a;
}

static const char *
next(struct words *w)
{
	const char *a = peek(w);

	if (a) {
		w->i++;
	}
	return a;
}

/* Words left on the current line after the next one. */
static int
left_on_line(struct words *w)
{
	int n = sx_cf_nargs(w->cf) - w->i - 1;

	return n < 0 ? 0 : n;
}

static char *
lower_dup(const char *s, bool dot)
{
	size_t n = strlen(s);
	bool add = dot && (n == 0 || s[n - 1] != '.');
	char *d = malloc(n + 2);

	if (!d) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		d[i] = (char)tolower((unsigned char)s[i]);
	}
	if (add) {
		d[n++] = '.';
	}
	d[n] = '\0';
	return d;
}

static int
compile(struct sx_cf *cf, const char *src, pcre2_code **out)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE at;
	int err;

	/* Go's regexp: "$" is the end of the text alone. */
	*out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_DOLLAR_ENDONLY, &err,
	                     &at, NULL);
	if (!*out) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		return sx_cf_err(cf, "invalid regex '%s' at offset %zu: %s", src, (size_t)at,
		                 (const char *)msg);
	}
	pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* the interpreter runs if JIT cannot */
	return 0;
}

static uint32_t
groups(const pcre2_code *re)
{
	uint32_t n = 0;

	if (re) {
		pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n);
	}
	return n;
}

/* The highest {N} a replacement uses, or -1. */
static long
highest_group(const char *to)
{
	long hi = -1;

	for (const char *p = strchr(to, '{'); p; p = strchr(p + 1, '{')) {
		char *end;
		long n;

		if (!isdigit((unsigned char)p[1])) {
			continue;
		}
		n = strtol(p + 1, &end, 10);
		if (*end == '}' && n > hi) {
			hi = n;
		}
	}
	return hi;
}

static int
regex_rule(struct sx_cf *cf, const char *from, const char *to, pcre2_code **re, char **out)
{
	int rc = compile(cf, from, re);

	if (rc < 0) {
		return rc;
	}
	if (highest_group(to) > (long)groups(*re)) {
		return sx_cf_err(cf, "'%s' uses more groups than the regex '%s' has", to, from);
	}
	*out = lower_dup(to, true);
	return *out ? 0 : -ENOMEM;
}

static const char *const match_names[] = { "exact", "prefix", "suffix", "substring", "regex" };

/* [exact|prefix|suffix|substring|regex] NAME, when @after more words follow NAME on the line. */
static int
parse_match(struct words *w, struct rewrite *r, int after)
{
	const char *a = peek(w), *name;

	r->match = RW_EXACT;
	for (size_t i = 0; a && i < sizeof(match_names) / sizeof(match_names[0]); i++) {
		if (!strcasecmp(a, match_names[i]) && left_on_line(w) > after) {
			r->match = (enum rw_match)i;
			next(w);
			break;
		}
	}
	if (!(name = next(w))) {
		return sx_cf_err(w->cf, "missing the name to match");
	}
	if (r->match == RW_REGEX) {
		int rc = compile(w->cf, name, &r->re);

		if (rc < 0) {
			return rc;
		}
		r->from = strdup(name); /* for metric labels */
		return r->from ? 0 : -ENOMEM;
	}
	r->from = lower_dup(name, r->match == RW_EXACT || r->match == RW_SUFFIX);
	return r->from ? 0 : -ENOMEM;
}

static int
parse_answers(struct words *w, struct rewrite *r)
{
	const char *a, *kind, *from, *to;
	int rc;

	while ((a = peek(w)) && !strcasecmp(a, "answer")) {
		next(w);
		kind = next(w);
		if (kind && !strcasecmp(kind, "auto")) {
			r->answer_auto = true;
			continue;
		}
		if (!kind || (strcasecmp(kind, "name") && strcasecmp(kind, "value"))) {
			return sx_cf_err(
			        w->cf, "answer takes auto, name FROM TO or value FROM TO, not '%s'",
			        kind ? kind : "");
		}
		struct rw_regex *x = !strcasecmp(kind, "name") ? &r->answer_name : &r->answer_value;
		if (x->re) {
			return sx_cf_err(w->cf, "answer %s given twice", kind);
		}
		if (!(from = next(w)) || !(to = next(w))) {
			return sx_cf_err(w->cf, "answer %s needs FROM and TO", kind);
		}
		if ((rc = regex_rule(w->cf, from, to, &x->re, &x->to)) < 0) {
			return rc;
		}
	}
	if (r->answer_auto && (r->answer_name.re || r->answer_value.re)) {
		return sx_cf_err(w->cf, "answer auto cannot be combined with answer name or value");
	}
	return 0;
}

static int
parse_name(struct words *w, struct rewrite *r)
{
	const char *to;
	int rc = parse_match(w, r, 1);

	if (rc < 0) {
		return rc;
	}
	if (!(to = next(w))) {
		return sx_cf_err(w->cf, "name needs FROM and TO");
	}
	if (r->match == RW_REGEX) {
		if (highest_group(to) > (long)groups(r->re)) {
			return sx_cf_err(w->cf, "'%s' uses more groups than the regex has", to);
		}
		r->to = lower_dup(to, true);
	} else {
		r->to = lower_dup(to, r->match == RW_EXACT || r->match == RW_SUFFIX);
	}
	if (!r->to) {
		return -ENOMEM;
	}
	if (r->match == RW_EXACT) {
		uint8_t wire[SX_DNAME_MAX];

		if (sx_dname_from_str(wire, r->to) < 0 || sx_dname_from_str(wire, r->from) < 0) {
			return sx_cf_err(w->cf, "not a domain name: '%s'",
			                 sx_dname_from_str(wire, r->to) < 0 ? to : r->from);
		}
	}
	return parse_answers(w, r);
}

static int
type_of(const char *s)
{
	char up[32];
	size_t i;

	for (i = 0; s[i] && i < sizeof(up) - 1; i++) {
		up[i] = (char)toupper((unsigned char)s[i]);
	}
	up[i] = '\0';
	return sx_rrtype_from_name(up);
}

static int
class_of(const char *s)
{
	static const struct {
		const char *name;
		int v;
	} classes[] = { { "IN", 1 }, { "CH", 3 }, { "HS", 4 }, { "NONE", 254 }, { "ANY", 255 } };
	char *end;
	long n;

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (!strcasecmp(s, classes[i].name)) {
			return classes[i].v;
		}
	}
	if (!strncasecmp(s, "CLASS", 5) && isdigit((unsigned char)s[5])) {
		n = strtol(s + 5, &end, 10);
		if (!*end && n <= 65535) {
			return (int)n;
		}
	}
	return -1;
}

static int
rcode_of(const char *s)
{
	char buf[16], *end;
	long n;

	for (unsigned i = 0; i < 24; i++) {
		if (!strcasecmp(s, sx_rcode_name(i, buf))) {
			return (int)i;
		}
	}
	n = strtol(s, &end, 10);
	return *s && !*end && n >= 0 && n <= 4095 ? (int)n : -1;
}

static int
parse_pair(struct words *w, struct rewrite *r, int (*conv)(const char *), const char *what)
{
	const char *from = next(w), *to = next(w);
	int f, t;

	if (!from || !to) {
		return sx_cf_err(w->cf, "%s needs FROM and TO", what);
	}
	if ((f = conv(from)) < 0 || (t = conv(to)) < 0) {
		return sx_cf_err(w->cf, "not a %s: '%s'", what, f < 0 ? from : to);
	}
	r->type_from = (uint16_t)f;
	r->type_to = (uint16_t)t;
	return 0;
}

static bool
parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)*s)) {
		return false;
	}
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > UINT32_MAX) {
		return false;
	}
	*v = (uint32_t)n;
	return true;
}

/* SECONDS, MIN-MAX, -MAX or MIN-. */
static int
parse_ttl(struct words *w, struct rewrite *r)
{
	const char *a;
	int rc = parse_match(w, r, 1);
	char lo[16], *dash;
	bool ok;

	if (rc < 0) {
		return rc;
	}
	if (!(a = next(w))) {
		return sx_cf_err(w->cf, "ttl needs a NAME and a TTL");
	}
	r->ttl_min = 0;
	r->ttl_max = UINT32_MAX;
	dash = strchr(a, '-');
	if (!dash) {
		ok = parse_u32(a, &r->ttl_min);
		r->ttl_max = r->ttl_min;
	} else {
		size_t n = (size_t)(dash - a);

		ok = n < sizeof(lo);
		if (ok && n > 0) {
			memcpy(lo, a, n);
			lo[n] = '\0';
			ok = parse_u32(lo, &r->ttl_min);
		}
		if (ok && dash[1]) {
			ok = parse_u32(dash + 1, &r->ttl_max);
		}
		ok = ok && (n > 0 || dash[1]) && r->ttl_min <= r->ttl_max;
	}
	if (!ok) {
		return sx_cf_err(w->cf, "not a TTL or TTL range (30, 30-300, -300, 30-): '%s'", a);
	}
	return 0;
}

static int
parse_rcode(struct words *w, struct rewrite *r)
{
	int rc = parse_match(w, r, 2);

	if (rc < 0) {
		return rc;
	}
	if ((rc = parse_pair(w, r, rcode_of, "rcode")) < 0) {
		return rc;
	}
	r->rcode_from = r->type_from;
	r->rcode_to = r->type_to;
	return 0;
}

static int
hex_byte(const char *p)
{
	char b[3] = { p[0], p[1], 0 }, *end;
	long v;

	if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1])) {
		return -1;
	}
	v = strtol(b, &end, 16);
	return *end ? -1 : (int)v;
}

static int
parse_local(struct words *w, struct rewrite *r)
{
	static const struct {
		const char *name;
		enum rw_var v;
	} vars[] = { { "{qname}", RW_VAR_QNAME },         { "{qtype}", RW_VAR_QTYPE },
		     { "{client_ip}", RW_VAR_CLIENT_IP }, { "{client_port}", RW_VAR_CLIENT_PORT },
		     { "{protocol}", RW_VAR_PROTOCOL },   { "{server_port}", RW_VAR_SERVER_PORT } };
	const char *code = next(w), *data = r->eaction == RW_UNSET ? NULL : next(w);
	char *end;
	unsigned long c;

	if (!code || (r->eaction != RW_UNSET && !data)) {
		return sx_cf_err(w->cf, "edns0 local needs a CODE and DATA");
	}
	errno = 0;
	c = strtoul(code, &end, 0);
	if (errno || *end || c > 65535 || !*code) {
		return sx_cf_err(w->cf, "not an EDNS0 option code: '%s'", code);
	}
	r->ecode = (uint16_t)c;
	if (!data) {
		return 0;
	}
	size_t n = strlen(data);
	if (data[0] == '{' && data[n - 1] == '}') {
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
			if (!strcmp(data, vars[i].name)) {
				r->var = vars[i].v;
				return 0;
			}
		}
		if (!strchr(data, '/')) {
			return sx_cf_err(w->cf, "unknown variable '%s'", data);
		}
		r->var = RW_VAR_META;
		r->label = strndup(data + 1, n - 2);
		return r->label ? 0 : -ENOMEM;
	}
	if (n > 2 && data[0] == '0' && (data[1] == 'x' || data[1] == 'X')) {
		if (n % 2 != 0) {
			return sx_cf_err(w->cf, "odd number of hex digits in '%s'", data);
		}
		r->elen = (uint16_t)((n - 2) / 2);
		r->edata = malloc(r->elen);
		if (!r->edata) {
			return -ENOMEM;
		}
		for (size_t i = 0; i < r->elen; i++) {
			int b = hex_byte(data + 2 + 2 * i);
			if (b < 0) {
				return sx_cf_err(w->cf, "not hex: '%s'", data);
			}
			r->edata[i] = (uint8_t)b;
		}
	} else {
		r->elen = (uint16_t)n;
		r->edata = malloc(n + 1);
		if (!r->edata) {
			return -ENOMEM;
		}
		memcpy(r->edata, data, n);
	}
	if (r->elen > 512) {
		return sx_cf_err(w->cf, "EDNS0 option data longer than 512 bytes");
	}
	return 0;
}

static int
parse_edns0(struct words *w, struct rewrite *r)
{
	static const char *const actions[] = { "set", "replace", "append", "unset" };
	const char *kind = next(w), *action = next(w);
	size_t i;

	if (!kind || !action) {
		return sx_cf_err(w->cf, "edns0 needs local, nsid or subnet and an action");
	}
	for (i = 0; i < 4 && strcasecmp(action, actions[i]); i++) {
	}
	if (i == 4) {
		return sx_cf_err(w->cf,
		                 "edns0 action must be set, replace, append or unset, not '%s'",
		                 action);
	}
	r->eaction = (enum rw_edns_action)i;
	if (!strcasecmp(kind, "local")) {
		r->ekind = RW_EDNS_LOCAL;
		return parse_local(w, r);
	}
	if (!strcasecmp(kind, "nsid")) {
		r->ekind = RW_EDNS_NSID;
		r->ecode = 3;
		return 0;
	}
	if (!strcasecmp(kind, "subnet")) {
		const char *v4 = r->eaction == RW_UNSET ? "0" : next(w);
		const char *v6 = r->eaction == RW_UNSET ? "0" : next(w);
		uint32_t b4, b6;

		r->ekind = RW_EDNS_SUBNET;
		r->ecode = 8;
		if (!v4 || !v6 || !parse_u32(v4, &b4) || !parse_u32(v6, &b6) || b4 > 32 ||
		    b6 > 128) {
			return sx_cf_err(w->cf, "edns0 subnet needs IPv4 (0-32) and IPv6 (0-128) "
			                        "prefix lengths");
		}
		r->v4bits = (uint8_t)b4;
		r->v6bits = (uint8_t)b6;
		return 0;
	}
	return sx_cf_err(w->cf, "edns0 supports local, nsid and subnet, not '%s'", kind);
}

int
rw_parse(struct sx_cf *cf, struct rewrite *r)
{
	struct words w = { cf, 1 };
	const char *a = next(&w), *extra;
	int rc;

	if (a && (!strcasecmp(a, "continue") || !strcasecmp(a, "stop"))) {
		r->cont = !strcasecmp(a, "continue");
		a = next(&w);
	}
	if (!a) {
		return sx_cf_err(cf, "missing rule: name, type, class, ttl, rcode or edns0");
	}
	if (!strcasecmp(a, "name")) {
		r->field = RW_NAME;
		rc = parse_name(&w, r);
	} else if (!strcasecmp(a, "type")) {
		r->field = RW_TYPE;
		rc = parse_pair(&w, r, type_of, "type");
	} else if (!strcasecmp(a, "class")) {
		r->field = RW_CLASS;
		rc = parse_pair(&w, r, class_of, "class");
	} else if (!strcasecmp(a, "ttl")) {
		r->field = RW_TTL;
		rc = parse_ttl(&w, r);
	} else if (!strcasecmp(a, "rcode")) {
		r->field = RW_RCODE;
		rc = parse_rcode(&w, r);
	} else if (!strcasecmp(a, "edns0")) {
		r->field = RW_EDNS0;
		rc = parse_edns0(&w, r);
	} else {
		return sx_cf_err(cf, "unknown rule '%s': name, type, class, ttl, rcode or edns0",
		                 a);
	}
	if (rc < 0) {
		return rc;
	}
	if ((extra = next(&w))) {
		return sx_cf_err(cf, "unexpected '%s'", extra);
	}
	return 0;
}

int
rw_expand(const char *tmpl, const char *subject, const PCRE2_SIZE *ov, uint32_t ngroups, char *out,
          size_t cap)
{
	size_t n = 0;

	for (const char *p = tmpl; *p;) {
		const char *src = p;
		size_t len = 1;
		char *end;

		if (p[0] == '{' && isdigit((unsigned char)p[1])) {
			unsigned long g = strtoul(p + 1, &end, 10);

			if (*end == '}' && g <= ngroups) {
				p = end + 1;
				if (ov[2 * g] == PCRE2_UNSET) {
					continue;
				}
				src = subject + ov[2 * g];
				len = ov[2 * g + 1] - ov[2 * g];
				goto copy;
			}
		}
		p++;
copy:
		if (n + len >= cap) {
			return -1;
		}
		memcpy(out + n, src, len);
		n += len;
	}
	out[n] = '\0';
	return (int)n;
}
