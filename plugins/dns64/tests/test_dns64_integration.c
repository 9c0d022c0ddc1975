/* test_dns64_integration.c -- dns64 through the binary: an upstream, a zone, kubernetes names. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#define SYNCED "[INFO] plugin/kubernetes: synced "

/* The AAAA answers of @name from the server's current address, as addresses, in @out. */
static int
aaaa(struct sx_test_server *s, const char *name, int rcode, struct in6_addr *out, int max,
     uint32_t *ttl)
{
	ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_AAAA, 0, 0);
	ldns_rr_list *an;
	int n = 0;

	cr_assert(p, "no reply for %s:\n%s", name, sx_test_log(s));
	cr_expect_eq((int)ldns_pkt_get_rcode(p), rcode, "%s rcode", name);
	an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_AAAA || n == max) {
			continue;
		}
		memcpy(&out[n], ldns_rdf_data(ldns_rr_rdf(rr, 0)), 16);
		if (ttl) {
			*ttl = ldns_rr_ttl(rr);
		}
		n++;
	}
	ldns_pkt_free(p);
	return n;
}

static void
expect_addr(const struct in6_addr *a, const char *want)
{
	struct in6_addr w;
	char got[INET6_ADDRSTRLEN];

	cr_assert_eq(inet_pton(AF_INET6, want, &w), 1);
	inet_ntop(AF_INET6, a, got, sizeof(got));
	cr_expect(!memcmp(a, &w, 16), "got %s, want %s", got, want);
}

static struct sx_test_server *
start_forward(struct sx_upstream *up, const char *dns64)
{
	char cf[512];

	snprintf(cf, sizeof(cf),
	         ".:0 {\n\tbind 127.0.0.1 ::1\n\tprometheus 127.0.0.1:0\n\t%s\n"
	         "\tforward . 127.0.0.1:%u\n}\n",
	         dns64, sx_up_port(up));
	return sx_test_start(NULL, cf);
}

Test(dns64_integration, an_upstreams_a_records_become_aaaa_for_ipv6_clients)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_test_server *s = start_forward(up, "dns64");
	struct in6_addr a[4];
	uint32_t ttl = 0;
	long status;
	char *m;

	/* Over IPv4 nothing is translated: the upstream's empty AAAA reply goes out. */
	cr_expect_eq(aaaa(s, "www.example.net", 0, a, 4, NULL), 0);
	cr_expect_eq(sx_up_count(up, "www.example.net. A "), 0);

	sx_test_set_addr(s, "::1");
	cr_assert_eq(aaaa(s, "www.example.net", 0, a, 4, &ttl), 1);
	expect_addr(&a[0], "64:ff9b::c000:207");
	cr_expect(ttl > 0 && ttl <= 600, "ttl %u", ttl);
	cr_expect_eq(sx_up_count(up, "www.example.net. AAAA "), 2);
	cr_expect_eq(sx_up_count(up, "www.example.net. A "), 1);

	/* NXDOMAIN stands: no A lookup (RFC 6147 5.1.2). */
	cr_expect_eq(aaaa(s, "nxdomain.example.net", LDNS_RCODE_NXDOMAIN, a, 4, NULL), 0);
	cr_expect_eq(sx_up_count(up, "nxdomain.example.net. A "), 0);

	/* An upstream failing the AAAA question is as if it had none: the A records answer. */
	cr_expect_eq(aaaa(s, "servfail.example.net", LDNS_RCODE_SERVFAIL, a, 4, NULL), 0);
	cr_expect_eq(sx_up_count(up, "servfail.example.net. A "), 1);

	/* A question of another type is untouched. */
	ldns_pkt *p = sx_test_query(s, "www.example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);

	m = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                     "/metrics", &status);
	cr_expect(strstr(m, "coredns_dns64_requests_translated_total{server=\"dns://:"), "%s", m);
	cr_expect(strstr(m, "\"} 2\n"), "two translated (www, servfail):\n%s", m);
	free(m);
	sx_test_stop(s);
	sx_up_stop(up);
}

Test(dns64_integration, allow_ipv4_and_the_prefix_option)
{
	struct sx_upstream *up = sx_up_fake(9, false);
	struct sx_test_server *s = start_forward(
	        up, "dns64 64:1337::/96 {\n\t\tprefix 2001:db8:1:2::/64\n"
	            "\t\tallow_ipv4\n\t}");
	struct in6_addr a[4];

	/* The option wins over the argument; byte 8 of the address stays 0 (RFC 6052). */
	cr_assert_eq(aaaa(s, "host.example.net", 0, a, 4, NULL), 1);
	expect_addr(&a[0], "2001:db8:1:2:c0:2:900:0");
	sx_test_stop(s);

	s = start_forward(up, "dns64 2001:db8:100::/40 {\n\t\tallow_ipv4\n\t}");
	cr_assert_eq(aaaa(s, "host.example.net", 0, a, 4, NULL), 1);
	expect_addr(&a[0], "2001:db8:1c0:2:9::");
	sx_test_stop(s);

	s = start_forward(up, "dns64 2001:db8::/32 {\n\t\tallow_ipv4\n\t}");
	cr_assert_eq(aaaa(s, "host.example.net", 0, a, 4, NULL), 1);
	expect_addr(&a[0], "2001:db8:c000:209::");
	sx_test_stop(s);
	sx_up_stop(up);
}

static const char zone[] = "$ORIGIN example.org.\n"
                           "$TTL 3600\n"
                           "@      30 SOA ns1 hostmaster 1 7200 1800 86400 30\n"
                           "@         NS  ns1\n"
                           "ns1       A   192.0.2.53\n"
                           "both      A   192.0.2.1\n"
                           "both      AAAA 2001:db8::1\n"
                           "v4only    A   192.0.2.2\n"
                           "alias     CNAME v4only\n";

static struct sx_test_server *
start_zone(const char *opts)
{
	struct sx_test_server *s = sx_test_prepare();
	char cf[512];

	sx_test_write(s, "db.example.org", zone);
	snprintf(cf, sizeof(cf),
	         "example.org:0 {\n\tbind 127.0.0.1 ::1\n\tdns64 {\n%s\t}\n"
	         "\tfile %%DIR%%/db.example.org\n}\n",
	         opts);
	s = sx_test_start(s, cf);
	sx_test_set_addr(s, "::1");
	return s;
}

Test(dns64_integration, a_zone_aaaa_kept_unless_translate_all_and_the_soa_bounds_the_ttl)
{
	struct sx_test_server *s = start_zone("");
	struct in6_addr a[4];
	uint32_t ttl = 0;
	ldns_pkt *p;
	char *an;

	cr_assert_eq(aaaa(s, "both.example.org", 0, a, 4, NULL), 1);
	expect_addr(&a[0], "2001:db8::1");
	cr_assert_eq(aaaa(s, "v4only.example.org", 0, a, 4, &ttl), 1);
	expect_addr(&a[0], "64:ff9b::c000:202");
	cr_expect(ttl <= 30, "the SOA's TTL bounds the A's 3600: %u", ttl);

	/* Records other than A pass unchanged: the CNAME, then its target's translation. */
	p = sx_test_query(s, "alias.example.org", LDNS_RR_TYPE_AAAA, 0, 0);
	cr_assert(p);
	an = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_expect(strstr(an, "alias.example.org.\t3600\tIN\tCNAME\tv4only.example.org."), "%s", an);
	cr_expect(strstr(an, "\tIN\tAAAA\t64:ff9b::c000:202"), "%s", an);
	cr_expect(!strstr(an, "\tA\t"), "%s", an);
	free(an);
	ldns_pkt_free(p);
	sx_test_stop(s);

	s = start_zone("\t\ttranslate_all\n");
	cr_assert_eq(aaaa(s, "both.example.org", 0, a, 4, NULL), 1);
	expect_addr(&a[0], "64:ff9b::c000:201");
	sx_test_stop(s);
}

Test(dns64_integration, kubernetes_services)
{
	struct sx_fakeapi_opts o = { .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	struct in6_addr a[4];
	char cf[1024];
	struct sx_test_server *s;

	snprintf(cf, sizeof(cf),
	         "cluster.local:0 {\n\tbind 127.0.0.1 ::1\n\tdns64\n"
	         "\tkubernetes {\n\t\tendpoint %s\n\t}\n}\n",
	         sx_fakeapi_url(f));
	s = sx_test_start(NULL, cf);
	cr_assert(sx_test_wait_log(s, SYNCED, 30000), "%s", sx_test_log(s));
	sx_test_set_addr(s, "::1");

	/* An IPv4 ClusterIP gets its NAT64 address; a dual-stack one keeps its own. */
	cr_assert_eq(aaaa(s, "svc1.testns.svc.cluster.local", 0, a, 4, NULL), 1);
	expect_addr(&a[0], "64:ff9b::a60:101");
	cr_assert_eq(aaaa(s, "svc-dual.testns.svc.cluster.local", 0, a, 4, NULL), 1);
	expect_addr(&a[0], "fd00:10:96::1:2");
	cr_expect_eq(aaaa(s, "nope.testns.svc.cluster.local", LDNS_RCODE_NXDOMAIN, a, 4, NULL), 0);
	sx_test_stop(s);
	sx_fakeapi_stop(f);
}

Test(dns64_integration, bad_prefixes_and_options)
{
	static const struct {
		const char *cf, *want;
	} cases[] = {
		{ ". {\n\tdns64 10.0.0.0/8\n}\n",
		  "Corefile:2: plugin/dns64: PREFIX 10.0.0.0/8 is not" },
		{ ". {\n\tdns64 64:ff9b::/97\n}\n",
		  "Corefile:2: plugin/dns64: PREFIX 64:ff9b::/97: the" },
		{ ". {\n\tdns64 64:ff9b::/33\n}\n",
		  "Corefile:2: plugin/dns64: PREFIX 64:ff9b::/33: the" },
		{ ". {\n\tdns64 64:ff9b::\n}\n",
		  "Corefile:2: plugin/dns64: PREFIX 64:ff9b:: is not" },
		{ ". {\n\tdns64 a b\n}\n", "Corefile:2: plugin/dns64: wrong argument count" },
		{ ". {\n\tdns64 {\n\t\tprefix\n\t}\n}\n", "Corefile:3: plugin/dns64:" },
		{ ". {\n\tdns64 {\n\t\ttranslate_all yes\n\t}\n}\n", "Corefile:3: plugin/dns64:" },
		{ ". {\n\tdns64 {\n\t\tnat64\n\t}\n}\n", "Corefile:3: plugin/dns64:" },
	};
	char *out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(sx_test_check(cases[i].cf, &out), 1, "%s", cases[i].cf);
		cr_expect(strstr(out, cases[i].want), "%s\nwant %s", out, cases[i].want);
		free(out);
	}
	cr_expect_eq(sx_test_check(". {\n\tdns64 64:1337::/96 {\n\t\ttranslate_all\n"
	                           "\t\tallow_ipv4\n\t}\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
}
