/* corefile.h -- the Corefile lexer and parser: text to server blocks of tokens. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sx_token {
	char *text;       /* owned by the corefile */
	const char *file; /* interned path, owned by the corefile */
	int line;
	bool quoted; /* literal: written in quotes or made by {$ENV} (so "{" is not a brace) */
	bool bol;    /* first token of a line (a quoted token belongs to the line it starts on) */
};

/* One directive: tokens[first] is its name; its args, and any { } block, follow. */
struct sx_cf_dir {
	size_t first, count;
};

struct sx_cf_block {
	struct sx_token *keys; /* server block keys as written ("dns://example.org:1053") */
	size_t nkeys;
	struct sx_token *tokens; /* the body, braces of nested blocks included */
	size_t ntokens;
	struct sx_cf_dir *dirs;
	size_t ndirs;
};

struct sx_corefile {
	struct sx_cf_block *blocks;
	size_t nblocks;
	char **files; /* every file read, the Corefile first: reload hashes them */
	size_t nfiles;
};

/**
 * Parse the Corefile at @path ("stdin" reads standard input). Snippets,
 * imports and {$ENV}/{%ENV%} are expanded here.
 * @return 0 with *@out set, or SX_EINVAL/-errno with "FILE:LINE: message" in @err.
 */
int sx_corefile_load(const char *path, struct sx_corefile **out, char *err, size_t errlen);

/** As sx_corefile_load() from text in memory named @name; imports resolve against @dir. */
int sx_corefile_parse(const char *name, const char *text, const char *dir, struct sx_corefile **out,
                      char *err, size_t errlen);

void sx_corefile_free(struct sx_corefile *cf);
