/* fwd.h -- the forward plugin's private declarations: config, upstreams, exchanges. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sextant/io.h>
#include <sextant/plugin.h>
#include <sextant/time.h>
#include <sextant/wire.h>

#define FWD_MAX_TO        15   /* CoreDNS's limit on upstreams per forward */
#define FWD_EDNS_SIZE     1232 /* the UDP payload size we advertise upstream */
#define FWD_OPTS_MAX      512  /* most bytes of the client's EDNS options passed upstream */
#define FWD_QBUF          (300 + FWD_OPTS_MAX) /* TCP length, header, question, OPT */
#define FWD_HC_TIMEOUT_MS 1000                 /* a health probe's own read timeout */
#define FWD_STREAMS       4  /* stream connections taking queries, per upstream and worker */
#define FWD_PIPELINE      32 /* queries in flight on a stream before another one is opened */

enum fwd_proto {
	FWD_UDP,
	FWD_TCP,
	FWD_TLS
};
enum fwd_policy {
	FWD_POLICY_RANDOM,
	FWD_POLICY_ROUND_ROBIN,
	FWD_POLICY_SEQUENTIAL
};

struct ssl_ctx_st;
struct fwd;
struct fwd_x;
struct fwd_worker;

/* One TO. Config-generation lifetime; workers read it, the health checker writes fails. */
struct fwd_up {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char name[INET6_ADDRSTRLEN + 8]; /* "127.0.0.1:53", "[::1]:53", for messages */
	bool tls;
	unsigned idx;
	struct sx_series *series; /* its metrics (owned by the core), or NULL */
	struct fwd *f;
	unsigned long fails;       /* consecutive failed health probes (atomic) */
	int checking;              /* a health-check loop runs (atomic flag) */
	struct sx_timer *hc_timer; /* control thread's; a worker arms it (0 ms) after an error */
	struct fwd_x *probe;       /* the health probe in flight, control thread */
};

/*
 * One connection to an upstream: a connected UDP socket (one exchange at a
 * time) or a TCP / TLS stream (pipelined exchanges, told apart by ID).
 */
struct fwd_conn {
	struct fwd_up *up;
	struct fwd_worker *w; /* whose pool and spares; NULL for health probes */
	enum fwd_proto proto;
	int fd;                   /* UDP */
	struct sx_io *io;         /* UDP: readable, from the first send on */
	struct sx_stream *stream; /* TCP and TLS; whoever swaps it out (atomically) frees it */
	struct sx_timer *expire;  /* pooled stream: `expire` after it was opened */
	uint64_t born_ms;
	bool connected;        /* stream: the connect (and handshake) completed */
	bool pooled;           /* stream in w->streams */
	bool retired;          /* takes no new exchange; closed with its last one */
	bool dead;             /* pooled stream closed while idle: the worker frees the struct */
	bool in_read;          /* inside its read callback: closing waits */
	unsigned answered;     /* replies delivered */
	unsigned nx;           /* exchanges in flight */
	struct fwd_x *xs;      /* those exchanges */
	struct fwd_conn *next; /* UDP idle list, or the upstream's streams */
};

/*
 * One query to one upstream at a time. Lives inside a pending client query
 * (worker) or a health probe (control thread). @done gets the verified reply,
 * or err < 0 with a CoreDNS-style reason in @err.
 */
struct fwd_x {
	struct fwd *f;
	struct fwd_worker *w; /* the worker's connection cache; NULL: no caching (probes) */
	struct fwd_up *up;
	enum fwd_proto proto;
	struct fwd_conn *conn;
	struct fwd_x *cnext, **cprev; /* the exchanges in flight on conn */
	struct sx_timer *timer;       /* this try's read timeout, on the thread of fwd_x_init */
	uint8_t q[FWD_QBUF];          /* q[0..1]: TCP length; the message from q + 2 */
	size_t qlen;                  /* message length, without the TCP prefix */
	void (*done)(struct fwd_x *x, int err, const uint8_t *wire, size_t len);
	uint64_t sent_ns; /* when this try started, for the latency histogram */
	char err[200];
};

/* A client query being forwarded (per-worker pool). */
struct fwd_pend {
	struct fwd_x x; /* first: callbacks cast back */
	struct sx_req *req;
	uint64_t deadline_ms;
	uint8_t order[FWD_MAX_TO];
	unsigned pos, downs, attempts;
	bool in_handler; /* still inside the handler: return, do not resume */
	bool last_err;   /* err holds the last failure */
	enum sx_verdict verdict;
	struct fwd_pend *next_free;
};

struct fwd_chunk {
	struct fwd_chunk *next;
	size_t n;
	struct fwd_pend p[];
};

/* Per worker: touched only by that worker's thread while the config serves. */
struct fwd_worker {
	unsigned idx;
	uint64_t rng[2];
	unsigned rr;
	struct fwd_pend *free;
	struct fwd_chunk *chunks;
	struct fwd_conn *idle[FWD_MAX_TO];    /* idle UDP sockets per upstream */
	struct fwd_conn *streams[FWD_MAX_TO]; /* stream connections per upstream, busy or idle */
	struct fwd_conn *spare;               /* recycled conn structs */
};

struct fwd {
	struct sx_zones from; /* one zone */
	struct sx_zones except;
	struct fwd_up up[FWD_MAX_TO];
	unsigned nup;
	bool force_tcp, prefer_udp;
	uint64_t expire_ms, hc_ms, read_timeout_ms;
	unsigned max_fails;
	unsigned policy;
	unsigned given; /* bit per fwd_directives row seen, for defaults */
	unsigned max_concurrent;
	unsigned max_idle_conns; /* idle connections kept per upstream, protocol and worker; 0: any */
	unsigned long inflight;                /* atomic, only with max_concurrent */
	uint32_t next_rcodes, failover_rcodes; /* bit per rcode 0..31 */
	bool next_nodata;                      /* next_on_nodata */
	bool next_forward; /* another forward follows in the block: `next` may hand on */
	bool failfast;     /* failfast_all_unhealthy_upstreams */
	bool hc_no_rec;    /* health probes without RD */
	uint8_t hc_domain[SX_DNAME_MAX]; /* the name health probes ask NS of (wire, lower case) */
	struct sockaddr_storage src;     /* source_address: sockets are bound to it (port 0) */
	socklen_t srclen;                /* 0: no source_address */
	char *tls_cert, *tls_key, *tls_ca, *tls_servername;
	struct ssl_ctx_st *ssl;
	struct fwd_worker **w;
	unsigned nworkers;
	uint64_t hc_rng[2];       /* control thread's random state */
	struct sx_series *global; /* the process-wide counters (owned by the core), or NULL */
};

/* metrics.c: CoreDNS's forward and proxy metrics, process-wide */
struct sx_metrics;
/** Find or create the series of @f's upstreams (no metrics for one when out of memory). */
void fwd_metrics_setup(struct fwd *f);
void fwd_metrics_conn(const struct fwd_up *up, unsigned w, enum fwd_proto proto, bool hit);
void fwd_metrics_duration(const struct fwd_up *up, unsigned w, unsigned rcode, uint64_t ns);
void fwd_metrics_broken(const struct fwd *f, unsigned w);
void fwd_metrics_reject(const struct fwd *f, unsigned w);
void fwd_metrics_hc_fail(const struct fwd_up *up);
/** Every series, once, for all instances (the plugin's collect_all hook). */
void fwd_metrics_collect(void *const *insts, size_t n, struct sx_metrics *m);

/* setup.c */
int fwd_setup(struct sx_cf *cf, void *inst);
extern const struct sx_directive fwd_directives[];

/* xchg.c: transports */
uint64_t fwd_rand(uint64_t s[2]);
void fwd_rand_seed(uint64_t s[2]);
/** Give @x its timer, on the thread (and loop) that will run it. @return 0, or -ENOMEM. */
int fwd_x_init(struct fwd_x *x);
/**
 * Send the message in x->q + 2 (x->qlen bytes) to @up over @proto. @return 0
 * when it is on its way (x->done runs later, on the thread of fwd_x_init), or
 * an error with x->err set (x->done is not called).
 */
int fwd_x_start(struct fwd_x *x, struct fwd_up *up, enum fwd_proto proto, uint64_t timeout_ms);
/** Stop an exchange without calling x->done, and free its timer (teardown). */
void fwd_x_fini(struct fwd_x *x);
/** Close every pooled connection of @w (its exchanges have ended or been cancelled). */
void fwd_worker_close_idle(struct fwd_worker *w, unsigned nup);
/** Whether @r (@rlen bytes) answers the query @q (@qlen bytes): ID, QR, the question. */
bool fwd_reply_matches(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen);
/** Create the TLS client context for tls:// upstreams; @return 0 or an error in @err. */
int fwd_tls_init(struct fwd *f, char *err, size_t errlen);
void fwd_tls_free(struct fwd *f);

/* health.c: probes on the control thread */
int fwd_health_start(struct fwd *f);
/** After a failed exchange, on any thread: start probing @up unless it already is. */
void fwd_health_kick(struct fwd_up *up);
void fwd_health_stop(struct fwd *f);
/** Build the health probe "DOMAIN IN NS" (RD unless no_rec) with ID @id into x->q. */
void fwd_probe_query(struct fwd_x *x, uint16_t id);
