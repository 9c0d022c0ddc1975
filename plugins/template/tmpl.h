/* tmpl.h -- the Go template subset of template's records: compiled once, expanded per query. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* One piece of a compiled template: literal text, or an action that prints a value. */
enum tmpl_kind {
	TMPL_TEXT,
	TMPL_NAME,
	TMPL_ZONE,
	TMPL_CLASS,
	TMPL_TYPE,
	TMPL_REMOTE,
	TMPL_GROUP, /* .Group.NAME */
	TMPL_MATCH, /* index .Match N */
};

struct tmpl_part {
	enum tmpl_kind kind;
	char *text;    /* TMPL_TEXT: the text; TMPL_GROUP: the group's name */
	size_t len;    /* TMPL_TEXT: its length */
	unsigned idx;  /* TMPL_MATCH: N */
	bool parseint; /* printed through parseInt ARG BASE BITS */
	int base, bits;
};

struct tmpl {
	struct tmpl_part *parts;
	size_t n;
	bool fixed; /* no action at all: the text is the record */
};

/* What the actions of one query print. */
struct tmpl_data {
	const char *name, *zone, *class, *type, *remote;
	const char *subject;  /* the string the regex matched (the name) */
	const PCRE2_SIZE *ov; /* its ovector: 2 offsets per group, group 0 the whole match */
	uint32_t ngroups;     /* pairs in @ov */
	const pcre2_code *re; /* to look group names up */
};

/**
 * Compile @src. @return 0, or SX_EINVAL with a message in @err (@cap bytes)
 * naming what is not understood. Frees nothing on failure: call tmpl_fini().
 */
int tmpl_compile(struct tmpl *t, const char *src, char *err, size_t cap);
void tmpl_fini(struct tmpl *t);

/**
 * Expand @t for @d into @out (@cap bytes, NUL-terminated).
 * @return the length, or SX_EINVAL when an action fails (index out of range,
 * parseInt of a bad number), SX_ETRUNC when @out is too small.
 */
int tmpl_expand(const struct tmpl *t, const struct tmpl_data *d, char *out, size_t cap);
