/* test_chain.c -- a query routed through a block of fake plugins: verdicts, errors, reply hooks. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>
#include <sextant/plugin.h>
#include <sextant/req.h>
#include <sextant/wire.h>

#include "chain.h"
#include "config.h"
#include "msg_reader.h"
#include "server.h"
#include "worker.h"

/*
 * What the chain left behind, read when the reply goes out: the request ends
 * (its arena is reset) right after, so everything is copied here.
 */
static struct {
	int replies;
	uint8_t wire[512];
	size_t len;
	char writer[32];
	char errmsg[128];
	bool has_errmsg;
} out;

/* Reply hooks append their letter, so the order they ran in reads left to right. */
static char trace[64];
/* What each sx_req_on_reply() of the greedy plugin returned. */
static int greedy_rc[SX_REQ_HOOKS + 1];

static void
hook(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	(void)req;
	(void)msg;
	strncat(trace, arg, sizeof(trace) - strlen(trace) - 1);
}

static enum sx_verdict
pass_handle(struct sx_req *req, void *inst)
{
	(void)inst;
	cr_assert_eq(sx_req_on_reply(req, hook, "p"), 0);
	return SX_NEXT;
}

static enum sx_verdict
hooks_handle(struct sx_req *req, void *inst)
{
	(void)inst;
	cr_assert_eq(sx_req_on_reply(req, hook, "a"), 0);
	cr_assert_eq(sx_req_on_reply(req, hook, "b"), 0);
	return SX_NEXT;
}

static enum sx_verdict
greedy_handle(struct sx_req *req, void *inst)
{
	(void)inst;
	for (int i = 0; i <= SX_REQ_HOOKS; i++) {
		greedy_rc[i] = sx_req_on_reply(req, hook, "g");
	}
	return SX_NEXT;
}

static enum sx_verdict
answer_handle(struct sx_req *req, void *inst)
{
	static const uint8_t addr[4] = { 192, 0, 2, 1 };
	struct sx_msg *msg = sx_req_msg(req);

	(void)inst;
	cr_assert_eq(sx_req_on_reply(req, hook, "w"), 0);
	cr_assert_eq(sx_msg_put_rr(msg, SX_SEC_ANSWER, sx_req_query(req)->qname, SX_TYPE_A,
	                           SX_CLASS_IN, 30, addr, sizeof(addr)),
	             0);
	return SX_DONE;
}

static enum sx_verdict
refuse_handle(struct sx_req *req, void *inst)
{
	(void)inst;
	return sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/%s: upstream %s", "refuser", "down");
}

static enum sx_verdict
broken_handle(struct sx_req *req, void *inst)
{
	(void)req;
	(void)inst;
	/* The mistake bad_verdict() is there for: an error code returned as a verdict. */
	return (enum sx_verdict)(-EINVAL);
}

static enum sx_verdict
zero_handle(struct sx_req *req, void *inst)
{
	(void)req;
	(void)inst;
	return (enum sx_verdict)0;
}

static enum sx_verdict
never_handle(struct sx_req *req, void *inst)
{
	(void)req;
	(void)inst;
	cr_assert_fail("a plugin after the writer ran");
	return SX_NEXT;
}

/* In execution order, whatever the Corefile says. */
static const struct sx_plugin pass = { .name = "pass", .handle = pass_handle };
static const struct sx_plugin hooks = { .name = "hooks", .handle = hooks_handle };
static const struct sx_plugin greedy = { .name = "greedy", .handle = greedy_handle };
static const struct sx_plugin nohandle = { .name = "nohandle" };
static const struct sx_plugin refuser = { .name = "refuser", .handle = refuse_handle };
static const struct sx_plugin broken = { .name = "broken", .handle = broken_handle };
static const struct sx_plugin zero = { .name = "zero", .handle = zero_handle };
static const struct sx_plugin answer = { .name = "answer", .handle = answer_handle };
static const struct sx_plugin never = { .name = "never", .handle = never_handle };

static const struct sx_plugin *const fakes[] = {
	&pass, &hooks, &greedy, &nohandle, &refuser, &broken, &zero, &answer, &never, NULL,
};

static struct sx_worker *worker;
static struct sx_config *cfg;
static struct sx_route route;
static struct sx_gen gen;
static uint8_t reply_buf[4096];

/*
 * The request replies to itself, as a refresh does (chain.c): sx_worker_reply()
 * then hands the reply to this callback instead of a socket.
 */
static void
capture(struct sx_req *req, const uint8_t *wire, size_t len, void *arg)
{
	const char *err = sx_req_errmsg(req);

	(void)arg;
	out.replies++;
	cr_assert_leq(len, sizeof(out.wire));
	if (wire) {
		memcpy(out.wire, wire, len);
	}
	out.len = len;
	snprintf(out.writer, sizeof(out.writer), "%s", sx_req_writer(req));
	out.has_errmsg = err != NULL;
	snprintf(out.errmsg, sizeof(out.errmsg), "%s", err ? err : "");
}

/* A generation of one block, @corefile's first, routing every name on listener 0. */
static void
load(const char *corefile)
{
	static const struct sx_config_opts opts = { .default_port = 53, .workers = 1 };
	char err[256] = "";

	cr_assert_eq(sx_config_parse_with(fakes, "Corefile", corefile, NULL, &opts, &cfg, err,
	                                  sizeof(err)),
	             0, "%s", err);
	worker = sx_workers_new(1);
	cr_assert_not_null(worker);
	route = (struct sx_route){
		.lid = 0, .zone = (const uint8_t *)"", .zlen = 1, .block = &cfg->blocks[0]
	};
	gen = (struct sx_gen){ .cfg = cfg, .routes = &route, .nroutes = 1 };
}

static void
teardown(void)
{
	sx_workers_free(worker, 1);
	sx_config_free(cfg);
}

/* Run an A query for @name through the chain, as a worker does with one it read. */
static void
query(const char *name)
{
	uint8_t qname[SX_DNAME_MAX];
	int qlen = sx_dname_from_str(qname, name);
	struct sx_req *req = sx_req_get(worker);
	struct sx_wire_query wq = {
		.id = 0x1234,
		.flags = SX_FLAG_RD,
		.qname = qname,
		.qtype = SX_TYPE_A,
		.qclass = SX_CLASS_IN,
	};
	int len;

	cr_assert_gt(qlen, 0);
	cr_assert_not_null(req);
	wq.qname_len = (size_t)qlen;
	len = sx_wire_query(req->qwire, sizeof(req->qwire), &wq);
	cr_assert_gt(len, 0);
	cr_assert_eq(sx_wire_parse_query(req->qwire, (size_t)len, &req->q, req->lname),
	             SX_PARSE_OK);
	req->out = reply_buf;
	req->out_cap = sizeof(reply_buf);
	req->parent = req;
	req->sub_cb = capture;
	sx_chain_process(req, &gen, 0);
}

static unsigned
rcode(void)
{
	cr_assert_geq(out.len, 12u);
	return out.wire[3] & 0x0f;
}

static unsigned
ancount(void)
{
	return (unsigned)out.wire[6] << 8 | out.wire[7];
}

Test(chain, done_writes_the_answer_and_is_the_writer, .fini = teardown)
{
	load(".:53 {\n\tanswer\n\tnever\n\tpass\n}\n");
	query("web.example.");
	cr_assert_eq(out.replies, 1);
	cr_assert_eq(rcode(), SX_RCODE_NOERROR);
	cr_assert_eq(ancount(), 1);
	cr_assert_eq(out.wire[0], 0x12);
	cr_assert_eq(out.wire[1], 0x34);
	cr_assert_str_eq(out.writer, "answer");
	cr_assert_not(out.has_errmsg);
	/* pass ran first (plugin order), answer wrote, never did not run. */
	cr_assert_str_eq(trace, "wp");
}

Test(chain, next_to_the_end_is_servfail_no_next_plugin, .fini = teardown)
{
	load(".:53 {\n\tpass\n\tnohandle\n}\n");
	query("web.example.");
	cr_assert_eq(out.replies, 1);
	cr_assert_eq(rcode(), SX_RCODE_SERVFAIL);
	cr_assert_eq(ancount(), 0);
	cr_assert_str_eq(out.errmsg, "plugin/pass: no next plugin found");
	/* SERVFAIL is counted as the server's, not a plugin's. */
	cr_assert_str_eq(out.writer, "");
	/* The hooks of the plugins that passed still run. */
	cr_assert_str_eq(trace, "p");
}

Test(chain, no_handler_at_all_is_refused, .fini = teardown)
{
	load(".:53 {\n\tnohandle\n}\n");
	query("web.example.");
	cr_assert_eq(out.replies, 1);
	cr_assert_eq(rcode(), SX_RCODE_REFUSED);
	cr_assert_not(out.has_errmsg);
	cr_assert_str_eq(out.writer, "");
}

Test(chain, error_code_as_verdict_is_servfail_with_the_error, .fini = teardown)
{
	load(".:53 {\n\tpass\n\tbroken\n\tanswer\n}\n");
	query("web.example.");
	cr_assert_eq(out.replies, 1);
	cr_assert_eq(rcode(), SX_RCODE_SERVFAIL);
	cr_assert_eq(ancount(), 0);
	cr_assert_str_eq(out.errmsg, "plugin/broken: invalid verdict -22");
	cr_assert_str_eq(out.writer, "");
	/* The chain stopped at broken: answer's hook was never registered. */
	cr_assert_str_eq(trace, "p");
}

Test(chain, zero_verdict_is_invalid_too, .fini = teardown)
{
	load(".:53 {\n\tzero\n\tanswer\n}\n");
	query("web.example.");
	cr_assert_eq(rcode(), SX_RCODE_SERVFAIL);
	cr_assert_str_eq(out.errmsg, "plugin/zero: invalid verdict 0");
}

Test(chain, sx_req_error_servfail_is_the_servers, .fini = teardown)
{
	load(".:53 {\n\tpass\n\trefuser\n\tanswer\n}\n");
	query("web.example.");
	cr_assert_eq(rcode(), SX_RCODE_SERVFAIL);
	cr_assert_str_eq(out.errmsg, "plugin/refuser: upstream down");
	cr_assert_str_eq(out.writer, "");
}

Test(chain, reply_hooks_run_last_registered_first, .fini = teardown)
{
	load(".:53 {\n\tanswer\n\thooks\n\tpass\n}\n");
	query("web.example.");
	cr_assert_eq(rcode(), SX_RCODE_NOERROR);
	/* Registered p, a, b, w: run w, b, a, p. */
	cr_assert_str_eq(trace, "wbap");
}

Test(chain, seventeenth_reply_hook_fails, .fini = teardown)
{
	load(".:53 {\n\tgreedy\n\tnohandle\n}\n");
	query("web.example.");
	for (int i = 0; i < SX_REQ_HOOKS; i++) {
		cr_assert_eq(greedy_rc[i], 0, "hook %d", i + 1);
	}
	cr_assert_eq(greedy_rc[SX_REQ_HOOKS], SX_ETRUNC);
	/* Only the 16 that were taken run. */
	cr_assert_eq(strlen(trace), SX_REQ_HOOKS);
	cr_assert_eq(rcode(), SX_RCODE_SERVFAIL);
}
