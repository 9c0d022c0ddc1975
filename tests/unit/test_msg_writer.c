/* test_msg_writer.c -- the reply writer: reply start and finish (OPT, rcodes, error replies),
 * compression, section order, TC, set_wire, renaming, and the query builder. */
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>

#include "msg_reader.h"
#include "msg_writer.h"
#include "pkt.h"

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* One reply under test: the client's query, and the reply built for it. */
struct fx {
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX];
	uint8_t qw[512];
	uint8_t buf[65535 + 11];
};

/* Parse a query for @qname (with an OPT if @edns) and start the reply; a @limit of 0 takes
 * the transport's. */
static void
fx_start(struct fx *f, const char *qname, bool edns, enum sx_proto proto, size_t limit)
{
	static const uint8_t hdr[] = { 0x11, 0x11, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };
	memcpy(f->qw, hdr, sizeof(hdr));
	size_t n = sizeof(hdr);
	int l = sx_dname_from_str(f->qw + n, qname);
	cr_assert_gt(l, 0);
	n += (size_t)l;
	memcpy(f->qw + n, "\0\1\0\1", 4);
	n += 4;
	if (edns) {
		f->qw[11] = 1;
		memcpy(f->qw + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	cr_assert_eq(sx_wire_parse_query(f->qw, n, &f->q, f->lname), SX_PARSE_OK);
	f->q.proto = proto;
	if (limit == 0) {
		limit = sx_wire_reply_limit(&f->q);
	}
	sx_msg_init(&f->m, f->buf, sizeof(f->buf), limit, &f->q);
}

/* Append the record written in presentation form @str. */
static int
put(struct sx_msg *m, enum sx_section sec, const char *str)
{
	ldns_rr *rr = NULL;
	cr_assert_eq(ldns_rr_new_frm_str(&rr, str, 0, NULL, NULL), LDNS_STATUS_OK, "%s", str);
	uint8_t *w = NULL;
	size_t n = 0;
	cr_assert_eq(ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, &n), LDNS_STATUS_OK);
	const uint8_t *f = w + sx_dname_len(w);
	int rc = sx_msg_put_rr(m, sec, w, rd16(f), rd16(f + 2), rd32(f + 4), f + 10, rd16(f + 8));
	free(w);
	ldns_rr_free(rr);
	return rc;
}

static ldns_pkt *
fx_decode(struct fx *f)
{
	size_t n = sx_msg_finish(&f->m, &f->q);
	ldns_pkt *lp = NULL;
	cr_assert_eq(ldns_wire2pkt(&lp, f->buf, n), LDNS_STATUS_OK);
	return lp;
}

static void
expect_rrs(const ldns_rr_list *got, const char *const *want, size_t n)
{
	cr_assert_eq(ldns_rr_list_rr_count(got), n);
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = NULL;
		cr_assert_eq(ldns_rr_new_frm_str(&rr, want[i], 0, NULL, NULL), LDNS_STATUS_OK);
		const ldns_rr *g = ldns_rr_list_rr(got, i);
		char *s = ldns_rr2str(g);
		cr_assert_eq(ldns_rr_compare(g, rr), 0, "want %s got %s", want[i], s);
		cr_assert_eq(ldns_rr_ttl(g), ldns_rr_ttl(rr), "%s", want[i]);
		free(s);
		ldns_rr_free(rr);
	}
}

static char *
owner_str(const ldns_rr_list *l, size_t i)
{
	return ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(l, i)));
}

Test(msg_writer, owner_equal_to_qname_is_a_pointer_keeping_client_case)
{
	static struct fx f;
	fx_start(&f, "WwW.ExAmple.ORG", false, SX_PROTO_UDP, 0);
	size_t at = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "www.example.org. 60 IN A 192.0.2.1"), 0);
	cr_assert_eq(f.buf[at], 0xC0);
	cr_assert_eq(f.buf[at + 1], 0x0C);
	cr_assert_eq(f.m.len, at + 2 + 10 + 4);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 1);
	ldns_pkt *lp = fx_decode(&f);
	char *s = owner_str(ldns_pkt_answer(lp), 0);
	cr_assert_str_eq(s, "WwW.ExAmple.ORG.");
	free(s);
	static const char *want[] = { "www.example.org. 60 IN A 192.0.2.1" };
	expect_rrs(ldns_pkt_answer(lp), want, 1);
	ldns_pkt_free(lp);
}

Test(msg_writer, longest_suffix_is_used)
{
	static struct fx f;
	fx_start(&f, "example.org", false, SX_PROTO_UDP, 0);
	size_t a = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "X.example.org. 1 IN A 192.0.2.1"), 0);
	static const uint8_t own1[] = { 1, 'X', 0xC0, 0x0C };
	cr_assert_arr_eq(f.buf + a, own1, 4);
	size_t b = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "y.x.EXAMPLE.org. 1 IN A 192.0.2.2"), 0);
	uint8_t own2[] = { 1, 'y', 0xC0, (uint8_t)a };
	cr_assert_arr_eq(f.buf + b, own2, 4);
	size_t c = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "z.org. 1 IN A 192.0.2.3"), 0);
	uint8_t own3[] = { 1, 'z', 0xC0, 12 + 8 };
	cr_assert_arr_eq(f.buf + c, own3, 4);
	size_t d = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "other.net. 1 IN A 192.0.2.4"), 0);
	cr_assert_arr_eq(f.buf + d, "\5other\3net", 11);
}

Test(msg_writer, compression_decodes_like_ldns)
{
	static struct fx f;
	fx_start(&f, "www.Example.org", true, SX_PROTO_UDP, 0);
	static const char *an[] = {
		"www.example.org. 300 IN CNAME web.EXAMPLE.org.",
		"web.example.org. 30 IN A 192.0.2.10",
		"web.example.org. 30 IN AAAA 2001:db8::10",
	};
	static const char *ns[] = {
		"example.org. 3600 IN NS ns1.example.org.",
		"example.org. 3600 IN NS ns2.example.net.",
		("example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. "
		 "7 3600 600 86400 30"),
	};
	static const char *ar[] = {
		"ns1.example.org. 60 IN A 192.0.2.53",
		"example.org. 60 IN MX 10 mail.example.org.",
		"_http._tcp.example.org. 60 IN SRV 0 5 80 web.example.org.",
		"10.2.0.192.in-addr.arpa. 60 IN PTR web.example.org.",
		"web.example.org. 60 IN TXT \"v=1\" \"second\"",
		"mail.example.org. 60 IN HINFO \"pc\" \"linux\"",
	};
	size_t plain = f.m.len;
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(put(&f.m, SX_SEC_ANSWER, an[i]), 0);
	}
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY, ns[i]), 0);
	}
	for (size_t i = 0; i < 6; i++) {
		cr_assert_eq(put(&f.m, SX_SEC_ADDITIONAL, ar[i]), 0);
	}
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 3);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_AUTHORITY), 3);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ADDITIONAL), 6);
	/* The same records uncompressed, as ldns writes each one alone. */
	const char *const *all[] = { an, ns, ar };
	size_t counts[] = { 3, 3, 6 };
	for (size_t s = 0; s < 3; s++) {
		for (size_t i = 0; i < counts[s]; i++) {
			ldns_rr *rr = NULL;
			uint8_t *w = NULL;
			size_t n = 0;
			ldns_rr_new_frm_str(&rr, all[s][i], 0, NULL, NULL);
			ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, &n);
			plain += n;
			free(w);
			ldns_rr_free(rr);
		}
	}
	cr_assert_lt(f.m.len + 150, plain, "compressed %zu, plain %zu", f.m.len, plain);
	ldns_pkt *lp = fx_decode(&f);
	expect_rrs(ldns_pkt_answer(lp), an, 3);
	expect_rrs(ldns_pkt_authority(lp), ns, 3);
	expect_rrs(ldns_pkt_additional(lp), ar, 6);
	cr_assert(ldns_pkt_edns(lp));
	ldns_pkt_free(lp);
}

/* The rdata of the first record of @type in the reply, as written. */
static const uint8_t *
rdata_of(const struct fx *f, uint16_t type, uint16_t *rdlen)
{
	struct sx_rr_walk it;
	struct sx_rr rr;
	sx_rr_walk_start(&it, f->buf, f->m.len, 0);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		if (rr.type == type) {
			*rdlen = rr.rdlen;
			return f->buf + rr.rdata_off;
		}
	}
	cr_assert_fail("no record of type %u", type);
	return NULL;
}

Test(msg_writer, which_rdata_names_are_compressed)
{
	static struct fx f;
	uint16_t n;
	const uint8_t *r;
	fx_start(&f, "web.example.org", false, SX_PROTO_TCP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN CNAME web.example.org."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN NS web.example.org."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN PTR web.example.org."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN MX 5 web.example.org."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER,
	                 "a.org. 1 IN SOA web.example.org. h.web.example.org. 1 2 3 4 5"),
	             0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN SRV 1 2 3 web.example.org."), 0);
	static const uint8_t q[] = { 0xC0, 0x0C };
	r = rdata_of(&f, SX_TYPE_CNAME, &n);
	cr_assert_eq(n, 2);
	cr_assert_arr_eq(r, q, 2);
	r = rdata_of(&f, SX_TYPE_NS, &n);
	cr_assert_eq(n, 2);
	cr_assert_arr_eq(r, q, 2);
	r = rdata_of(&f, SX_TYPE_PTR, &n);
	cr_assert_eq(n, 2);
	cr_assert_arr_eq(r, q, 2);
	r = rdata_of(&f, SX_TYPE_MX, &n);
	cr_assert_eq(n, 4);
	cr_assert_arr_eq(r + 2, q, 2);
	r = rdata_of(&f, SX_TYPE_SOA, &n);
	cr_assert_eq(n, 2 + 4 + 20);
	cr_assert_arr_eq(r, q, 2);
	static const uint8_t rname[] = { 1, 'h', 0xC0, 0x0C };
	cr_assert_arr_eq(r + 2, rname, 4);
	/* SRV targets stay whole (RFC 2782). */
	r = rdata_of(&f, SX_TYPE_SRV, &n);
	cr_assert_eq(n, 6 + 17);
	cr_assert_arr_eq(r + 6, "\3web\7example\3org", 17);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_eq(ldns_pkt_ancount(lp), 6);
	ldns_pkt_free(lp);
}

Test(msg_writer, compression_folds_ascii_letters_only)
{
	static struct fx f;
	/* 0xC1 and 0xE1 differ in the case bit but are not letters; '@' and '`' likewise. */
	fx_start(&f, "Ab\\193@[.example", false, SX_PROTO_UDP, 0);
	size_t a = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "aB\\193@[.EXAMPLE. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(f.buf[a], 0xC0);
	cr_assert_eq(f.buf[a + 1], 12);
	size_t b = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "ab\\225@[.example. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(f.buf[b], 5, "0xC1 is not 0xE1: only example. is shared");
	cr_assert_eq(f.buf[b + 6], 0xC0);
	size_t c = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "ab\\193`[.example. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(f.buf[c], 5, "'@' is not '`'");
	size_t d = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "ab\\193@{.example. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(f.buf[d], 5, "'[' is not '{'");
	/* Long names take the eight-bytes-at-a-time path, tail included. */
	fx_start(&f, "Service-Name-0123456789.Namespace-ABCDEFG.svc.cluster.local", false,
	         SX_PROTO_UDP, 0);
	size_t e = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER,
	                 "service-name-0123456789.namespace-abcdefg.SVC.cluster.local. "
	                 "1 IN A 192.0.2.1"),
	             0);
	cr_assert_eq(f.buf[e], 0xC0);
	size_t g = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER,
	                 "service-name-0123456789.namespace-abcdefh.svc.cluster.local. "
	                 "1 IN A 192.0.2.1"),
	             0);
	cr_assert_eq(f.buf[g], 23, "differs in the last letter of the second label");
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_eq(ldns_pkt_ancount(lp), 2);
	ldns_pkt_free(lp);
}

Test(msg_writer, rdata_names_are_compression_targets)
{
	static struct fx f;
	fx_start(&f, "a.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN CNAME target.example.net."), 0);
	size_t at = f.m.len;
	size_t target = at - 20; /* "target.example.net." written in full just before */
	cr_assert_arr_eq(f.buf + target, "\6target\7example\3net", 20);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "Target.Example.NET. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(f.buf[at], 0xC0);
	cr_assert_eq(f.buf[at + 1], target);
}

Test(msg_writer, section_order_is_enforced)
{
	static struct fx f;
	fx_start(&f, "a.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY, "a.org. 1 IN NS ns.a.org."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY, "a.org. 1 IN NS ns2.a.org."), 0);
	size_t len = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN A 192.0.2.1"), SX_EINVAL);
	cr_assert_eq(put(&f.m, SX_SEC_ADDITIONAL, "ns.a.org. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY, "a.org. 1 IN NS ns3.a.org."), SX_EINVAL);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 0);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_AUTHORITY), 2);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ADDITIONAL), 1);
	cr_assert_gt(f.m.len, len);
	uint8_t owner[] = { 0 };
	cr_assert_eq(sx_msg_put_rr(&f.m, (enum sx_section)3, owner, SX_TYPE_A, 1, 0,
	                           (const uint8_t *)"abcd", 4),
	             SX_EINVAL);
}

Test(msg_writer, bad_names_and_rdata_are_refused)
{
	static struct fx f;
	fx_start(&f, "a.org", false, SX_PROTO_UDP, 0);
	uint8_t before[512];
	memcpy(before, f.buf, 512);
	size_t len = f.m.len;
	static const uint8_t root[] = { 0 };
	static const uint8_t name[] = "\3foo\3org";
	/* label of 64 in the owner; a pointer in the owner */
	static const uint8_t bad1[] = { 64, 'a' };
	static const uint8_t bad2[] = { 0xC0, 0x0C };
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, bad1, SX_TYPE_A, 1, 0, name, 4), SX_EINVAL);
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, bad2, SX_TYPE_A, 1, 0, name, 4), SX_EINVAL);
	/* CNAME rdata with a byte after the name, or cut inside it */
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, root, SX_TYPE_CNAME, 1, 0, name, 10), SX_EINVAL);
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, root, SX_TYPE_CNAME, 1, 0, name, 8), SX_EINVAL);
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, root, SX_TYPE_NS, 1, 0, name, 0), SX_EINVAL);
	/* MX too short for its preference; SOA without its 20 bytes */
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, root, SX_TYPE_MX, 1, 0, name, 1), SX_EINVAL);
	uint8_t soa[2 * 9 + 20] = { 0 };
	memcpy(soa, name, 9);
	memcpy(soa + 9, name, 9);
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, root, SX_TYPE_SOA, 1, 0, soa, 18 + 19), SX_EINVAL);
	cr_assert_eq(f.m.len, len);
	cr_assert_arr_eq(f.buf, before, 512);
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, root, SX_TYPE_SOA, 1, 0, soa, 18 + 20), 0);
	cr_assert_eq(sx_msg_put_rr(&f.m, 0, root, SX_TYPE_CNAME, 1, 0, name, 9), 0);
}

Test(msg_writer, record_that_does_not_fit_sets_tc_and_changes_nothing)
{
	static struct fx f;
	fx_start(&f, "a.example.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(f.m.limit, 512);
	char rr[128];
	int i = 0, rc;
	for (;;) {
		snprintf(rr, sizeof(rr), "host-%03d.example.org. 5 IN A 192.0.2.%d", i, i % 250);
		size_t len = f.m.len;
		uint16_t ncomp = f.m.ncomp;
		uint8_t copy[512];
		memcpy(copy, f.buf, 512);
		rc = put(&f.m, SX_SEC_ANSWER, rr);
		if (rc != 0) {
			cr_assert_eq(rc, SX_ETRUNC);
			cr_assert_eq(f.m.len, len);
			cr_assert_eq(f.m.ncomp, ncomp);
			cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), i);
			/* Only the TC bit moved. */
			copy[2] |= SX_FLAG_TC >> 8;
			cr_assert_arr_eq(f.buf, copy, len);
			break;
		}
		cr_assert_leq(f.m.len, 512);
		i++;
	}
	cr_assert_gt(i, 10);
	cr_assert(f.m.truncated);
	cr_assert(sx_msg_flags(&f.m) & SX_FLAG_TC);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert(ldns_pkt_tc(lp));
	cr_assert_eq(ldns_pkt_ancount(lp), (uint16_t)i);
	ldns_pkt_free(lp);
}

Test(msg_writer, failed_record_leaves_no_compression_targets)
{
	static struct fx f;
	fx_start(&f, "a.example.org", false, SX_PROTO_UDP, 0);
	uint8_t owner[SX_DNAME_MAX], big[600] = { 0 };
	sx_dname_from_str(owner, "new.example.org");
	uint16_t ncomp = f.m.ncomp;
	size_t len = f.m.len;
	/* The owner fits, the rdata does not: the owner's label must not stay a target. */
	cr_assert_eq(sx_msg_put_rr(&f.m, SX_SEC_ANSWER, owner, SX_TYPE_TXT, 1, 0, big, 500),
	             SX_ETRUNC);
	cr_assert_eq(f.m.ncomp, ncomp);
	cr_assert_eq(f.m.len, len);
	static const char *want[] = { "x.new.example.org. 5 IN A 192.0.2.1" };
	cr_assert_eq(put(&f.m, SX_SEC_ADDITIONAL, want[0]), 0);
	ldns_pkt *lp = fx_decode(&f);
	expect_rrs(ldns_pkt_additional(lp), want, 1);
	ldns_pkt_free(lp);
}

Test(msg_writer, authority_overflow_sets_tc)
{
	static struct fx f;
	fx_start(&f, "a.org", false, SX_PROTO_UDP, 0);
	uint8_t big[400] = { 0 };
	uint8_t owner[] = { 0 };
	cr_assert_eq(sx_msg_put_rr(&f.m, SX_SEC_AUTHORITY, owner, 99, 1, 0, big, 400), 0);
	cr_assert_eq(sx_msg_put_rr(&f.m, SX_SEC_AUTHORITY, owner, 99, 1, 0, big, 400), SX_ETRUNC);
	cr_assert(sx_msg_flags(&f.m) & SX_FLAG_TC);
	cr_assert(f.m.truncated);
}

Test(msg_writer, additional_overflow_does_not_set_tc)
{
	static struct fx f;
	fx_start(&f, "svc.example.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "svc.example.org. 5 SRV 0 0 80 x.example.org."), 0);
	char rr[128];
	int i = 0;
	for (;; i++) {
		snprintf(rr, sizeof(rr), "pod-%03d.example.org. 5 IN AAAA 2001:db8::%x", i, i);
		int rc = put(&f.m, SX_SEC_ADDITIONAL, rr);
		if (rc != 0) {
			cr_assert_eq(rc, SX_ETRUNC);
			break;
		}
	}
	cr_assert_not(sx_msg_flags(&f.m) & SX_FLAG_TC);
	cr_assert_not(f.m.truncated);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_not(ldns_pkt_tc(lp));
	cr_assert_eq(ldns_pkt_arcount(lp), (uint16_t)i);
	ldns_pkt_free(lp);
}

Test(msg_writer, opt_room_is_kept_when_full)
{
	static struct fx f;
	fx_start(&f, "a.org", true, SX_PROTO_UDP, 512);
	uint8_t owner[] = { 0 };
	uint8_t pad[512] = { 0 };
	/* Fill to the last byte the limit allows; the OPT still fits after it. */
	size_t room = f.m.limit - f.m.len - 11;
	cr_assert_eq(sx_msg_put_rr(&f.m, SX_SEC_ANSWER, owner, 99, 1, 0, pad, (uint16_t)room + 1),
	             SX_ETRUNC);
	sx_msg_clear_flags(&f.m, SX_FLAG_TC);
	cr_assert_eq(sx_msg_put_rr(&f.m, SX_SEC_ANSWER, owner, 99, 1, 0, pad, (uint16_t)room), 0);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_eq(ldns_pkt_size(lp), 512);
	cr_assert(ldns_pkt_edns(lp));
	ldns_pkt_free(lp);
}

Test(msg_writer, compression_table_fills_up_and_stays_correct)
{
	static struct fx f;
	fx_start(&f, "q.example.org", false, SX_PROTO_TCP, 0);
	static char rrs[100][96];
	const char *want[100];
	for (int i = 0; i < 100; i++) {
		snprintf(rrs[i], sizeof(rrs[i]),
		         "h%d.ns%d.example.org. 5 IN CNAME "
		         "t%d.h%d.ns%d.example.org.",
		         i, i % 7, i, i, i % 7);
		want[i] = rrs[i];
		cr_assert_eq(put(&f.m, SX_SEC_ANSWER, rrs[i]), 0);
	}
	cr_assert_eq(f.m.ncomp, 64);
	ldns_pkt *lp = fx_decode(&f);
	expect_rrs(ldns_pkt_answer(lp), want, 100);
	ldns_pkt_free(lp);
}

Test(msg_writer, names_past_16k_are_not_pointer_targets)
{
	static struct fx f;
	fx_start(&f, "pad.example.org", false, SX_PROTO_TCP, 0);
	uint8_t owner[] = { 0 };
	uint8_t pad[1000] = { 0 };
	for (int i = 0; i < 17; i++) {
		cr_assert_eq(sx_msg_put_rr(&f.m, SX_SEC_ANSWER, owner, 99, 1, 0, pad, 1000), 0);
	}
	cr_assert_gt(f.m.len, 0x4000);
	uint16_t ncomp = f.m.ncomp;
	static const char *want[] = {
		"late.zone.test. 5 IN A 192.0.2.1",
		"x.late.zone.test. 5 IN A 192.0.2.2",
		"pad.example.org. 5 IN CNAME late.zone.test.",
	};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(put(&f.m, SX_SEC_ADDITIONAL, want[i]), 0);
	}
	cr_assert_eq(f.m.ncomp, ncomp);
	ldns_pkt *lp = fx_decode(&f);
	expect_rrs(ldns_pkt_additional(lp), want, 3);
	ldns_pkt_free(lp);
}

Test(msg_writer, reset_keeps_question_only)
{
	static struct fx f;
	fx_start(&f, "Q.example.org", false, SX_PROTO_UDP, 0);
	size_t qend = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY, "example.org. 1 IN NS ns.example.org."), 0);
	sx_msg_set_flags(&f.m, SX_FLAG_AA | SX_FLAG_TC | SX_FLAG_RA);
	sx_msg_set_rcode(&f.m, SX_RCODE_NXDOMAIN);
	sx_msg_reset(&f.m);
	cr_assert_eq(f.m.len, qend);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_AUTHORITY), 0);
	cr_assert_eq(sx_msg_rcode(&f.m), 0);
	cr_assert_eq(sx_msg_flags(&f.m), SX_FLAG_QR | SX_FLAG_RD | SX_FLAG_RA);
	cr_assert_not(f.m.truncated);
	/* The answer section is open again and the question is still a target. */
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "q.example.org. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(f.buf[qend], 0xC0);
	cr_assert_eq(f.buf[qend + 1], 12);
	cr_assert_eq(f.m.ncomp, 3);
}

Test(msg_writer, flags_and_rcode)
{
	static struct fx f;
	fx_start(&f, "a.org", true, SX_PROTO_UDP, 0);
	sx_msg_set_flags(&f.m, 0xFFFF);
	cr_assert_eq(sx_msg_flags(&f.m), 0x87F0);
	cr_assert_eq(f.buf[2] & 0x78, 0, "opcode untouched");
	cr_assert_eq(f.buf[3] & 0x0F, 0, "rcode untouched");
	sx_msg_clear_flags(&f.m, SX_FLAG_RA | SX_FLAG_TC);
	cr_assert_eq(sx_msg_flags(&f.m), 0x87F0 & ~(SX_FLAG_RA | SX_FLAG_TC));
	sx_msg_set_rcode(&f.m, 0xABC);
	cr_assert_eq(sx_msg_rcode(&f.m), 0xABC);
	cr_assert_eq(f.buf[3] & 0x0F, 0xC);
	cr_assert_eq(sx_msg_flags(&f.m), 0x87F0 & ~(SX_FLAG_RA | SX_FLAG_TC));
	size_t n = sx_msg_finish(&f.m, &f.q);
	cr_assert_eq(f.buf[n - 6], 0xAB);
}

/* An upstream reply built by ldns (which compresses), for @qname with ID 7777. */
static uint8_t *
upstream(const char *qname, const char *const *an, size_t nan, const char *const *ar, size_t nar,
         int rcode, size_t *len)
{
	ldns_pkt *lp = ldns_pkt_new();
	ldns_rr *q = NULL;
	char qs[300];
	snprintf(qs, sizeof(qs), "%s IN A", qname);
	cr_assert_eq(ldns_rr_new_question_frm_str(&q, qs, NULL, NULL), LDNS_STATUS_OK);
	ldns_pkt_push_rr(lp, LDNS_SECTION_QUESTION, q);
	ldns_pkt_set_id(lp, 7777);
	ldns_pkt_set_qr(lp, true);
	ldns_pkt_set_aa(lp, true);
	ldns_pkt_set_rd(lp, true);
	ldns_pkt_set_ra(lp, true);
	ldns_pkt_set_rcode(lp, (uint8_t)(rcode & 0xF));
	if (rcode > 15) {
		ldns_pkt_set_edns_extended_rcode(lp, (uint8_t)(rcode >> 4));
	}
	ldns_pkt_set_edns_udp_size(lp, 1232);
	const char *const *secs[] = { an, ar };
	size_t counts[] = { nan, nar };
	ldns_pkt_section which[] = { LDNS_SECTION_ANSWER, LDNS_SECTION_ADDITIONAL };
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < counts[s]; i++) {
			ldns_rr *rr = NULL;
			ldns_status st = ldns_rr_new_frm_str(&rr, secs[s][i], 0, NULL, NULL);
			cr_assert_eq(st, LDNS_STATUS_OK);
			ldns_pkt_push_rr(lp, which[s], rr);
		}
	}
	uint8_t *w = NULL;
	cr_assert_eq(ldns_pkt2wire(&w, lp, len), LDNS_STATUS_OK);
	ldns_pkt_free(lp);
	return w;
}

Test(msg_writer, set_wire_rewrites_a_compressed_upstream_reply)
{
	static struct fx f;
	static const char *an[] = {
		"web.example.org. 300 IN CNAME real.svc.example.org.",
		"real.svc.example.org. 30 IN A 192.0.2.7",
		"real.svc.example.org. 30 IN A 192.0.2.8",
	};
	static const char *ar[] = {
		"real.svc.example.org. 30 IN MX 1 mx.svc.example.org.",
		"_x._tcp.svc.example.org. 30 IN SRV 1 1 1 real.svc.example.org.",
	};
	size_t n;
	uint8_t *w = upstream("web.example.org.", an, 3, ar, 2, 0, &n);
	/* ldns compressed it: the first answer's owner points at the question. */
	size_t ans = 12 + 17 + 4;
	cr_assert_eq(w[ans], 0xC0);
	cr_assert_eq(w[ans + 1], 12);
	fx_start(&f, "WEB.example.ORG", true, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, w, n), 0);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 3);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ADDITIONAL), 2, "the upstream OPT is dropped");
	cr_assert_eq(sx_msg_rcode(&f.m), 0);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_eq(ldns_pkt_id(lp), 0x1111);
	cr_assert(ldns_pkt_aa(lp));
	cr_assert(ldns_pkt_ra(lp));
	cr_assert(ldns_pkt_qr(lp));
	cr_assert_not(ldns_pkt_tc(lp));
	char *s = owner_str(ldns_pkt_question(lp), 0);
	cr_assert_str_eq(s, "WEB.example.ORG.");
	free(s);
	s = owner_str(ldns_pkt_answer(lp), 0);
	cr_assert_str_eq(s, "WEB.example.ORG.");
	free(s);
	expect_rrs(ldns_pkt_answer(lp), an, 3);
	expect_rrs(ldns_pkt_additional(lp), ar, 2);
	cr_assert_eq(ldns_pkt_edns_udp_size(lp), SX_EDNS_ADVERTISE);
	ldns_pkt_free(lp);
	free(w);
}

Test(msg_writer, set_wire_extended_rcode_round_trip)
{
	static struct fx f;
	size_t n;
	uint8_t *w = upstream("a.org.", NULL, 0, NULL, 0, 23, &n); /* BADCOOKIE */
	fx_start(&f, "a.org", true, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, w, n), 0);
	cr_assert_eq(sx_msg_rcode(&f.m), 23);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ADDITIONAL), 0);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_eq(ldns_pkt_get_rcode(lp), 23 & 0xF);
	cr_assert_eq(ldns_pkt_edns_extended_rcode(lp), 1);
	cr_assert(ldns_pkt_edns(lp));
	cr_assert_eq(f.buf[11], 1, "our OPT, and only it");
	ldns_pkt_free(lp);
	free(w);
}

Test(msg_writer, set_wire_truncates_to_the_limit)
{
	static struct fx f;
	static char rrs[60][96];
	const char *an[60];
	for (int i = 0; i < 60; i++) {
		snprintf(rrs[i], sizeof(rrs[i]), "many.example.org. 30 IN TXT \"record %d\"", i);
		an[i] = rrs[i];
	}
	size_t n;
	uint8_t *w = upstream("many.example.org.", an, 60, NULL, 0, 0, &n);
	cr_assert_gt(n, 1232);
	fx_start(&f, "many.example.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, w, n), 0);
	cr_assert(f.m.truncated);
	uint16_t kept = sx_msg_count(&f.m, SX_SEC_ANSWER);
	cr_assert_gt(kept, 5);
	cr_assert_lt(kept, 60);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_leq(ldns_pkt_size(lp), 512);
	cr_assert(ldns_pkt_tc(lp));
	expect_rrs(ldns_pkt_answer(lp), an, kept);
	ldns_pkt_free(lp);
	/* Over TCP everything fits. */
	fx_start(&f, "many.example.org", false, SX_PROTO_TCP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, w, n), 0);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 60);
	cr_assert_not(sx_msg_flags(&f.m) & SX_FLAG_TC);
	free(w);
}

Test(msg_writer, set_wire_additional_overflow_without_tc)
{
	static struct fx f;
	static char rrs[40][96];
	const char *ar[40];
	for (int i = 0; i < 40; i++) {
		snprintf(rrs[i], sizeof(rrs[i]), "ns%d.example.org. 30 IN AAAA 2001:db8::%d", i, i);
		ar[i] = rrs[i];
	}
	static const char *an[] = { "a.example.org. 30 IN A 192.0.2.1" };
	size_t n;
	uint8_t *w = upstream("a.example.org.", an, 1, ar, 40, 0, &n);
	fx_start(&f, "a.example.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, w, n), 0);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 1);
	cr_assert_lt(sx_msg_count(&f.m, SX_SEC_ADDITIONAL), 40);
	cr_assert_not(sx_msg_flags(&f.m) & SX_FLAG_TC);
	free(w);
}

Test(msg_writer, set_wire_keeps_upstream_tc)
{
	static struct fx f;
	size_t n;
	uint8_t *w = upstream("a.org.", NULL, 0, NULL, 0, 0, &n);
	w[2] |= SX_FLAG_TC >> 8;
	fx_start(&f, "a.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, w, n), 0);
	cr_assert(sx_msg_flags(&f.m) & SX_FLAG_TC);
	free(w);
}

/* Raw upstream messages for the malformed cases. */
struct raw {
	uint8_t b[512];
	size_t n;
};

static void
r8(struct raw *r, uint8_t v)
{
	r->b[r->n++] = v;
}

static void
r16(struct raw *r, uint16_t v)
{
	r8(r, (uint8_t)(v >> 8));
	r8(r, (uint8_t)v);
}

/* Header (QR, one question "a.org" A IN) with @an answers claimed. */
static void
raw_start(struct raw *r, uint16_t an)
{
	static const uint8_t q[] = { 1, 'a', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1 };
	r->n = 0;
	r16(r, 1);
	r16(r, 0x8180);
	r16(r, 1);
	r16(r, an);
	r16(r, 0);
	r16(r, 0);
	memcpy(r->b + r->n, q, sizeof(q));
	r->n += sizeof(q);
}

/* Fixed part of a record: type, class IN, TTL 60, @rdlen. */
static void
raw_rr(struct raw *r, uint16_t type, uint16_t rdlen)
{
	r16(r, type);
	r16(r, 1);
	r16(r, 0);
	r16(r, 60);
	r16(r, rdlen);
}

static void
expect_malformed(const struct raw *r, const char *what)
{
	static struct fx f;
	fx_start(&f, "a.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "a.org. 1 IN A 192.0.2.99"), 0);
	static uint8_t before[600];
	size_t len = f.m.len;
	memcpy(before, f.buf, len);
	cr_assert_eq(sx_msg_set_wire(&f.m, r->b, r->n), SX_EMALF, "%s", what);
	cr_assert_eq(f.m.len, len, "%s", what);
	cr_assert_arr_eq(f.buf, before, len, "%s", what);
}

Test(msg_writer, set_wire_takes_the_first_opt)
{
	static struct fx f;
	struct raw r;
	raw_start(&r, 0);
	r.b[11] = 2;
	for (int i = 0; i < 2; i++) {
		r8(&r, 0);
		r16(&r, SX_TYPE_OPT);
		r16(&r, 1232);
		r16(&r, (uint16_t)((i + 1) << 8)); /* extended rcode 1, then 2 */
		r16(&r, 0);
		r16(&r, 0);
	}
	r.b[3] = 7;
	fx_start(&f, "a.org", true, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, r.b, r.n), 0);
	cr_assert_eq(sx_msg_rcode(&f.m), 1 << 4 | 7);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ADDITIONAL), 0);
}

Test(msg_writer, set_wire_refuses_malformed_messages)
{
	struct raw r;
	/* a good message first, to show the builder makes sense */
	raw_start(&r, 1);
	r16(&r, 0xC00C);
	raw_rr(&r, SX_TYPE_A, 4);
	r16(&r, 0x0102);
	r16(&r, 0x0304);
	static struct fx f;
	fx_start(&f, "a.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, r.b, r.n), 0);

	r.n = 11;
	expect_malformed(&r, "short header");

	raw_start(&r, 1);
	r16(&r, 0xC000 | 40); /* forward */
	raw_rr(&r, SX_TYPE_A, 0);
	expect_malformed(&r, "forward pointer");

	raw_start(&r, 1);
	r16(&r, 0xC000 | (uint16_t)r.n); /* itself */
	raw_rr(&r, SX_TYPE_A, 0);
	expect_malformed(&r, "self pointer");

	raw_start(&r, 1);
	size_t loop = r.n;
	r8(&r, 1);
	r8(&r, 'x');
	r16(&r, 0xC000 | (uint16_t)loop); /* back to its own first label */
	raw_rr(&r, SX_TYPE_A, 0);
	expect_malformed(&r, "pointer loop");

	raw_start(&r, 1);
	r16(&r, 0xC004); /* into the header, where qdcount's 0 would read as the root */
	raw_rr(&r, SX_TYPE_A, 0);
	expect_malformed(&r, "pointer into header");

	raw_start(&r, 3);
	r16(&r, 0xC00C);
	raw_rr(&r, SX_TYPE_A, 0);
	expect_malformed(&r, "counts past the end");

	raw_start(&r, 1);
	r16(&r, 0xC00C);
	raw_rr(&r, SX_TYPE_A, 8);
	r16(&r, 0);
	expect_malformed(&r, "rdlen past the end");

	raw_start(&r, 1);
	r16(&r, 0xC00C);
	r16(&r, SX_TYPE_A);
	expect_malformed(&r, "fixed part cut");

	raw_start(&r, 1);
	r8(&r, 0x41); /* extended label type */
	r8(&r, 0);
	raw_rr(&r, SX_TYPE_A, 0);
	expect_malformed(&r, "label type 0x40");

	raw_start(&r, 1);
	r16(&r, 0xC00C);
	raw_rr(&r, SX_TYPE_CNAME, 3);
	r16(&r, 0xC00C);
	r8(&r, 7);
	expect_malformed(&r, "cname junk");

	raw_start(&r, 1);
	r16(&r, 0xC00C);
	raw_rr(&r, SX_TYPE_MX, 1);
	r8(&r, 0);
	expect_malformed(&r, "mx short");
}

Test(msg_writer, set_wire_refuses_names_too_long_via_pointers)
{
	struct raw r;
	/* Opaque rdata holding a chain of names, each a 63-byte label and a pointer to the one
	 * before; the first points at the question "a.org" (7 bytes). */
	raw_start(&r, 2);
	r16(&r, 0xC00C);
	raw_rr(&r, 99, 4 * 66);
	size_t at[4], prev = 12;
	for (int i = 0; i < 4; i++) {
		at[i] = r.n;
		r8(&r, 63);
		memset(r.b + r.n, 'a', 63);
		r.n += 63;
		r16(&r, 0xC000 | (uint16_t)prev);
		prev = at[i];
	}
	uint8_t out[SX_DNAME_MAX];
	cr_assert_eq(sx_wire_name(r.b, r.n, at[2], out), 3 * 64 + 7);
	cr_assert_eq(sx_wire_name(r.b, r.n, at[3], out), SX_EMALF);
	r16(&r, 0xC000 | (uint16_t)at[2]);
	raw_rr(&r, SX_TYPE_A, 0);
	static struct fx f;
	fx_start(&f, "a.org", false, SX_PROTO_TCP, 0);
	cr_assert_eq(sx_msg_set_wire(&f.m, r.b, r.n), 0);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 2);
	r.n -= 12;
	r16(&r, 0xC000 | (uint16_t)at[3]);
	raw_rr(&r, SX_TYPE_A, 0);
	expect_malformed(&r, "name over 255 bytes");
}

Test(msg_writer, keep_drops_later_sections_and_their_compression_targets)
{
	static struct fx f;
	fx_start(&f, "www.example.org", true, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "www.example.org. 60 IN A 192.0.2.1"), 0);
	size_t after_answer = f.m.len;
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY, "example.org. 60 IN NS ns1.example.net."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_ADDITIONAL, "ns1.example.net. 60 IN A 192.0.2.53"), 0);
	sx_msg_keep(&f.m, SX_SEC_ANSWER);
	cr_assert_eq(f.m.len, after_answer);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_AUTHORITY), 0);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ADDITIONAL), 0);
	for (uint16_t i = 0; i < f.m.ncomp; i++) {
		cr_assert_lt(f.m.comp[i], after_answer);
	}
	/* Writing goes on after the cut, and "example.net" is not pointed at any more. */
	cr_assert_eq(put(&f.m, SX_SEC_ADDITIONAL, "mail.example.net. 60 IN A 192.0.2.25"), 0);
	ldns_pkt *lp = fx_decode(&f);
	cr_assert_eq(ldns_pkt_ancount(lp), 1);
	cr_assert_eq(ldns_pkt_nscount(lp), 0);
	cr_assert_eq(ldns_pkt_arcount(lp), 1); /* the OPT is not in ldns's list */
	char *s = owner_str(ldns_pkt_additional(lp), 0);
	cr_assert_str_eq(s, "mail.example.net.");
	free(s);
	ldns_pkt_free(lp);
}

Test(msg_writer, options_go_into_the_opt_and_keep_their_room)
{
	static struct fx f;
	static const uint8_t ede[2] = { 0, 15 };
	fx_start(&f, "www.example.org", true, SX_PROTO_UDP, 0);
	size_t limit = f.m.limit;
	cr_assert_eq(sx_msg_add_option(&f.m, 15, ede, 2), 0);
	cr_assert_eq(sx_msg_add_option(&f.m, 3, (const uint8_t *)"ns-1", 4), 0);
	cr_assert_eq(f.m.limit, limit - 6 - 8);
	sx_msg_reset(&f.m); /* options stay */
	size_t n = sx_msg_finish(&f.m, &f.q);
	/* OPT: root, type 41, size, ttl, rdlen 14, then the two options in order. */
	static const uint8_t want[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0,   0,   14,  0,  15,
		                        0, 2, 0,  15,   0,    3, 0, 4, 'n', 's', '-', '1' };
	cr_assert_eq(n, f.m.qend + sizeof(want));
	cr_assert(memcmp(f.buf + f.m.qend, want, sizeof(want)) == 0);
	/* ldns reads the options back. */
	ldns_pkt *lp = NULL;
	cr_assert_eq(ldns_wire2pkt(&lp, f.buf, n), LDNS_STATUS_OK);
	cr_assert_eq(ldns_rdf_size(ldns_pkt_edns_data(lp)), 14);
	ldns_pkt_free(lp);
}

Test(msg_writer, options_need_room_and_at_most_four)
{
	static struct fx f;
	static uint8_t big[600];
	fx_start(&f, "www.example.org", true, SX_PROTO_UDP, 512);
	cr_assert_eq(sx_msg_add_option(&f.m, 65001, big, sizeof(big)), SX_ETRUNC);
	cr_assert_eq(f.m.nopts, 0);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(sx_msg_add_option(&f.m, 65001, big, 1), 0);
	}
	cr_assert_eq(sx_msg_add_option(&f.m, 65001, big, 1), SX_ETRUNC);
}

Test(msg_writer, options_are_not_written_without_edns)
{
	static struct fx f;
	static const uint8_t ede[2] = { 0, 17 };
	fx_start(&f, "www.example.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(sx_msg_add_option(&f.m, 15, ede, 2), 0);
	cr_assert_eq(sx_msg_finish(&f.m, &f.q), f.m.qend);
}

/* Renames every name under b.test. to the same labels under a.test. */
static bool
b_to_a(void *arg, uint16_t type, bool in_rdata, const uint8_t *name, uint8_t out[255])
{
	uint8_t zone[SX_DNAME_MAX], to[SX_DNAME_MAX];
	unsigned *calls = arg;
	(void)type;
	(void)in_rdata;
	(*calls)++;
	sx_dname_from_str(zone, "b.test.");
	sx_dname_from_str(to, "a.test.");
	if (!sx_dname_is_sub(name, zone)) {
		return false;
	}
	size_t head = sx_dname_len(name) - sx_dname_len(zone);
	memcpy(out, name, head);
	memcpy(out + head, to, sx_dname_len(to));
	return true;
}

Test(msg_writer, rename_owners_and_rdata_names_in_every_section)
{
	static struct fx f;
	static uint8_t scratch[sizeof(f.buf)];
	unsigned calls = 0;
	fx_start(&f, "www.b.test", true, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "www.b.test. 60 IN CNAME web.b.test."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "web.b.test. 60 IN A 192.0.2.1"), 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "_x._tcp.b.test. 60 IN SRV 1 2 53 web.b.test."), 0);
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY,
	                 "b.test. 30 IN SOA ns.b.test. host.other.test. 1 2 3 4 5"),
	             0);
	cr_assert_eq(put(&f.m, SX_SEC_ADDITIONAL, "ns.b.test. 60 IN A 192.0.2.9"), 0);
	sx_msg_set_rcode(&f.m, SX_RCODE_NXDOMAIN);
	sx_msg_set_flags(&f.m, SX_FLAG_AA);
	cr_assert_eq(sx_msg_add_option(&f.m, 3, (const uint8_t *)"id", 2), 0);
	sx_msg_rename(&f.m, scratch, b_to_a, &calls);
	/* 5 owners; CNAME, SRV, SOA (2) names. */
	cr_assert_eq(calls, 9);
	ldns_pkt *lp = fx_decode(&f);
	static const char *an[] = { "www.a.test. 60 IN CNAME web.a.test.",
		                    "web.a.test. 60 IN A 192.0.2.1",
		                    "_x._tcp.a.test. 60 IN SRV 1 2 53 web.a.test." };
	expect_rrs(ldns_pkt_answer(lp), an, 3);
	static const char *ns[] = { "a.test. 30 IN SOA ns.a.test. host.other.test. 1 2 3 4 5" };
	expect_rrs(ldns_pkt_authority(lp), ns, 1);
	static const char *ad[] = { "ns.a.test. 60 IN A 192.0.2.9" };
	expect_rrs(ldns_pkt_additional(lp), ad, 1);
	cr_assert_eq(ldns_pkt_get_rcode(lp), LDNS_RCODE_NXDOMAIN);
	cr_assert(ldns_pkt_aa(lp));
	cr_assert_not_null(ldns_pkt_edns_data(lp));
	char *q = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(lp), 0)));
	cr_assert_str_eq(q, "www.b.test.");
	free(q);
	ldns_pkt_free(lp);
}

Test(msg_writer, set_question_keeps_records_flags_and_rcode)
{
	static struct fx f, g;
	static uint8_t scratch[sizeof(f.buf)];
	/* The reply was built for the rewritten question; the client asked another, in mixed case. */
	fx_start(&g, "Alias.A.Test", true, SX_PROTO_UDP, 0);
	fx_start(&f, "target.example.org", true, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "target.example.org. 60 IN A 192.0.2.1"), 0);
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY,
	                 "example.org. 30 IN SOA ns.example.org. h.example.org. 1 2 3 4 5"),
	             0);
	sx_msg_set_rcode(&f.m, SX_RCODE_BADVERS);
	sx_msg_set_flags(&f.m, SX_FLAG_AA | SX_FLAG_RA);
	size_t limit = f.m.limit;
	sx_msg_set_question(&f.m, &g.q, scratch);
	cr_assert_eq(f.m.limit, limit);
	cr_assert_eq(sx_msg_rcode(&f.m), SX_RCODE_BADVERS);
	ldns_pkt *lp = fx_decode(&f);
	char *q = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(lp), 0)));
	cr_assert_str_eq(q, "Alias.A.Test.");
	free(q);
	static const char *an[] = { "target.example.org. 60 IN A 192.0.2.1" };
	expect_rrs(ldns_pkt_answer(lp), an, 1);
	cr_assert_eq(ldns_rr_list_rr_count(ldns_pkt_authority(lp)), 1);
	cr_assert(ldns_pkt_aa(lp));
	cr_assert(ldns_pkt_ra(lp));
	ldns_pkt_free(lp);

	/* Without a scratch buffer the records go and the reply says SERVFAIL. */
	fx_start(&f, "target.example.org", false, SX_PROTO_UDP, 0);
	cr_assert_eq(put(&f.m, SX_SEC_ANSWER, "target.example.org. 60 IN A 192.0.2.1"), 0);
	sx_msg_set_question(&f.m, &g.q, NULL);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 0);
	cr_assert_eq(sx_msg_rcode(&f.m), SX_RCODE_SERVFAIL);
}

/* The SOA the kubernetes plugin sends in negative answers, for a question ending in @zone. */
static int
put_soa(struct sx_msg *m, enum sx_section sec, const char *owner)
{
	char s[512];
	snprintf(s, sizeof(s), "%s 5 IN SOA ns.dns.%s hostmaster.%s 7 7200 1800 86400 5", owner,
	         owner, owner);
	return put(m, sec, s);
}

Test(msg_writer, wire_rr_gives_put_rr_bytes_and_targets)
{
	static struct fx a, b;
	/* What the kubernetes plugin keeps: the zone's offset goes at 1, 20 and 33. */
	static const uint8_t form[] = "\xC0\0"
	                              "\0\6\0\1"
	                              "\0\0\0\5"
	                              "\0\52"
	                              "\2ns\3dns\xC0\0"
	                              "\12hostmaster\xC0\0"
	                              "\0\0\0\7"
	                              "\0\0\x1C\x20"
	                              "\0\0\7\10"
	                              "\0\1\x51\x80"
	                              "\0\0\0\5";
	uint8_t rr[sizeof(form) - 1];
	uint8_t zoff = 12 + 4 + 5; /* www.nope.SVC.Cluster.local: the zone after two labels */

	fx_start(&a, "www.nope.SVC.Cluster.local", true, SX_PROTO_UDP, 0);
	fx_start(&b, "www.nope.SVC.Cluster.local", true, SX_PROTO_UDP, 0);
	cr_assert_eq(put_soa(&a.m, SX_SEC_AUTHORITY, "svc.cluster.local."), 0);
	memcpy(rr, form, sizeof(rr));
	rr[1] = rr[20] = rr[33] = zoff;
	cr_assert_eq(sx_msg_put_wire_rr(&b.m, SX_SEC_AUTHORITY, rr, sizeof(rr)), 0);
	cr_assert_eq(b.m.len, a.m.len);
	cr_assert_arr_eq(b.buf, a.buf, a.m.len);
	/* Later records compress against its names as against put_rr's. */
	cr_assert_eq(
	        put(&a.m, SX_SEC_ADDITIONAL, "x.hostmaster.svc.cluster.local. 1 IN A 192.0.2.1"),
	        0);
	cr_assert_eq(
	        put(&b.m, SX_SEC_ADDITIONAL, "x.hostmaster.svc.cluster.local. 1 IN A 192.0.2.1"),
	        0);
	cr_assert_eq(put(&a.m, SX_SEC_ADDITIONAL, "dns.svc.cluster.local. 1 IN A 192.0.2.2"), 0);
	cr_assert_eq(put(&b.m, SX_SEC_ADDITIONAL, "dns.svc.cluster.local. 1 IN A 192.0.2.2"), 0);
	cr_assert_eq(b.m.len, a.m.len);
	cr_assert_arr_eq(b.buf, a.buf, a.m.len);
	cr_assert_eq(sx_msg_count(&b.m, SX_SEC_AUTHORITY), 1);
	ldns_pkt *lp = fx_decode(&b);
	static const char *want[] = {
		"svc.cluster.local. 5 IN SOA ns.dns.svc.cluster.local. hostmaster.svc.cluster.local. "
		"7 7200 1800 86400 5",
	};
	expect_rrs(ldns_pkt_authority(lp), want, 1);
	ldns_pkt_free(lp);
}

Test(msg_writer, wire_rr_refuses_pointers_elsewhere_and_changes_nothing)
{
	static struct fx f;
	static const uint8_t a[] = { 0xC0, 13, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 192, 0, 2, 1 };
	static const uint8_t fwd[] = { 0xC0, 40, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 192, 0, 2, 1 };
	static const uint8_t rdlen[] = { 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 192, 0, 2, 1 };
	static const uint8_t cname[] = { 0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 3, 1, 'x', 0xC0 };
	static const uint8_t ok[] = { 0xC0, 16, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 192, 0, 2, 1 };

	fx_start(&f, "www.org", false, SX_PROTO_UDP, 0);
	size_t len = f.m.len;
	uint16_t ncomp = f.m.ncomp;
	cr_assert_eq(sx_msg_put_wire_rr(&f.m, SX_SEC_ANSWER, a, sizeof(a)), SX_EINVAL);
	cr_assert_eq(sx_msg_put_wire_rr(&f.m, SX_SEC_ANSWER, fwd, sizeof(fwd)), SX_EINVAL);
	cr_assert_eq(sx_msg_put_wire_rr(&f.m, SX_SEC_ANSWER, rdlen, sizeof(rdlen)), SX_EINVAL);
	cr_assert_eq(sx_msg_put_wire_rr(&f.m, SX_SEC_ANSWER, cname, sizeof(cname)), SX_EINVAL);
	cr_assert_eq(f.m.len, len);
	cr_assert_eq(f.m.ncomp, ncomp);
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 0);
	cr_assert_eq(sx_msg_flags(&f.m) & SX_FLAG_TC, 0);
	cr_assert_eq(sx_msg_put_wire_rr(&f.m, SX_SEC_ANSWER, ok, sizeof(ok)), 0); /* "org." */
	cr_assert_eq(sx_msg_count(&f.m, SX_SEC_ANSWER), 1);
	cr_assert_eq(put(&f.m, SX_SEC_AUTHORITY, "org. 1 IN A 192.0.2.1"), 0);
	cr_assert_eq(sx_msg_put_wire_rr(&f.m, SX_SEC_ANSWER, ok, sizeof(ok)), SX_EINVAL);
}

Test(msg_writer, wire_rr_that_does_not_fit_sets_tc)
{
	static struct fx f;
	static const uint8_t rr[] = { 0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 1, 0, 1, 0 };

	fx_start(&f, "www.org", false, SX_PROTO_UDP, 0);
	while (sx_msg_put_wire_rr(&f.m, SX_SEC_ANSWER, rr, sizeof(rr)) == 0) {
	}
	cr_assert_leq(f.m.len, 512);
	cr_assert_gt(f.m.len + sizeof(rr), 512);
	cr_assert(f.m.truncated);
	cr_assert_neq(sx_msg_flags(&f.m) & SX_FLAG_TC, 0);
}

Test(msg_writer, reply_limit)
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

Test(msg_writer, init_copies_header_bits_and_question)
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

Test(msg_writer, init_keeps_room_for_opt)
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

Test(msg_writer, finish_without_edns_adds_nothing)
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

Test(msg_writer, finish_appends_opt)
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

Test(msg_writer, badvers_reply_carries_extended_rcode)
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

Test(msg_writer, extended_rcode_without_edns_becomes_servfail)
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

Test(msg_writer, error_reply_without_a_question)
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
Test(msg_writer, notimp_carries_question_and_opt)
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

Test(msg_writer, formerr_carries_question_and_opt_read_before_the_fault)
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

Test(msg_writer, badvers_carries_question_and_opt)
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

Test(msg_writer, query_builder_writes_what_ldns_reads)
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

Test(msg_writer, copy_rr_writes_a_record_of_another_message)
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
