/* directive.c -- plugin option tables: matching lines to rows, counts, repeats, generic setters. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>

#include "cf_internal.h"

#define FIELD(inst, d, type) ((type *)(void *)((char *)(inst) + (d)->offset))

int
sx_set_flag(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	*FIELD(inst, d, bool) = true;
	return 0;
}

int
sx_set_str(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	const char *arg = sx_cf_arg(cf, 1);
	char **field = FIELD(inst, d, char *);
	char *v;

	if (!arg) {
		return sx_cf_err(cf, "'%s' needs a value", d->name);
	}
	v = strdup(arg);
	if (!v) {
		return -ENOMEM;
	}
	free(*field);
	*field = v;
	return 0;
}

/* A row's hi <= 0 means no upper bound (rows leave it out); the field's type caps the value. */
static void
bounds(const struct sx_directive *d, unsigned long long max, unsigned long long *lo,
       unsigned long long *hi)
{
	*lo = d->lo > 0 ? (unsigned long long)d->lo : 0;
	*hi = d->hi <= 0 || (unsigned long long)d->hi > max ? max : (unsigned long long)d->hi;
}

int
sx_set_uint(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	const char *arg = sx_cf_arg(cf, 1);
	unsigned long long lo, hi, v = 0;
	char *end;

	bounds(d, UINT_MAX, &lo, &hi);
	if (arg && arg[0] >= '0' && arg[0] <= '9') {
		errno = 0;
		v = strtoull(arg, &end, 10);
		if (errno || *end) {
			arg = NULL;
		}
	} else {
		arg = NULL;
	}
	if (!arg || v < lo || v > hi) {
		return sx_cf_err(cf, "%s must be in range [%llu, %llu], not '%s'", d->name, lo, hi,
		                 sx_cf_arg(cf, 1) ? sx_cf_arg(cf, 1) : "");
	}
	*FIELD(inst, d, unsigned) = (unsigned)v;
	return 0;
}

/* A duration in the shortest Go form: 1h30m, 5s, 1s500ms, 0s. */
static void
fmt_ms(char *buf, size_t len, unsigned long long ms)
{
	static const struct {
		const char *unit;
		unsigned long long ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && n < len; i++) {
		if (ms >= units[i].ms) {
			n += (size_t)snprintf(buf + n, len - n, "%llu%s", ms / units[i].ms,
			                      units[i].unit);
			ms %= units[i].ms;
		}
	}
	if (buf[0] == '\0') {
		snprintf(buf, len, "0s");
	}
}

int
sx_set_duration(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	const char *arg = sx_cf_arg(cf, 1);
	unsigned long long lo, hi;
	char los[64], his[64];
	uint64_t ms;

	if (!arg || sx_parse_duration(arg, &ms) < 0) {
		return sx_cf_err(cf, "%s: invalid duration '%s' (examples: 500ms, 30s, 5m, 1h30m)",
		                 d->name, arg ? arg : "");
	}
	bounds(d, UINT64_MAX, &lo, &hi);
	if (ms < lo || ms > hi) {
		fmt_ms(los, sizeof(los), lo);
		fmt_ms(his, sizeof(his), hi);
		if (hi == UINT64_MAX) {
			return sx_cf_err(cf, "%s must be at least %s, not '%s'", d->name, los, arg);
		}
		return sx_cf_err(cf, "%s must be in range [%s, %s], not '%s'", d->name, los, his,
		                 arg);
	}
	*FIELD(inst, d, uint64_t) = ms;
	return 0;
}

int
sx_set_zones(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct sx_zones *z = FIELD(inst, d, struct sx_zones);

	sx_zones_fini(z);
	return sx_cf_zones(cf, 1, sx_cf_block_zones(cf), NULL, z);
}

/* ---- the table walk ---- */

static int
count_err(struct sx_cf *cf, const struct sx_directive *d, const char *name)
{
	char want[64];

	if (d->max_args == d->min_args) {
		snprintf(want, sizeof(want), "%d", d->min_args);
	} else if (d->max_args < 0) {
		snprintf(want, sizeof(want), "at least %d", d->min_args);
	} else {
		snprintf(want, sizeof(want), "%d to %d", d->min_args, d->max_args);
	}
	return sx_cf_err(cf, "wrong argument count for '%s' (expects %s)", name, want);
}

/* Whether an earlier line of the block has the option @name. */
static bool
seen_before(const struct sx_cf *cf, const char *name)
{
	for (size_t i = 1; i < cf->cur; i++) {
		if (strcmp(cf->lines[i].tok[0].text, name) == 0) {
			return true;
		}
	}
	return false;
}

int
sx_directives_run(struct sx_cf *cf, const struct sx_plugin *p, void *inst)
{
	const struct sx_directive *rows = p->directives, *d, *star;
	size_t nrows = 0;
	bool *seen;
	int rc = 0;

	while (rows[nrows].name) {
		nrows++;
	}
	seen = calloc(nrows + 1, sizeof(*seen));
	if (!seen) {
		return -ENOMEM;
	}
	while (rc == 0 && sx_cf_next_line(cf)) {
		const char *name = sx_cf_arg(cf, 0);
		int nargs = sx_cf_nargs(cf) - 1;

		d = star = NULL;
		for (size_t i = 0; i < nrows && !d; i++) {
			if (strcmp(rows[i].name, name) == 0) {
				d = &rows[i];
			} else if (strcmp(rows[i].name, "*") == 0) {
				star = &rows[i];
			}
		}
		if (!d && !star) {
			rc = sx_cf_err(cf, "unknown property '%s'", name);
			break;
		}
		/* A "*" row takes many names: a repeat is the same name on an earlier line. */
		if (d ? !d->repeat && seen[d - rows] : !star->repeat && seen_before(cf, name)) {
			rc = sx_cf_err(cf, "'%s' is given twice", name);
			break;
		}
		d = d ? d : star;
		seen[d - rows] = true;
		if (nargs < d->min_args || (d->max_args >= 0 && nargs > d->max_args)) {
			rc = count_err(cf, d, name);
			break;
		}
		if (d->set) {
			rc = d->set(cf, d, inst);
		}
	}
	free(seen);
	return rc;
}
