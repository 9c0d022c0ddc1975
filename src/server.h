/* server.h -- listeners, configuration generations and the worker threads (private). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sextant/plugin.h>

struct sx_config;
struct sx_block;
struct sx_query;
struct event_base;

enum {
	SX_LISTEN_UDP,
	SX_LISTEN_TCP
};

/*
 * One address+port+protocol served, with one SO_REUSEPORT socket per worker.
 * The listener owns its sockets from the moment they are opened until it is
 * retired; the workers' events only borrow them. Generations hold references:
 * the last generation routing through a listener retires it when it is freed,
 * that is after it was unpublished, a grace period passed and the requests it
 * suspended (which reply through these sockets) ended.
 */
struct sx_listener {
	unsigned id;                  /* unique for the process lifetime */
	int proto;                    /* SX_LISTEN_UDP / _TCP */
	struct sockaddr_storage addr; /* port resolved (never 0 once open) */
	socklen_t addrlen;
	bool wildcard; /* bound to 0.0.0.0 or ::, so replies need pktinfo */
	int *fds;      /* per worker */
	unsigned refs; /* generations using it (control thread) */
	bool attached; /* every worker polls it */
	struct sx_listener *next;
};

/* One route: queries for names under @zone arriving on listener @lid go to @block. */
struct sx_route {
	unsigned lid;
	const uint8_t *zone;
	uint8_t zlen;
	const struct sx_block *block;
};

/* A configuration generation: what workers read, published under RCU. */
struct sx_gen {
	struct sx_config *cfg;
	struct sx_route *routes;
	size_t nroutes;
	struct sx_listener **listeners; /* each once, one reference each */
	size_t nlisteners;
	unsigned long refs;  /* the published pointer + suspended requests */
	struct sx_gen *next; /* live generations, for shutdown */
};

/** Longest-zone route for @q on listener @lid; sets *@zone. NULL: no block serves it. */
const struct sx_block *sx_gen_route(const struct sx_gen *gen, unsigned lid,
                                    const struct sx_query *q, const uint8_t **zone);
void sx_gen_ref(struct sx_gen *gen);
/** Drop a reference; the last one frees the generation on the control thread. */
void sx_gen_unref(struct sx_gen *gen);

/** The generation workers use now (caller holds rcu_read_lock). */
struct sx_gen *sx_gen_current(void);

/**
 * The TCP timeouts (ms) of listener @lid in @gen: for each, the longest any
 * block served there sets, else the default (SX_TCP_*_SEC).
 */
void sx_gen_tcp_timeouts(const struct sx_gen *gen, unsigned lid, uint64_t *read_ms,
                         uint64_t *write_ms, uint64_t *idle_ms);

/* What plugins reach through sx_rt_*(): one per process. */
struct sx_runtime {
	struct event_base *base;
	unsigned workers;
	uint64_t lameduck_ms;
	const char *lameduck_by; /* the plugin that asked for it, for the log */
	bool shutting_down;
	const struct sx_config *starting; /* whose start hooks run now (sx_rt_peer()) */
	double start_time;                /* unix seconds */
	/* Where configurations come from, for reloads. */
	const char *conf_path; /* NULL: the built-in configuration, never reloaded */
	int (*load)(struct sx_config **out, char *err, size_t errlen);
	char digest[129]; /* SHA512 of the running configuration's files */
	char tried[129];  /* the files a reload last tried, taken or not: not tried again */
	uint64_t reload_failures;
	const char *reload_by; /* the plugin asking for checks, for the log */
	/* sx_rt_hold_serving(): the longest hold asked for, and who asked with what words */
	uint64_t hold_ms;
	const char *hold_by, *hold_waiting, *hold_late;
};

/**
 * Load the configuration anew and swap it in; on failure log
 * "Restart failed: ..." and count it. Control thread.
 * @return 0 or the error.
 */
int sx_server_reload_now(void);

/** SHA512 (hex) of the contents of every file @path reads (imports found anew). */
int sx_config_digest(const char *path, char hex[129], char *err, size_t errlen);

/**
 * The server block holding plugin instance @inst in any live generation
 * (running, waiting to serve, or kept by suspended requests), or NULL.
 * Control thread.
 */
const struct sx_block *sx_server_block_of(const void *inst);

/** The process's runtime. */
struct sx_runtime *sx_server_runtime(void);

struct sx_server_opts {
	unsigned workers;
	bool quiet;
};

/**
 * Open the listeners of @cfg, start its plugins, start the workers and print
 * the banner. Takes ownership of @cfg. @return 0, or an error with @err set.
 */
int sx_server_start(struct event_base *control, struct sx_config *cfg,
                    const struct sx_server_opts *opts, char *err, size_t errlen);

/**
 * Swap in @cfg (already set up): open and attach its new listeners, start its
 * plugins, publish it (once its plugins are ready), wait for readers, then
 * retire the listeners only the old generation used. On failure nothing is
 * published, @cfg and what was opened for it are freed, and the old generation
 * keeps running. @return 0 or an error with @err set.
 */
int sx_server_reload(struct sx_config *cfg, char *err, size_t errlen);

/** Stop workers, tear down the generation and close listeners. */
void sx_server_stop(void);

/** The control thread's event loop (for sx_runtime). */
struct event_base *sx_server_control(void);
unsigned sx_server_workers(void);
/** Queries read by every worker since start (UDP and TCP). */
uint64_t sx_server_received(void);
