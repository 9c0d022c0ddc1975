/* zone.c -- a zone file, read with ldns, turned into an immutable snapshot of wire-form RRsets. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>

#define CHUNK_SIZE  65536
#define TTL_UNSET   0xFFFFFFFFu /* handed to ldns as the default: marks records without a TTL */
#define DEFAULT_TTL 3600        /* no $TTL and no TTL seen yet */
#define SPACES      " \t\r\n"

struct fz_chunk {
	struct fz_chunk *next;
	size_t used, cap;
};

static void *
arena_alloc(struct fz_arena *a, size_t size)
{
	size = (size + 7) & ~(size_t)7;
	struct fz_chunk *c = a->head;
	if (c == NULL || c->cap - c->used < size) {
		size_t cap = size > CHUNK_SIZE ? size : CHUNK_SIZE;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL) {
			return NULL;
		}
		c->next = a->head;
		c->used = 0;
		c->cap = cap;
		a->head = c;
	}
	void *p = (uint8_t *)(c + 1) + c->used;
	c->used += size;
	return p;
}

static void
arena_free(struct fz_arena *a)
{
	struct fz_chunk *c = a->head;
	while (c != NULL) {
		struct fz_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

static uint32_t
hash_name(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h = (h ^ name[i]) * 16777619u;
	}
	return h;
}

static struct fz_node *
table_find(const struct fz_zone *z, const uint8_t *name, size_t len, uint32_t hash)
{
	for (uint32_t i = hash & z->mask;; i = (i + 1) & z->mask) {
		struct fz_node *n = z->table[i];
		if (n == NULL) {
			return NULL;
		}
		if (n->hash == hash && n->len == len && memcmp(n->name, name, len) == 0) {
			return n;
		}
	}
}

const struct fz_node *
fz_zone_find(const struct fz_zone *z, const uint8_t *name, size_t len)
{
	return table_find(z, name, len, hash_name(name, len));
}

const struct fz_rrset *
fz_node_rrset(const struct fz_node *n, uint16_t type)
{
	for (uint16_t i = 0; i < n->nrrsets; i++) {
		if (n->rrsets[i].type == type) {
			return &n->rrsets[i];
		}
	}
	return NULL;
}

void
fz_zone_free(struct fz_zone *z)
{
	if (z == NULL) {
		return;
	}
	arena_free(&z->arena);
	free(z->table);
	free(z);
}

/* ---- reading the file ---- */

struct rec {
	const uint8_t *owner; /* lower case */
	const uint8_t *rdata;
	size_t seq; /* file order, kept inside an RRset */
	uint32_t ttl;
	uint16_t type, rdlen;
	uint8_t olen;
	bool dup;
};

struct loader {
	const uint8_t *origin;
	struct fz_arena tmp;
	struct rec *recs;
	size_t nrecs, cap;
	ldns_buffer *buf;
	uint32_t dollar_ttl, last_ttl;
	bool have_dollar_ttl, have_last_ttl;
	bool soa_seen;
	char *err;
	size_t errlen;
};

static int
fail(struct loader *l, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int
fail(struct loader *l, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, l->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int
add_rr(struct loader *l, const ldns_rr *rr, const char *path, int line)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	size_t olen = ldns_rdf_size(o);
	uint8_t owner[SX_DNAME_MAX];
	char str[SX_DNAME_STRMAX];
	if (olen == 0 || olen > SX_DNAME_MAX || ldns_rdf_data(o)[olen - 1] != 0) {
		return fail(l, SX_EINVAL, "%s:%d: bad owner name", path, line);
	}
	memcpy(owner, ldns_rdf_data(o), olen);
	sx_dname_lower(owner, owner);
	if (!sx_dname_is_sub(owner, l->origin)) {
		sx_dname_to_str(str, sizeof(str), owner);
		return fail(l, SX_EINVAL, "%s:%d: out of zone data: %s", path, line, str);
	}
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		return fail(l, SX_EINVAL, "%s:%d: only class IN is supported", path, line);
	}
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	if (type == SX_TYPE_SOA) {
		if (!sx_dname_eq(owner, l->origin)) {
			return fail(l, SX_EINVAL, "%s:%d: SOA record not at the zone apex", path,
			            line);
		}
		/* As ldns's own zone reader does, later SOA records are dropped. */
		if (l->soa_seen) {
			return 0;
		}
		l->soa_seen = true;
	}
	uint32_t ttl = ldns_rr_ttl(rr);
	if (ttl == TTL_UNSET) {
		/* RFC 2308 section 4: $TTL; else RFC 1035 5.1: the last TTL written. */
		ttl = l->have_dollar_ttl ? l->dollar_ttl
		      : l->have_last_ttl ? l->last_ttl
		                         : DEFAULT_TTL;
	} else if (!l->have_dollar_ttl) {
		l->last_ttl = ttl;
		l->have_last_ttl = true;
	}
	ldns_buffer_clear(l->buf);
	if (ldns_rr_rdata2buffer_wire(l->buf, rr) != LDNS_STATUS_OK ||
	    ldns_buffer_position(l->buf) > UINT16_MAX) {
		return fail(l, SX_EINVAL, "%s:%d: bad rdata", path, line);
	}
	size_t rdlen = ldns_buffer_position(l->buf);
	if (l->nrecs == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 256;
		struct rec *recs = realloc(l->recs, cap * sizeof(*recs));
		if (recs == NULL) {
			return -ENOMEM;
		}
		l->recs = recs;
		l->cap = cap;
	}
	uint8_t *mem = arena_alloc(&l->tmp, olen + rdlen);
	if (mem == NULL) {
		return -ENOMEM;
	}
	memcpy(mem, owner, olen);
	memcpy(mem + olen, ldns_buffer_begin(l->buf), rdlen);
	l->recs[l->nrecs] = (struct rec){
		.owner = mem,
		.rdata = mem + olen,
		.seq = l->nrecs,
		.ttl = ttl,
		.type = type,
		.rdlen = (uint16_t)rdlen,
		.olen = (uint8_t)olen,
	};
	l->nrecs++;
	return 0;
}

static int load_file(struct loader *l, const char *path, const ldns_rdf *origin, int depth);

/*
 * ldns reports "$INCLUDE" without handing the line over: read it again from
 * @pos (where the call that saw it started) up to where ldns stopped.
 */
static int
include(struct loader *l, FILE *fp, long pos, const char *path, int line, const ldns_rdf *cur,
        int depth)
{
	long end = ftell(fp);
	char *text = NULL, *found = NULL;
	size_t cap = 0;
	int rc;
	if (end < 0 || fseek(fp, pos, SEEK_SET) < 0) {
		return fail(l, -errno, "%s:%d: %s", path, line, strerror(errno));
	}
	while (ftell(fp) < end && getline(&text, &cap, fp) >= 0) {
		char *p = text + strspn(text, " \t");
		if (strncmp(p, "$INCLUDE", 8) == 0) {
			free(found);
			found = strdup(p);
		}
	}
	free(text);
	if (fseek(fp, end, SEEK_SET) < 0 || found == NULL) {
		free(found);
		return fail(l, -EIO, "%s:%d: cannot read the $INCLUDE line again", path, line);
	}
	char *save = NULL;
	strtok_r(found, SPACES, &save);
	char *file = strtok_r(NULL, SPACES, &save);
	char *name = strtok_r(NULL, SPACES, &save);
	char *incpath = NULL;
	ldns_rdf *origin = NULL;
	if (file == NULL || file[0] == ';') {
		rc = fail(l, SX_EINVAL, "%s:%d: $INCLUDE without a file name", path, line);
		goto out;
	}
	if (depth >= FZ_MAX_INCLUDE) {
		rc = fail(l, SX_EINVAL, "%s:%d: $INCLUDE nested too deeply", path, line);
		goto out;
	}
	if (file[0] == '"') {
		file++;
		file[strcspn(file, "\"")] = '\0';
	}
	if (file[0] == '/') {
		incpath = strdup(file);
	} else {
		char *copy = strdup(path);
		if (copy != NULL && asprintf(&incpath, "%s/%s", dirname(copy), file) < 0) {
			incpath = NULL;
		}
		free(copy);
	}
	if (name != NULL && name[0] != ';') {
		origin = ldns_dname_new_frm_str(name);
		if (origin == NULL) {
			rc = fail(l, SX_EINVAL, "%s:%d: bad $INCLUDE origin \"%s\"", path, line,
			          name);
			goto out;
		}
		/* A relative origin is relative to the current one (RFC 1035 5.1). */
		if (name[strlen(name) - 1] != '.' &&
		    ldns_dname_cat(origin, cur) != LDNS_STATUS_OK) {
			rc = -ENOMEM;
			goto out;
		}
	} else {
		origin = ldns_rdf_clone(cur);
	}
	if (incpath == NULL || origin == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = load_file(l, incpath, origin, depth + 1);
out:
	if (origin != NULL) {
		ldns_rdf_deep_free(origin);
	}
	free(incpath);
	free(found);
	return rc;
}

static int
load_file(struct loader *l, const char *path, const ldns_rdf *origin, int depth)
{
	/* O_NONBLOCK: a FIFO must not stall the open; regular files ignore it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		/* Only the zone file itself may be missing for a while; a lost $INCLUDE is an error. */
		int rc = depth == 0 ? -errno : SX_EINVAL;
		return fail(l, rc, "%s: %s", path, strerror(errno));
	}
	/* A directory opens and then fails every read without ever reaching EOF. */
	struct stat st;
	const char *why = NULL;
	if (fstat(fd, &st) < 0) {
		why = strerror(errno);
	} else if (S_ISDIR(st.st_mode)) {
		why = strerror(EISDIR);
	} else if (!S_ISREG(st.st_mode)) {
		why = "not a regular file";
	}
	if (why != NULL) {
		close(fd);
		return fail(l, SX_EINVAL, "%s: %s", path, why);
	}
	FILE *fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return fail(l, -ENOMEM, "%s: %s", path, strerror(ENOMEM));
	}
	ldns_rdf *cur = ldns_rdf_clone(origin);
	ldns_rdf *prev = ldns_rdf_clone(origin);
	int line = 0;
	int rc = cur != NULL && prev != NULL ? 0 : -ENOMEM;
	while (rc == 0 && !feof(fp) && !ferror(fp)) {
		long pos = ftell(fp);
		uint32_t ttl = TTL_UNSET;
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &cur, &prev, &line);
		switch (s) {
		case LDNS_STATUS_OK:
			rc = add_rr(l, rr, path, line);
			ldns_rr_free(rr);
			break;
		case LDNS_STATUS_SYNTAX_EMPTY:
		case LDNS_STATUS_SYNTAX_ORIGIN:
			break;
		case LDNS_STATUS_SYNTAX_TTL:
			l->dollar_ttl = ttl;
			l->have_dollar_ttl = true;
			break;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			rc = include(l, fp, pos, path, line, cur, depth);
			break;
		default:
			rc = fail(l, SX_EINVAL, "%s:%d: %s", path, line,
			          ldns_get_errorstr_by_id(s));
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		rc = fail(l, -EIO, "%s: read error", path);
	}
	if (cur != NULL) {
		ldns_rdf_deep_free(cur);
	}
	if (prev != NULL) {
		ldns_rdf_deep_free(prev);
	}
	fclose(fp);
	return rc;
}

/* ---- building the snapshot ---- */

static int
cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if (x->olen != y->olen) {
		return x->olen < y->olen ? -1 : 1;
	}
	int c = memcmp(x->owner, y->owner, x->olen);
	if (c != 0) {
		return c;
	}
	if (x->type != y->type) {
		return x->type < y->type ? -1 : 1;
	}
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool
same_owner(const struct rec *a, const struct rec *b)
{
	return a->olen == b->olen && memcmp(a->owner, b->owner, a->olen) == 0;
}

static int
table_grow(struct fz_zone *z)
{
	uint32_t n = (z->mask + 1) * 2;
	struct fz_node **t = calloc(n, sizeof(*t));
	if (t == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i <= z->mask; i++) {
		struct fz_node *node = z->table[i];
		if (node == NULL) {
			continue;
		}
		uint32_t j = node->hash & (n - 1);
		while (t[j] != NULL) {
			j = (j + 1) & (n - 1);
		}
		t[j] = node;
	}
	free(z->table);
	z->table = t;
	z->mask = n - 1;
	return 0;
}

static struct fz_node *
add_node(struct fz_zone *z, const uint8_t *name, size_t len)
{
	/* Keep the table at most half full, so probes stay short. */
	if ((z->nnodes + 1) * 2 > (size_t)z->mask + 1 && table_grow(z) < 0) {
		return NULL;
	}
	struct fz_node *n = arena_alloc(&z->arena, sizeof(*n) + len);
	if (n == NULL) {
		return NULL;
	}
	uint8_t *copy = (uint8_t *)(n + 1);
	memcpy(copy, name, len);
	*n = (struct fz_node){ .name = copy, .hash = hash_name(name, len), .len = (uint8_t)len };
	uint32_t i = n->hash & z->mask;
	while (z->table[i] != NULL) {
		i = (i + 1) & z->mask;
	}
	z->table[i] = n;
	z->nnodes++;
	return n;
}

/* The records of one owner, [first, last), as RRsets (duplicates dropped, RFC 2181 5). */
static int
add_rrsets(struct fz_zone *z, struct fz_node *n, struct rec *first, struct rec *last)
{
	size_t ntypes = 0;
	for (struct rec *r = first; r < last; r++) {
		if (r == first || r->type != r[-1].type) {
			ntypes++;
		}
	}
	struct fz_rrset *sets = arena_alloc(&z->arena, ntypes * sizeof(*sets));
	if (sets == NULL) {
		return -ENOMEM;
	}
	struct rec *a = first;
	for (size_t t = 0; t < ntypes; t++) {
		struct rec *b = a;
		size_t size = 0;
		uint16_t count = 0;
		for (; b < last && b->type == a->type; b++) {
			for (struct rec *p = a; p < b && !b->dup; p++) {
				b->dup = !p->dup && p->rdlen == b->rdlen &&
				         memcmp(p->rdata, b->rdata, b->rdlen) == 0;
			}
			if (!b->dup && count < UINT16_MAX) {
				size += 6 + (size_t)b->rdlen;
				count++;
			} else {
				b->dup = true;
			}
		}
		uint8_t *data = arena_alloc(&z->arena, size);
		if (data == NULL) {
			return -ENOMEM;
		}
		sets[t] = (struct fz_rrset){ .type = a->type, .count = count, .data = data };
		for (struct rec *r = a; r < b; r++) {
			if (r->dup) {
				continue;
			}
			memcpy(data, &r->ttl, 4);
			memcpy(data + 4, &r->rdlen, 2);
			memcpy(data + 6, r->rdata, r->rdlen);
			data += 6 + r->rdlen;
		}
		z->nrecords += count;
		a = b;
	}
	n->rrsets = sets;
	n->nrrsets = (uint16_t)ntypes;
	return 0;
}

/* Every name between an owner and the apex exists (RFC 4592 2.2.2): add those as empty nodes. */
static int
add_empty_nonterminals(struct fz_zone *z, struct fz_node **owners, size_t nowners,
                       const uint8_t *origin)
{
	unsigned olabels = sx_dname_labels(origin);
	for (size_t i = 0; i < nowners; i++) {
		const uint8_t *name = owners[i]->name;
		size_t len = owners[i]->len;
		unsigned depth = sx_dname_labels(name) - olabels;
		for (unsigned k = 1; k < depth; k++) {
			const uint8_t *anc = sx_dname_skip(name, k);
			size_t alen = len - (size_t)(anc - name);
			if (table_find(z, anc, alen, hash_name(anc, alen)) != NULL) {
				break; /* its ancestors are, or will be, added from it */
			}
			if (add_node(z, anc, alen) == NULL) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* Mark each name at or below a delegation with its topmost zone cut. */
static void
find_cuts(struct fz_zone *z, const uint8_t *origin)
{
	unsigned olabels = sx_dname_labels(origin);
	for (uint32_t i = 0; i <= z->mask; i++) {
		struct fz_node *n = z->table[i];
		if (n == NULL) {
			continue;
		}
		unsigned depth = sx_dname_labels(n->name) - olabels;
		for (unsigned k = 1; k <= depth; k++) {
			const uint8_t *anc = sx_dname_skip(n->name, depth - k);
			size_t alen = n->len - (size_t)(anc - n->name);
			const struct fz_node *a = table_find(z, anc, alen, hash_name(anc, alen));
			if (a != NULL && fz_node_rrset(a, SX_TYPE_NS) != NULL) {
				n->cut = a;
				break;
			}
		}
	}
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
build(struct loader *l, struct fz_zone **out)
{
	struct fz_zone *z = calloc(1, sizeof(*z));
	struct fz_node **owners = malloc((l->nrecs + 1) * sizeof(*owners));
	size_t nowners = 0;
	int rc = -ENOMEM;
	if (z == NULL || owners == NULL) {
		goto fail_zone;
	}
	z->mask = 15;
	z->table = calloc(z->mask + 1, sizeof(*z->table));
	if (z->table == NULL) {
		goto fail_zone;
	}
	qsort(l->recs, l->nrecs, sizeof(*l->recs), cmp_rec);
	bool delegations = false;
	for (size_t i = 0, j; i < l->nrecs; i = j) {
		for (j = i + 1; j < l->nrecs && same_owner(&l->recs[i], &l->recs[j]); j++) {
		}
		struct fz_node *n = add_node(z, l->recs[i].owner, l->recs[i].olen);
		if (n == NULL || add_rrsets(z, n, &l->recs[i], &l->recs[j]) < 0) {
			goto fail_zone;
		}
		owners[nowners++] = n;
		if (fz_node_rrset(n, SX_TYPE_NS) != NULL && !sx_dname_eq(n->name, l->origin)) {
			delegations = true;
		}
	}
	if (add_empty_nonterminals(z, owners, nowners, l->origin) < 0) {
		goto fail_zone;
	}
	if (delegations) {
		find_cuts(z, l->origin);
	}
	z->apex = fz_zone_find(z, l->origin, sx_dname_len(l->origin));
	z->soa = fz_node_rrset(z->apex, SX_TYPE_SOA);
	z->ns = fz_node_rrset(z->apex, SX_TYPE_NS);
	/* SOA rdata: MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM. */
	const uint8_t *rdata = z->soa->data + 6;
	const uint8_t *rname = rdata + sx_dname_len(rdata);
	const uint8_t *nums = rname + sx_dname_len(rname);
	uint32_t ttl;
	memcpy(&ttl, z->soa->data, 4);
	z->serial = rd32(nums);
	z->neg_ttl = rd32(nums + 16) < ttl ? rd32(nums + 16) : ttl;
	free(owners);
	*out = z;
	return 0;
fail_zone:
	free(owners);
	fz_zone_free(z);
	return rc;
}

int
fz_zone_load(const char *path, const uint8_t *origin, struct fz_zone **out, char *err,
             size_t errlen)
{
	struct loader l = { .origin = origin, .err = err, .errlen = errlen };
	ldns_rdf *o = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, sx_dname_len(origin), origin);
	int rc = -ENOMEM;
	l.buf = ldns_buffer_new(1024);
	if (o == NULL || l.buf == NULL) {
		goto out;
	}
	rc = load_file(&l, path, o, 0);
	if (rc == 0 && !l.soa_seen) {
		char str[SX_DNAME_STRMAX];
		sx_dname_to_str(str, sizeof(str), origin);
		rc = fail(&l, SX_EINVAL, "file \"%s\" has no SOA record for origin %s", path, str);
	}
	if (rc == 0) {
		rc = build(&l, out);
	}
	if (rc == -ENOMEM) {
		fail(&l, rc, "%s: out of memory", path);
	}
out:
	if (o != NULL) {
		ldns_rdf_deep_free(o);
	}
	if (l.buf != NULL) {
		ldns_buffer_free(l.buf);
	}
	arena_free(&l.tmp);
	free(l.recs);
	return rc;
}
