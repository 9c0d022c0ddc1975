/* file.h -- private declarations of the file plugin: zone snapshots, loader, answers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu.h>

#include <sextant/filewatch.h>
#include <sextant/plugin.h>

#define FZ_DEFAULT_RELOAD_MS 60000
#define FZ_MAX_CHAIN         8 /* CNAMEs followed inside the zone after the first */
#define FZ_MAX_INCLUDE       7 /* $INCLUDE nesting */

/* Bump allocator: a snapshot and everything in it is freed in one walk. */
struct fz_chunk;
struct fz_arena {
	struct fz_chunk *head;
};

/* Records of one type at one name, ready to copy into a reply. */
struct fz_rrset {
	uint16_t type;
	uint16_t count;
	/* count records, each: TTL (4 bytes), rdlength (2 bytes), both host order, then rdata */
	const uint8_t *data;
};

struct fz_node {
	const uint8_t *name;       /* lower-case wire */
	const struct fz_node *cut; /* topmost delegation at or above this name, or NULL */
	const struct fz_rrset *rrsets;
	uint32_t hash;
	uint16_t nrrsets; /* 0: an empty non-terminal */
	uint8_t len;
};

/* One loaded zone: immutable once published, freed after an RCU grace period. */
struct fz_zone {
	struct rcu_head rcu;
	struct fz_arena arena;
	const struct fz_node *apex;
	const struct fz_rrset *soa; /* at the apex, one record */
	const struct fz_rrset *ns;  /* at the apex, or NULL */
	struct fz_node **table;     /* open addressing by name hash; NULL: free slot */
	uint32_t mask;
	uint32_t serial;
	uint32_t neg_ttl; /* min(SOA TTL, SOA MINIMUM), RFC 2308 */
	size_t nnodes, nrecords;
};

/**
 * Read the zone file @path for zone @origin (lower-case wire): $ORIGIN, $TTL and
 * $INCLUDE (relative to the including file's directory) are understood.
 * @return 0 with *@out set, -ENOMEM, or SX_EINVAL / -errno with
 * "FILE:LINE: message" (or "FILE: message") in @err.
 */
int fz_zone_load(const char *path, const uint8_t *origin, struct fz_zone **out, char *err,
                 size_t errlen);
void fz_zone_free(struct fz_zone *z);

/** The node named @name (lower-case wire, @len bytes), or NULL. Borrowed from @z. */
const struct fz_node *fz_zone_find(const struct fz_zone *z, const uint8_t *name, size_t len);
/** The RRset of @type at @n, or NULL. */
const struct fz_rrset *fz_node_rrset(const struct fz_node *n, uint16_t type);

/**
 * Answer @q, whose name lies in @z, into @msg (which holds only the question).
 * @return SX_DONE, or SX_NEXT for a name error that @fall covers.
 */
enum sx_verdict fz_answer(const struct fz_zone *z, const struct sx_zones *fall,
                          const struct sx_query *q, struct sx_msg *msg);

/**
 * Answer an AXFR or IXFR for zone @z: the whole zone, streamed over TCP, when
 * the transfer plugin allowed it (IXFR gets the AXFR form, RFC 1995 4); else
 * REFUSED. @return SX_DONE.
 */
enum sx_verdict fz_transfer(struct sx_req *req, const struct fz_zone *z);

/* One origin of a `file` line: the same file read with a different origin. */
struct fz_origin {
	struct fz_zone *zone; /* RCU-protected; NULL until the file loads */
};

struct fz {
	char *path;
	struct sx_zones zones; /* origins; zones.z[i] goes with origins[i] */
	struct fz_origin *origins;
	struct sx_zones fall;
	uint64_t reload_ms;
	bool reload_set;
	bool reload_by_mtime;
	struct sx_file_stamp stamp; /* the file when last read, to skip unchanged files */
	struct sx_filewatch *watch;
	struct sx_runtime *rt;
	struct sx_timer *started; /* announces the zones once the configuration serves */
};
