/* test_req.c -- the request accessors plugins use: arena, errors, question, flags, metadata. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>
#include <sextant/req.h>
#include <sextant/wire.h>

#include "config.h"
#include "msg_reader.h"
#include "msg_writer.h"
#include "req_internal.h"
#include "worker.h"

static struct sx_worker *worker;
static uint8_t reply_buf[4096];

static void
setup(void)
{
	worker = sx_workers_new(1);
	cr_assert_not_null(worker);
}

static void
teardown(void)
{
	sx_workers_free(worker, 1);
}

TestSuite(req, .init = setup, .fini = teardown);

/* A request for @name / A as the chain gets it: parsed, its reply started in reply_buf. */
static struct sx_req *
new_req(const char *name, bool edns, uint16_t udp_size)
{
	uint8_t qname[SX_DNAME_MAX];
	int qlen = sx_dname_from_str(qname, name);
	struct sx_req *req = sx_req_get(worker);
	struct sx_wire_query wq = { .id = 7,
		                    .flags = SX_FLAG_RD,
		                    .qname = qname,
		                    .qtype = SX_TYPE_A,
		                    .qclass = SX_CLASS_IN,
		                    .edns = edns,
		                    .udp_size = udp_size };
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
	sx_msg_init(&req->msg, req->out, req->out_cap, sx_wire_reply_limit(&req->q), &req->q);
	req->msg_bound = true;
	return req;
}

Test(req, alloc_is_aligned_and_grows_past_the_inline_chunk)
{
	struct sx_req *req = new_req("a.example.", false, 0);
	uint8_t *first = sx_req_alloc(req, 1), *p = first, *big;
	size_t total = 16;

	cr_assert_not_null(first);
	/* Small allocations: 16-byte aligned, one after another, none overlapping. */
	for (size_t size = 1; size < 200; size += 37) {
		uint8_t *q = sx_req_alloc(req, size);

		cr_assert_not_null(q);
		cr_assert_eq((uintptr_t)q % 16, 0, "size %zu", size);
		cr_assert_geq(q, p + 16, "size %zu", size);
		memset(q, 0xab, size);
		p = q;
		total += (size + 15) / 16 * 16;
	}
	cr_assert_leq(total, SX_ARENA_INLINE);
	/* Past the inline chunk, and far past it: memory of its own, still aligned and usable. */
	big = sx_req_alloc(req, SX_ARENA_INLINE);
	cr_assert_not_null(big);
	cr_assert_eq((uintptr_t)big % 16, 0);
	memset(big, 1, SX_ARENA_INLINE);
	big = sx_req_alloc(req, 1 << 20);
	cr_assert_not_null(big);
	cr_assert_eq((uintptr_t)big % 16, 0);
	memset(big, 2, 1 << 20);

	/* The next request from the pool starts with an empty arena. */
	sx_req_put(req);
	req = sx_req_get(worker);
	cr_assert_eq(sx_req_alloc(req, 1), first);
	sx_req_put(req);
}

Test(req, alloc_fills_the_inline_chunk_exactly)
{
	struct sx_req *req = new_req("a.example.", false, 0);
	uint8_t *a = sx_req_alloc(req, SX_ARENA_INLINE - 16);
	uint8_t *b = sx_req_alloc(req, 16);
	uint8_t *c = sx_req_alloc(req, 1);

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_not_null(c);
	/* The last 16 bytes are inline; the next byte is not. */
	cr_assert_eq(b, a + SX_ARENA_INLINE - 16);
	cr_assert(c < a || c >= a + SX_ARENA_INLINE);
	sx_req_put(req);
}

Test(req, error_sets_rcode_drops_records_and_keeps_the_message)
{
	static const uint8_t addr[4] = { 192, 0, 2, 1 };
	struct sx_req *req = new_req("a.example.", false, 0);
	struct sx_msg *msg = sx_req_msg(req);

	cr_assert_null(sx_req_errmsg(req));
	cr_assert_eq(sx_msg_put_rr(msg, SX_SEC_ANSWER, req->q.qname, SX_TYPE_A, SX_CLASS_IN, 5,
	                           addr, sizeof(addr)),
	             0);
	cr_assert_eq(sx_msg_count(msg, SX_SEC_ANSWER), 1);
	cr_assert_eq(
	        sx_req_error(req, SX_RCODE_SERVFAIL, "plugin/%s: %d upstreams down", "forward", 3),
	        SX_DONE);
	cr_assert_eq(sx_msg_rcode(msg), SX_RCODE_SERVFAIL);
	cr_assert_eq(sx_msg_count(msg, SX_SEC_ANSWER), 0);
	cr_assert_str_eq(sx_req_errmsg(req), "plugin/forward: 3 upstreams down");

	/* A second error replaces the first. */
	sx_req_error(req, SX_RCODE_REFUSED, "plugin/acl: refused");
	cr_assert_eq(sx_msg_rcode(msg), SX_RCODE_REFUSED);
	cr_assert_str_eq(sx_req_errmsg(req), "plugin/acl: refused");
	sx_req_put(req);
}

Test(req, a_long_error_is_cut_to_511_bytes)
{
	struct sx_req *req = new_req("a.example.", false, 0);
	char long_msg[2000];

	memset(long_msg, 'e', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	sx_req_error(req, SX_RCODE_SERVFAIL, "%s", long_msg);
	cr_assert_eq(strlen(sx_req_errmsg(req)), 511);
	cr_assert_eq(strncmp(sx_req_errmsg(req), long_msg, 511), 0);
	sx_req_put(req);
}

Test(req, udp_size_only_goes_down)
{
	struct sx_req *req = new_req("a.example.", true, 4096);

	sx_req_set_udp_size(req, 8192);
	cr_assert_eq(sx_req_query(req)->udp_size, 4096);
	sx_req_set_udp_size(req, 1232);
	cr_assert_eq(sx_req_query(req)->udp_size, 1232);
	/* Never under DNS's own 512. */
	sx_req_set_udp_size(req, 100);
	cr_assert_eq(sx_req_query(req)->udp_size, 512);
	sx_req_put(req);

	/* Without EDNS there is nothing to lower. */
	req = new_req("a.example.", false, 0);
	sx_req_set_udp_size(req, 100);
	cr_assert_eq(sx_req_query(req)->udp_size, 512);
	sx_req_put(req);
}

Test(req, flags_are_set_then_cleared_and_rd_is_mirrored)
{
	struct sx_req *req = new_req("a.example.", false, 0);
	struct sx_msg *msg = sx_req_msg(req);

	cr_assert(sx_msg_flags(msg) & SX_FLAG_RD);
	sx_req_set_flags(req, SX_FLAG_CD, SX_FLAG_RD);
	cr_assert_eq(sx_req_query(req)->flags & (SX_FLAG_RD | SX_FLAG_CD), SX_FLAG_CD);
	cr_assert_not(sx_msg_flags(msg) & SX_FLAG_RD);
	/* Other bits (AA, TC) are not the plugin's to set. */
	sx_req_set_flags(req, SX_FLAG_RD | SX_FLAG_AA | SX_FLAG_TC, SX_FLAG_CD);
	cr_assert_eq(sx_req_query(req)->flags & (SX_FLAG_RD | SX_FLAG_CD | SX_FLAG_AA | SX_FLAG_TC),
	             SX_FLAG_RD);
	cr_assert(sx_msg_flags(msg) & SX_FLAG_RD);
	sx_req_put(req);
}

Test(req, set_question_keeps_the_clients)
{
	struct sx_req *req = new_req("Web.Example.", false, 0);
	uint8_t name[SX_DNAME_MAX];
	static const uint8_t bad[] = { 64, 'x', 0 };

	cr_assert_gt(sx_dname_from_str(name, "Web.Default.svc.cluster.local."), 0);
	cr_assert_eq(sx_req_set_question(req, name, SX_TYPE_AAAA, SX_CLASS_IN), 0);
	cr_assert_eq(sx_req_query(req)->qtype, SX_TYPE_AAAA);
	cr_assert_eq(memcmp(sx_req_query(req)->qname, name, sx_dname_len(name)), 0);
	cr_assert_eq(sx_req_query(req)->nlabels, 5);
	cr_assert_eq(memcmp(sx_req_query(req)->lname, "\3web\7default\3svc\7cluster\5local", 31),
	             0);
	cr_assert_eq(sx_req_client_query(req)->qtype, SX_TYPE_A);
	cr_assert_eq(memcmp(sx_req_client_query(req)->qname, "\3Web\7Example", 13), 0);
	/* One hook puts the client's question back, however often it changes. */
	cr_assert_eq(req->nhooks, 1);
	cr_assert_eq(sx_req_set_question(req, name, SX_TYPE_TXT, SX_CLASS_IN), 0);
	cr_assert_eq(req->nhooks, 1);
	/* A label over 63 bytes: refused, question as it was. */
	cr_assert_eq(sx_req_set_question(req, bad, SX_TYPE_A, SX_CLASS_IN), SX_EINVAL);
	cr_assert_eq(sx_req_query(req)->qtype, SX_TYPE_TXT);
	sx_req_put(req);
}

static void
nop_hook(struct sx_req *req, struct sx_msg *msg, void *arg)
{
	(void)req;
	(void)msg;
	(void)arg;
}

Test(req, set_question_needs_a_free_hook)
{
	struct sx_req *req = new_req("a.example.", false, 0);
	uint8_t name[SX_DNAME_MAX];

	for (int i = 0; i < SX_REQ_HOOKS; i++) {
		cr_assert_eq(sx_req_on_reply(req, nop_hook, NULL), 0);
	}
	cr_assert_eq(sx_req_on_reply(req, nop_hook, NULL), SX_ETRUNC);
	cr_assert_gt(sx_dname_from_str(name, "b.example."), 0);
	cr_assert_eq(sx_req_set_question(req, name, SX_TYPE_AAAA, SX_CLASS_IN), SX_ETRUNC);
	cr_assert_eq(sx_req_query(req)->qtype, SX_TYPE_A);
	cr_assert_eq(sx_req_client_query(req), sx_req_query(req));
	sx_req_put(req);
}

static int
meta_value(const struct sx_req *req, const void *arg, char *buf, size_t cap)
{
	(void)req;
	return snprintf(buf, cap, "%s", (const char *)arg);
}

Test(req, metadata_only_when_collected_and_at_most_SX_REQ_META)
{
	static const char *const labels[SX_REQ_META] = {
		"l/0",  "l/1",  "l/2",  "l/3",  "l/4",  "l/5",  "l/6",  "l/7",
		"l/8",  "l/9",  "l/10", "l/11", "l/12", "l/13", "l/14", "l/15",
		"l/16", "l/17", "l/18", "l/19", "l/20", "l/21", "l/22", "l/23",
		"l/24", "l/25", "l/26", "l/27", "l/28", "l/29", "l/30", "l/31",
	};
	struct sx_block empty = { 0 };
	struct sx_req *req = new_req("a.example.", false, 0);
	char buf[32];

	cr_assert_eq(sx_req_meta_set(req, "kubernetes/kind", meta_value, "svc"), SX_ENOTSUP);
	cr_assert_eq(sx_req_meta(req, "kubernetes/kind", buf, sizeof(buf)), -1);

	req->block = &empty;
	sx_req_meta_collect(req);
	cr_assert_eq(sx_req_meta_set(req, "kubernetes/kind", meta_value, "svc"), 0);
	cr_assert_eq(sx_req_meta(req, "kubernetes/kind", buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "svc");
	/* Set again: replaced, not added. */
	cr_assert_eq(sx_req_meta_set(req, "kubernetes/kind", meta_value, "pod"), 0);
	cr_assert_eq(sx_req_meta(req, "kubernetes/kind", buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "pod");
	cr_assert_eq(sx_req_meta(req, "kubernetes/other", buf, sizeof(buf)), -1);

	for (int i = 1; i < SX_REQ_META; i++) {
		cr_assert_eq(sx_req_meta_set(req, labels[i], meta_value, labels[i]), 0, "%d", i);
	}
	cr_assert_eq(sx_req_meta_set(req, labels[0], meta_value, "one too many"), SX_ETRUNC);
	/* A full request still takes new values for its labels. */
	cr_assert_eq(sx_req_meta_set(req, "kubernetes/kind", meta_value, "ep"), 0);
	cr_assert_eq(sx_req_meta(req, labels[31], buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "l/31");
	sx_req_put(req);
}

Test(req, local_address_carries_the_listeners_port)
{
	struct sx_req *req = new_req("a.example.", false, 0);
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&req->local;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&req->local;

	cr_assert_not(sx_req_local(req, &ss));
	req->q.local_port = 5353;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0a000001);
	cr_assert(sx_req_local(req, &ss));
	cr_assert_eq(ss.ss_family, AF_INET);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5353);
	cr_assert_eq(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x0a000001);

	memset(&req->local, 0, sizeof(req->local));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr.s6_addr[15] = 1;
	cr_assert(sx_req_local(req, &ss));
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 5353);
	cr_assert_eq(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[15], 1);
	sx_req_put(req);
}

Test(req, simple_accessors)
{
	struct sx_req *req = new_req("a.example.", false, 0);

	cr_assert_eq(sx_req_worker(req), 0);
	cr_assert_str_eq(sx_req_writer(req), "");
	cr_assert_not(sx_req_is_sub(req));
	cr_assert_not(sx_req_is_refresh(req));
	cr_assert_not(sx_req_transfer_allowed(req));
	sx_req_allow_transfer(req);
	cr_assert(sx_req_transfer_allowed(req));
	cr_assert_not(req->dropped);
	sx_req_drop(req);
	cr_assert(req->dropped);
	/* Parts are for TCP zone transfers only. */
	cr_assert_eq(sx_req_send_part(req), SX_EINVAL);
	sx_req_put(req);

	/* Taken again from the pool: nothing of the last request is left. */
	req = sx_req_get(worker);
	cr_assert_not(req->dropped);
	cr_assert_not(sx_req_transfer_allowed(req));
	cr_assert_null(sx_req_errmsg(req));
	cr_assert_eq(req->nhooks, 0);
	sx_req_put(req);
}
