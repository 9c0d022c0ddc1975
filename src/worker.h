/* worker.h -- one worker thread: its event loop, sockets, buffers and request pool. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sextant/time.h>

#include "req_internal.h"
#include "msg_reader.h"
#include "msg_writer.h"

#define SX_UDP_BATCH     32
#define SX_LATE_MAX      1232 /* resumed replies up to this size are batched, larger ones not */
#define SX_TCP_IDLE_SEC  10   /* between messages, as CoreDNS */
#define SX_TCP_READ_SEC  3    /* to read one whole message once it has begun, as CoreDNS */
#define SX_TCP_WRITE_SEC 5    /* for a reply to make progress, as CoreDNS */
#define SX_TCP_MAX_CONNS 1024 /* per worker; when full, the least recently useful goes */

struct event;
struct event_base;
struct evconnlistener;
struct sx_listener;

/* A listener socket as one worker serves it. */
struct sx_wsock {
	struct sx_listener *l;
	int fd;                     /* borrowed from @l, which closes it */
	struct event *ev;           /* UDP */
	struct evconnlistener *evl; /* TCP */
	struct sx_worker *w;
	struct sx_wsock *next;
};

struct sx_udp_slot {
	struct sockaddr_storage peer;
	uint8_t control[64];
	struct iovec iov;
};

struct sx_worker {
	unsigned id;
	pthread_t thread;
	struct event_base *base;
	struct sx_wsock *socks;
	struct sx_req *free_reqs;
	struct sx_req *all_reqs; /* every request allocated, free or not, for shutdown */
	unsigned tcp_conns;
	struct sx_tcp_conn *conns; /* open connections, freed at exit */
	struct event *tcp_sweep;   /* closes connections past their read deadline */
	unsigned held;             /* suspended requests */
	uint64_t received;         /* queries read; the main thread reads it to drain at shutdown */

	/* UDP batch I/O: received queries and their replies, slot by slot. */
	struct mmsghdr in[SX_UDP_BATCH], out[SX_UDP_BATCH];
	struct sx_udp_slot in_slot[SX_UDP_BATCH], out_slot[SX_UDP_BATCH];
	uint8_t in_buf[SX_UDP_BATCH][SX_QUERY_MAX];
	uint8_t out_buf[SX_UDP_BATCH][SX_UDP_MAX];
	unsigned nout;
	bool batching;

	/* Replies built outside a batch: TCP, and requests resumed after a suspension. */
	uint8_t big[2 + 65535];

	/*
	 * UDP replies of resumed requests (forward's upstream answered), sent together by
	 * one sendmmsg once the loop has run every callback that was ready.
	 */
	struct mmsghdr late[SX_UDP_BATCH];
	struct sx_udp_slot late_slot[SX_UDP_BATCH];
	int late_fd[SX_UDP_BATCH];
	uint8_t late_buf[SX_UDP_BATCH][SX_LATE_MAX];
	unsigned nlate;
	struct event *late_ev;
};

unsigned sx_worker_id(const struct sx_worker *w);
/** The event loop of the worker running the calling thread, or NULL off the workers. */
struct event_base *sx_worker_current_base(void);
struct event_base *sx_worker_base(const struct sx_worker *w);

/** Point @req's reply at the worker's spare buffer (after a suspension). */
void sx_worker_bind_async(struct sx_worker *w, struct sx_req *req);
/** A request is suspended: keep what it replies through alive. */
void sx_worker_hold(struct sx_req *req);
/** Send the finished reply of @len bytes and release the request. */
void sx_worker_reply(struct sx_req *req, size_t len);
/** Answer a query that did not parse (FORMERR, NOTIMP or BADVERS) and release it. */
void sx_worker_reject(struct sx_req *req, enum sx_parse pr);

/** Create workers (event loops only); @return NULL on failure. */
struct sx_worker *sx_workers_new(unsigned n);
int sx_workers_run(struct sx_worker *ws, unsigned n);
/** Stop the loops and join the threads; the event loops stay for teardown. */
void sx_workers_stop(struct sx_worker *ws, unsigned n);
/** Free sockets, connections, request pools and event loops (after sx_workers_stop). */
void sx_workers_free(struct sx_worker *ws, unsigned n);

/**
 * Make every worker poll listener @l (all or none: @return 0 or -ENOMEM) / stop
 * them (waits for a running callback). The sockets stay @l's.
 */
int sx_workers_attach(struct sx_worker *ws, unsigned n, struct sx_listener *l);
void sx_workers_detach(struct sx_worker *ws, unsigned n, struct sx_listener *l);

/* Transport halves, in udp.c and tcp.c. */
void sx_udp_readable(int fd, short what, void *arg);
void sx_udp_send_one(struct sx_req *req, size_t len);
void sx_udp_send_late(struct sx_req *req, size_t len);
void sx_udp_flush_late(int fd, short what, void *arg);
void sx_udp_queue(struct sx_req *req, size_t len);
/** The worker's TCP housekeeping (the read-deadline sweep); @return 0 or -ENOMEM. */
int sx_tcp_init(struct sx_worker *w);
struct evconnlistener *sx_tcp_listen(struct sx_wsock *ws);
void sx_tcp_reply(struct sx_req *req, size_t len);
/** Queue @len bytes of @req's reply buffer as one message, leaving the request open. */
void sx_tcp_write(struct sx_req *req, size_t len);
void sx_tcp_hold(struct sx_req *req);
void sx_tcp_close_all(struct sx_worker *w);
