/* test_file_lookup.c -- answers from a zone snapshot, without a server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <ldns/ldns.h>

#include <sextant/dname.h>
#include <sextant/testing.h>

#include "../file.h"

static const char zone_text[] =
        "$ORIGIN example.org.\n"
        "$TTL 3600\n"
        "@\tIN SOA ns1 hostmaster ( 2024010101 7200 3600 1209600 300 )\n"
        "\tIN NS ns1\n"
        "\tIN NS ns2.other.net.\n"
        "\tIN MX 10 mail\n"
        "\tIN MX 20 mx.other.net.\n"
        "ns1\tIN A 192.0.2.1\n"
        "mail\tIN A 192.0.2.2\n"
        "\tIN AAAA 2001:db8::2\n"
        "www\tIN CNAME Web\n"
        "web\tIN A 192.0.2.3\n"
        "ext\tIN CNAME www.other.net.\n"
        "chain1\tIN CNAME chain2\n"
        "chain2\tIN CNAME www\n"
        "loop1\tIN CNAME loop2\n"
        "loop2\tIN CNAME loop1\n"
        "*.wild\tIN A 192.0.2.4\n"
        "*.wild\tIN TXT \"wild\"\n"
        "x.wild\tIN AAAA 2001:db8::4\n"
        "*.cname\tIN CNAME web\n"
        "a.b.c\tIN TXT \"deep\"\n"
        "_sip._tcp\tIN SRV 0 5 5060 sip\n"
        "sip\tIN A 192.0.2.6\n"
        "sub\tIN NS ns.sub\n"
        "sub\tIN NS ns.elsewhere.net.\n"
        "sub\tIN DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE6D8D48D0E7C83A39E3C5F2E8\n"
        "ns.sub\tIN A 192.0.2.5\n"
        "big\tIN TXT \""
        "0123456789012345678901234567890123456789012345678901234567890123456789"
        "012345678901234567890123456789\"\n"
        "big\tIN TXT \""
        "1123456789012345678901234567890123456789012345678901234567890123456789"
        "012345678901234567890123456789\"\n"
        "big\tIN TXT \""
        "2123456789012345678901234567890123456789012345678901234567890123456789"
        "012345678901234567890123456789\"\n"
        "big\tIN TXT \""
        "3123456789012345678901234567890123456789012345678901234567890123456789"
        "012345678901234567890123456789\"\n";

#define SOA_NEG                                                                 \
	"example.org.\t300\tIN\tSOA\tns1.example.org. hostmaster.example.org. " \
	"2024010101 7200 3600 1209600 300"
#define APEX_NS                                          \
	"example.org.\t3600\tIN\tNS\tns1.example.org.\n" \
	"example.org.\t3600\tIN\tNS\tns2.other.net."

static struct {
	struct fz_zone *z;
	struct sx_zones fall;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX];
	uint8_t qw[512];
	uint8_t buf[65535];
	ldns_pkt *reply;
} fx;

static void
load_zone(void)
{
	char path[] = "/tmp/sx-file-lookup-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, zone_text, strlen(zone_text)), (ssize_t)strlen(zone_text));
	close(fd);
	uint8_t origin[SX_DNAME_MAX];
	char err[512];
	sx_dname_from_str(origin, "example.org.");
	int rc = fz_zone_load(path, origin, &fx.z, err, sizeof(err));
	unlink(path);
	cr_assert_eq(rc, 0, "%s", err);
}

static void
unload_zone(void)
{
	if (fx.reply != NULL) {
		ldns_pkt_free(fx.reply);
	}
	fz_zone_free(fx.z);
	free(fx.fall.z);
}

TestSuite(file_lookup, .init = load_zone, .fini = unload_zone);

/* Ask @name/@type with a reply limit of @limit bytes; the reply lands in fx.reply. */
static enum sx_verdict
ask_limit(const char *name, ldns_rr_type type, size_t limit)
{
	ldns_pkt *query = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	cr_assert_eq(ldns_pkt_query_new_frm_str(&query, name, type, LDNS_RR_CLASS_IN, 0),
	             LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt2wire(&wire, query, &len), LDNS_STATUS_OK);
	memcpy(fx.qw, wire, len);
	free(wire);
	ldns_pkt_free(query);
	cr_assert_eq(sx_test_parse_query(fx.qw, len, &fx.q, fx.lname), 0);
	fx.q.proto = SX_PROTO_TCP;
	sx_test_msg_init(&fx.m, fx.buf, sizeof(fx.buf), limit, &fx.q);
	enum sx_verdict v = fz_answer(fx.z, &fx.fall, &fx.q, &fx.m);
	if (fx.reply != NULL) {
		ldns_pkt_free(fx.reply);
		fx.reply = NULL;
	}
	if (v == SX_DONE) {
		size_t n = sx_test_msg_finish(&fx.m, &fx.q);
		cr_assert_leq(n, limit);
		cr_assert_eq(ldns_wire2pkt(&fx.reply, fx.buf, n), LDNS_STATUS_OK);
	}
	return v;
}

static void
ask(const char *name, ldns_rr_type type)
{
	cr_assert_eq(ask_limit(name, type, 65535), SX_DONE);
}

static void
expect_section(ldns_pkt_section sec, const char *want)
{
	char *got = sx_test_section_str(fx.reply, sec);
	cr_expect_str_eq(got, want, "%s",
	                 sec == LDNS_SECTION_ANSWER      ? "answer"
	                 : sec == LDNS_SECTION_AUTHORITY ? "authority"
	                                                 : "additional");
	free(got);
}

static void
expect_reply(ldns_pkt_rcode rcode, bool aa, const char *an, const char *ns, const char *ad)
{
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), rcode);
	cr_expect_eq(ldns_pkt_aa(fx.reply), aa);
	cr_expect_not(ldns_pkt_tc(fx.reply));
	expect_section(LDNS_SECTION_ANSWER, an);
	expect_section(LDNS_SECTION_AUTHORITY, ns);
	expect_section(LDNS_SECTION_ADDITIONAL, ad);
}

Test(file_lookup, positive_answer_lists_apex_ns)
{
	ask("web.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true, "web.example.org.\t3600\tIN\tA\t192.0.2.3", APEX_NS,
	             "");
}

Test(file_lookup, question_case_echoed)
{
	ask("WEB.Example.ORG.", LDNS_RR_TYPE_A);
	expect_section(LDNS_SECTION_ANSWER, "WEB.Example.ORG.\t3600\tIN\tA\t192.0.2.3");
}

Test(file_lookup, mx_and_srv_targets_in_additional)
{
	ask("example.org.", LDNS_RR_TYPE_MX);
	expect_reply(LDNS_RCODE_NOERROR, true,
	             "example.org.\t3600\tIN\tMX\t10 mail.example.org.\n"
	             "example.org.\t3600\tIN\tMX\t20 mx.other.net.",
	             APEX_NS,
	             "mail.example.org.\t3600\tIN\tA\t192.0.2.2\n"
	             "mail.example.org.\t3600\tIN\tAAAA\t2001:db8::2");
	ask("_sip._tcp.example.org.", LDNS_RR_TYPE_SRV);
	expect_section(LDNS_SECTION_ADDITIONAL, "sip.example.org.\t3600\tIN\tA\t192.0.2.6");
}

Test(file_lookup, apex_ns_with_glue)
{
	ask("example.org.", LDNS_RR_TYPE_NS);
	expect_reply(LDNS_RCODE_NOERROR, true, APEX_NS, "",
	             "ns1.example.org.\t3600\tIN\tA\t192.0.2.1");
}

Test(file_lookup, apex_soa)
{
	ask("example.org.", LDNS_RR_TYPE_SOA);
	expect_reply(LDNS_RCODE_NOERROR, true,
	             "example.org.\t3600\tIN\tSOA\tns1.example.org. hostmaster.example.org. "
	             "2024010101 7200 3600 1209600 300",
	             APEX_NS, "");
}

Test(file_lookup, nodata_and_nxdomain_carry_the_soa)
{
	ask("web.example.org.", LDNS_RR_TYPE_MX);
	expect_reply(LDNS_RCODE_NOERROR, true, "", SOA_NEG, "");
	ask("nope.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NXDOMAIN, true, "", SOA_NEG, "");
	ask("deeper.web.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NXDOMAIN, true, "", SOA_NEG, "");
}

Test(file_lookup, empty_nonterminals_exist)
{
	ask("b.c.example.org.", LDNS_RR_TYPE_TXT);
	expect_reply(LDNS_RCODE_NOERROR, true, "", SOA_NEG, "");
	ask("c.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true, "", SOA_NEG, "");
	ask("z.b.c.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NXDOMAIN, true, "", SOA_NEG, "");
	ask("a.b.c.example.org.", LDNS_RR_TYPE_TXT);
	expect_section(LDNS_SECTION_ANSWER, "a.b.c.example.org.\t3600\tIN\tTXT\t\"deep\"");
}

Test(file_lookup, cname_followed_in_zone)
{
	ask("www.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true,
	             "www.example.org.\t3600\tIN\tCNAME\tWeb.example.org.\n"
	             "Web.example.org.\t3600\tIN\tA\t192.0.2.3",
	             APEX_NS, "");
	ask("chain1.example.org.", LDNS_RR_TYPE_A);
	expect_section(LDNS_SECTION_ANSWER,
	               "chain1.example.org.\t3600\tIN\tCNAME\tchain2.example.org.\n"
	               "chain2.example.org.\t3600\tIN\tCNAME\twww.example.org.\n"
	               "www.example.org.\t3600\tIN\tCNAME\tWeb.example.org.\n"
	               "Web.example.org.\t3600\tIN\tA\t192.0.2.3");
	/* The target has no such type: the chain alone. */
	ask("www.example.org.", LDNS_RR_TYPE_AAAA);
	expect_reply(LDNS_RCODE_NOERROR, true,
	             "www.example.org.\t3600\tIN\tCNAME\tWeb.example.org.", APEX_NS, "");
}

Test(file_lookup, cname_itself_and_out_of_zone_target)
{
	ask("www.example.org.", LDNS_RR_TYPE_CNAME);
	expect_section(LDNS_SECTION_ANSWER, "www.example.org.\t3600\tIN\tCNAME\tWeb.example.org.");
	ask("ext.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true, "ext.example.org.\t3600\tIN\tCNAME\twww.other.net.",
	             APEX_NS, "");
}

Test(file_lookup, cname_loop_cut)
{
	ask("loop1.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true,
	             "loop1.example.org.\t3600\tIN\tCNAME\tloop2.example.org.\n"
	             "loop2.example.org.\t3600\tIN\tCNAME\tloop1.example.org.",
	             APEX_NS, "");
}

Test(file_lookup, wildcard_synthesis)
{
	ask("Foo.wild.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true, "Foo.wild.example.org.\t3600\tIN\tA\t192.0.2.4",
	             APEX_NS, "");
	ask("foo.wild.example.org.", LDNS_RR_TYPE_TXT);
	expect_section(LDNS_SECTION_ANSWER, "foo.wild.example.org.\t3600\tIN\tTXT\t\"wild\"");
	/* More than one label below the closest encloser still matches (RFC 4592). */
	ask("a.b.wild.example.org.", LDNS_RR_TYPE_A);
	expect_section(LDNS_SECTION_ANSWER, "a.b.wild.example.org.\t3600\tIN\tA\t192.0.2.4");
	/* Synthesised names have every type the wildcard has, and NODATA for others. */
	ask("foo.wild.example.org.", LDNS_RR_TYPE_AAAA);
	expect_reply(LDNS_RCODE_NOERROR, true, "", SOA_NEG, "");
}

Test(file_lookup, wildcard_blocked_by_existing_names)
{
	/* x.wild exists, so the wildcard does not apply to it... */
	ask("x.wild.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true, "", SOA_NEG, "");
	/* ...nor to names below it: their closest encloser is x.wild. */
	ask("y.x.wild.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NXDOMAIN, true, "", SOA_NEG, "");
	/* The parent of the wildcard is an empty non-terminal. */
	ask("wild.example.org.", LDNS_RR_TYPE_A);
	expect_reply(LDNS_RCODE_NOERROR, true, "", SOA_NEG, "");
}

Test(file_lookup, wildcard_cname)
{
	ask("any.cname.example.org.", LDNS_RR_TYPE_A);
	expect_section(LDNS_SECTION_ANSWER,
	               "any.cname.example.org.\t3600\tIN\tCNAME\tweb.example.org.\n"
	               "web.example.org.\t3600\tIN\tA\t192.0.2.3");
}

Test(file_lookup, delegation_refers)
{
	static const char *names[] = { "sub.example.org.", "www.sub.example.org.",
		                       "ns.sub.example.org.", "a.b.sub.example.org." };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ask(names[i], LDNS_RR_TYPE_A);
		expect_reply(LDNS_RCODE_NOERROR, false, "",
		             "sub.example.org.\t3600\tIN\tNS\tns.sub.example.org.\n"
		             "sub.example.org.\t3600\tIN\tNS\tns.elsewhere.net.",
		             "ns.sub.example.org.\t3600\tIN\tA\t192.0.2.5");
	}
	ask("sub.example.org.", LDNS_RR_TYPE_NS);
	cr_expect_not(ldns_pkt_aa(fx.reply));
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 0);
	cr_expect_eq(ldns_pkt_nscount(fx.reply), 2);
}

Test(file_lookup, ds_answered_by_the_parent)
{
	ask("sub.example.org.", LDNS_RR_TYPE_DS);
	cr_expect(ldns_pkt_aa(fx.reply));
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 1);
	cr_expect_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(fx.reply), 0)),
	             LDNS_RR_TYPE_DS);
	/* Below the cut DS is the child's business. */
	ask("www.sub.example.org.", LDNS_RR_TYPE_DS);
	cr_expect_not(ldns_pkt_aa(fx.reply));
	cr_expect_eq(ldns_pkt_nscount(fx.reply), 2);
}

Test(file_lookup, fallthrough_on_name_error_only)
{
	fx.fall.n = 1;
	fx.fall.z = calloc(1, sizeof(*fx.fall.z));
	fx.fall.z[0].len = (uint8_t)sx_dname_from_str(fx.fall.z[0].wire, "wild.example.org.");
	/* Wildcards answer, so nothing under wild falls through... */
	cr_expect_eq(ask_limit("foo.wild.example.org.", LDNS_RR_TYPE_A, 65535), SX_DONE);
	cr_expect_eq(ask_limit("y.x.wild.example.org.", LDNS_RR_TYPE_A, 65535), SX_NEXT);
	/* ...and outside the fallthrough zones NXDOMAIN stays. */
	cr_expect_eq(ask_limit("nope.example.org.", LDNS_RR_TYPE_A, 65535), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_NXDOMAIN);
	/* NODATA never falls through. */
	cr_expect_eq(ask_limit("x.wild.example.org.", LDNS_RR_TYPE_A, 65535), SX_DONE);
}

Test(file_lookup, optional_sections_dropped_before_truncating)
{
	/* The four TXT records fit 512 bytes; the apex NS would not: left out, no TC. */
	cr_assert_eq(ask_limit("big.example.org.", LDNS_RR_TYPE_TXT, 512), SX_DONE);
	cr_expect_not(ldns_pkt_tc(fx.reply));
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 4);
	cr_expect_eq(ldns_pkt_nscount(fx.reply), 0);
	/* An answer that does not fit is truncated. */
	cr_assert_eq(ask_limit("big.example.org.", LDNS_RR_TYPE_TXT, 300), SX_DONE);
	cr_expect(ldns_pkt_tc(fx.reply));
	cr_expect_lt(ldns_pkt_ancount(fx.reply), 4);
}
