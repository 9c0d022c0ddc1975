/* test_worker.c -- workers' loops and threads, and how a finished request leaves its worker. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include <sextant/dname.h>
#include <sextant/msg.h>
#include <sextant/wire.h>

#include "msg_reader.h"
#include "req_internal.h"
#include "worker.h"

Test(worker, new_workers_have_ids_and_loops_of_their_own)
{
	struct sx_worker *ws = sx_workers_new(3);

	cr_assert_not_null(ws);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(sx_worker_id(&ws[i]), i);
		cr_assert_not_null(sx_worker_base(&ws[i]));
		for (unsigned j = 0; j < i; j++) {
			cr_assert_neq(sx_worker_base(&ws[i]), sx_worker_base(&ws[j]));
		}
	}
	/* Never run: freeing them joins no thread. */
	sx_workers_free(ws, 3);
	sx_workers_free(NULL, 3);
}

/* What a callback run on a worker's loop saw. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seen_cond = PTHREAD_COND_INITIALIZER;
static struct event_base *seen_base;
static bool seen;

static void
on_worker(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&seen_lock);
	seen_base = sx_worker_current_base();
	seen = true;
	pthread_cond_signal(&seen_cond);
	pthread_mutex_unlock(&seen_lock);
}

Test(worker, a_running_worker_knows_its_loop, .timeout = 10)
{
	struct sx_worker *ws;

	/* As main() does: stopping a loop from another thread must wake it. */
	cr_assert_eq(evthread_use_pthreads(), 0);
	ws = sx_workers_new(2);

	cr_assert_not_null(ws);
	/* Off the workers there is none. */
	cr_assert_null(sx_worker_current_base());
	cr_assert_eq(event_base_once(sx_worker_base(&ws[1]), -1, EV_TIMEOUT, on_worker, NULL, NULL),
	             0);
	cr_assert_eq(sx_workers_run(ws, 2), 0);
	pthread_mutex_lock(&seen_lock);
	while (!seen) {
		pthread_cond_wait(&seen_cond, &seen_lock);
	}
	pthread_mutex_unlock(&seen_lock);
	cr_assert_eq(seen_base, sx_worker_base(&ws[1]));
	/* With nothing left to wait for, the loops keep running until stopped. */
	sx_workers_stop(ws, 2);
	cr_assert_null(sx_worker_current_base());
	sx_workers_free(ws, 2);
}

/*
 * A stop that comes before a worker's thread has entered its loop must still end it: the
 * server stops at once when its test (or a pod's preStop) signals right after start.
 */
Test(worker, a_worker_stopped_before_its_loop_starts_still_stops, .timeout = 60)
{
	cr_assert_eq(evthread_use_pthreads(), 0);
	for (int round = 0; round < 200; round++) {
		struct sx_worker *ws = sx_workers_new(2);

		cr_assert_not_null(ws);
		cr_assert_eq(sx_workers_run(ws, 2), 0);
		sx_workers_stop(ws, 2);
		sx_workers_free(ws, 2);
	}
}

/* The reply of a request that replies to itself (as a refresh does, chain.c). */
static struct {
	int calls;
	bool got_wire;
	uint8_t wire[512];
	size_t len;
} reply;

static void
capture(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	(void)req;
	(void)arg;
	reply.calls++;
	reply.got_wire = wire != NULL;
	reply.len = len;
	if (wire && len <= sizeof(reply.wire)) {
		memcpy(reply.wire, wire, len);
	}
}

static uint8_t out_buf[1024];

static struct sx_req *
new_req(struct sx_worker *w)
{
	uint8_t qname[SX_DNAME_MAX];
	int qlen = sx_dname_from_str(qname, "a.example.");
	struct sx_req *req = sx_req_get(w);
	struct sx_wire_query wq = {
		.id = 0x4242, .qname = qname, .qtype = SX_TYPE_A, .qclass = SX_CLASS_IN
	};
	int len;

	cr_assert_not_null(req);
	wq.qname_len = (size_t)qlen;
	len = sx_wire_query(req->qwire, sizeof(req->qwire), &wq);
	cr_assert_eq(sx_wire_parse_query(req->qwire, (size_t)len, &req->q, req->lname),
	             SX_PARSE_OK);
	req->out = out_buf;
	req->out_cap = sizeof(out_buf);
	req->parent = req;
	req->sub_cb = capture;
	return req;
}

Test(worker, a_rejected_query_gets_its_rcode_and_the_request_is_released)
{
	static const struct {
		enum sx_parse pr;
		unsigned rcode;
	} cases[] = {
		{ SX_PARSE_FORMERR, SX_RCODE_FORMERR },
		{ SX_PARSE_NOTIMP, SX_RCODE_NOTIMP },
	};
	struct sx_worker *ws = sx_workers_new(1);

	cr_assert_not_null(ws);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sx_req *req = new_req(ws);

		memset(&reply, 0, sizeof(reply));
		sx_worker_reject(req, cases[i].pr);
		cr_assert_eq(reply.calls, 1);
		cr_assert_geq(reply.len, 12);
		cr_assert_eq(reply.wire[0], 0x42);
		cr_assert_eq(reply.wire[1], 0x42);
		cr_assert(reply.wire[2] & 0x80, "QR set");
		cr_assert_eq(reply.wire[3] & 0x0f, cases[i].rcode, "parse result %d", cases[i].pr);
		/* Back in the pool: the next request is the same one. */
		cr_assert_eq(ws->free_reqs, req);
		cr_assert_eq(sx_req_get(ws), req);
		sx_req_put(req);
	}
	sx_workers_free(ws, 1);
}

Test(worker, a_dropped_reply_reaches_its_caller_as_null)
{
	struct sx_worker *ws = sx_workers_new(1);
	struct sx_req *req;

	cr_assert_not_null(ws);
	req = new_req(ws);
	memset(&reply, 0, sizeof(reply));
	sx_worker_reply(req, 0);
	cr_assert_eq(reply.calls, 1);
	cr_assert_not(reply.got_wire);
	cr_assert_eq(reply.len, 0);
	cr_assert_eq(ws->free_reqs, req);
	sx_workers_free(ws, 1);
}

Test(worker, a_resumed_reply_is_built_in_the_spare_buffer)
{
	struct sx_worker *ws = sx_workers_new(1);
	struct sx_req *req;

	cr_assert_not_null(ws);
	req = new_req(ws);
	/* A client's request: its reply moves to the worker's big buffer, behind a TCP length. */
	req->parent = NULL;
	sx_worker_bind_async(ws, req);
	cr_assert_eq(req->out, ws->big + 2);
	cr_assert_eq(req->out_cap, sizeof(ws->big) - 2);
	cr_assert(req->msg_bound);
	cr_assert_eq(sx_msg_rcode(&req->msg), SX_RCODE_NOERROR);
	sx_req_put(req);

	/* A sub-query keeps its own buffer. */
	req = new_req(ws);
	sx_worker_bind_async(ws, req);
	cr_assert_eq(req->out, out_buf);
	cr_assert(req->msg_bound);
	sx_req_put(req);
	sx_workers_free(ws, 1);
}
