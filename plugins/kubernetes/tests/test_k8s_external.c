/* test_k8s_external.c -- ExternalName targets outside the zone, looked up through the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#define EXT(name, target)                                                                       \
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\","      \
	"\"namespace\":\"ns1\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"" target \
	"\"}}"

static const char cluster[] =
        "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":["
        "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"ns1\"}},"
        "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"ns1\"},\"spec\":{\"clusterIP\":\"10.96.0.10\",\"ports\":[{\"port\":80}]}}," EXT("out", "www.example.test") "," EXT("out-missing", "nothere.example.test") "," EXT("out-alias", "alias.example.test") "," EXT("out-txt", "txt.example.test") "," EXT(
                "out-hosts",
                "www.hosts.test") "," EXT("out-many",
                                          "many.example.test") "," EXT("in",
                                                                       "web.ns1.svc.cluster.local") "," EXT("via-in",
                                                                                                            "out.ns1.svc.cluster.local") "," EXT("loop-a",
                                                                                                                                                 "loop-b.ns1.svc.cluster.local") "," EXT("loop-b",
                                                                                                                                                                                         "loop-a.ns1.svc.cluster.local") "," EXT("ping",
                                                                                                                                                                                                                                 "pong.ns1.svc.other.local") "," EXT("pong",
                                                                                                                                                                                                                                                                     "ping.ns1.svc.cluster.local") "," EXT("ext-ip",
                                                                                                                                                                                                                                                                                                           "192.0.2.99") "]}";

static const char zone[] = "$ORIGIN example.test.\n"
                           "$TTL 300\n"
                           "@ SOA ns.example.test. admin.example.test. 1 7200 1800 86400 60\n"
                           "@ NS ns.example.test.\n"
                           "ns A 192.0.2.1\n"
                           "www A 192.0.2.10\n"
                           "www A 192.0.2.11\n"
                           "www AAAA 2001:db8::10\n"
                           "alias CNAME www.example.test.\n"
                           "txt TXT \"hello\"\n";

/*
 * The cluster in a kubernetes block for cluster.local and other.local; example.test
 * from a zone file in a block of its own; hosts.test inline in a third.
 */
static struct sx_test_server *
start(void)
{
	struct sx_test_server *s = sx_test_prepare();
	char path[1024];

	snprintf(path, sizeof(path), "%s/m", sx_test_dir(s));
	cr_assert_eq(mkdir(path, 0755), 0);
	sx_test_write(s, "m/cluster.json", cluster);
	sx_test_write(s, "example.test.zone", zone);
	sx_test_start(s, "cluster.local other.local {\n"
	                 "\tbind 127.0.0.1\n"
	                 "\tkubernetes {\n"
	                 "\t\tmanifests m\n"
	                 "\t}\n"
	                 "}\n"
	                 "example.test {\n"
	                 "\tbind 127.0.0.1\n"
	                 "\tfile example.test.zone\n"
	                 "}\n"
	                 "hosts.test {\n"
	                 "\tbind 127.0.0.1\n"
	                 "\thosts {\n"
	                 "\t\t192.0.2.77 www.hosts.test\n"
	                 "\t}\n"
	                 "}\n");
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000),
	          "no sync line in:\n%s", sx_test_log(s));
	return s;
}

/* The reply to @name/@type: its rcode, and its answer section as text. */
static char *
ask(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags, ldns_pkt_rcode *rcode,
    ldns_pkt **keep)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);
	char *str;

	cr_assert(p, "no reply for %s:\n%s", name, sx_test_log(s));
	cr_expect(ldns_pkt_aa(p), "%s: no aa", name);
	*rcode = ldns_pkt_get_rcode(p);
	str = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	if (keep) {
		*keep = p;
	} else {
		ldns_pkt_free(p);
	}
	return str;
}

static void
expect(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags,
       ldns_pkt_rcode want_rc, const char *want)
{
	ldns_pkt_rcode rc;
	char *got = ask(s, name, type, flags, &rc, NULL);

	cr_expect_eq(rc, want_rc, "%s: rcode %d, want %d", name, rc, want_rc);
	cr_expect_str_eq(got, want, "%s over %s", name, flags & SX_Q_TCP ? "TCP" : "UDP");
	free(got);
}

#define CNAME(owner, target) owner ".\t5\tIN\tCNAME\t" target ".\n"

Test(k8s_external, target_from_another_block)
{
	struct sx_test_server *s = start();

	for (int tcp = 0; tcp <= 1; tcp++) {
		int f = tcp ? SX_Q_TCP : 0;
		expect(s, "out.ns1.svc.cluster.local", LDNS_RR_TYPE_A, f, LDNS_RCODE_NOERROR,
		       CNAME("out.ns1.svc.cluster.local",
		             "www.example.test") "www.example.test.\t300\tIN\tA\t192.0.2.10\n"
		                                 "www.example.test.\t300\tIN\tA\t192.0.2.11");
		expect(s, "out.ns1.svc.cluster.local", LDNS_RR_TYPE_AAAA, f, LDNS_RCODE_NOERROR,
		       CNAME("out.ns1.svc.cluster.local",
		             "www.example.test") "www.example.test.\t300\tIN\tAAAA\t2001:db8::10");
	}
	/* The question's spelling is kept in the first owner. */
	expect(s, "OUT.ns1.svc.Cluster.Local", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	       CNAME("OUT.ns1.svc.Cluster.Local",
	             "www.example.test") "www.example.test.\t300\tIN\tA\t192.0.2.10\n"
	                                 "www.example.test.\t300\tIN\tA\t192.0.2.11");
	/* TXT is looked up too; a CNAME inside the target zone comes along whole. */
	expect(s, "out-txt.ns1.svc.cluster.local", LDNS_RR_TYPE_TXT, 0, LDNS_RCODE_NOERROR,
	       CNAME("out-txt.ns1.svc.cluster.local",
	             "txt.example.test") "txt.example.test.\t300\tIN\tTXT\t\"hello\"");
	expect(s, "out-alias.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	       CNAME("out-alias.ns1.svc.cluster.local",
	             "alias.example.test") "alias.example.test.\t300\tIN\tCNAME\twww.example.test.\n"
	                                   "www.example.test.\t300\tIN\tA\t192.0.2.10\n"
	                                   "www.example.test.\t300\tIN\tA\t192.0.2.11");
	expect(s, "out-hosts.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	       CNAME("out-hosts.ns1.svc.cluster.local",
	             "www.hosts.test") "www.hosts.test.\t3600\tIN\tA\t192.0.2.77");
	/* The CNAME query itself is answered from the cluster alone. */
	expect(s, "out.ns1.svc.cluster.local", LDNS_RR_TYPE_CNAME, 0, LDNS_RCODE_NOERROR,
	       "out.ns1.svc.cluster.local.\t5\tIN\tCNAME\twww.example.test.");
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(k8s_external, missing_target)
{
	struct sx_test_server *s = start();
	ldns_pkt_rcode rc;
	ldns_pkt *p;
	char *got;

	/* As CoreDNS: the CNAME, the target's (empty) answer, NOERROR. */
	got = ask(s, "out-missing.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, &rc, &p);
	cr_expect_eq(rc, LDNS_RCODE_NOERROR);
	cr_expect_str_eq(got, "out-missing.ns1.svc.cluster.local.\t5\tIN\tCNAME\t"
	                      "nothere.example.test.");
	cr_expect_eq(ldns_pkt_nscount(p), 0);
	ldns_pkt_free(p);
	free(got);
	/* A name that exists without the type: the same. */
	expect(s, "out-txt.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	       "out-txt.ns1.svc.cluster.local.\t5\tIN\tCNAME\ttxt.example.test.");
	/* An address as externalName makes no name. */
	got = ask(s, "ext-ip.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, &rc, NULL);
	cr_expect_eq(rc, LDNS_RCODE_NXDOMAIN);
	cr_expect_str_eq(got, "");
	free(got);
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(k8s_external, in_zone_targets)
{
	struct sx_test_server *s = start();

	expect(s, "in.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	       CNAME("in.ns1.svc.cluster.local",
	             "web.ns1.svc.cluster.local") "web.ns1.svc.cluster.local.\t5\tIN\tA\t10.96.0.10");
	/* Through an in-zone ExternalName to one outside: both CNAMEs, then the target. */
	expect(s, "via-in.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	       CNAME("via-in.ns1.svc.cluster.local", "out.ns1.svc.cluster.local")
	               CNAME("out.ns1.svc.cluster.local",
	                     "www.example.test") "www.example.test.\t300\tIN\tA\t192.0.2.10\n"
	                                         "www.example.test.\t300\tIN\tA\t192.0.2.11");
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(k8s_external, loops_end)
{
	struct sx_test_server *s = start();
	ldns_pkt_rcode rc;
	ldns_pkt *p;
	char *got;

	/* Inside the zone the loop is seen and cut: NODATA, with the SOA. */
	got = ask(s, "loop-a.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, &rc, &p);
	cr_expect_eq(rc, LDNS_RCODE_NOERROR);
	cr_expect_str_eq(got, "");
	cr_expect_eq(ldns_pkt_nscount(p), 1);
	ldns_pkt_free(p);
	free(got);
	/*
	 * Across zones each hop is a sub-query: the nesting limit ends it, and the
	 * CNAMEs gathered so far answer.
	 */
	for (int tcp = 0; tcp <= 1; tcp++) {
		got = ask(s, "ping.ns1.svc.cluster.local", LDNS_RR_TYPE_A, tcp ? SX_Q_TCP : 0, &rc,
		          &p);
		cr_expect_eq(rc, LDNS_RCODE_NOERROR);
		cr_expect(strncmp(got,
		                  CNAME("ping.ns1.svc.cluster.local", "pong.ns1.svc.other.local"),
		                  strlen(CNAME("ping.ns1.svc.cluster.local",
		                               "pong.ns1.svc.other.local"))) == 0,
		          "%s", got);
		cr_expect_geq(ldns_pkt_ancount(p), 2);
		cr_expect_leq(ldns_pkt_ancount(p), 10);
		for (size_t i = 0; i < ldns_pkt_ancount(p); i++) {
			cr_expect_eq(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), i)),
			             LDNS_RR_TYPE_CNAME);
		}
		ldns_pkt_free(p);
		free(got);
	}
	/* And the server goes on answering. */
	expect(s, "web.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, LDNS_RCODE_NOERROR,
	       "web.ns1.svc.cluster.local.\t5\tIN\tA\t10.96.0.10");
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(k8s_external, truncated_target)
{
	struct sx_test_server *s = sx_test_prepare();
	char path[1024], *big = malloc(65536);
	size_t n = 0;
	ldns_pkt *p;

	/*
	 * www: more addresses than 512 bytes hold (TC over UDP, all over TCP); many:
	 * more than a sub-query's reply holds, whose TC comes through even over TCP.
	 */
	n += (size_t)snprintf(big + n, 65536 - n,
	                      "$ORIGIN example.test.\n$TTL 300\n"
	                      "@ SOA ns.example.test. admin.example.test. 1 7200 1800 86400 60\n");
	for (int i = 1; i <= 60; i++) {
		n += (size_t)snprintf(big + n, 65536 - n, "www A 192.0.2.%d\n", i);
	}
	for (int i = 0; i < 1200; i++) {
		n += (size_t)snprintf(big + n, 65536 - n, "many A 10.%d.%d.1\n", i / 200, i % 200);
	}
	snprintf(path, sizeof(path), "%s/m", sx_test_dir(s));
	cr_assert_eq(mkdir(path, 0755), 0);
	sx_test_write(s, "m/cluster.json", cluster);
	sx_test_write(s, "example.test.zone", big);
	free(big);
	sx_test_start(s, ". {\n"
	                 "\tbind 127.0.0.1\n"
	                 "\tkubernetes cluster.local {\n"
	                 "\t\tmanifests m\n"
	                 "\t}\n"
	                 "\tfile example.test.zone example.test\n"
	                 "}\n");
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000));
	p = sx_test_query(s, "out.ns1.svc.cluster.local", LDNS_RR_TYPE_A, SX_Q_NOEDNS, 0);
	cr_assert(p);
	cr_expect(ldns_pkt_tc(p));
	cr_expect_lt(ldns_pkt_ancount(p), 61);
	ldns_pkt_free(p);
	p = sx_test_query(s, "out.ns1.svc.cluster.local", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_assert(p);
	cr_expect_not(ldns_pkt_tc(p));
	cr_expect_eq(ldns_pkt_ancount(p), 61);
	ldns_pkt_free(p);
	p = sx_test_query(s, "out-many.ns1.svc.cluster.local", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_assert(p);
	cr_expect(ldns_pkt_tc(p));
	cr_expect_gt(ldns_pkt_ancount(p), 100);
	cr_expect_lt(ldns_pkt_ancount(p), 1201);
	ldns_pkt_free(p);
	cr_expect_eq(sx_test_stop(s), 0);
}
