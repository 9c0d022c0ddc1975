/* cf.h -- reading a plugin's Corefile lines at setup time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sextant/dname.h>

/*
 * A plugin's directive in a server block looks like
 *
 *     NAME ARG... {
 *         OPTION ARG...
 *         OPTION ARG...
 *     }
 *
 * The cursor starts on the directive line: arg 0 is NAME. sx_cf_next_line()
 * moves to each line of the block in turn (arg 0 is then OPTION). Lines are
 * lines of tokens (a quoted token may span newlines; it belongs to the line
 * where it starts). Errors name the file and line of the current line.
 */
struct sx_cf;

/** Arguments on the current line, the first (the name) included. */
int sx_cf_nargs(const struct sx_cf *cf);
/** Argument @i of the current line, or NULL past the end. */
const char *sx_cf_arg(const struct sx_cf *cf, int i);
/** Move to the next line of the directive's block. @return false at its end. */
bool sx_cf_next_line(struct sx_cf *cf);
/** Whether the directive has a { } block at all. */
bool sx_cf_has_block(const struct sx_cf *cf);
/**
 * Whether the plugin being set up appears again later in the server block.
 * Instances of one plugin run next to each other in the chain, so a query an
 * instance passes on goes straight to the next one (CoreDNS's `forward`
 * hands on to a following `forward` only).
 */
bool sx_cf_repeated_after(const struct sx_cf *cf);
/**
 * The instance of the plugin being set up made from its first directive in
 * this server block, or NULL when this directive is that first one. Repeated
 * directives that act as one (acl, log) gather under the first instance,
 * which the chain reaches first.
 */
void *sx_cf_first_instance(const struct sx_cf *cf);

const char *sx_cf_file(const struct sx_cf *cf);
int sx_cf_line(const struct sx_cf *cf);
/** Directory of the Corefile being read, to resolve relative paths. */
const char *sx_cf_dir(const struct sx_cf *cf);

/**
 * Record "FILE:LINE: plugin/NAME: message" for the current line.
 * @return SX_EINVAL, so setup code can `return sx_cf_err(cf, ...)`.
 */
int sx_cf_err(struct sx_cf *cf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** A set of zones: uncompressed lower-case wire names. */
struct sx_zone {
	uint8_t wire[SX_DNAME_MAX];
	uint8_t len;
	char *name; /* presentation form, with the final dot */
};
struct sx_zones {
	size_t n;
	struct sx_zone *z;
};

/** The zones of the server block being set up (CIDR keys already expanded). */
const struct sx_zones *sx_cf_block_zones(const struct sx_cf *cf);
/**
 * Whether the server block being set up has directive @name (any plugin's,
 * read as written, whether set up yet or not) and, with @last_arg non-NULL,
 * whether the last argument on that directive's line is @last_arg: how a
 * plugin learns that another one of its block needs something of it
 * (`autopath @kubernetes` asks kubernetes for the pods' namespaces), or
 * refuses a block without the plugin it serves from (see sx_rt_peer()).
 */
bool sx_cf_block_has(const struct sx_cf *cf, const char *name, const char *last_arg);
/** The port zone @i of the block is served on (0: the ephemeral port chosen at start). */
uint16_t sx_cf_block_port(const struct sx_cf *cf, size_t i);
/**
 * Listen on @sa (port ignored: the block's port is used) instead of the
 * wildcard address; the `bind` plugin calls this. May be called repeatedly.
 */
int sx_cf_add_listen(struct sx_cf *cf, const struct sockaddr *sa, socklen_t salen);
/**
 * The server block being set up, for sx_block_listen(): valid as long as the
 * plugin instance (its configuration). Blocks are set up directive by
 * directive in Corefile order, so what `bind` gives a block is only complete
 * once every block is set up: read it from start on, not in setup.
 */
struct sx_block;
const struct sx_block *sx_cf_block(const struct sx_cf *cf);
/**
 * The @i-th address block @b listens on (in the order `bind` gave them; port
 * 0) into @out. @return false past the last: at once for a block on the
 * wildcard address.
 */
bool sx_block_listen(const struct sx_block *b, size_t i, struct sockaddr_storage *out);
/**
 * TCP timeouts for the block's listeners, in milliseconds (0 keeps the
 * default): @read_ms to read a whole message once it has begun, @write_ms for
 * a reply to make progress, @idle_ms between messages. Blocks sharing a
 * listener that set different values get the longest; the `timeouts` plugin
 * calls this.
 */
void
sx_cf_set_tcp_timeouts(struct sx_cf *cf, uint64_t read_ms, uint64_t write_ms, uint64_t idle_ms);
/** Number of workers the server runs (per-worker state is sized by it). */
unsigned sx_cf_workers(const struct sx_cf *cf);

/**
 * Parse args @first.. of the current line as zones, normalised (lower case,
 * FQDN, CIDR expanded) into @out (which must be empty). With no such args and
 * @dflt non-NULL, copy @dflt. Zones must lie within @within when it is given.
 */
int sx_cf_zones(struct sx_cf *cf, int first, const struct sx_zones *dflt,
                const struct sx_zones *within, struct sx_zones *out);
/** As sx_cf_zones(), for args @first up to, not including, @end (a line ending in a non-zone). */
int sx_cf_zones_until(struct sx_cf *cf, int first, int end, const struct sx_zones *dflt,
                      const struct sx_zones *within, struct sx_zones *out);
/** Longest zone of @zones containing @name (uncompressed wire), or -1. */
int sx_zones_match(const struct sx_zones *zones, const uint8_t *name);
void sx_zones_fini(struct sx_zones *zones);

/**
 * Parse a Go-style duration ("5s", "1m30s", "500ms", "2h"); a bare number is
 * seconds. @return 0 with *@ms set, or SX_EINVAL.
 */
int sx_parse_duration(const char *s, uint64_t *ms);
