/* cf.c -- the setup-time cursor over one directive's lines, zones and durations for plugins. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>

#include "address.h"
#include "fold.h"
#include "cf_internal.h"
#include "labels.h"

static bool
is_brace(const struct sx_token *t, char c)
{
	return !t->quoted && t->text[0] == c && t->text[1] == '\0';
}

static int verr_at(struct sx_cf *cf, const struct sx_token *t, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
static int err_at(struct sx_cf *cf, const struct sx_token *t, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
verr_at(struct sx_cf *cf, const struct sx_token *t, const char *fmt, va_list ap)
{
	int n;

	n = snprintf(cf->err, cf->errlen, "%s:%d: plugin/%s: ", t->file, t->line, cf->plugin);
	if (n >= 0 && (size_t)n < cf->errlen) {
		vsnprintf(cf->err + n, cf->errlen - (size_t)n, fmt, ap);
	}
	return SX_EINVAL;
}

static int
err_at(struct sx_cf *cf, const struct sx_token *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(cf, t, fmt, ap);
	va_end(ap);
	return SX_EINVAL;
}

int
sx_cf_err(struct sx_cf *cf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(cf, cf->lines[cf->cur].tok, fmt, ap);
	va_end(ap);
	return SX_EINVAL;
}

static int
add_line(struct sx_cf *cf, const struct sx_token *tok, int n)
{
	struct sx_cf_line *l = cf->lines;

	if (cf->nlines == cf->linecap) {
		l = reallocarray(l, cf->linecap ? cf->linecap * 2 : 16, sizeof(*l));
		if (!l) {
			return -ENOMEM;
		}
		cf->lines = l;
		cf->linecap = cf->linecap ? cf->linecap * 2 : 16;
	}
	l[cf->nlines++] = (struct sx_cf_line){ .tok = tok, .n = n };
	return 0;
}

/*
 * The parser guarantees the shape NAME ARGS... [{ ... }] with balanced
 * braces. A line ends where the next one starts or at a brace.
 */
int
sx_cf_set_directive(struct sx_cf *cf, const struct sx_cf_block *b, const struct sx_cf_dir *d,
                    const char *plugin)
{
	const struct sx_token *t = b->tokens + d->first;
	size_t n = d->count, i = 1, start;
	int rc;

	cf->plugin = plugin;
	cf->cblock = b;
	cf->dindex = (size_t)(d - b->dirs);
	cf->nlines = cf->cur = 0;
	cf->has_block = cf->visited = false;
	while (i < n && !t[i].bol && !is_brace(&t[i], '{')) {
		i++;
	}
	rc = add_line(cf, t, (int)i);
	if (rc < 0 || i == n) {
		return rc;
	}
	cf->has_block = true;
	for (i++; i < n;) {
		if (is_brace(&t[i], '}')) {
			if (i + 1 < n) {
				return err_at(cf, &t[i + 1], "unexpected '%s' after '}'",
				              t[i + 1].text);
			}
			break;
		}
		start = i++;
		while (i < n && !t[i].bol && !is_brace(&t[i], '{') && !is_brace(&t[i], '}')) {
			i++;
		}
		if (is_brace(&t[start], '{') || (i < n && is_brace(&t[i], '{'))) {
			return err_at(cf, &t[start], "unexpected nested block");
		}
		rc = add_line(cf, &t[start], (int)(i - start));
		if (rc < 0) {
			return rc;
		}
	}
	return 0;
}

void
sx_cf_rewind(struct sx_cf *cf)
{
	cf->cur = 0;
}

void
sx_cf_fini(struct sx_cf *cf)
{
	free(cf->lines);
	cf->lines = NULL;
	cf->nlines = cf->linecap = 0;
}

int
sx_cf_nargs(const struct sx_cf *cf)
{
	return cf->lines[cf->cur].n;
}

const char *
sx_cf_arg(const struct sx_cf *cf, int i)
{
	if (i < 0 || i >= cf->lines[cf->cur].n) {
		return NULL;
	}
	return cf->lines[cf->cur].tok[i].text;
}

bool
sx_cf_next_line(struct sx_cf *cf)
{
	cf->visited = true;
	if (cf->cur + 1 >= cf->nlines) {
		return false;
	}
	cf->cur++;
	return true;
}

bool
sx_cf_has_block(const struct sx_cf *cf)
{
	return cf->has_block;
}

bool
sx_cf_repeated_after(const struct sx_cf *cf)
{
	for (size_t i = cf->dindex + 1; cf->cblock && i < cf->cblock->ndirs; i++) {
		if (!strcmp(cf->cblock->tokens[cf->cblock->dirs[i].first].text, cf->plugin)) {
			return true;
		}
	}
	return false;
}

void *
sx_cf_first_instance(const struct sx_cf *cf)
{
	return cf->first;
}

const char *
sx_cf_file(const struct sx_cf *cf)
{
	return cf->lines[cf->cur].tok->file;
}

int
sx_cf_line(const struct sx_cf *cf)
{
	return cf->lines[cf->cur].tok->line;
}

const char *
sx_cf_dir(const struct sx_cf *cf)
{
	return cf->dir;
}

const struct sx_zones *
sx_cf_block_zones(const struct sx_cf *cf)
{
	return &cf->block->zones;
}

bool
sx_cf_block_has(const struct sx_cf *cf, const char *name, const char *last_arg)
{
	const struct sx_cf_block *b = cf->cblock;

	for (size_t d = 0; b && d < b->ndirs; d++) {
		const struct sx_token *t = &b->tokens[b->dirs[d].first];
		size_t last = 0;

		if (strcmp(t->text, name) != 0) {
			continue;
		}
		if (!last_arg) {
			return true;
		}
		/* The directive line's arguments: tokens up to the next line or its block. */
		for (size_t i = 1; i < b->dirs[d].count && !t[i].bol; i++) {
			if (!t[i].quoted && strcmp(t[i].text, "{") == 0) {
				break;
			}
			last = i;
		}
		if (last && strcmp(t[last].text, last_arg) == 0) {
			return true;
		}
	}
	return false;
}

uint16_t
sx_cf_block_port(const struct sx_cf *cf, size_t i)
{
	return i < cf->block->zones.n ? cf->block->ports[i] : 0;
}

unsigned
sx_cf_workers(const struct sx_cf *cf)
{
	return cf->workers;
}

const struct sx_block *
sx_cf_block(const struct sx_cf *cf)
{
	return cf->block;
}

bool
sx_block_listen(const struct sx_block *b, size_t i, struct sockaddr_storage *out)
{
	if (i >= b->nlisten) {
		return false;
	}
	*out = b->listen[i];
	/* The block's port is its zones' (sx_cf_block_port()), whatever `bind` passed. */
	if (out->ss_family == AF_INET) {
		((struct sockaddr_in *)out)->sin_port = 0;
	} else {
		((struct sockaddr_in6 *)out)->sin6_port = 0;
	}
	return true;
}

int
sx_cf_add_listen(struct sx_cf *cf, const struct sockaddr *sa, socklen_t salen)
{
	struct sx_block *b = cf->block;
	struct sockaddr_storage ss = { 0 }, *l;

	if (!sa || salen > sizeof(ss) || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    salen < (sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
	                                      : sizeof(struct sockaddr_in6))) {
		return SX_EINVAL;
	}
	memcpy(&ss, sa, salen);
	for (size_t i = 0; i < b->nlisten; i++) {
		if (memcmp(&b->listen[i], &ss, sizeof(ss)) == 0) {
			return 0;
		}
	}
	l = reallocarray(b->listen, b->nlisten + 1, sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	b->listen = l;
	l[b->nlisten++] = ss;
	return 0;
}

void
sx_cf_set_tcp_timeouts(struct sx_cf *cf, uint64_t read_ms, uint64_t write_ms, uint64_t idle_ms)
{
	cf->block->tcp_read_ms = read_ms;
	cf->block->tcp_write_ms = write_ms;
	cf->block->tcp_idle_ms = idle_ms;
}

/* ---- zones ---- */

static bool
within_any(const struct sx_zones *set, const struct sx_zone *z)
{
	for (size_t i = 0; i < set->n; i++) {
		if (sx_dname_is_sub(z->wire, set->z[i].wire)) {
			return true;
		}
	}
	return false;
}

int
sx_cf_zones(struct sx_cf *cf, int first, const struct sx_zones *dflt, const struct sx_zones *within,
            struct sx_zones *out)
{
	return sx_cf_zones_until(cf, first, sx_cf_nargs(cf), dflt, within, out);
}

int
sx_cf_zones_until(struct sx_cf *cf, int first, int end, const struct sx_zones *dflt,
                  const struct sx_zones *within, struct sx_zones *out)
{
	char msg[512];
	int rc = 0;

	if (end > sx_cf_nargs(cf)) {
		end = sx_cf_nargs(cf);
	}
	for (int i = first; i < end && rc == 0; i++) {
		rc = sx_address_zone(sx_cf_arg(cf, i), out, msg, sizeof(msg));
		if (rc < 0 && rc != -ENOMEM) {
			rc = sx_cf_err(cf, "%s", msg);
		}
	}
	if (rc == 0 && first >= end && dflt) {
		for (size_t i = 0; i < dflt->n && rc == 0; i++) {
			rc = sx_zones_push(out, dflt->z[i].wire);
		}
	}
	for (size_t i = 0; rc == 0 && within && i < out->n; i++) {
		if (!within_any(within, &out->z[i])) {
			rc = sx_cf_err(cf, "zone %s is not within the %s zones", out->z[i].name,
			               within == &cf->block->zones ? "server block" : "allowed");
		}
	}
	if (rc < 0) {
		sx_zones_fini(out);
	}
	return rc;
}

/*
 * Runs on every query, often several times: one walk over @name notes where its
 * labels start, then each zone is one compare of as many bytes as it has, at the
 * offset where it would have to start.
 */
int
sx_zones_match(const struct sx_zones *zones, const uint8_t *name)
{
	struct sx_labels label;
	size_t len = sx_labels_of(name, &label);
	int best = -1;

	for (size_t i = 0; i < zones->n; i++) {
		const struct sx_zone *z = &zones->z[i];
		size_t off = len - z->len;

		if (z->len <= len && (best < 0 || z->len > zones->z[best].len) &&
		    sx_labels_at(&label, off) && fold_eq(name + off, z->wire, z->len)) {
			best = (int)i;
		}
	}
	return best;
}

void
sx_zones_fini(struct sx_zones *zones)
{
	for (size_t i = 0; i < zones->n; i++) {
		free(zones->z[i].name);
	}
	free(zones->z);
	zones->z = NULL;
	zones->n = 0;
}

/* ---- durations ---- */

#define NS_MAX ((uint64_t)INT64_MAX) /* Go's limit: about 292 years */

static uint64_t
unit_ns(const char *u, size_t len)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
		{ "\xce\xbcs", 1000 }, /* U+03BC Greek mu */
		{ "ms", 1000000 },
		{ "s", 1000000000ull },
		{ "m", 60000000000ull },
		{ "h", 3600000000000ull },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].name) == len && memcmp(units[i].name, u, len) == 0) {
			return units[i].ns;
		}
	}
	return 0;
}

/* Go's time.ParseDuration, plus a bare integer meaning seconds; no sign allowed. */
int
sx_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t total = 0;

	if (s[0] == '\0') {
		return SX_EINVAL;
	}
	if (strspn(s, "0123456789") == strlen(s)) {
		unsigned long long v;

		errno = 0;
		v = strtoull(s, NULL, 10);
		if (errno || v > NS_MAX / 1000000000ull) {
			return SX_EINVAL;
		}
		*ms = v * 1000;
		return 0;
	}
	while (*s) {
		uint64_t whole = 0, frac = 0, scale = 1, unit, part;
		size_t nd = 0, ulen;

		for (; *s >= '0' && *s <= '9'; s++, nd++) {
			if (whole > (NS_MAX - 9) / 10) {
				return SX_EINVAL;
			}
			whole = whole * 10 + (uint64_t)(*s - '0');
		}
		if (*s == '.') {
			for (s++; *s >= '0' && *s <= '9'; s++, nd++) {
				if (scale <
				    1000000000000000000ull) { /* further digits are below 1 ns */
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
			}
		}
		ulen = strcspn(s, "0123456789.");
		unit = unit_ns(s, ulen);
		if (nd == 0 || unit == 0 || whole > NS_MAX / unit) {
			return SX_EINVAL;
		}
		s += ulen;
		part = whole * unit +
		       (uint64_t)((long double)frac * (long double)unit / (long double)scale);
		if (part > NS_MAX - total) {
			return SX_EINVAL;
		}
		total += part;
	}
	*ms = total / 1000000;
	return 0;
}
