/* test_acl_integration.c -- acl through the binary: each action, zones, rule order, metrics, setup. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* Client addresses: the harness queries 127.0.0.1 from 127.0.0.1, and ::1 from ::1. */
static const char corefile[] = "example.org:0 {\n"
                               "\tbind 127.0.0.1 ::1\n"
                               "\tprometheus 127.0.0.1:0\n"
                               "\tacl {\n"
                               "\t\tblock type A net 127.0.0.1/32\n"
                               "\t\tfilter type AAAA net 127.0.0.0/8 ::1\n"
                               "\t\tdrop type TXT\n"
                               "\t\tallow type MX\n"
                               "\t\tblock type MX\n"
                               "\t}\n"
                               "\tacl a.example.org {\n"
                               "\t\tblock net ::1\n"
                               "\t}\n"
                               "\thosts {\n"
                               "\t\t192.0.2.1 www.example.org www.a.example.org\n"
                               "\t\t2001:db8::1 www.example.org www.a.example.org\n"
                               "\t\tfallthrough\n"
                               "\t}\n"
                               "\twhoami\n"
                               "}\n";

/* The reply's EDNS options as "code:hex-data" pairs, or "" (malloc'ed). */
static char *
options(const ldns_pkt *p)
{
	const ldns_rdf *d = ldns_pkt_edns_data(p);
	char *out = calloc(1, 256);
	size_t n = d ? ldns_rdf_size(d) : 0, off = 0;
	const uint8_t *b = d ? ldns_rdf_data(d) : NULL;

	while (off + 4 <= n) {
		unsigned code = b[off] << 8 | b[off + 1], len = b[off + 2] << 8 | b[off + 3];

		snprintf(out + strlen(out), 256 - strlen(out), "%s%u:", *out ? " " : "", code);
		for (unsigned i = 0; i < len && off + 4 + i < n; i++) {
			snprintf(out + strlen(out), 256 - strlen(out), "%02x", b[off + 4 + i]);
		}
		off += 4 + len;
	}
	return out;
}

static void
expect_reply(struct sx_test_server *s, const char *name, ldns_rr_type t, int flags, int rcode,
             size_t answers, const char *opts)
{
	ldns_pkt *p = sx_test_query(s, name, t, flags, 0);
	char *o;

	cr_assert(p, "%s: no reply", name);
	cr_expect_eq((int)ldns_pkt_get_rcode(p), rcode, "%s type %d rcode", name, t);
	cr_expect_eq(ldns_pkt_ancount(p), answers, "%s type %d answers", name, t);
	o = options(p);
	cr_expect_str_eq(o, opts, "%s type %d options: %s", name, t, o);
	free(o);
	ldns_pkt_free(p);
}

Test(acl_integration, block_filter_drop_allow_from_ipv4)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);

	/* block: REFUSED with EDE 15 (Blocked), over UDP and TCP. */
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_A, 0, LDNS_RCODE_REFUSED, 0, "15:000f");
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, LDNS_RCODE_REFUSED, 0,
	             "15:000f");
	/* Without EDNS there is no OPT to carry the EDE. */
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_NOEDNS, LDNS_RCODE_REFUSED, 0, "");
	/* filter: NOERROR, nothing, EDE 17 (Filtered). */
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_AAAA, 0, LDNS_RCODE_NOERROR, 0, "15:0011");
	/* drop: no reply at all, on either transport; the server goes on answering. */
	cr_expect_null(sx_test_query(s, "www.example.org", LDNS_RR_TYPE_TXT, 0, 0));
	cr_expect_null(sx_test_query(s, "www.example.org", LDNS_RR_TYPE_TXT, SX_Q_TCP, 0));
	/* allow: the first match wins, the block after it is not reached; whoami answers. */
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_MX, 0, LDNS_RCODE_NOERROR, 0, "");
	/* Types no line names go on. */
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_SRV, 0, LDNS_RCODE_NOERROR, 0, "");
	sx_test_stop(s);
}

Test(acl_integration, networks_and_zones_from_ipv6)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);

	sx_test_set_addr(s, "::1");
	/* 127.0.0.1/32 does not hold ::1: A goes on to hosts. */
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR, 1, "");
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_AAAA, 0, LDNS_RCODE_NOERROR, 0, "15:0011");
	/* The second acl covers a.example.org only, and blocks ::1 there. */
	expect_reply(s, "www.a.example.org", LDNS_RR_TYPE_A, 0, LDNS_RCODE_REFUSED, 0, "15:000f");
	sx_test_set_addr(s, "127.0.0.1");
	expect_reply(s, "www.a.example.org", LDNS_RR_TYPE_SRV, 0, LDNS_RCODE_NOERROR, 0, "");
	sx_test_stop(s);
}

Test(acl_integration, counters)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	uint16_t port = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");
	char want[256], *m;
	long status;

	expect_reply(s, "www.example.org", LDNS_RR_TYPE_A, 0, LDNS_RCODE_REFUSED, 0, "15:000f");
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_A, 0, LDNS_RCODE_REFUSED, 0, "15:000f");
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_AAAA, 0, LDNS_RCODE_NOERROR, 0, "15:0011");
	cr_expect_null(sx_test_query(s, "www.example.org", LDNS_RR_TYPE_TXT, 0, 0));
	expect_reply(s, "www.example.org", LDNS_RR_TYPE_MX, 0, LDNS_RCODE_NOERROR, 0, "");
	sx_test_set_addr(s, "::1");
	expect_reply(s, "www.a.example.org", LDNS_RR_TYPE_A, 0, LDNS_RCODE_REFUSED, 0, "15:000f");
	m = sx_test_http_get(port, "/metrics", &status);
	cr_assert_eq(status, 200);
	snprintf(want, sizeof(want),
	         "coredns_acl_blocked_requests_total{server=\"dns://:%u\",zone=\"example.org.\","
	         "view=\"\"} 2\n",
	         sx_test_port(s));
	cr_expect(strstr(m, want), "want %s in %s", want, m);
	snprintf(want, sizeof(want),
	         "coredns_acl_blocked_requests_total{server=\"dns://:%u\",zone=\"a.example.org.\","
	         "view=\"\"} 1\n",
	         sx_test_port(s));
	cr_expect(strstr(m, want), "want %s in %s", want, m);
	cr_expect(strstr(m, "coredns_acl_filtered_requests_total{server=\"dns://:"), "%s", m);
	cr_expect(strstr(m, "zone=\"example.org.\",view=\"\"} 1\n"), "%s", m);
	snprintf(want, sizeof(want),
	         "coredns_acl_dropped_requests_total{server=\"dns://:%u\",zone=\"example.org.\","
	         "view=\"\"} 1\n",
	         sx_test_port(s));
	cr_expect(strstr(m, want), "want %s in %s", want, m);
	snprintf(want, sizeof(want),
	         "coredns_acl_allowed_requests_total{server=\"dns://:%u\",view=\"\"} 1\n",
	         sx_test_port(s));
	cr_expect(strstr(m, want), "want %s in %s", want, m);
	free(m);
	sx_test_stop(s);
}

Test(acl_integration, networks_from_a_file)
{
	struct sx_test_server *s = sx_test_prepare();

	sx_test_write(s, "blocked.txt", "# clients we refuse\n\n  ::1   # local v6\n10.0.0.0/8\n");
	sx_test_start(s, ".:0 {\n\tbind 127.0.0.1 ::1\n\tacl {\n\t\tblock file blocked.txt\n\t}\n"
	                 "\twhoami\n}\n");
	expect_reply(s, "x.test", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR, 0, "");
	sx_test_set_addr(s, "::1");
	expect_reply(s, "x.test", LDNS_RR_TYPE_A, 0, LDNS_RCODE_REFUSED, 0, "15:000f");
	sx_test_stop(s);
}

static void
check_error(const char *block, const char *want)
{
	char corefile[512], *out;

	snprintf(corefile, sizeof(corefile), ". {\n\tacl {\n\t\t%s\n\t}\n}\n", block);
	cr_expect_eq(sx_test_check(corefile, &out), 1, "%s", block);
	cr_expect(strstr(out, want), "%s: want \"%s\" in: %s", block, want, out);
	free(out);
}

Test(acl_integration, setup)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\tacl example.org {\n\t\tallow net 10.0.0.0/8\n\t\tblock\n"
	                           "\t\tfilter type A AAAA net *\n\t\tdrop type * net ::/0\n\t}\n"
	                           "\tacl {\n\t}\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
	check_error("deny net 10.0.0.0/8",
	            "Corefile:3: plugin/acl: unexpected token 'deny'; expect 'allow', 'block', "
	            "'filter' or 'drop'");
	check_error("block net 10.0.0.0/33", "Corefile:3: plugin/acl: illegal CIDR notation "
	                                     "'10.0.0.0/33'");
	check_error("block type AXX", "Corefile:3: plugin/acl: unexpected token 'AXX'; expect "
	                              "legal QTYPE");
	check_error("block type net 10.0.0.0/8",
	            "Corefile:3: plugin/acl: no token specified in 'type' section");
	check_error("block net", "Corefile:3: plugin/acl: no token specified in 'net' section");
	check_error("block 10.0.0.0/8",
	            "Corefile:3: plugin/acl: unexpected token '10.0.0.0/8'; expect 'type | net | "
	            "file'");
	check_error("block file /nonexistent/acl.txt",
	            "Corefile:3: plugin/acl: unable to load networks from local file: "
	            "/nonexistent/acl.txt: No such file or directory");
	cr_expect_eq(sx_test_check(". {\n\tacl a..b {\n\t\tblock\n\t}\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/acl: zone 'a..b' is not a valid domain name"),
	          "%s", out);
	free(out);
}
