/* bench_wire.c -- ns per operation of the wire path, against ldns doing the same work. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include <sextant/dname.h>

#include "msg_reader.h"
#include "msg_writer.h"

#define ROUNDS 9

static volatile size_t sink;

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What dig sends for a cluster name: RD, one question, OPT 1232 with a client cookie. */
static size_t
make_query(uint8_t *b)
{
	static const uint8_t hdr[] = { 0x4d, 0x2a, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1 };
	static const uint8_t tail[] = {
		0, 1,  0,  1,                                /* A IN */
		0, 0,  41, 0x04, 0xD0, 0, 0, 0, 0, 0, 12,    /* OPT */
		0, 10, 0,  8,    1,    2, 3, 4, 5, 6, 7,  8, /* COOKIE */
	};
	size_t n = sizeof(hdr);
	memcpy(b, hdr, n);
	n += (size_t)sx_dname_from_str(b + n, "web.default.svc.cluster.local");
	memcpy(b + n, tail, sizeof(tail));
	return n + sizeof(tail);
}

static const uint8_t a_rdata[4] = { 10, 96, 0, 17 };

struct ctx {
	uint8_t q[512];
	size_t qn;
	uint8_t lname[SX_DNAME_MAX];
	uint8_t owner[SX_DNAME_MAX];
	uint8_t out[65535];
	uint8_t *up; /* an upstream reply, for set_wire and the walks */
	size_t upn;
	ldns_rr *ldns_a;
};

static size_t
op_parse(struct ctx *c)
{
	struct sx_query q;
	return (size_t)sx_wire_parse_query(c->q, c->qn, &q, c->lname) + q.qname_len;
}

static size_t
op_answer(struct ctx *c, unsigned records)
{
	struct sx_query q;
	struct sx_msg m;
	if (sx_wire_parse_query(c->q, c->qn, &q, c->lname) != SX_PARSE_OK) {
		abort();
	}
	q.proto = SX_PROTO_UDP;
	sx_msg_init(&m, c->out, sizeof(c->out), sx_wire_reply_limit(&q), &q);
	sx_msg_set_flags(&m, SX_FLAG_AA);
	for (unsigned i = 0; i < records; i++) {
		sx_msg_put_rr(&m, SX_SEC_ANSWER, q.lname, SX_TYPE_A, SX_CLASS_IN, 5, a_rdata, 4);
	}
	return sx_msg_finish(&m, &q);
}

static size_t
op_answer1(struct ctx *c)
{
	return op_answer(c, 1);
}

static size_t
op_answer4(struct ctx *c)
{
	return op_answer(c, 4);
}

static size_t
op_set_wire(struct ctx *c)
{
	struct sx_query q;
	struct sx_msg m;
	sx_wire_parse_query(c->q, c->qn, &q, c->lname);
	q.proto = SX_PROTO_UDP;
	sx_msg_init(&m, c->out, sizeof(c->out), sx_wire_reply_limit(&q), &q);
	if (sx_msg_set_wire(&m, c->up, c->upn) != 0) {
		abort();
	}
	return sx_msg_finish(&m, &q);
}

/* A walk as forward's replies get it: names followed and checked. */
static size_t
op_rr_walk(struct ctx *c)
{
	size_t sum = 0;
	struct sx_rr_walk it;
	struct sx_rr rr;
	sx_rr_walk_start(&it, c->up, c->upn, SX_WALK_CHECKED);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		sum += rr.ttl_off;
	}
	return sum;
}

/* A walk as the cache and loadbalance get it: names skipped. */
static size_t
op_rr_walk_skip(struct ctx *c)
{
	size_t sum = 0;
	struct sx_rr_walk it;
	struct sx_rr rr;
	sx_rr_walk_start(&it, c->up, c->upn, 0);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		sum += rr.ttl_off;
	}
	return sum;
}

/* The same answer with ldns: parse, add a record, render. */
static size_t
op_ldns(struct ctx *c)
{
	ldns_pkt *p = NULL;
	uint8_t *w = NULL;
	size_t n = 0;
	if (ldns_wire2pkt(&p, c->q, c->qn) != LDNS_STATUS_OK) {
		abort();
	}
	ldns_pkt_set_qr(p, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, ldns_rr_clone(c->ldns_a));
	ldns_pkt2wire(&w, p, &n);
	free(w);
	ldns_pkt_free(p);
	return n;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Mean ns per call in each of ROUNDS rounds: the median, and the best in *@best. */
static double
measure(size_t (*op)(struct ctx *), struct ctx *c, unsigned iters, double *best)
{
	double r[ROUNDS];
	for (unsigned i = 0; i < iters / 10; i++) {
		sink += op(c);
	}
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < iters; i++) {
			sink += op(c);
		}
		r[k] = (double)(now_ns() - t0) / iters;
	}
	qsort(r, ROUNDS, sizeof(r[0]), cmp);
	*best = r[0];
	return r[ROUNDS / 2];
}

static void
make_upstream(struct ctx *c)
{
	static const char *rrs[] = {
		"web.default.svc.cluster.local. 30 IN CNAME real.default.svc.cluster.local.",
		"real.default.svc.cluster.local. 30 IN A 10.96.0.17",
		"real.default.svc.cluster.local. 30 IN A 10.96.0.18",
	};
	ldns_pkt *p = NULL;
	ldns_wire2pkt(&p, c->q, c->qn);
	ldns_pkt_set_qr(p, true);
	for (size_t i = 0; i < 3; i++) {
		ldns_rr *rr = NULL;
		ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	ldns_pkt2wire(&c->up, p, &c->upn);
	ldns_pkt_free(p);
}

/* An optional argument scales the iterations (1 by default; smaller for valgrind). */
int
main(int argc, char **argv)
{
	static struct ctx c;
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	unsigned iters = scale > 0 ? (unsigned)(2000000 * scale) + 10 : 2000000;
	c.qn = make_query(c.q);
	sx_dname_from_str(c.owner, "web.default.svc.cluster.local");
	ldns_rr_new_frm_str(&c.ldns_a, "web.default.svc.cluster.local. 5 IN A 10.96.0.17", 0, NULL,
	                    NULL);
	make_upstream(&c);

	double best;
	double ldns = measure(op_ldns, &c, iters / 10, &best);
	struct {
		const char *name;
		size_t (*op)(struct ctx *);
	} cases[] = {
		{ "parse query", op_parse },
		{ "parse+init+1 A+finish", op_answer1 },
		{ "parse+init+4 A+finish", op_answer4 },
		{ "parse+init+set_wire(3 rr)+finish", op_set_wire },
		{ "walk over 3+1 records, names checked", op_rr_walk },
		{ "walk over 3+1 records, names skipped", op_rr_walk_skip },
	};
	printf("%-36s %9s %9s %9s\n", "operation", "ns/op", "best", "vs ldns");
	printf("%-36s %9.1f %9.1f\n", "ldns: wire2pkt+push A+pkt2wire", ldns, best);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double ns = measure(cases[i].op, &c, iters, &best);
		printf("%-36s %9.1f %9.1f %8.1fx\n", cases[i].name, ns, best, ldns / ns);
	}
	free(c.up);
	ldns_rr_free(c.ldns_a);
	return 0;
}
