/* rewrite.h -- the rewrite plugin's instance: one `rewrite` directive, one rule. */
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <sextant/plugin.h>

enum rw_field {
	RW_NAME,
	RW_TYPE,
	RW_CLASS,
	RW_TTL,
	RW_RCODE,
	RW_EDNS0,
};

enum rw_match {
	RW_EXACT,
	RW_PREFIX,
	RW_SUFFIX,
	RW_SUBSTRING,
	RW_REGEX,
};

enum rw_edns_kind {
	RW_EDNS_LOCAL,
	RW_EDNS_NSID,
	RW_EDNS_SUBNET,
};

enum rw_edns_action {
	RW_SET,
	RW_REPLACE,
	RW_APPEND,
	RW_UNSET,
};

/* The value of an `edns0 local` option: bytes, or a variable filled per query. */
enum rw_var {
	RW_VAR_NONE, /* the bytes in data */
	RW_VAR_QNAME,
	RW_VAR_QTYPE,
	RW_VAR_CLIENT_IP,
	RW_VAR_CLIENT_PORT,
	RW_VAR_PROTOCOL,
	RW_VAR_SERVER_PORT,
	RW_VAR_META, /* a metadata label */
};

/* A regex and the replacement it feeds ({N} are its groups). */
struct rw_regex {
	pcre2_code *re;
	char *to;
};

struct rewrite {
	bool cont; /* `continue`: the rules after this one still apply */
	enum rw_field field;

	/* name, ttl, rcode: how the question name is matched (lower case, presentation form). */
	enum rw_match match;
	char *from, *to; /* to: the replacement of a name rule */
	pcre2_code *re;  /* match == RW_REGEX */

	/* name: the reply as the client should see it. */
	bool answer_auto;
	struct rw_regex answer_name, answer_value; /* .re NULL when absent */

	uint16_t type_from, type_to;   /* type, class */
	uint32_t ttl_min, ttl_max;     /* ttl */
	unsigned rcode_from, rcode_to; /* rcode */

	enum rw_edns_kind ekind;
	enum rw_edns_action eaction;
	uint16_t ecode;
	uint8_t *edata; /* local: the option's bytes when var is RW_VAR_NONE */
	uint16_t elen;
	enum rw_var var;
	char *label; /* RW_VAR_META */
	uint8_t v4bits, v6bits;

	pcre2_match_data **md; /* one per worker, for every regex of the rule */
	unsigned workers;
	struct sx_wcounters c; /* [0] requests rewritten */
	uint16_t port;
	char server[64];
};

/* parse.c */
int rw_parse(struct sx_cf *cf, struct rewrite *r);
/* Replace {N} in @tmpl by group N of the last match of @re on @subject (ovector @ov) into @out. */
int rw_expand(const char *tmpl, const char *subject, const PCRE2_SIZE *ov, uint32_t ngroups,
              char *out, size_t cap);
