/* cf_internal.h -- the setup-time cursor (struct sx_cf) for cf.c, directive.c and config.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <sextant/plugin.h>

#include "config.h"
#include "corefile.h"

/* One line of a directive: @n tokens from @tok on. */
struct sx_cf_line {
	const struct sx_token *tok;
	int n;
};

struct sx_cf {
	/* Set by the loader for a whole server block. */
	struct sx_block *block;
	const char *dir;
	unsigned workers;
	char *err;
	size_t errlen;
	/* The directive being set up. */
	const char *plugin;               /* its name, for messages */
	const struct sx_cf_block *cblock; /* its server block, and its index there */
	size_t dindex;
	struct sx_cf_line *lines; /* [0] is the directive line, then its block's lines */
	size_t nlines, linecap;
	size_t cur;
	bool has_block;
	bool visited; /* sx_cf_next_line() was called: the block was read */
	void *first;  /* the plugin's first instance in the block, if set up before */
};

/**
 * Point @cf at directive @d of @b (plugin name @plugin) and split its tokens
 * into lines. A block nested inside a block line, or text after the closing
 * brace, is an error (message in cf->err).
 */
int sx_cf_set_directive(struct sx_cf *cf, const struct sx_cf_block *b, const struct sx_cf_dir *d,
                        const char *plugin);
/** Back to the directive line. */
void sx_cf_rewind(struct sx_cf *cf);
void sx_cf_fini(struct sx_cf *cf);

/**
 * Walk the block's lines through @p's directive table (directive.c):
 * matching rows, argument counts, repeats, then each row's setter.
 */
int sx_directives_run(struct sx_cf *cf, const struct sx_plugin *p, void *inst);
