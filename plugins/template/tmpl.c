/* tmpl.c -- the Go template subset of template's records: compiled once, expanded per query. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>

#include "tmpl.h"

/*
 * CoreDNS runs each record through Go's text/template. The actions its README
 * documents and its users write are understood here: .Name .Zone .Class .Type
 * .Remote, .Group.NAME, index .Match N, and parseInt on a group or a match;
 * the "{{-" and "-}}" markers trim the spaces next to them. Anything else is
 * refused when the Corefile is read, so a template never fails to parse at
 * query time.
 */

static int
add(struct tmpl *t, const struct tmpl_part *p)
{
	struct tmpl_part *parts = realloc(t->parts, (t->n + 1) * sizeof(*parts));

	if (!parts) {
		return -ENOMEM;
	}
	t->parts = parts;
	t->parts[t->n++] = *p;
	return 0;
}

static int
add_text(struct tmpl *t, const char *s, size_t len)
{
	struct tmpl_part p = { .kind = TMPL_TEXT, .len = len };

	if (len == 0) {
		return 0;
	}
	p.text = strndup(s, len);
	if (!p.text) {
		return -ENOMEM;
	}
	if (add(t, &p) < 0) {
		free(p.text);
		return -ENOMEM;
	}
	return 0;
}

static bool
ident(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_') {
		return false;
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_') {
			return false;
		}
	}
	return true;
}

/* A value: .Name, .Zone, .Class, .Type, .Remote, .Group.NAME or "index .Match N". */
static int
value(const char *s, struct tmpl_part *p)
{
	static const struct {
		const char *name;
		enum tmpl_kind kind;
	} fields[] = {
		{ ".Name", TMPL_NAME }, { ".Zone", TMPL_ZONE },     { ".Class", TMPL_CLASS },
		{ ".Type", TMPL_TYPE }, { ".Remote", TMPL_REMOTE },
	};
	char idx[16], extra[2];
	unsigned n;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(s, fields[i].name) == 0) {
			p->kind = fields[i].kind;
			return 0;
		}
	}
	if (strncmp(s, ".Group.", 7) == 0 && ident(s + 7)) {
		p->kind = TMPL_GROUP;
		p->text = strdup(s + 7);
		return p->text ? 0 : -ENOMEM;
	}
	if (sscanf(s, "index .Match %15s %1s", idx, extra) == 1 && isdigit((unsigned char)idx[0]) &&
	    sscanf(idx, "%u", &n) == 1 && n < 1000) {
		p->kind = TMPL_MATCH;
		p->idx = n;
		return 0;
	}
	return SX_EINVAL;
}

/* The inside of one action, spaces trimmed. */
static int
action(char *s, struct tmpl_part *p)
{
	char *arg, *rest, *end;
	long base, bits;

	if (strncmp(s, "parseInt", 8) != 0 || !isspace((unsigned char)s[8])) {
		return value(s, p);
	}
	arg = s + 9;
	while (isspace((unsigned char)*arg)) {
		arg++;
	}
	if (*arg == '(') {
		rest = strchr(arg, ')');
		if (!rest) {
			return SX_EINVAL;
		}
		*rest++ = '\0';
		arg++;
	} else {
		rest = arg + strcspn(arg, " \t");
		if (*rest) {
			*rest++ = '\0';
		}
	}
	while (isspace((unsigned char)*arg)) {
		arg++;
	}
	for (end = arg + strlen(arg); end > arg && isspace((unsigned char)end[-1]); end--) {
	}
	*end = '\0';
	if (value(arg, p) < 0 || (p->kind != TMPL_GROUP && p->kind != TMPL_MATCH)) {
		return SX_EINVAL;
	}
	base = strtol(rest, &end, 10);
	if (end == rest || (base != 0 && (base < 2 || base > 36))) {
		return SX_EINVAL;
	}
	rest = end;
	bits = strtol(rest, &end, 10);
	if (end == rest || bits < 0 || bits > 64) {
		return SX_EINVAL;
	}
	while (isspace((unsigned char)*end)) {
		end++;
	}
	if (*end) {
		return SX_EINVAL;
	}
	p->parseint = true;
	p->base = (int)base;
	p->bits = bits == 0 ? 64 : (int)bits;
	return 0;
}

int
tmpl_compile(struct tmpl *t, const char *src, char *err, size_t cap)
{
	const char *s = src;
	bool trim_next = false;

	memset(t, 0, sizeof(*t));
	t->fixed = true;
	for (;;) {
		const char *open = strstr(s, "{{"), *close, *text_end, *in, *in_end;
		struct tmpl_part p = { 0 };
		char buf[256];
		int rc;

		if (trim_next) {
			while (isspace((unsigned char)*s)) {
				s++;
			}
		}
		text_end = open ? open : s + strlen(s);
		in = open ? open + 2 : NULL;
		if (open && in[0] == '-' && isspace((unsigned char)in[1])) {
			while (text_end > s && isspace((unsigned char)text_end[-1])) {
				text_end--;
			}
			in += 2;
		}
		rc = add_text(t, s, (size_t)(text_end - s));
		if (rc < 0 || !open) {
			return rc;
		}
		close = strstr(in, "}}");
		if (!close) {
			snprintf(err, cap, "unclosed action in template '%s'", src);
			return SX_EINVAL;
		}
		in_end = close;
		trim_next = in_end - in >= 2 && in_end[-1] == '-' &&
		            isspace((unsigned char)in_end[-2]);
		if (trim_next) {
			in_end -= 2;
		}
		while (in < in_end && isspace((unsigned char)*in)) {
			in++;
		}
		while (in_end > in && isspace((unsigned char)in_end[-1])) {
			in_end--;
		}
		if ((size_t)(in_end - in) >= sizeof(buf)) {
			snprintf(err, cap, "template action too long in '%s'", src);
			return SX_EINVAL;
		}
		memcpy(buf, in, (size_t)(in_end - in));
		buf[in_end - in] = '\0';
		rc = action(buf, &p);
		if (rc == 0) {
			rc = add(t, &p);
		}
		if (rc < 0) {
			free(p.text);
			if (rc == SX_EINVAL) {
				snprintf(
				        err, cap,
				        "unsupported template action '{{ %s }}' (known: .Name .Zone "
				        ".Class .Type .Remote .Group.NAME, index .Match N, parseInt)",
				        buf);
			}
			return rc;
		}
		t->fixed = false;
		s = close + 2;
	}
}

void
tmpl_fini(struct tmpl *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->parts[i].text);
	}
	free(t->parts);
	memset(t, 0, sizeof(*t));
}

/* Group @i of the match, "" when it took no part. @return false when there is no such group. */
static bool
group(const struct tmpl_data *d, uint32_t i, const char **s, size_t *len)
{
	if (i >= d->ngroups) {
		return false;
	}
	if (d->ov[2 * i] == PCRE2_UNSET) {
		*s = "";
		*len = 0;
	} else {
		*s = d->subject + d->ov[2 * i];
		*len = d->ov[2 * i + 1] - d->ov[2 * i];
	}
	return true;
}

/* parseInt: strconv.ParseUint(s, base, bits), printed in decimal. */
static int
parse_int(const char *s, size_t len, int base, int bits, char *out, size_t cap)
{
	char num[72], *end;
	unsigned long long v;

	if (len == 0 || len >= sizeof(num) || s[0] == '-' || s[0] == '+' ||
	    isspace((unsigned char)s[0])) {
		return SX_EINVAL;
	}
	memcpy(num, s, len);
	num[len] = '\0';
	errno = 0;
	v = strtoull(num, &end, base);
	if (errno || *end || (bits < 64 && v >> bits)) {
		return SX_EINVAL;
	}
	return snprintf(out, cap, "%llu", v);
}

int
tmpl_expand(const struct tmpl *t, const struct tmpl_data *d, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct tmpl_part *p = &t->parts[i];
		const char *s = NULL;
		size_t len = 0;
		char num[32];

		switch (p->kind) {
		case TMPL_TEXT:
			s = p->text;
			len = p->len;
			break;
		case TMPL_NAME:
			s = d->name;
			break;
		case TMPL_ZONE:
			s = d->zone;
			break;
		case TMPL_CLASS:
			s = d->class;
			break;
		case TMPL_TYPE:
			s = d->type;
			break;
		case TMPL_REMOTE:
			s = d->remote;
			break;
		case TMPL_GROUP: {
			int g = pcre2_substring_number_from_name(d->re, (PCRE2_SPTR)p->text);

			if (g < 0 || !group(d, (uint32_t)g, &s, &len)) {
				if (p->parseint) {
					return SX_EINVAL;
				}
				s = "<no value>"; /* what Go prints for a missing map key */
				len = strlen(s);
			}
			break;
		}
		case TMPL_MATCH:
			if (!group(d, p->idx, &s, &len)) {
				return SX_EINVAL; /* index out of range */
			}
			break;
		}
		if (p->kind != TMPL_TEXT && p->kind != TMPL_GROUP && p->kind != TMPL_MATCH) {
			len = strlen(s);
		}
		if (p->parseint) {
			int k = parse_int(s, len, p->base, p->bits, num, sizeof(num));

			if (k < 0) {
				return k;
			}
			s = num;
			len = (size_t)k;
		}
		if (n + len >= cap) {
			return SX_ETRUNC;
		}
		memcpy(out + n, s, len);
		n += len;
	}
	out[n] = '\0';
	return (int)n;
}
