/* test_hosts_lookup.c -- the hosts table and its answers, without a server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <ldns/ldns.h>

#include <sextant/testing.h>

#include "../hosts.h"

extern const struct sx_plugin sx_plugin_hosts;

static const char hosts_file[] = "# comment line\n"
                                 "127.0.0.1 localhost localhost.domain\n"
                                 "::1 localhost localhost.domain\n"
                                 "10.0.0.1 example.org www.example.org # trailing comment\n"
                                 "::FFFF:10.0.0.2 example.com\n"
                                 "fe80::1%eth0 link.example.org\n"
                                 "10.0.0.3\n"
                                 "not-an-address bogus.example.org\n"
                                 "10.0.0.9\tTabbed.Example.ORG\n"
                                 "192.168.1.10 *.wild.example.org\n"
                                 "192.168.1.11 a.wild.example.org\n";

/* A hosts instance set up from @corefile, with its table built from @file and the inline lines. */
struct fx {
	struct sx_config *cfg;
	struct hosts *h;
	struct hosts_table *t;
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX];
	uint8_t qw[512];
	uint8_t buf[65535];
	ldns_pkt *reply;
};

static struct fx fx;

static void
fx_setup(const char *corefile, const char *file)
{
	char err[512];
	memset(&fx, 0, sizeof(fx));
	cr_assert_eq(sx_test_config(corefile, "/", NULL, &fx.cfg, err, sizeof(err)), 0, "%s", err);
	fx.h = sx_test_instance(fx.cfg, 0, &sx_plugin_hosts, 0);
	cr_assert(fx.h);
	FILE *fp = file != NULL ? fmemopen((void *)file, strlen(file), "r") : NULL;
	cr_assert_eq(hosts_table_build(fx.h, fp, &fx.t), 0);
	if (fp != NULL) {
		fclose(fp);
	}
}

static void
fx_teardown(void)
{
	if (fx.reply != NULL) {
		ldns_pkt_free(fx.reply);
	}
	hosts_table_free(fx.t);
	sx_test_config_free(fx.cfg);
}

/* Ask @name/@type; @return the verdict, the reply (if any) in fx.reply. */
static enum sx_verdict
ask(const char *name, ldns_rr_type type)
{
	ldns_pkt *query = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	cr_assert_eq(ldns_pkt_query_new_frm_str(&query, name, type, LDNS_RR_CLASS_IN, LDNS_RD),
	             LDNS_STATUS_OK);
	cr_assert_eq(ldns_pkt2wire(&wire, query, &len), LDNS_STATUS_OK);
	cr_assert_leq(len, sizeof(fx.qw));
	memcpy(fx.qw, wire, len);
	free(wire);
	ldns_pkt_free(query);
	cr_assert_eq(sx_test_parse_query(fx.qw, len, &fx.q, fx.lname), 0);
	fx.q.proto = SX_PROTO_UDP;
	sx_test_msg_init(&fx.m, fx.buf, sizeof(fx.buf), 65535, &fx.q);
	enum sx_verdict v = hosts_answer(fx.h, fx.t, &fx.q, &fx.m);
	if (fx.reply != NULL) {
		ldns_pkt_free(fx.reply);
		fx.reply = NULL;
	}
	if (v == SX_DONE) {
		size_t n = sx_test_msg_finish(&fx.m, &fx.q);
		cr_assert_eq(ldns_wire2pkt(&fx.reply, fx.buf, n), LDNS_STATUS_OK);
	}
	return v;
}

static void
expect_answer(const char *want)
{
	char *got = sx_test_section_str(fx.reply, LDNS_SECTION_ANSWER);
	cr_expect_str_eq(got, want);
	free(got);
}

#define FILE_ONLY ".:53 {\n hosts\n}\n"

Test(hosts_lookup, a_and_aaaa, .fini = fx_teardown)
{
	fx_setup(FILE_ONLY, hosts_file);
	cr_assert_eq(ask("example.org.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_NOERROR);
	cr_expect(ldns_pkt_aa(fx.reply));
	expect_answer("example.org.\t3600\tIN\tA\t10.0.0.1");
	cr_assert_eq(ask("localhost.", LDNS_RR_TYPE_AAAA), SX_DONE);
	expect_answer("localhost.\t3600\tIN\tAAAA\t::1");
	/* A mapped IPv6 address is an IPv4 one, as Go parses it. */
	cr_assert_eq(ask("example.com.", LDNS_RR_TYPE_A), SX_DONE);
	expect_answer("example.com.\t3600\tIN\tA\t10.0.0.2");
	/* The "%zone" of a link-local address is dropped. */
	cr_assert_eq(ask("link.example.org.", LDNS_RR_TYPE_AAAA), SX_DONE);
	expect_answer("link.example.org.\t3600\tIN\tAAAA\tfe80::1");
}

Test(hosts_lookup, case_insensitive_and_question_case_echoed, .fini = fx_teardown)
{
	fx_setup(FILE_ONLY, hosts_file);
	cr_assert_eq(ask("WWW.Example.Org.", LDNS_RR_TYPE_A), SX_DONE);
	expect_answer("WWW.Example.Org.\t3600\tIN\tA\t10.0.0.1");
	cr_assert_eq(ask("tabbed.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	expect_answer("tabbed.example.org.\t3600\tIN\tA\t10.0.0.9");
}

Test(hosts_lookup, ptr_for_every_name, .fini = fx_teardown)
{
	fx_setup(FILE_ONLY, hosts_file);
	cr_assert_eq(ask("1.0.0.127.in-addr.arpa.", LDNS_RR_TYPE_PTR), SX_DONE);
	cr_expect(ldns_pkt_aa(fx.reply));
	expect_answer("1.0.0.127.in-addr.arpa.\t3600\tIN\tPTR\tlocalhost.\n"
	              "1.0.0.127.in-addr.arpa.\t3600\tIN\tPTR\tlocalhost.domain.");
	cr_assert_eq(
	        ask("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	            LDNS_RR_TYPE_PTR),
	        SX_DONE);
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 2);
	/* An address nobody has, or a name that is no reverse name, is left to the next plugin. */
	cr_expect_eq(ask("5.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), SX_NEXT);
	cr_expect_eq(ask("example.org.", LDNS_RR_TYPE_PTR), SX_NEXT);
	/* No PTR points at a wildcard. */
	cr_expect_eq(ask("10.1.168.192.in-addr.arpa.", LDNS_RR_TYPE_PTR), SX_NEXT);
}

Test(hosts_lookup, ptr_outside_the_zones, .fini = fx_teardown)
{
	/* Names outside the zones are not loaded; reverse names are answered though out of zone. */
	fx_setup(".:53 {\n hosts /x example.org\n}\n", hosts_file);
	cr_assert_eq(ask("1.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), SX_DONE);
	expect_answer("1.0.0.10.in-addr.arpa.\t3600\tIN\tPTR\texample.org.\n"
	              "1.0.0.10.in-addr.arpa.\t3600\tIN\tPTR\twww.example.org.");
	cr_expect_eq(ask("1.0.0.127.in-addr.arpa.", LDNS_RR_TYPE_PTR), SX_NEXT);
	cr_expect_eq(ask("localhost.", LDNS_RR_TYPE_A), SX_NEXT);
	cr_expect_eq(ask("example.com.", LDNS_RR_TYPE_A), SX_NEXT);
}

Test(hosts_lookup, no_reverse, .fini = fx_teardown)
{
	fx_setup(".:53 {\n hosts {\n  no_reverse\n }\n}\n", hosts_file);
	cr_expect_eq(ask("1.0.0.127.in-addr.arpa.", LDNS_RR_TYPE_PTR), SX_NEXT);
	cr_expect_eq(ask("localhost.", LDNS_RR_TYPE_A), SX_DONE);
}

Test(hosts_lookup, nodata_for_other_types, .fini = fx_teardown)
{
	fx_setup(FILE_ONLY, hosts_file);
	cr_assert_eq(ask("example.org.", LDNS_RR_TYPE_AAAA), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_NOERROR);
	cr_expect(ldns_pkt_aa(fx.reply));
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 0);
	cr_expect_eq(ldns_pkt_nscount(fx.reply), 0);
	cr_assert_eq(ask("example.org.", LDNS_RR_TYPE_MX), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_NOERROR);
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 0);
}

Test(hosts_lookup, missing_name_is_servfail_as_in_coredns, .fini = fx_teardown)
{
	fx_setup(FILE_ONLY, hosts_file);
	cr_assert_eq(ask("nope.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_SERVFAIL);
	cr_expect_not(ldns_pkt_aa(fx.reply));
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 0);
	/* Lines without a name or with a bad address add nothing. */
	cr_assert_eq(ask("bogus.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_SERVFAIL);
	/* A reverse name is no host name. */
	cr_assert_eq(ask("1.0.0.127.in-addr.arpa.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_SERVFAIL);
}

Test(hosts_lookup, fallthrough_only_for_missing_names, .fini = fx_teardown)
{
	fx_setup(".:53 {\n hosts {\n  fallthrough example.net\n }\n}\n",
	         "10.0.0.1 a.example.net\n10.0.0.2 a.example.org\n");
	cr_expect_eq(ask("b.example.net.", LDNS_RR_TYPE_A), SX_NEXT);
	/* Outside the fallthrough zones a missing name is still a failure. */
	cr_assert_eq(ask("b.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_SERVFAIL);
	/* An existing name answers NODATA for other types, fallthrough or not. */
	cr_assert_eq(ask("a.example.net.", LDNS_RR_TYPE_TXT), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_NOERROR);
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 0);
}

Test(hosts_lookup, fallthrough_unsupported, .fini = fx_teardown)
{
	fx_setup(".:53 {\n hosts {\n  fallthrough\n  fallthrough_unsupported\n }\n}\n",
	         "10.0.0.1 a.example.net\n");
	cr_expect_eq(ask("a.example.net.", LDNS_RR_TYPE_TXT), SX_NEXT);
	cr_expect_eq(ask("a.example.net.", LDNS_RR_TYPE_AAAA), SX_DONE);
	cr_expect_eq(ask("a.example.net.", LDNS_RR_TYPE_A), SX_DONE);
}

Test(hosts_lookup, outside_zones_goes_next, .fini = fx_teardown)
{
	fx_setup(".:53 {\n hosts /x example.org\n}\n",
	         "10.0.0.1 a.example.org\n10.0.0.1 a.example.net\n");
	cr_expect_eq(ask("a.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ask("a.example.net.", LDNS_RR_TYPE_A), SX_NEXT);
	cr_expect_eq(ask("example.org.", LDNS_RR_TYPE_A), SX_DONE);
}

Test(hosts_lookup, inline_lines_after_the_file, .fini = fx_teardown)
{
	fx_setup(
	        ".:53 {\n hosts {\n  10.0.0.5 example.org\n  10.0.0.1 example.org\n  ttl 42\n }\n}\n",
	        hosts_file);
	cr_assert_eq(ask("example.org.", LDNS_RR_TYPE_A), SX_DONE);
	/* File first, then inline; the pair already in the file is not repeated. */
	expect_answer("example.org.\t42\tIN\tA\t10.0.0.1\nexample.org.\t42\tIN\tA\t10.0.0.5");
	cr_assert_eq(ask("5.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR), SX_DONE);
	expect_answer("5.0.0.10.in-addr.arpa.\t42\tIN\tPTR\texample.org.");
}

Test(hosts_lookup, inline_only_without_a_file, .fini = fx_teardown)
{
	fx_setup(".:53 {\n hosts {\n  10.0.0.5 only.inline\n }\n}\n", NULL);
	cr_assert_eq(ask("only.inline.", LDNS_RR_TYPE_A), SX_DONE);
	expect_answer("only.inline.\t3600\tIN\tA\t10.0.0.5");
	cr_expect_eq(fx.t->nnames, 2); /* the name and its reverse name */
}

Test(hosts_lookup, wildcard_one_label, .fini = fx_teardown)
{
	fx_setup(FILE_ONLY, hosts_file);
	cr_assert_eq(ask("apps.wild.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	expect_answer("apps.wild.example.org.\t3600\tIN\tA\t192.168.1.10");
	/* The exact name wins over the wildcard. */
	cr_assert_eq(ask("a.wild.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	expect_answer("a.wild.example.org.\t3600\tIN\tA\t192.168.1.11");
	/* A wildcard covers exactly one label. */
	cr_assert_eq(ask("deep.apps.wild.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_SERVFAIL);
	cr_assert_eq(ask("wild.example.org.", LDNS_RR_TYPE_A), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_SERVFAIL);
	/* A wildcard name exists for every type. */
	cr_assert_eq(ask("apps.wild.example.org.", LDNS_RR_TYPE_AAAA), SX_DONE);
	cr_expect_eq(ldns_pkt_get_rcode(fx.reply), LDNS_RCODE_NOERROR);
	cr_expect_eq(ldns_pkt_ancount(fx.reply), 0);
}

Test(hosts_lookup, truncated_over_udp, .fini = fx_teardown)
{
	/* 40 addresses for one name do not fit 512 bytes: TC, and only whole records. */
	char file[2048] = "";
	for (int i = 1; i <= 40; i++) {
		char line[64];
		snprintf(line, sizeof(line), "10.1.0.%d many.example.org\n", i);
		strcat(file, line);
	}
	fx_setup(FILE_ONLY, file);
	ldns_pkt *query = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	ldns_pkt_query_new_frm_str(&query, "many.example.org.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
	                           0);
	cr_assert_eq(ldns_pkt2wire(&wire, query, &len), LDNS_STATUS_OK);
	memcpy(fx.qw, wire, len);
	free(wire);
	ldns_pkt_free(query);
	cr_assert_eq(sx_test_parse_query(fx.qw, len, &fx.q, fx.lname), 0);
	fx.q.proto = SX_PROTO_UDP;
	sx_test_msg_init(&fx.m, fx.buf, sizeof(fx.buf), sx_test_reply_limit(&fx.q), &fx.q);
	cr_assert_eq(hosts_answer(fx.h, fx.t, &fx.q, &fx.m), SX_DONE);
	size_t n = sx_test_msg_finish(&fx.m, &fx.q);
	cr_assert_leq(n, 512);
	cr_assert_eq(ldns_wire2pkt(&fx.reply, fx.buf, n), LDNS_STATUS_OK);
	cr_expect(ldns_pkt_tc(fx.reply));
	cr_expect_gt(ldns_pkt_ancount(fx.reply), 0);
	cr_expect_lt(ldns_pkt_ancount(fx.reply), 40);
}
