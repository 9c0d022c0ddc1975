/* hosts.h -- private declarations of the hosts plugin: instance, table, answers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <urcu.h>

#include <sextant/filewatch.h>
#include <sextant/plugin.h>

#define HOSTS_DEFAULT_PATH      "/etc/hosts"
#define HOSTS_DEFAULT_TTL       3600
#define HOSTS_DEFAULT_RELOAD_MS 5000

/* One owner name of the table: a host name, or a reverse name for PTR. */
struct hosts_entry {
	struct hosts_entry *next; /* hash chain */
	uint32_t hash;
	uint16_t n4, n6, nptr;
	uint8_t (*v4)[4];
	uint8_t (*v6)[16];
	const uint8_t **ptr; /* names of the table (wire) this address maps back to */
	uint8_t len;
	uint8_t name[]; /* lower-case wire */
};

/* An immutable snapshot of the file and the inline lines, published under RCU. */
struct hosts_table {
	struct rcu_head rcu;
	struct hosts_entry **buckets;
	size_t mask;    /* buckets - 1, a power of two less one */
	size_t nnames;  /* entries in the table */
	size_t naddrs;  /* name/address pairs, for the debug log */
	bool wildcards; /* some name is "*.PARENT" */
};

struct hosts {
	/* set up from the Corefile */
	char *path;            /* absolute, or as given when absolute */
	struct sx_zones zones; /* names outside these are ignored and passed on */
	struct sx_zones fall;  /* fallthrough zones; n == 0: no fallthrough */
	unsigned ttl;
	uint64_t reload_ms;
	bool reload_set;
	bool no_reverse;
	bool fall_unsupported;
	char *inline_text; /* inline lines joined by '\n' */
	size_t inline_len;

	/* running */
	struct hosts_table *table;  /* RCU-protected; workers read it */
	struct sx_file_stamp stamp; /* the file as last read, to notice changes */
	struct sx_filewatch *watch;
};

/**
 * Build a table from the hosts-file lines in @fp (may be NULL) and @h's inline
 * lines, keeping names inside @h->zones, with PTR entries unless no_reverse.
 * @return 0 with *@out set (free with hosts_table_free), -ENOMEM, or -errno
 * from reading @fp.
 */
int hosts_table_build(const struct hosts *h, FILE *fp, struct hosts_table **out);
void hosts_table_free(struct hosts_table *t);

/** The entry for lower-case wire name @name of @len bytes, or NULL. Borrowed from @t. */
const struct hosts_entry *
hosts_table_find(const struct hosts_table *t, const uint8_t *name, size_t len);

/**
 * Answer @q from @t into @msg (which holds only the question).
 * @return SX_DONE with the reply written, or SX_NEXT when the query is not
 * ours (outside the zones, an unknown PTR, or fallthrough).
 */
enum sx_verdict hosts_answer(const struct hosts *h, const struct hosts_table *t,
                             const struct sx_query *q, struct sx_msg *msg);
