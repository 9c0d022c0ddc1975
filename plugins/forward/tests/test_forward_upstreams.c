/* test_forward_upstreams.c -- forward to a real server (knotd), a resolv.conf, and over TLS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static const char zone[] = "$ORIGIN example.test.\n"
                           "$TTL 300\n"
                           "@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n"
                           "@ IN NS ns1\n"
                           "ns1 IN A 192.0.2.53\n"
                           "www IN A 192.0.2.80\n"
                           "www IN AAAA 2001:db8::80\n"
                           "alias IN CNAME www\n"
                           "@ IN MX 10 mail\n"
                           "mail IN A 192.0.2.25\n";

/* Stop the server and check it exited cleanly (under ASan: no leak, no error either). */
static void
stop(struct sx_test_server *s)
{
	int status = sx_test_stop(s);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sextant exit status %d", status);
}

static struct sx_test_server *
start_to(const char *to, const char *opts)
{
	char corefile[2048];

	snprintf(corefile, sizeof(corefile),
	         ". {\n\tbind 127.0.0.1\n\terrors\n\tforward . %s {\n%s\t}\n}\n", to, opts);
	return sx_test_start(NULL, corefile);
}

static char *
answer_of(ldns_pkt *p)
{
	cr_assert(p, "no reply");
	return sx_test_section_str(p, LDNS_SECTION_ANSWER);
}

Test(forward_upstreams, knot_answers_pass_through)
{
	struct sx_upstream *k = sx_up_knot("example.test.", zone);
	char to[64], *an;
	struct sx_test_server *s;
	ldns_pkt *p;

	snprintf(to, sizeof(to), "127.0.0.1:%u", sx_up_port(k));
	s = start_to(to, "");
	p = sx_test_query(s, "WWW.example.test", LDNS_RR_TYPE_A, 0, 0);
	an = answer_of(p);
	cr_assert_str_eq(an, "WWW.example.test.\t300\tIN\tA\t192.0.2.80");
	/* The upstream's flags come through: knot is authoritative. */
	cr_assert(ldns_pkt_aa(p));
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	free(an);
	ldns_pkt_free(p);

	p = sx_test_query(s, "alias.example.test", LDNS_RR_TYPE_AAAA, SX_Q_TCP, 0);
	an = answer_of(p);
	cr_assert_str_eq(an, "alias.example.test.\t300\tIN\tCNAME\twww.example.test.\n"
	                     "www.example.test.\t300\tIN\tAAAA\t2001:db8::80");
	free(an);
	ldns_pkt_free(p);

	p = sx_test_query(s, "nope.example.test", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	an = sx_test_section_str(p, LDNS_SECTION_AUTHORITY);
	cr_assert(strstr(an, "example.test.\t60\tIN\tSOA\tns1.example.test. "
	                     "hostmaster.example.test. 7 3600 600 86400 60"),
	          "%s", an);
	free(an);
	ldns_pkt_free(p);

	/* Outside knot's zone: REFUSED from it, passed on as CoreDNS does. */
	p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	stop(s);
	sx_up_stop(k);
}

Test(forward_upstreams, resolv_conf_nameservers)
{
	/* resolv.conf servers are on port 53: this fake gets its own loopback address. */
	struct sx_upstream *up = sx_up_fake_on(7, "127.0.53.7", 53);
	struct sx_test_server *s = sx_test_prepare();
	ldns_pkt *p;
	char *an;

	sx_test_write(s, "resolv.conf",
	              "search example.org\nnameserver 127.0.53.7\noptions ndots:5\n");
	s = sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tforward . resolv.conf\n}\n");
	p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
	an = answer_of(p);
	cr_assert_str_eq(an, "www.example.org.\t30\tIN\tA\t192.0.2.7");
	free(an);
	ldns_pkt_free(p);
	stop(s);
	sx_up_stop(up);
}

Test(forward_upstreams, dns_over_tls)
{
	struct sx_upstream *up = sx_up_fake(3, true);
	struct sx_test_server *s;
	char to[64], opts[512];
	ldns_pkt *p;
	char *an;

	snprintf(to, sizeof(to), "tls://127.0.0.1:%u", sx_up_tls_port(up));
	snprintf(opts, sizeof(opts), "\t\ttls %s\n\t\ttls_servername dns.test\n", sx_up_ca(up));
	s = start_to(to, opts);
	for (int i = 0; i < 3; i++) {
		p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
		an = answer_of(p);
		cr_assert_str_eq(an, "www.example.org.\t30\tIN\tA\t192.0.2.3");
		free(an);
		ldns_pkt_free(p);
	}
	cr_assert_eq(sx_up_count(up, "tls www.example.org. A"), 3);
	stop(s);

	/* Without a name the certificate must hold the address: it does (IP SAN 127.0.0.1). */
	snprintf(opts, sizeof(opts), "\t\ttls %s\n", sx_up_ca(up));
	s = start_to(to, opts);
	p = sx_test_query(s, "ip.example.org", LDNS_RR_TYPE_A, 0, 0);
	an = answer_of(p);
	cr_assert_str_eq(an, "ip.example.org.\t30\tIN\tA\t192.0.2.3");
	free(an);
	ldns_pkt_free(p);
	stop(s);

	/* The wrong name: the handshake fails, SERVFAIL, and the errors line says why. */
	snprintf(opts, sizeof(opts),
	         "\t\ttls %s\n\t\ttls_servername other.test\n"
	         "\t\tread_timeout 500ms\n",
	         sx_up_ca(up));
	s = start_to(to, opts);
	p = sx_test_query(s, "bad.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	cr_assert(sx_test_wait_log(s,
	                           "[ERROR] plugin/errors: 2 bad.example.org. A: tls handshake "
	                           "with 127.0.0.1:",
	                           30000),
	          "%s", sx_test_log(s));
	cr_assert(sx_test_wait_log(s, "certificate verify failed", 10), "%s", sx_test_log(s));
	cr_assert_eq(sx_up_count(up, "bad.example.org"), 0);
	stop(s);
	sx_up_stop(up);
}
