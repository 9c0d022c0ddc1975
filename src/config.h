/* config.h -- a configuration generation: server blocks with their plugin chains. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sextant/plugin.h>

struct sx_instance {
	const struct sx_plugin *plugin;
	void *inst; /* calloc'ed plugin_size bytes, owned by the block */
};

struct sx_block {
	struct sx_zones zones;           /* all zones of the block's keys, CIDR expanded */
	uint16_t *ports;                 /* ports[i] serves zones.z[i]; 0: the one ephemeral port */
	struct sockaddr_storage *listen; /* from `bind`; none means the wildcard address */
	size_t nlisten;
	struct sx_instance *chain; /* every instance, in plugin.cfg order */
	size_t nchain;
	const char *file; /* where the block starts, for messages */
	int line;
	/* TCP timeouts of the block's listeners (`timeouts`), ms; 0: the default. */
	uint64_t tcp_read_ms, tcp_write_ms, tcp_idle_ms;
};

struct sx_config_opts {
	uint16_t default_port; /* -dns.port */
	unsigned workers;
};

struct sx_config {
	struct sx_block *blocks;
	size_t nblocks;
	unsigned workers;
	struct sx_corefile *corefile; /* kept for its file list (reload) */
};

/**
 * Read and set up a Corefile: parse, normalise keys (zone, port, CIDR), reject
 * a zone served twice on one port, set up each directive with its plugin
 * (unknown directive, option, wrong argument count, repeats: all errors).
 * Nothing is started. @return 0, or an error with "FILE:LINE: message" in @err.
 */
int sx_config_load(const char *path, const struct sx_config_opts *opts, struct sx_config **out,
                   char *err, size_t errlen);
int sx_config_parse(const char *name, const char *text, const char *dir,
                    const struct sx_config_opts *opts, struct sx_config **out, char *err,
                    size_t errlen);

/**
 * As sx_config_parse() with the plugin table @plugins (NULL-terminated, in
 * execution order) instead of sx_plugins[]: lets tests set up plugins of their own.
 */
int sx_config_parse_with(const struct sx_plugin *const *plugins, const char *name, const char *text,
                         const char *dir, const struct sx_config_opts *opts, struct sx_config **out,
                         char *err, size_t errlen);

/**
 * The first instance of @p in the block of @cfg that holds instance @inst.
 * @return it, or NULL when @inst is not in @cfg or its block has no @p.
 */
void *sx_config_peer(const struct sx_config *cfg, const void *inst, const struct sx_plugin *p);

/** Tear down every instance (teardown hooks) and free the configuration. NULL is a no-op. */
void sx_config_free(struct sx_config *cfg);
