/* config.c -- a configuration generation: keys normalised, each directive set up by its plugin. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>

#include "address.h"
#include "cf_internal.h"
#include "config.h"
#include "corefile.h"

/* A CIDR key expands to at most 128 zones; this keeps a hostile file from exhausting memory. */
#define MAX_ZONES 100000

/* A zone of some block, for the duplicate check. */
struct zref {
	size_t block, zone;
	const struct sx_token *key;
};

/* A chain entry with what orders it: plugin.cfg rank, then Corefile order. */
struct ranked {
	size_t rank, seq;
	struct sx_instance in;
};

static int err_at(char *err, size_t errlen, const struct sx_token *t, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int
err_at(char *err, size_t errlen, const struct sx_token *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s:%d: ", t->file, t->line);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return SX_EINVAL;
}

static int
zone_key_cmp(const struct sx_config *cfg, const struct zref *x, const struct zref *y)
{
	const struct sx_block *bx = &cfg->blocks[x->block], *by = &cfg->blocks[y->block];
	const struct sx_zone *zx = &bx->zones.z[x->zone], *zy = &by->zones.z[y->zone];

	if (bx->ports[x->zone] != by->ports[y->zone]) {
		return bx->ports[x->zone] < by->ports[y->zone] ? -1 : 1;
	}
	if (zx->len != zy->len) {
		return zx->len < zy->len ? -1 : 1;
	}
	return memcmp(zx->wire, zy->wire, zx->len);
}

static bool
earlier(const struct zref *x, const struct zref *y)
{
	return x->block != y->block ? x->block < y->block : x->zone < y->zone;
}

static int
zcmp(const void *a, const void *b, void *cfg)
{
	int c = zone_key_cmp(cfg, a, b);

	return c ? c : earlier(a, b) ? -1 : earlier(b, a);
}

/*
 * A zone served twice on one port is an error; report the first repeat in
 * Corefile order, as it is the one the reader most likely just added.
 */
static int
check_duplicates(struct sx_config *cfg, struct zref *refs, size_t n, char *err, size_t errlen)
{
	const struct zref *dup = NULL;

	if (n < 2) {
		return 0;
	}
	qsort_r(refs, n, sizeof(*refs), zcmp, cfg);
	for (size_t i = 1; i < n; i++) {
		if (zone_key_cmp(cfg, &refs[i - 1], &refs[i]) == 0 &&
		    (!dup || earlier(&refs[i], dup))) {
			dup = &refs[i];
		}
	}
	if (!dup) {
		return 0;
	}
	return err_at(err, errlen, dup->key, "cannot serve dns://%s:%u - it is already defined",
	              cfg->blocks[dup->block].zones.z[dup->zone].name,
	              cfg->blocks[dup->block].ports[dup->zone]);
}

/* Zones and ports of every block's keys. */
static int
normalise_keys(struct sx_config *cfg, uint16_t dflt, char *err, size_t errlen)
{
	const struct sx_corefile *corefile = cfg->corefile;
	struct zref *refs = NULL, *r;
	size_t nrefs = 0;
	char msg[512];
	int rc = 0;

	for (size_t i = 0; i < corefile->nblocks && rc == 0; i++) {
		const struct sx_cf_block *cb = &corefile->blocks[i];
		struct sx_block *b = &cfg->blocks[i];

		b->file = cb->keys[0].file;
		b->line = cb->keys[0].line;
		for (size_t k = 0; k < cb->nkeys && rc == 0; k++) {
			size_t before = b->zones.n;
			uint16_t *ports;
			uint16_t port;

			rc = sx_address_key(cb->keys[k].text, dflt, &b->zones, &port, msg,
			                    sizeof(msg));
			if (rc < 0) {
				rc = rc == -ENOMEM ? rc
				                   : err_at(err, errlen, &cb->keys[k], "%s", msg);
				break;
			}
			if (nrefs + b->zones.n - before > MAX_ZONES) {
				rc = err_at(err, errlen, &cb->keys[k], "more than %d zones",
				            MAX_ZONES);
				break;
			}
			ports = reallocarray(b->ports, b->zones.n, sizeof(*ports));
			r = reallocarray(refs, nrefs + b->zones.n - before, sizeof(*r));
			if (ports) {
				b->ports = ports;
			}
			if (r) {
				refs = r;
			}
			if (!ports || !r) {
				rc = -ENOMEM;
				break;
			}
			for (size_t z = before; z < b->zones.n; z++) {
				ports[z] = port;
				refs[nrefs++] =
				        (struct zref){ .block = i, .zone = z, .key = &cb->keys[k] };
			}
		}
	}
	if (rc == 0) {
		rc = check_duplicates(cfg, refs, nrefs, err, errlen);
	}
	free(refs);
	return rc;
}

static int
rcmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->rank != y->rank) {
		return x->rank < y->rank ? -1 : 1;
	}
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

#define EXCERPT_MAX 64

/*
 * A token as an error message shows it: at most EXCERPT_MAX bytes and "..." after, control
 * bytes as '?', so that a hostile Corefile cannot flood or forge log lines.
 */
static const char *
excerpt(char out[EXCERPT_MAX + 4], const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < EXCERPT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (char)(c < 0x20 || c == 0x7F ? '?' : c);
	}
	strcpy(out + i, s[i] != '\0' ? "..." : "");
	return out;
}

/* Set up directive @d with its plugin; the instance joins @chain even when setup fails. */
static int
setup_one(struct sx_cf *cf, const struct sx_plugin *const *plugins, const struct sx_cf_block *cb,
          size_t d, struct ranked *chain, size_t *n)
{
	const struct sx_token *name = &cb->tokens[cb->dirs[d].first];
	const struct sx_plugin *p = NULL;
	size_t rank = 0;
	int rc;

	while (plugins[rank] && strcmp(plugins[rank]->name, name->text) != 0) {
		rank++;
	}
	p = plugins[rank];
	if (!p) {
		char shown[EXCERPT_MAX + 4];
		return err_at(cf->err, cf->errlen, name, "Unknown directive '%s'",
		              excerpt(shown, name->text));
	}
	cf->first = NULL;
	for (size_t i = 0; i < *n && !cf->first; i++) {
		if (chain[i].in.plugin != p) {
			continue;
		}
		if (!p->repeat) {
			return err_at(
			        cf->err, cf->errlen, name,
			        "plugin/%s: this plugin can only be used once per Server Block",
			        p->name);
		}
		cf->first = chain[i].in.inst;
	}
	rc = sx_cf_set_directive(cf, cb, &cb->dirs[d], p->name);
	if (rc < 0) {
		return rc;
	}
	chain[*n] = (struct ranked){ .rank = rank, .seq = d, .in = { .plugin = p } };
	chain[*n].in.inst = calloc(1, p->inst_size ? p->inst_size : 1);
	if (!chain[*n].in.inst) {
		return -ENOMEM;
	}
	(*n)++;
	if (p->directives) {
		rc = sx_directives_run(cf, p, chain[*n - 1].in.inst);
	} else if (cf->has_block && !p->setup) {
		rc = sx_cf_err(cf, "unexpected block: %s takes no options", p->name);
	}
	sx_cf_rewind(cf);
	if (rc == 0 && p->setup) {
		if (cf->errlen) {
			cf->err[0] = '\0';
		}
		rc = p->setup(cf, chain[*n - 1].in.inst);
		if (rc < 0 && cf->errlen && cf->err[0] == '\0') {
			sx_cf_rewind(cf);
			sx_cf_err(cf, "setup failed: %s", sx_strerror(rc));
		}
	} else if (rc == 0 && sx_cf_nargs(cf) > 1) {
		rc = sx_cf_err(cf, "wrong argument count: %s takes no arguments", p->name);
	}
	if (rc == 0 && !p->directives && cf->has_block && !cf->visited) {
		sx_cf_rewind(cf);
		rc = sx_cf_err(cf, "unexpected block: %s takes no options", p->name);
	}
	return rc;
}

static int
setup_block(struct sx_cf *cf, const struct sx_plugin *const *plugins, const struct sx_cf_block *cb,
            struct sx_block *b)
{
	struct ranked *chain;
	size_t n = 0;
	int rc = 0;

	if (cb->ndirs == 0) {
		return 0;
	}
	chain = calloc(cb->ndirs, sizeof(*chain));
	if (!chain) {
		return -ENOMEM;
	}
	cf->block = b;
	for (size_t d = 0; d < cb->ndirs && rc == 0; d++) {
		rc = setup_one(cf, plugins, cb, d, chain, &n);
	}
	b->chain = calloc(n ? n : 1, sizeof(*b->chain));
	if (!b->chain) {
		/* Nothing can hold the instances: tear them down here. */
		for (size_t i = 0; i < n; i++) {
			if (chain[i].in.plugin->teardown) {
				chain[i].in.plugin->teardown(chain[i].in.inst);
			}
			free(chain[i].in.inst);
		}
		free(chain);
		return -ENOMEM;
	}
	qsort(chain, n, sizeof(*chain), rcmp);
	for (size_t i = 0; i < n; i++) {
		b->chain[i] = chain[i].in;
	}
	b->nchain = n;
	free(chain);
	return rc;
}

static int
build(struct sx_corefile *corefile, const struct sx_plugin *const *plugins, const char *dir,
      const struct sx_config_opts *opts, struct sx_config **out, char *err, size_t errlen)
{
	struct sx_cf cf = { .dir = dir, .err = err, .errlen = errlen };
	struct sx_config *cfg;
	int rc;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		sx_corefile_free(corefile);
		return -ENOMEM;
	}
	cfg->corefile = corefile;
	cfg->workers = opts && opts->workers ? opts->workers : 1;
	cf.workers = cfg->workers;
	cfg->blocks = calloc(corefile->nblocks ? corefile->nblocks : 1, sizeof(*cfg->blocks));
	if (!cfg->blocks) {
		rc = -ENOMEM;
		goto fail;
	}
	cfg->nblocks = corefile->nblocks;
	rc = normalise_keys(cfg, opts ? opts->default_port : 53, err, errlen);
	for (size_t i = 0; i < corefile->nblocks && rc == 0; i++) {
		rc = setup_block(&cf, plugins, &corefile->blocks[i], &cfg->blocks[i]);
	}
	sx_cf_fini(&cf);
	if (rc < 0) {
		goto fail;
	}
	*out = cfg;
	return 0;
fail:
	if (rc == -ENOMEM) {
		snprintf(err, errlen, "%s: out of memory", corefile->files[0]);
	}
	sx_config_free(cfg);
	return rc;
}

int
sx_config_parse_with(const struct sx_plugin *const *plugins, const char *name, const char *text,
                     const char *dir, const struct sx_config_opts *opts, struct sx_config **out,
                     char *err, size_t errlen)
{
	struct sx_corefile *corefile;
	int rc;

	*out = NULL;
	rc = sx_corefile_parse(name, text, dir, &corefile, err, errlen);
	if (rc < 0) {
		return rc;
	}
	return build(corefile, plugins, dir ? dir : ".", opts, out, err, errlen);
}

int
sx_config_parse(const char *name, const char *text, const char *dir,
                const struct sx_config_opts *opts, struct sx_config **out, char *err, size_t errlen)
{
	return sx_config_parse_with(sx_plugins, name, text, dir, opts, out, err, errlen);
}

int
sx_config_load(const char *path, const struct sx_config_opts *opts, struct sx_config **out,
               char *err, size_t errlen)
{
	struct sx_corefile *corefile;
	const char *slash = strrchr(path, '/');
	char *dir;
	int rc;

	*out = NULL;
	rc = sx_corefile_load(path, &corefile, err, errlen);
	if (rc < 0) {
		return rc;
	}
	if (!slash || strcmp(path, "stdin") == 0) {
		dir = strdup(".");
	} else {
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	}
	if (!dir) {
		sx_corefile_free(corefile);
		return -ENOMEM;
	}
	rc = build(corefile, sx_plugins, dir, opts, out, err, errlen);
	free(dir);
	return rc;
}

void *
sx_config_peer(const struct sx_config *cfg, const void *inst, const struct sx_plugin *p)
{
	for (size_t bi = 0; bi < cfg->nblocks; bi++) {
		const struct sx_block *b = &cfg->blocks[bi];
		bool here = false;

		for (size_t i = 0; i < b->nchain && !here; i++) {
			here = b->chain[i].inst == inst;
		}
		for (size_t i = 0; i < b->nchain && here; i++) {
			if (b->chain[i].plugin == p) {
				return b->chain[i].inst;
			}
		}
	}
	return NULL;
}

void
sx_config_free(struct sx_config *cfg)
{
	if (!cfg) {
		return;
	}
	for (size_t i = 0; i < cfg->nblocks; i++) {
		struct sx_block *b = &cfg->blocks[i];

		for (size_t j = b->nchain; j-- > 0;) {
			if (b->chain[j].plugin->teardown) {
				b->chain[j].plugin->teardown(b->chain[j].inst);
			}
			free(b->chain[j].inst);
		}
		free(b->chain);
		sx_zones_fini(&b->zones);
		free(b->ports);
		free(b->listen);
	}
	free(cfg->blocks);
	sx_corefile_free(cfg->corefile);
	free(cfg);
}
