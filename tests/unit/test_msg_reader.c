/* test_msg_reader.c -- query parsing rules, EDNS options, the record walk and name expansion. */
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>
#include <sextant/wire.h>

#include "msg_reader.h"
#include "pkt.h"

Test(msg_reader, parse_plain_query)
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

Test(msg_reader, parse_root_question)
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

Test(msg_reader, drop_short_header_and_responses)
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

Test(msg_reader, header_only_is_formerr)
{
	struct pkt p;
	struct sx_query q;
	uint8_t lname[SX_DNAME_MAX];
	phdr(&p, 7, 0, 1, 0, 0, 0);
	cr_assert_eq(parse(&p, &q, lname), SX_PARSE_FORMERR);
	cr_assert_eq(q.id, 7);
}

Test(msg_reader, opcode_not_query_is_notimp)
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

Test(msg_reader, qdcount_zero_and_two)
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

Test(msg_reader, question_pointer_is_formerr)
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

Test(msg_reader, question_label_types_above_63)
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

Test(msg_reader, question_name_length_limit)
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

Test(msg_reader, truncated_question)
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

Test(msg_reader, trailing_garbage)
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

Test(msg_reader, answer_and_authority_records_are_skipped)
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

Test(msg_reader, skipped_records_are_bounds_checked)
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

Test(msg_reader, edns_payload_and_do)
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

Test(msg_reader, edns_payload_below_512_counts_as_512)
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

Test(msg_reader, edns_version_1_is_badvers)
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

Test(msg_reader, two_opts_are_formerr)
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

Test(msg_reader, opt_owner_must_be_root)
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

Test(msg_reader, opt_options_are_checked)
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

Test(msg_reader, other_additional_records_are_skipped)
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

Test(msg_reader, parse_matches_ldns_built_query)
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
Test(msg_reader, cookie_length_is_checked)
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
Test(msg_reader, ecs_is_checked)
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

Test(msg_reader, edns_options_are_found_by_code)
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

Test(msg_reader, name_skipper_stops_after_labels_or_a_backward_pointer)
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

Test(msg_reader, walk_reads_every_record_in_either_mode)
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

Test(msg_reader, walk_refuses_what_is_cut_short_or_too_long)
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

Test(msg_reader, checked_walk_follows_names_a_skipping_walk_does_not)
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

Test(msg_reader, walk_gives_owners_and_ttl_offsets_and_checks_counts)
{
	static struct reply r;
	compressed_reply(&r);
	static const char *const owners[] = { "example.org", "example.org", "org", "." };
	struct sx_rr_walk it;
	struct sx_rr rr;
	int i = 0, rc;
	cr_assert_eq(sx_rr_walk_start(&it, r.p.b, r.p.n, SX_WALK_CHECKED), 0);
	while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		const uint8_t *t = r.p.b + rr.ttl_off;
		cr_assert_eq((uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | t[2] << 8 | t[3],
		             rr.ttl);
		uint8_t owner[SX_DNAME_MAX], want[SX_DNAME_MAX];
		int l = sx_wire_name(r.p.b, r.p.n, rr.owner_off, owner);
		int wl = sx_dname_from_str(want, owners[i]);
		cr_assert_eq(l, wl, "record %d", i);
		cr_assert(sx_dname_eq(owner, want), "record %d", i);
		i++;
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(i, 4);
	/* A count beyond the records is malformed, found when reached. */
	r.p.b[7]++;
	for (unsigned flags = 0; flags <= SX_WALK_CHECKED; flags += SX_WALK_CHECKED) {
		sx_rr_walk_start(&it, r.p.b, r.p.n, flags);
		while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		}
		cr_assert_eq(rc, SX_EMALF);
	}
}

Test(msg_reader, wire_name_expands_and_checks)
{
	static struct reply r;
	compressed_reply(&r);
	/* The CNAME's target: "www" then a pointer to the question's name. */
	size_t at = r.cname_rdata;
	uint8_t out[SX_DNAME_MAX], want[SX_DNAME_MAX];
	int n = sx_wire_name(r.p.b, r.p.n, at, out);
	int wn = sx_dname_from_str(want, "www.example.org");
	cr_assert_eq(n, wn);
	cr_assert_arr_eq(out, want, (size_t)n);
	cr_assert_eq(sx_wire_name(r.p.b, at + 5, at, out), SX_EMALF, "pointer cut short");
	cr_assert_eq(sx_wire_name(r.p.b, r.p.n, r.p.n, out), SX_EMALF, "starts at the end");
	r.p.b[at + 5] = (uint8_t)at; /* now points at itself */
	cr_assert_eq(sx_wire_name(r.p.b, r.p.n, at, out), SX_EMALF, "loop");
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

Test(msg_reader, rdata_names_are_expanded_by_type)
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

Test(msg_reader, rdata_expansion_checks_the_layout)
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
