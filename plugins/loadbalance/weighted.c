/* weighted.c -- the weighted policy: the weight file, and a weighted pick of the first address. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/wire.h>

#include "lb.h"

/* Entries compare by name (zero-padded, so whole arrays compare), then address. */
static int
entry_cmp(const void *a, const void *b)
{
	const struct lb_weight *x = a, *y = b;
	int c = memcmp(x->name, y->name, sizeof(x->name));

	if (c == 0) {
		c = (int)x->alen - (int)y->alen;
	}
	return c ? c : memcmp(x->addr, y->addr, sizeof(x->addr));
}

static int
add(struct lb_weights **ws, size_t *cap, const struct lb_weight *e)
{
	if ((*ws)->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		struct lb_weights *n = realloc(*ws, sizeof(**ws) + ncap * sizeof(n->e[0]));

		if (!n) {
			return -ENOMEM;
		}
		*ws = n;
		*cap = ncap;
	}
	(*ws)->e[(*ws)->n++] = *e;
	return 0;
}

/* One line of @path (@lineno) into @ws; @name is the domain the address lines belong to. */
static int
parse_line(char *line, uint8_t name[SX_DNAME_MAX], bool *have_name, struct lb_weights **ws,
           size_t *cap, char *err, size_t errlen)
{
	char *f[3], *save = NULL;
	struct lb_weight e = { 0 };
	unsigned nf = 0;
	unsigned long w;
	char *end;

	for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		f[nf < 3 ? nf : 2] = t;
		nf++;
	}
	if (nf == 1) {
		if (inet_pton(AF_INET, f[0], e.addr) == 1 ||
		    inet_pton(AF_INET6, f[0], e.addr) == 1) {
			snprintf(err, errlen,
			         "wrong domain name: \"%s\" (maybe a missing weight value?)", f[0]);
			return SX_EINVAL;
		}
		if (sx_dname_from_str(name, f[0]) < 0) {
			snprintf(err, errlen, "wrong domain name: \"%s\"", f[0]);
			return SX_EINVAL;
		}
		sx_dname_lower(name, name);
		*have_name = true;
		return 0;
	}
	if (nf != 2) {
		snprintf(err, errlen, "could not parse weight line: \"%s\"", f[0]);
		return SX_EINVAL;
	}
	if (inet_pton(AF_INET, f[0], e.addr) == 1) {
		e.alen = 4;
	} else if (inet_pton(AF_INET6, f[0], e.addr) == 1) {
		e.alen = 16;
	} else {
		snprintf(err, errlen, "wrong IP address: \"%s\"", f[0]);
		return SX_EINVAL;
	}
	w = strtoul(f[1], &end, 10);
	if (!isdigit((unsigned char)f[1][0]) || *end || w < 1 || w > 255) {
		snprintf(err, errlen, "wrong weight value: \"%s\" (1 to 255)", f[1]);
		return SX_EINVAL;
	}
	if (!*have_name) {
		snprintf(err, errlen, "missing domain name before \"%s\"", f[0]);
		return SX_EINVAL;
	}
	memcpy(e.name, name, sx_dname_len(name));
	e.weight = (uint8_t)w;
	return add(ws, cap, &e);
}

int
lb_weights_load(const char *path, struct lb_weights **out, uint64_t *digest, char *err,
                size_t errlen)
{
	uint8_t name[SX_DNAME_MAX] = { 0 };
	struct lb_weights *ws = calloc(1, sizeof(*ws));
	bool have_name = false;
	uint64_t h = 1469598103934665603ull; /* FNV-1a of the contents: did they change? */
	size_t cap = 0, size = 0;
	char *line = NULL, why[300];
	unsigned lineno = 0;
	ssize_t len;
	FILE *fp;
	int rc = 0;

	*out = NULL;
	if (!ws) {
		return -ENOMEM;
	}
	if (!(fp = fopen(path, "r"))) {
		rc = -errno;
		snprintf(err, errlen, "cannot open weight file %s: %s", path, strerror(errno));
		free(ws);
		return rc;
	}
	while (rc == 0 && (len = getline(&line, &size, fp)) >= 0) {
		char *p = line;

		lineno++;
		for (ssize_t i = 0; i < len; i++) {
			h = (h ^ (uint8_t)line[i]) * 1099511628211ull;
		}
		line[strcspn(line, "\n")] = '\0';
		while (isspace((unsigned char)*p)) {
			p++;
		}
		if (*p == '\0' || *p == '#') {
			continue;
		}
		rc = parse_line(p, name, &have_name, &ws, &cap, why, sizeof(why));
		if (rc == SX_EINVAL) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
		}
	}
	free(line);
	fclose(fp);
	if (rc < 0) {
		free(ws);
		return rc;
	}
	qsort(ws->e, ws->n, sizeof(ws->e[0]), entry_cmp);
	*digest = h;
	*out = ws;
	return 0;
}

/* The weight of address record @rr of @wire (@len bytes): the file's, else 1, as CoreDNS. */
static unsigned
weight_of(const struct lb_weights *ws, const uint8_t *wire, size_t len, const struct sx_rr *rr)
{
	struct lb_weight key = { 0 };
	const struct lb_weight *e;

	if (!ws || ws->n == 0 || sx_wire_name(wire, len, rr->owner_off, key.name) < 0 ||
	    (rr->rdlen != 4 && rr->rdlen != 16)) {
		return 1;
	}
	sx_dname_lower(key.name, key.name);
	key.alen = (uint8_t)rr->rdlen;
	memcpy(key.addr, wire + rr->rdata_off, rr->rdlen);
	e = bsearch(&key, ws->e, ws->n, sizeof(ws->e[0]), entry_cmp);
	return e ? e->weight : 1;
}

/*
 * A section's @n records from @first on, as CoreDNS orders them: CNAMEs, other
 * types, addresses, MX; the address picked by weight goes first among the
 * addresses, the others keep their order. A section without addresses stays.
 */
static bool
weighted_section(struct lb_worker *w, unsigned first, unsigned n, const uint8_t *wire, size_t len,
                 const struct lb_weights *ws)
{
	uint16_t *o = w->order + first;
	const struct sx_rr *rr = w->rr + first;
	unsigned i, k = 0, from, to, sum = 0, v, pick;
	uint16_t t;

	for (i = 0; i < n; i++) {
		o[i] = (uint16_t)(first + i);
	}
	lb_order_by_kind(o, rr, first, n, &from, &to);
	if (from == to) {
		for (i = 0; i < n; i++) {
			o[i] = (uint16_t)(first + i);
		}
		return false;
	}
	for (i = from; i < to; i++) {
		sum += weight_of(ws, wire, len, &w->rr[o[i]]);
	}
	v = lb_below(&w->rng, sum);
	for (pick = from; pick + 1 < to; pick++) {
		unsigned wt = weight_of(ws, wire, len, &w->rr[o[pick]]);

		if (v < wt) {
			break;
		}
		v -= wt;
	}
	t = o[from];
	o[from] = o[pick];
	o[pick] = t;
	for (k = 0; k < n; k++) {
		if (o[k] != first + k) {
			return true;
		}
	}
	return false;
}

void
lb_weighted(struct sx_msg *msg, struct lb_worker *w, const struct lb_weights *ws)
{
	unsigned count[3], n, first;
	bool moved = false;

	for (int s = 0; s < 3; s++) {
		count[s] = sx_msg_count(msg, (enum sx_section)s);
	}
	n = lb_records(msg, w->rr, count);
	if (n == 0) {
		return;
	}
	/* Answer and additional, as CoreDNS; the authority section keeps its order. */
	moved |= weighted_section(w, 0, count[0], msg->wire, msg->len, ws);
	first = count[0];
	for (unsigned i = 0; i < count[1]; i++) {
		w->order[first + i] = (uint16_t)(first + i);
	}
	first += count[1];
	moved |= weighted_section(w, first, count[2], msg->wire, msg->len, ws);
	if (moved) {
		lb_apply(msg, w, n, count);
	}
}
