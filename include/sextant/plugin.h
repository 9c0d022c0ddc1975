/* plugin.h -- the contract between the core and a plugin. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/cf.h>
#include <sextant/error.h>
#include <sextant/log.h>
#include <sextant/metrics.h>
#include <sextant/msg.h>
#include <sextant/req.h>

/*
 * One option inside the plugin's { } block, as a table row. The core matches
 * each block line to a row by name (a row named "*" takes any line no other
 * row names), checks the argument count (arg 0, the option name, not
 * counted) and that the option is not repeated unless @repeat, then calls @set.
 * Build rows for the generic setters with the SX_DIR_* macros below, and give
 * a hand-written setter its field with SX_FIELD(), never a bare offsetof():
 * both refuse to compile when the field's type is not the one the setter writes.
 */
struct sx_directive {
	const char *name;
	int min_args, max_args; /* max_args < 0: unbounded */
	int (*set)(struct sx_cf *cf, const struct sx_directive *d, void *inst);
	size_t offset;    /* field written by the generic setters */
	long long lo, hi; /* bounds for the numeric setters; hi <= 0: no upper bound */
	bool repeat;
};

/* Generic setters for table rows; they write at inst + d->offset. */
int sx_set_flag(struct sx_cf *cf, const struct sx_directive *d, void *inst); /* bool = true */
int sx_set_str(struct sx_cf *cf, const struct sx_directive *d, void *inst);  /* char *, strdup'ed */
int sx_set_uint(struct sx_cf *cf, const struct sx_directive *d, void *inst); /* unsigned, lo..hi */
int sx_set_duration(struct sx_cf *cf, const struct sx_directive *d,
                    void *inst); /* uint64_t ms, lo..hi */
int sx_set_zones(struct sx_cf *cf, const struct sx_directive *d, void *inst); /* struct sx_zones,
                                                                                 * default block zones */

/*
 * The offset of @field in @type, which must have type @ftype, else the build
 * stops with the message below. A _Static_assert is a declaration, not an
 * expression: inside a struct under sizeof it can sit in a row's initializer.
 */
#define SX_FIELD(type, field, ftype)                                                  \
	(offsetof(type, field) +                                                      \
	 0 * sizeof(struct {                                                          \
		 _Static_assert(_Generic(((type *)0)->field, ftype : 1, default : 0), \
		                "option field " #field                                \
		                " is not of the type its setter writes: " #ftype);    \
		 int sx_unused;                                                       \
	 }))

/*
 * Rows for the generic setters, with their usual argument counts: none for a
 * flag, one for a string, number or duration, any for zones (the block's when none).
 */
#define SX_DIR_FLAG(opt, type, field)                                 \
	{                                                             \
		(opt), 0, 0, sx_set_flag, SX_FIELD(type, field, bool) \
	}
#define SX_DIR_STR(opt, type, field)                                   \
	{                                                              \
		(opt), 1, 1, sx_set_str, SX_FIELD(type, field, char *) \
	}
#define SX_DIR_UINT(opt, type, field, lo, hi)                                         \
	{                                                                             \
		(opt), 1, 1, sx_set_uint, SX_FIELD(type, field, unsigned), (lo), (hi) \
	}
#define SX_DIR_DURATION(opt, type, field, lo, hi)                                         \
	{                                                                                 \
		(opt), 1, 1, sx_set_duration, SX_FIELD(type, field, uint64_t), (lo), (hi) \
	}
#define SX_DIR_ZONES(opt, type, field)                                             \
	{                                                                          \
		(opt), 0, -1, sx_set_zones, SX_FIELD(type, field, struct sx_zones) \
	}

/** The server's version ("0.1.0"), as `sextant -version` prints it. Static. */
const char *sx_version(void);

/* Facilities the core offers a running plugin instance. */
struct sx_plugin;
struct sx_runtime;
unsigned sx_rt_workers(struct sx_runtime *rt);
/**
 * The port a block configured with port @configured really listens on: the
 * ephemeral port chosen at start for 0 (see sx_cf_block_port()), else @configured.
 */
uint16_t sx_rt_port(struct sx_runtime *rt, uint16_t configured);

/**
 * Every metric of the running configuration in Prometheus text format 0.0.4:
 * each plugin instance's collect hook plus the core's families (build info,
 * plugins enabled, process). @return malloc'ed text, or NULL.
 */
char *sx_rt_scrape(struct sx_runtime *rt, size_t *len);

/**
 * Readiness of the running configuration: the plugins with a ready hook, in
 * blocks that have the `ready` plugin, that are not ready yet, sorted and
 * comma-separated into @buf; then, for each that said why, a line
 * "NAME: why". @return how many are not ready.
 */
int sx_rt_not_ready(struct sx_runtime *rt, char *buf, size_t cap);

/**
 * Reload the Corefile if it or a file it imports changed (SHA512 of their
 * contents, imports found anew); the check and the reload run on the control
 * loop after the caller returns, logged as plugin/@who (a static string). A
 * bad new Corefile is logged and counted, and not tried again until it changes.
 */
void sx_rt_reload_if_changed(struct sx_runtime *rt, const char *who);
/** SHA512 (hex) of the running configuration's files. */
const char *sx_rt_config_digest(struct sx_runtime *rt);
/** Reloads that failed so far (bad Corefile, port in use...). */
uint64_t sx_rt_reload_failures(struct sx_runtime *rt);

/**
 * The instance of plugin @p in the server block that holds instance @inst (the
 * first, if @p repeats), for a plugin that serves from another one of its
 * block (k8s_external from the kubernetes plugin's zone). Only from a start
 * hook: the instance lives as long as @inst does.
 * @return it, or NULL when the block has no @p.
 */
void *sx_rt_peer(struct sx_runtime *rt, const void *inst, const struct sx_plugin *p);

/**
 * Ask for a lameduck period at shutdown (the longest asked for wins); the core
 * logs it as plugin/@who when shutdown begins.
 */
void sx_rt_set_lameduck(struct sx_runtime *rt, const char *who, uint64_t ms);
/**
 * At the first start only, ask the core to serve only once every plugin's ready
 * hook says so, or @ms after the start hooks ran, whichever comes first (the
 * longest hold asked for wins). Until then the sockets are bound but not read,
 * and no banner is printed. Logs @waiting (INFO) when the wait begins and @late
 * (WARNING) when it ends unready, as plugin/@who; all three static strings.
 * A reload is not held (the running configuration answers until the new one is ready).
 */
void sx_rt_hold_serving(struct sx_runtime *rt, const char *who, uint64_t ms, const char *waiting,
                        const char *late);
/** Whether shutdown has begun (lameduck included). */
bool sx_rt_shutting_down(struct sx_runtime *rt);

/* A new version of a zone, as a plugin holding zones announces it (see zone_changed). */
struct sx_zone_version {
	const uint8_t *zone; /* the apex, lower-case wire */
	const uint8_t *soa;  /* the SOA record's rdata, uncompressed wire */
	uint16_t soa_len;
	uint32_t soa_ttl;
};

/**
 * Tell the other plugins of @inst's server block (their zone_changed hooks,
 * before this returns) that the zone plugin instance @inst now serves @v:
 * the transfer plugin notifies secondaries. Control thread; @v is borrowed
 * for the call.
 */
void sx_rt_zone_changed(struct sx_runtime *rt, const void *inst, const struct sx_zone_version *v);

/*
 * What the core must know of a plugin, declared in its descriptor (as Knot's
 * module flags) rather than found from its name.
 */
enum sx_plugin_flag {
	/* May answer classes other than IN: a block without one REFUSES them. */
	SX_PLUGIN_ANY_CLASS = 1u << 0,
	/* Serves readiness: in its block, the plugins' ready hooks count for sx_rt_not_ready(). */
	SX_PLUGIN_READINESS = 1u << 1,
	/* Exports metrics: its block's plugins are reported in coredns_plugin_enabled. */
	SX_PLUGIN_EXPORTS_METRICS = 1u << 2,
};

struct sx_plugin {
	const char *name; /* Corefile keyword; "plugin/<name>" in logs */
	unsigned flags;   /* enum sx_plugin_flag */
	size_t inst_size; /* the core callocs this and passes it to every hook */
	const struct sx_directive *directives; /* { NULL }-terminated, or NULL */
	bool repeat;                           /* may appear more than once per server block */
	/**
	 * Optional: set up what the plugin needs once per process, whatever its
	 * instances (a library's global state), before the first Corefile is
	 * read; main thread, no other thread running. @return 0, or a negative
	 * SX_E* with a one-line reason in @err (@cap bytes).
	 */
	int (*init)(char *err, size_t cap);
	/** Optional: undo init at exit, after the last instance's teardown. */
	void (*fini)(void);
	/**
	 * Called after the block's lines went through @directives, with the cursor
	 * back on the directive line: parse its args, cross-check options.
	 * @return 0, or sx_cf_err(). Must not start anything (`-check` runs it).
	 */
	int (*setup)(struct sx_cf *cf, void *inst);
	/** Optional: open files, start timers and watches. Control thread. */
	int (*start)(void *inst, struct sx_runtime *rt);
	/** Per request, on a worker thread; may be NULL for setup-only plugins. */
	enum sx_verdict (*handle)(struct sx_req *req, void *inst);
	/**
	 * Optional readiness for /ready: true once the plugin can answer fully.
	 * When not, it may say why in @why (@cap bytes, one line, NUL-terminated;
	 * it starts empty), which /ready shows. Control thread.
	 */
	bool (*ready)(void *inst, char *why, size_t cap);
	/**
	 * Optional metadata provider: called by sx_req_meta_collect() for each query
	 * the block's metadata plugin collects for, before the plugins after it run;
	 * sets labels with sx_req_meta_set(). Worker thread; must be quick.
	 */
	void (*metadata)(struct sx_req *req, void *inst);
	/**
	 * Optional: another plugin of the block serves a new version of a zone
	 * (sx_rt_zone_changed()); @v is borrowed for the call. Control thread.
	 */
	void (*zone_changed)(void *inst, const struct sx_zone_version *v);
	/**
	 * Optional: the DNS search path of @req's client, for `autopath @NAME`
	 * (CoreDNS's AutoPather): see sx_req_search_path(). The names must live
	 * until the reply is sent (in the instance, or from sx_req_alloc()).
	 * Worker thread; must be quick. @return 1 with @out filled, else 0.
	 */
	int (*search_path)(struct sx_req *req, void *inst, struct sx_search *out);
	/** Optional: add this instance's metrics to a scrape. Control thread. */
	void (*collect)(void *inst, struct sx_metrics *m);
	/**
	 * Optional: add to a scrape, once, the metrics of every instance of the
	 * plugin in the running configuration, @insts[0..@n) (@n > 0): families
	 * CoreDNS keeps per process, with no label telling instances apart (so no
	 * plugin keeps a list of its instances). Control thread.
	 */
	void (*collect_all)(void *const *insts, size_t n, struct sx_metrics *m);
	/**
	 * Free everything the instance owns; must accept a half set-up instance.
	 * Called on the control thread once no worker can still reach the instance.
	 */
	void (*teardown)(void *inst);
};

/** The compiled plugins in execution order, NULL-terminated (generated from plugin.cfg). */
extern const struct sx_plugin *const sx_plugins[];
