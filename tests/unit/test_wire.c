/* test_wire.c -- query parsing rules, reply limits, reply start and finish (OPT, rcodes). */
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>
#include <sextant/wire.h>

#include "msg_reader.h"
#include "msg_writer.h"

/* A query assembled byte by byte, so malformed ones are as easy as good ones. */
struct pkt {
	uint8_t b[2048];
	size_t n;
};

static void
p8(struct pkt *p, uint8_t v)
{
	p->b[p->n++] = v;
}

static void
p16(struct pkt *p, uint16_t v)
{
	p8(p, (uint8_t)(v >> 8));
	p8(p, (uint8_t)v);
}

static void
p32(struct pkt *p, uint32_t v)
{
	p16(p, (uint16_t)(v >> 16));
	p16(p, (uint16_t)v);
}

static void
pname(struct pkt *p, const char *name)
{
	int n = sx_dname_from_str(p->b + p->n, name);
	cr_assert_gt(n, 0);
	p->n += (size_t)n;
}

static void
phdr(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	p->n = 0;
	p16(p, id);
	p16(p, flags);
	p16(p, qd);
	p16(p, an);
	p16(p, ns);
	p16(p, ar);
}

static void
pquestion(struct pkt *p, const char *name, uint16_t type)
{
	pname(p, name);
	p16(p, type);
	p16(p, SX_CLASS_IN);
}

/* OPT with payload @size, version @ver, DO @dnssec and no options. */
static void
popt(struct pkt *p, uint16_t size, uint8_t ver, bool dnssec)
{
	p8(p, 0);
	p16(p, SX_TYPE_OPT);
	p16(p, size);
	p32(p, (uint32_t)ver << 16 | (dnssec ? 0x8000u : 0));
	p16(p, 0);
}

/* The usual query: one question, @ar additional records follow (added by the caller). */
static void
query(struct pkt *p, const char *name, uint16_t ar)
{
	phdr(p, 0xBEEF, SX_FLAG_RD, 1, 0, 0, ar);
	pquestion(p, name, SX_TYPE_A);
}

static enum sx_parse
parse(const struct pkt *p, struct sx_query *q, uint8_t *lname)
{
	memset(q, 0x5A, sizeof(*q));
	return sx_wire_parse_query(p->b, p->n, q, lname);
}

Test(wire, parse_plain_query)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX], want[SX_DNAME_MAX];
	phdr(&p, 0x1234, SX_FLAG_RD | SX_FLAG_CD, 1, 0, 0, 0);
	pquestion(&p, "WWW.Example.ORG", SX_TYPE_AAAA);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.id, 0x1234);
	cr_assert_eq(q.flags, SX_FLAG_RD | SX_FLAG_CD);
	cr_assert_eq(q.opcode, 0);
	cr_assert_eq(q.qtype, SX_TYPE_AAAA);
	cr_assert_eq(q.qclass, SX_CLASS_IN);
	cr_assert_eq(q.qname, p.b + SX_HDR_LEN);
	cr_assert_eq(q.lname, lname);
	cr_assert_eq(q.qname_len, 17);
	cr_assert_eq(q.nlabels, 3);
	cr_assert_eq(q.qname[1], 'W');
	sx_dname_from_str(want, "www.example.org");
	cr_assert_arr_eq(lname, want, 17);
	cr_assert_not(q.edns);
	cr_assert_not(q.do_bit);
	cr_assert_eq(q.udp_size, 512);
	cr_assert_eq(q.size, p.n);
}

Test(wire, parse_root_question)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, ".", 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.qname_len, 1);
	cr_assert_eq(q.nlabels, 0);
	cr_assert_eq(lname[0], 0);
}

Test(wire, drop_short_header_and_responses)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 0);
	size_t n = p.n;
	p.n = 11;
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_DROP);
	p.n = 0;
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_DROP);
	p.n = n;
	p.b[2] |= 0x80;
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_DROP);
}

Test(wire, header_only_is_formerr)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	phdr(&p, 7, 0, 1, 0, 0, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	cr_assert_eq(q.id, 7);
}

Test(wire, opcode_not_query_is_notimp)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	phdr(&p, 0x4242, 4 << 11 | SX_FLAG_RD, 1, 0, 0, 0); /* NOTIFY */
	pquestion(&p, "a.org", SX_TYPE_SOA);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_NOTIMP);
	cr_assert_eq(q.id, 0x4242);
	cr_assert_eq(q.opcode, 4);
	cr_assert_eq(q.flags, SX_FLAG_RD);
}

Test(wire, qdcount_zero_and_two)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	phdr(&p, 1, 0, 0, 0, 0, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	phdr(&p, 1, 0, 2, 0, 0, 0);
	pquestion(&p, "a.org", SX_TYPE_A);
	pquestion(&p, "b.org", SX_TYPE_A);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
}

Test(wire, question_pointer_is_formerr)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	/* A pointer to itself: a loop for anyone who would follow it. */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	p16(&p, 0xC00C);
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	/* A label and then a pointer back to the start of the name. */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	p8(&p, 1);
	p8(&p, 'a');
	p16(&p, 0xC00C);
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
}

Test(wire, question_label_types_above_63)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	static const uint8_t bad[] = { 0x40, 0x41, 0x80, 0xBF };
	for (size_t i = 0; i < sizeof(bad); i++) {
		phdr(&p, 1, 0, 1, 0, 0, 0);
		p8(&p, bad[i]);
		memset(p.b + p.n, 'x', bad[i] & 0x3F);
		p.n += bad[i] & 0x3F;
		p8(&p, 0);
		p16(&p, SX_TYPE_A);
		p16(&p, SX_CLASS_IN);
		cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR, "label byte %#x", bad[i]);
	}
}

Test(wire, question_name_length_limit)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	/* 127 one-byte labels: 255 bytes, the longest legal name. */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 127; i++) {
		p8(&p, 1);
		p8(&p, 'A');
	}
	p8(&p, 0);
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.qname_len, 255);
	cr_assert_eq(q.nlabels, 127);
	cr_assert_eq(lname[254], 0);
	cr_assert_eq(lname[253], 'a');
	/* One label more: 257 bytes. */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 128; i++) {
		p8(&p, 1);
		p8(&p, 'a');
	}
	p8(&p, 0);
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
}

Test(wire, truncated_question)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "abc.example", 0);
	size_t full = p.n;
	/* Every cut: inside a label, before the root byte, inside type and class. */
	for (size_t n = SX_HDR_LEN + 1; n < full; n++) {
		p.n = n;
		cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR, "cut at %zu", n);
	}
	p.n = full;
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
}

Test(wire, trailing_garbage)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 0);
	p8(&p, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	query(&p, "a.org", 1);
	popt(&p, 1232, 0, false);
	p16(&p, 0xFFFF);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	/* What was seen before the garbage is kept, for the error reply. */
	cr_assert(q.edns);
	cr_assert_eq(q.id, 0xBEEF);
}

Test(wire, answer_and_authority_records_are_skipped)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	phdr(&p, 1, 0, 1, 1, 1, 0);
	pquestion(&p, "a.org", SX_TYPE_A);
	p16(&p, 0xC00C); /* compressed owner: the question */
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	p32(&p, 60);
	p16(&p, 4);
	p32(&p, 0x7F000001);
	p8(&p, 1);
	p8(&p, 'x');
	p16(&p, 0xC00E); /* label then pointer to "org" */
	p16(&p, SX_TYPE_TXT);
	p16(&p, SX_CLASS_IN);
	p32(&p, 60);
	p16(&p, 2);
	p16(&p, 0x0161);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.qtype, SX_TYPE_A);
}

Test(wire, skipped_records_are_bounds_checked)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	/* rdlen past the end */
	phdr(&p, 1, 0, 1, 1, 0, 0);
	pquestion(&p, "a.org", SX_TYPE_A);
	p16(&p, 0xC00C);
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	p32(&p, 60);
	p16(&p, 5);
	p32(&p, 0x7F000001);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	/* a count with no record behind it */
	phdr(&p, 1, 0, 1, 0, 1, 0);
	pquestion(&p, "a.org", SX_TYPE_A);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	/* a pointer pointing forward */
	phdr(&p, 1, 0, 1, 1, 0, 0);
	pquestion(&p, "a.org", SX_TYPE_A);
	p16(&p, 0xC000 | (uint16_t)(p.n + 2));
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	p32(&p, 60);
	p16(&p, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	/* a fixed part cut short */
	phdr(&p, 1, 0, 1, 1, 0, 0);
	pquestion(&p, "a.org", SX_TYPE_A);
	p16(&p, 0xC00C);
	p16(&p, SX_TYPE_A);
	p16(&p, SX_CLASS_IN);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
}

Test(wire, edns_payload_and_do)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 1);
	popt(&p, 1232, 0, true);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert(q.edns);
	cr_assert(q.do_bit);
	cr_assert_eq(q.udp_size, 1232);
	query(&p, "a.org", 1);
	popt(&p, 4096, 0, false);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert(q.edns);
	cr_assert_not(q.do_bit);
	cr_assert_eq(q.udp_size, 4096);
}

Test(wire, edns_payload_below_512_counts_as_512)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 1);
	popt(&p, 100, 0, false);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.udp_size, 512);
	query(&p, "a.org", 1);
	popt(&p, 0, 0, false);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.udp_size, 512);
}

Test(wire, edns_version_1_is_badvers)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 1);
	popt(&p, 1400, 1, true);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_BADVERS);
	cr_assert(q.edns);
	cr_assert(q.do_bit);
	cr_assert_eq(q.udp_size, 1400);
	cr_assert_eq(q.qtype, SX_TYPE_A);
}

Test(wire, two_opts_are_formerr)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 2);
	popt(&p, 1232, 0, false);
	popt(&p, 1232, 0, false);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	cr_assert(q.edns);
}

Test(wire, opt_owner_must_be_root)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 1);
	pname(&p, "a.org");
	p16(&p, SX_TYPE_OPT);
	p16(&p, 1232);
	p32(&p, 0);
	p16(&p, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	query(&p, "a.org", 1);
	p16(&p, 0xC00C);
	p16(&p, SX_TYPE_OPT);
	p16(&p, 1232);
	p32(&p, 0);
	p16(&p, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
}

Test(wire, opt_options_are_checked)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	/* A client cookie (8 bytes) is fine. */
	query(&p, "a.org", 1);
	p8(&p, 0);
	p16(&p, SX_TYPE_OPT);
	p16(&p, 1232);
	p32(&p, 0);
	p16(&p, 12);
	p16(&p, 10);
	p16(&p, 8);
	p32(&p, 0x01020304);
	p32(&p, 0x05060708);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	/* An option claiming more bytes than the rdata has. */
	query(&p, "a.org", 1);
	p8(&p, 0);
	p16(&p, SX_TYPE_OPT);
	p16(&p, 1232);
	p32(&p, 0);
	p16(&p, 6);
	p16(&p, 10);
	p16(&p, 8);
	p16(&p, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
}

Test(wire, other_additional_records_are_skipped)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	query(&p, "a.org", 2);
	popt(&p, 1232, 0, false);
	pname(&p, "key.example");
	p16(&p, 250); /* TSIG: not ours to check */
	p16(&p, 255);
	p32(&p, 0);
	p16(&p, 3);
	p8(&p, 1);
	p16(&p, 2);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert(q.edns);
}

Test(wire, parse_matches_ldns_built_query)
{
	ldns_pkt *lp = NULL;
	cr_assert_eq(ldns_pkt_query_new_frm_str(&lp, "Web.Default.svc.Cluster.Local.",
	                                        LDNS_RR_TYPE_SRV, LDNS_RR_CLASS_IN, LDNS_RD),
	             LDNS_STATUS_OK);
	ldns_pkt_set_id(lp, 999);
	ldns_pkt_set_edns_udp_size(lp, 1232);
	ldns_pkt_set_edns_do(lp, true);
	uint8_t *w = NULL;
	size_t n = 0;
	cr_assert_eq(ldns_pkt2wire(&w, lp, &n), LDNS_STATUS_OK);
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX], want[SX_DNAME_MAX];
	cr_assert_eq(sx_wire_parse_query(w, n, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.id, 999);
	cr_assert_eq(q.qtype, SX_TYPE_SRV);
	cr_assert_eq(q.nlabels, 5);
	cr_assert(q.edns);
	cr_assert(q.do_bit);
	cr_assert_eq(q.udp_size, 1232);
	cr_assert_eq(q.flags, SX_FLAG_RD);
	sx_dname_from_str(want, "web.default.svc.cluster.local");
	cr_assert(sx_dname_eq(q.qname, want));
	cr_assert_arr_eq(q.lname, want, q.qname_len);
	free(w);
	ldns_pkt_free(lp);
}

Test(wire, reply_limit)
{
	struct sx_query q = { .proto = SX_PROTO_UDP, .udp_size = 512 };
	cr_assert_eq(sx_wire_reply_limit(&q), 512);
	q.udp_size = 100;
	cr_assert_eq(sx_wire_reply_limit(&q), 512);
	q.udp_size = 1232;
	cr_assert_eq(sx_wire_reply_limit(&q), 1232);
	q.udp_size = 65000;
	cr_assert_eq(sx_wire_reply_limit(&q), SX_UDP_MAX);
	q.proto = SX_PROTO_TCP;
	cr_assert_eq(sx_wire_reply_limit(&q), 65535);
	q.udp_size = 512;
	cr_assert_eq(sx_wire_reply_limit(&q), 65535);
}

/* Parse @p and start its reply in @buf; a @limit of 0 takes the transport's. */
static void
start(struct pkt *p, struct sx_query *q, uint8_t *lname, struct sx_msg *m, uint8_t *buf, size_t cap,
      size_t limit)
{
	enum sx_parse r = parse(p, q, lname);
	cr_assert(r == SX_PARSE_OK || r == SX_PARSE_BADVERS);
	q->proto = SX_PROTO_UDP;
	sx_msg_init(m, buf, cap, limit ? limit : sx_wire_reply_limit(q), q);
}

Test(wire, init_copies_header_bits_and_question)
{
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX], buf[4096];
	phdr(&p, 0xCAFE, SX_FLAG_RD | SX_FLAG_CD | SX_FLAG_AD | SX_FLAG_AA, 1, 0, 0, 0);
	pquestion(&p, "MiXeD.example", SX_TYPE_TXT);
	start(&p, &q, lname, &m, buf, sizeof(buf), 512);
	cr_assert_eq(m.wire, buf);
	cr_assert_eq(m.len, p.n);
	cr_assert_eq(m.qend, p.n);
	cr_assert_eq(m.limit, 512);
	cr_assert_eq(buf[0], 0xCA);
	cr_assert_eq(buf[1], 0xFE);
	cr_assert_eq(sx_msg_flags(&m), SX_FLAG_QR | SX_FLAG_RD | SX_FLAG_CD);
	cr_assert_eq(sx_msg_rcode(&m), 0);
	cr_assert_eq(buf[4] << 8 | buf[5], 1);
	cr_assert_arr_eq(buf + 6, "\0\0\0\0\0\0", 6);
	cr_assert_arr_eq(buf + SX_HDR_LEN, p.b + SX_HDR_LEN, p.n - SX_HDR_LEN);
	cr_assert_eq(sx_msg_finish(&m, &q), p.n);
}

Test(wire, init_keeps_room_for_opt)
{
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX], buf[4096];
	query(&p, "a.org", 1);
	popt(&p, 1232, 0, false);
	start(&p, &q, lname, &m, buf, sizeof(buf), 0);
	cr_assert_eq(m.limit, 1232 - 11);
	/* A buffer smaller than the limit bounds it too. */
	start(&p, &q, lname, &m, buf, 600, 1232);
	cr_assert_eq(m.limit, 600 - 11);
}

Test(wire, finish_without_edns_adds_nothing)
{
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX], buf[512];
	query(&p, "a.org", 0);
	start(&p, &q, lname, &m, buf, sizeof(buf), 512);
	sx_msg_set_rcode(&m, SX_RCODE_NXDOMAIN);
	size_t n = sx_msg_finish(&m, &q);
	cr_assert_eq(n, p.n);
	ldns_pkt *lp = NULL;
	cr_assert_eq(ldns_wire2pkt(&lp, buf, n), LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt_get_rcode(lp), LDNS_RCODE_NXDOMAIN);
	cr_assert_eq(ldns_pkt_arcount(lp), 0);
	cr_assert_not(ldns_pkt_edns(lp));
	cr_assert(ldns_pkt_qr(lp));
	cr_assert(ldns_pkt_rd(lp));
	cr_assert_eq(ldns_pkt_id(lp), 0xBEEF);
	ldns_pkt_free(lp);
}

Test(wire, finish_appends_opt)
{
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX], buf[4096];
	query(&p, "a.org", 1);
	popt(&p, 4096, 0, true);
	start(&p, &q, lname, &m, buf, sizeof(buf), 0);
	size_t n = sx_msg_finish(&m, &q);
	cr_assert_eq(n, p.n);
	static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0 };
	cr_assert_arr_eq(buf + n - 11, opt, 11);
	ldns_pkt *lp = NULL;
	cr_assert_eq(ldns_wire2pkt(&lp, buf, n), LDNS_STATUS_OK);
	cr_assert(ldns_pkt_edns(lp));
	cr_assert_eq(ldns_pkt_edns_udp_size(lp), SX_EDNS_ADVERTISE);
	cr_assert(ldns_pkt_edns_do(lp));
	cr_assert_eq(ldns_pkt_edns_version(lp), 0);
	cr_assert_eq(ldns_pkt_edns_extended_rcode(lp), 0);
	ldns_pkt_free(lp);
	/* Without DO in the query, none in the reply. */
	query(&p, "a.org", 1);
	popt(&p, 4096, 0, false);
	start(&p, &q, lname, &m, buf, sizeof(buf), 0);
	n = sx_msg_finish(&m, &q);
	cr_assert_eq(buf[n - 4], 0);
}

Test(wire, badvers_reply_carries_extended_rcode)
{
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX], buf[4096];
	query(&p, "a.org", 1);
	popt(&p, 1232, 3, false);
	start(&p, &q, lname, &m, buf, sizeof(buf), 0);
	sx_msg_set_rcode(&m, SX_RCODE_BADVERS);
	cr_assert_eq(sx_msg_rcode(&m), SX_RCODE_BADVERS);
	size_t n = sx_msg_finish(&m, &q);
	cr_assert_eq(buf[3] & 0xF, 0);
	cr_assert_eq(buf[n - 6], 1); /* high 8 bits of 16 */
	ldns_pkt *lp = NULL;
	cr_assert_eq(ldns_wire2pkt(&lp, buf, n), LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt_edns_extended_rcode(lp) << 4 | ldns_pkt_get_rcode(lp), 16);
	cr_assert_eq(ldns_pkt_edns_version(lp), 0);
	ldns_pkt_free(lp);
}

Test(wire, extended_rcode_without_edns_becomes_servfail)
{
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX], buf[512];
	query(&p, "a.org", 0);
	start(&p, &q, lname, &m, buf, sizeof(buf), 512);
	sx_msg_set_rcode(&m, 23);
	sx_msg_finish(&m, &q);
	cr_assert_eq(buf[3] & 0xF, SX_RCODE_SERVFAIL);
}

/* Parse @p, build the error reply to it and hand back ldns's reading of it. */
static ldns_pkt *
error_reply(const struct pkt *p, enum sx_parse want, unsigned rcode, uint8_t *buf, size_t cap)
{
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX];
	ldns_pkt *lp = NULL;
	cr_assert_eq(parse(p, &q, lname), want);
	q.proto = SX_PROTO_UDP;
	sx_msg_init_error(&m, buf, cap, &q, rcode);
	size_t n = sx_msg_finish(&m, &q);
	cr_assert_eq(ldns_wire2pkt(&lp, buf, n), LDNS_STATUS_OK);
	return lp;
}

static void
expect_question(const ldns_pkt *lp, const char *name)
{
	cr_assert_eq(ldns_pkt_qdcount(lp), 1);
	char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(lp), 0)));
	cr_assert_str_eq(s, name);
	free(s);
}

Test(wire, error_reply_without_a_question)
{
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX], buf[512];
	phdr(&p, 0x0102, SX_FLAG_RD | SX_FLAG_CD, 2, 0, 0, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	cr_assert_null(q.qname);
	q.proto = SX_PROTO_UDP;
	sx_msg_init_error(&m, buf, sizeof(buf), &q, SX_RCODE_FORMERR);
	size_t n = sx_msg_finish(&m, &q);
	cr_assert_eq(n, SX_HDR_LEN);
	static const uint8_t want[] = { 1, 2, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0 };
	cr_assert_arr_eq(buf, want, SX_HDR_LEN);

	/* A question cut short cannot be echoed. */
	phdr(&p, 0x0304, 5 << 11, 1, 0, 0, 0);
	pname(&p, "a.org");
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	cr_assert_null(q.qname);
}

/* RFC 6891 section 7: a reply to a query with OPT carries OPT, whatever its rcode. */
Test(wire, notimp_carries_question_and_opt)
{
	struct pkt p;
	uint8_t buf[512];
	phdr(&p, 0x0304, 5 << 11 | SX_FLAG_RD, 1, 0, 0, 1); /* UPDATE */
	pquestion(&p, "a.org", SX_TYPE_SOA);
	popt(&p, 1232, 0, true);
	ldns_pkt *lp = error_reply(&p, SX_PARSE_NOTIMP, SX_RCODE_NOTIMP, buf, sizeof(buf));
	cr_assert_eq(ldns_pkt_get_opcode(lp), LDNS_PACKET_UPDATE);
	cr_assert_eq(ldns_pkt_get_rcode(lp), LDNS_RCODE_NOTIMPL);
	expect_question(lp, "a.org.");
	cr_assert(ldns_pkt_edns(lp));
	cr_assert(ldns_pkt_edns_do(lp));
	cr_assert(ldns_pkt_rd(lp));
	ldns_pkt_free(lp);

	/* Without OPT, none comes back. */
	phdr(&p, 0x0304, 4 << 11, 1, 0, 0, 0); /* NOTIFY */
	pquestion(&p, "a.org", SX_TYPE_SOA);
	lp = error_reply(&p, SX_PARSE_NOTIMP, SX_RCODE_NOTIMP, buf, sizeof(buf));
	expect_question(lp, "a.org.");
	cr_assert_not(ldns_pkt_edns(lp));
	cr_assert_eq(ldns_pkt_arcount(lp), 0);
	ldns_pkt_free(lp);
}

Test(wire, formerr_carries_question_and_opt_read_before_the_fault)
{
	struct pkt p;
	uint8_t buf[512];
	/* Trailing garbage after a good OPT. */
	query(&p, "a.org", 1);
	popt(&p, 1232, 0, true);
	p8(&p, 0);
	ldns_pkt *lp = error_reply(&p, SX_PARSE_FORMERR, SX_RCODE_FORMERR, buf, sizeof(buf));
	cr_assert_eq(ldns_pkt_get_rcode(lp), LDNS_RCODE_FORMERR);
	expect_question(lp, "a.org.");
	cr_assert(ldns_pkt_edns(lp));
	cr_assert(ldns_pkt_edns_do(lp));
	ldns_pkt_free(lp);

	/* Two OPTs (RFC 6891 6.1.1): FORMERR, with one OPT back. */
	query(&p, "b.org", 2);
	popt(&p, 1232, 0, false);
	popt(&p, 1232, 0, false);
	lp = error_reply(&p, SX_PARSE_FORMERR, SX_RCODE_FORMERR, buf, sizeof(buf));
	expect_question(lp, "b.org.");
	cr_assert(ldns_pkt_edns(lp));
	cr_assert_eq(buf[11], 1, "one OPT");
	ldns_pkt_free(lp);

	/* No question at all, but an OPT. */
	phdr(&p, 9, 0, 0, 0, 0, 1);
	popt(&p, 1232, 0, false);
	lp = error_reply(&p, SX_PARSE_FORMERR, SX_RCODE_FORMERR, buf, sizeof(buf));
	cr_assert_eq(ldns_pkt_qdcount(lp), 0);
	cr_assert(ldns_pkt_edns(lp));
	ldns_pkt_free(lp);

	/* A broken answer section: the OPT after it was never read. */
	phdr(&p, 9, 0, 1, 1, 0, 1);
	pquestion(&p, "c.org", SX_TYPE_A);
	p8(&p, 0);
	p16(&p, SX_TYPE_A);
	lp = error_reply(&p, SX_PARSE_FORMERR, SX_RCODE_FORMERR, buf, sizeof(buf));
	expect_question(lp, "c.org.");
	cr_assert_not(ldns_pkt_edns(lp));
	ldns_pkt_free(lp);
}

Test(wire, badvers_carries_question_and_opt)
{
	struct pkt p;
	uint8_t buf[512];
	query(&p, "a.org", 1);
	popt(&p, 1232, 1, false);
	ldns_pkt *lp = error_reply(&p, SX_PARSE_BADVERS, SX_RCODE_BADVERS, buf, sizeof(buf));
	expect_question(lp, "a.org.");
	cr_assert(ldns_pkt_edns(lp));
	cr_assert_eq(ldns_pkt_edns_extended_rcode(lp), SX_RCODE_BADVERS >> 4);
	cr_assert_eq(ldns_pkt_edns_version(lp), 0);
	cr_assert_eq(ldns_pkt_ancount(lp), 0);
	ldns_pkt_free(lp);
}

/* An OPT carrying one option @code with @n bytes of @data. */
static void
popt_option(struct pkt *p, uint16_t code, const uint8_t *data, uint16_t n)
{
	p8(p, 0);
	p16(p, SX_TYPE_OPT);
	p16(p, 1232);
	p32(p, 0);
	p16(p, (uint16_t)(n + 4));
	p16(p, code);
	p16(p, n);
	memcpy(p->b + p->n, data, n);
	p->n += n;
}

/* RFC 7873 5.2.2: a client cookie is 8 bytes; a server cookie adds 8 to 32. */
Test(wire, cookie_length_is_checked)
{
	static const uint8_t c[48] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const struct {
		uint16_t n;
		enum sx_parse want;
	} cases[] = {
		{ 0, SX_PARSE_FORMERR }, { 7, SX_PARSE_FORMERR },  { 8, SX_PARSE_OK },
		{ 9, SX_PARSE_FORMERR }, { 15, SX_PARSE_FORMERR }, { 16, SX_PARSE_OK },
		{ 40, SX_PARSE_OK },     { 41, SX_PARSE_FORMERR }, { 48, SX_PARSE_FORMERR },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt p;
		struct sx_query q;
		uint8_t lname[SX_DNAME_MAX];
		query(&p, "a.org", 1);
		popt_option(&p, 10, c, cases[i].n);
		cr_assert_eq(parse(&p, &q, lname), cases[i].want, "cookie of %u bytes", cases[i].n);
		cr_assert(q.edns, "the OPT is read, so that FORMERR carries one");
	}
}

/* RFC 7871 6: family, source prefix within it, exactly the bytes it needs, no stray bits. */
Test(wire, ecs_is_checked)
{
	static const struct {
		uint8_t d[24];
		uint16_t n;
		enum sx_parse want;
	} cases[] = {
		{ { 0, 1, 24, 0, 10, 0, 0 }, 7, SX_PARSE_OK },
		{ { 0, 1, 0, 0 }, 4, SX_PARSE_OK },
		{ { 0, 1, 32, 0, 10, 1, 2, 3 }, 8, SX_PARSE_OK },
		{ { 0, 1, 33, 0, 10, 1, 2, 3, 0 }, 9, SX_PARSE_FORMERR },
		{ { 0, 1, 64, 0, 10, 0, 0, 0, 0, 0, 0, 0 }, 12, SX_PARSE_FORMERR },
		{ { 0, 1, 24, 0, 10, 0, 0, 0 }, 8, SX_PARSE_FORMERR },
		{ { 0, 1, 24, 0, 10, 0 }, 6, SX_PARSE_FORMERR },
		{ { 0, 1, 20, 0, 10, 0, 0x10 }, 7, SX_PARSE_OK },
		{ { 0, 1, 20, 0, 10, 0, 0x18 }, 7, SX_PARSE_FORMERR },
		{ { 0, 2, 128, 0 }, 20, SX_PARSE_OK },
		{ { 0, 2, 129, 0 }, 21, SX_PARSE_FORMERR },
		{ { 0, 2, 56, 0, 0x20, 1, 0xd, 0xb8 }, 11, SX_PARSE_OK },
		{ { 0, 1, 8 }, 3, SX_PARSE_FORMERR },
		{ { 0, 9, 200, 0, 1 }, 5, SX_PARSE_OK },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt p;
		struct sx_query q;
		uint8_t lname[SX_DNAME_MAX];
		query(&p, "a.org", 1);
		popt_option(&p, 8, cases[i].d, cases[i].n);
		cr_assert_eq(parse(&p, &q, lname), cases[i].want, "case %zu", i);
	}
}

Test(wire, edns_options_are_found_by_code)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	uint16_t len = 0;
	const uint8_t *d;

	query(&p, "example.org", 1);
	p8(&p, 0);
	p16(&p, SX_TYPE_OPT);
	p16(&p, 1232);
	p32(&p, 0);
	p16(&p, 4 + 4 + 3);
	p16(&p, 3); /* NSID, empty: a request for it */
	p16(&p, 0);
	p16(&p, 65001);
	p16(&p, 3);
	p8(&p, 'a');
	p8(&p, 'b');
	p8(&p, 'c');
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_eq(q.optlen, 11);
	d = sx_query_edns_option(&q, 3, &len);
	cr_assert(d);
	cr_assert_eq(len, 0);
	d = sx_query_edns_option(&q, 65001, &len);
	cr_assert(d);
	cr_assert_eq(len, 3);
	cr_assert(memcmp(d, "abc", 3) == 0);
	cr_assert_null(sx_query_edns_option(&q, 10, &len));
	/* Without an OPT there are no options. */
	query(&p, "example.org", 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_OK);
	cr_assert_null(q.opt);
	cr_assert_null(sx_query_edns_option(&q, 3, &len));
}

Test(wire, query_builder_writes_what_ldns_reads)
{
	uint8_t name[SX_DNAME_MAX], buf[SX_WIRE_QUERY_MAX + 12];
	int nlen = sx_dname_from_str(name, "www.Example.org");
	struct sx_wire_query q = { .id = 0xBEEF,
		                   .flags = SX_FLAG_RD | SX_FLAG_CD,
		                   .qname = name,
		                   .qname_len = (size_t)nlen,
		                   .qtype = 28,
		                   .qclass = 1,
		                   .edns = true,
		                   .udp_size = 1232,
		                   .do_bit = true };
	ldns_pkt *p = NULL;
	int n = sx_wire_query(buf, sizeof(buf), &q);

	cr_assert_eq(n, 12 + nlen + 4 + 11);
	cr_assert_eq(ldns_wire2pkt(&p, buf, (size_t)n), LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt_id(p), 0xBEEF);
	cr_assert(ldns_pkt_rd(p) && ldns_pkt_cd(p) && !ldns_pkt_qr(p) && !ldns_pkt_ad(p));
	cr_assert_eq(ldns_pkt_qdcount(p), 1);
	cr_assert_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0)), 28);
	cr_assert_eq(ldns_pkt_edns_udp_size(p), 1232);
	cr_assert(ldns_pkt_edns_do(p));
	ldns_pkt_free(p);

	/* Options go into the OPT's rdata as given. */
	static const uint8_t cookie[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	q.opts = cookie;
	q.optlen = sizeof(cookie);
	n = sx_wire_query(buf, sizeof(buf), &q);
	cr_assert_eq(n, 12 + nlen + 4 + 11 + (int)sizeof(cookie));
	cr_assert_eq(memcmp(buf + n - sizeof(cookie), cookie, sizeof(cookie)), 0);
	cr_assert_eq(buf[n - sizeof(cookie) - 1], sizeof(cookie));

	/* Without EDNS: no additional record; and what does not fit is refused. */
	q.edns = false;
	n = sx_wire_query(buf, sizeof(buf), &q);
	cr_assert_eq(n, 12 + nlen + 4);
	cr_assert_eq(buf[11], 0);
	cr_assert_eq(sx_wire_query(buf, (size_t)n - 1, &q), SX_ETRUNC);
}

Test(wire, name_skipper_stops_after_labels_or_a_backward_pointer)
{
	/* header, then "a.b." at 12, then a pointer to it at 17, then a forward pointer */
	uint8_t w[12 + 5 + 2 + 2] = { 0 };
	memcpy(w + 12, "\1a\1b\0", 5);
	w[17] = 0xC0;
	w[18] = 12;
	w[19] = 0xC0;
	w[20] = 30;

	cr_assert_eq(sx_wire_skip_name(w, sizeof(w), 12), 17);
	cr_assert_eq(sx_wire_skip_name(w, sizeof(w), 17), 19);
	cr_assert_eq(sx_wire_skip_name(w, sizeof(w), 19), 0, "points forward");
	cr_assert_eq(sx_wire_skip_name(w, 16, 12), 0, "runs past the end");
	w[12] = 64;
	cr_assert_eq(sx_wire_skip_name(w, sizeof(w), 12), 0, "label longer than 63");
}

/*
 * A reply to "example.org. A" as an upstream might compress it: at 12 the question;
 * then two answers owned by a pointer to it (A, CNAME to "www" + pointer), an SOA of
 * "org." (a pointer into the question) with both names compressed, and an OPT.
 */
struct reply {
	struct pkt p;
	size_t cname_rdata, soa_rdata;
};

static void
compressed_reply(struct reply *r)
{
	struct pkt *p = &r->p;
	phdr(p, 1, SX_FLAG_QR, 1, 2, 1, 1);
	pquestion(p, "example.org", SX_TYPE_A);
	p16(p, 0xC00C);
	p16(p, SX_TYPE_A);
	p16(p, SX_CLASS_IN);
	p32(p, 300);
	p16(p, 4);
	p32(p, 0xC0000201);
	p16(p, 0xC00C);
	p16(p, SX_TYPE_CNAME);
	p16(p, SX_CLASS_IN);
	p32(p, 60);
	p16(p, 6);
	r->cname_rdata = p->n;
	p8(p, 3);
	memcpy(p->b + p->n, "www", 3);
	p->n += 3;
	p16(p, 0xC00C);
	p16(p, 0xC000 | 20); /* "org." inside the question */
	p16(p, SX_TYPE_SOA);
	p16(p, SX_CLASS_IN);
	p32(p, 900);
	p16(p, 2 + 5 + 2 + 20);
	r->soa_rdata = p->n;
	p16(p, 0xC00C);
	p8(p, 4);
	memcpy(p->b + p->n, "host", 4);
	p->n += 4;
	p16(p, 0xC00C);
	for (uint32_t v = 1; v <= 5; v++) {
		p32(p, v);
	}
	popt(p, 1232, 0, false);
}

Test(wire, walk_reads_every_record_in_either_mode)
{
	static struct reply r;
	compressed_reply(&r);
	static const uint16_t types[] = { SX_TYPE_A, SX_TYPE_CNAME, SX_TYPE_SOA, SX_TYPE_OPT };
	static const uint8_t secs[] = { SX_SEC_ANSWER, SX_SEC_ANSWER, SX_SEC_AUTHORITY,
		                        SX_SEC_ADDITIONAL };
	static const uint32_t ttls[] = { 300, 60, 900, 0 };
	for (unsigned flags = 0; flags <= SX_WALK_CHECKED; flags += SX_WALK_CHECKED) {
		struct sx_rr_walk it;
		struct sx_rr rr;
		size_t at = 12 + 13 + 4;
		int i = 0, rc;
		cr_assert_eq(sx_rr_walk_start(&it, r.p.b, r.p.n, flags), 0);
		while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
			cr_assert_lt(i, 4);
			cr_assert_eq(rr.owner_off, at);
			cr_assert_eq(rr.type, types[i]);
			cr_assert_eq(rr.section, secs[i]);
			cr_assert_eq(rr.ttl, ttls[i]);
			cr_assert_eq(rr.rclass, types[i] == SX_TYPE_OPT ? 1232 : SX_CLASS_IN);
			cr_assert_eq(rr.ttl_off, rr.rdata_off - 6);
			cr_assert_eq(r.p.b[rr.rdata_off - 2] << 8 | r.p.b[rr.rdata_off - 1],
			             rr.rdlen);
			cr_assert_eq(rr.end, rr.rdata_off + rr.rdlen);
			at = rr.end;
			i++;
		}
		cr_assert_eq(rc, 0);
		cr_assert_eq(i, 4);
		cr_assert_eq(at, r.p.n);
		cr_assert_eq(sx_rr_walk_next(&it, &rr), 0, "the end stays the end");
	}
}

Test(wire, walk_refuses_what_is_cut_short_or_too_long)
{
	static struct reply r;
	struct sx_rr_walk it;
	struct sx_rr rr;
	compressed_reply(&r);
	for (unsigned flags = 0; flags <= SX_WALK_CHECKED; flags += SX_WALK_CHECKED) {
		cr_assert_eq(sx_rr_walk_start(&it, r.p.b, 11, flags), SX_EMALF);
		cr_assert_eq(sx_rr_walk_next(&it, &rr), SX_EMALF, "a failed start fails the walk");
		cr_assert_eq(sx_rr_walk_start(&it, r.p.b, 12 + 13 + 3, flags), SX_EMALF,
		             "question cut short");
		cr_assert_eq(sx_rr_walk_start(&it, r.p.b, 65536, flags), SX_EMALF);
		/* Cut inside the SOA's rdata: the records before it still read. */
		int rc, n = 0;
		sx_rr_walk_start(&it, r.p.b, r.soa_rdata + 10, flags);
		while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
			n++;
		}
		cr_assert_eq(rc, SX_EMALF);
		cr_assert_eq(n, 2);
	}
}

Test(wire, checked_walk_follows_names_a_skipping_walk_does_not)
{
	static struct reply r;
	struct sx_rr_walk it;
	struct sx_rr rr;
	compressed_reply(&r);
	/* The first answer's owner points backwards, but into the header. */
	r.p.b[12 + 13 + 4 + 1] = 4;
	cr_assert_eq(sx_rr_walk_start(&it, r.p.b, r.p.n, 0), 0);
	cr_assert_eq(sx_rr_walk_next(&it, &rr), 1);
	cr_assert_eq(sx_rr_walk_start(&it, r.p.b, r.p.n, SX_WALK_CHECKED), 0);
	cr_assert_eq(sx_rr_walk_next(&it, &rr), SX_EMALF);
	/* A pointer forward fails both. */
	r.p.b[12 + 13 + 4 + 1] = 200;
	for (unsigned flags = 0; flags <= SX_WALK_CHECKED; flags += SX_WALK_CHECKED) {
		cr_assert_eq(sx_rr_walk_start(&it, r.p.b, r.p.n, flags), 0);
		cr_assert_eq(sx_rr_walk_next(&it, &rr), SX_EMALF);
	}
}

/* The rdata of the first record of @type in @r, through sx_wire_rdata(). */
static int
rdata_of(const struct reply *r, uint16_t type, uint8_t *buf, const uint8_t **rdata)
{
	struct sx_rr_walk it;
	struct sx_rr rr;
	sx_rr_walk_start(&it, r->p.b, r->p.n, SX_WALK_CHECKED);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		if (rr.type == type) {
			return sx_wire_rdata(r->p.b, r->p.n, &rr, buf, rdata);
		}
	}
	cr_assert_fail("no record of type %u", type);
	return SX_EMALF;
}

Test(wire, rdata_names_are_expanded_by_type)
{
	static struct reply r;
	uint8_t buf[SX_RDATA_EXPANDED], want[SX_RDATA_EXPANDED];
	const uint8_t *rdata = NULL;
	compressed_reply(&r);

	/* No names in an A record: the rdata in place. */
	cr_assert_eq(rdata_of(&r, SX_TYPE_A, buf, &rdata), 4);
	cr_assert_eq(rdata[0], 0xC0);

	int n = rdata_of(&r, SX_TYPE_CNAME, buf, &rdata);
	cr_assert_eq(rdata, buf);
	cr_assert_eq(n, sx_dname_from_str(want, "www.example.org"));
	cr_assert_arr_eq(buf, want, (size_t)n);

	/* SOA: both names expanded, the 20 bytes after them kept. */
	n = rdata_of(&r, SX_TYPE_SOA, buf, &rdata);
	int m = sx_dname_from_str(want, "example.org");
	m += sx_dname_from_str(want + m, "host.example.org");
	for (uint32_t v = 1; v <= 5; v++) {
		uint8_t *p = want + m + 4 * (v - 1);
		p[0] = p[1] = p[2] = 0;
		p[3] = (uint8_t)v;
	}
	cr_assert_eq(n, m + 20);
	cr_assert_arr_eq(buf, want, (size_t)n);

	/* A NULL buffer checks only. */
	cr_assert_eq(rdata_of(&r, SX_TYPE_SOA, NULL, &rdata), n);
}

Test(wire, rdata_expansion_checks_the_layout)
{
	static struct reply r;
	uint8_t buf[SX_RDATA_EXPANDED];
	const uint8_t *rdata;

	/* An SOA with 19 bytes after its names. */
	compressed_reply(&r);
	r.p.b[r.soa_rdata - 1]--;
	r.p.n--;
	cr_assert_eq(rdata_of(&r, SX_TYPE_SOA, buf, &rdata), SX_EMALF);

	/* A CNAME with a byte after its name. */
	compressed_reply(&r);
	r.p.b[r.cname_rdata - 1]++;
	memmove(r.p.b + r.cname_rdata + 7, r.p.b + r.cname_rdata + 6, r.p.n - r.cname_rdata - 6);
	r.p.n++;
	cr_assert_eq(rdata_of(&r, SX_TYPE_CNAME, buf, &rdata), SX_EMALF);

	/* A CNAME whose name points forward. */
	compressed_reply(&r);
	r.p.b[r.cname_rdata + 5] = 200;
	cr_assert_eq(rdata_of(&r, SX_TYPE_CNAME, buf, &rdata), SX_EMALF);

	/* An MX too short to hold its preference and a name. */
	compressed_reply(&r);
	r.p.b[r.cname_rdata - 9] = SX_TYPE_MX;
	r.p.b[r.cname_rdata - 1] = 1;
	cr_assert_eq(rdata_of(&r, SX_TYPE_MX, buf, &rdata), SX_EMALF);
}

Test(wire, copy_rr_writes_a_record_of_another_message)
{
	static struct reply r;
	struct pkt p;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX];
	static uint8_t buf[4096];
	struct sx_rr_walk it;
	struct sx_rr rr;
	compressed_reply(&r);
	query(&p, "other.example", 0);
	start(&p, &q, lname, &m, buf, sizeof(buf), 0);
	sx_rr_walk_start(&it, r.p.b, r.p.n, 0);
	while (sx_rr_walk_next(&it, &rr) == 1 && rr.section <= SX_SEC_AUTHORITY) {
		cr_assert_eq(sx_msg_copy_rr(&m, rr.section, r.p.b, r.p.n, &rr), 0);
	}
	ldns_pkt *lp = NULL;
	size_t n = sx_msg_finish(&m, &q);
	cr_assert_eq(ldns_wire2pkt(&lp, buf, n), LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt_ancount(lp), 2);
	cr_assert_eq(ldns_pkt_nscount(lp), 1);
	char *s = ldns_rr_list2str(ldns_pkt_answer(lp));
	cr_assert_str_eq(s, "example.org.\t300\tIN\tA\t192.0.2.1\n"
	                    "example.org.\t60\tIN\tCNAME\twww.example.org.\n");
	free(s);
	s = ldns_rr2str(ldns_rr_list_rr(ldns_pkt_authority(lp), 0));
	cr_assert_str_eq(s, "org.\t900\tIN\tSOA\texample.org. host.example.org. 1 2 3 4 5\n");
	free(s);
	ldns_pkt_free(lp);

	/* A record whose owner does not expand is not copied. */
	r.p.b[12 + 13 + 4 + 1] = 4;
	sx_rr_walk_start(&it, r.p.b, r.p.n, 0);
	cr_assert_eq(sx_rr_walk_next(&it, &rr), 1);
	cr_assert_eq(sx_msg_copy_rr(&m, SX_SEC_ADDITIONAL, r.p.b, r.p.n, &rr), SX_EMALF);
}
