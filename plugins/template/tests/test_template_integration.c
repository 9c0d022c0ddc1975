/* test_template_integration.c -- template through the binary: AKS's blocks, groups, CNAME lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static const char corefile[] =
        ".:0 {\n"
        "\tbind 127.0.0.1\n"
        "\tprometheus 127.0.0.1:0\n"
        /* AKS's two blocks, as its ConfigMap has them. */
        "\ttemplate ANY ANY internal.cloudapp.net {\n"
        "\t\tmatch \"^(?:[^.]+\\.){4,}internal\\.cloudapp\\.net\\.$\"\n"
        "\t\trcode NXDOMAIN\n"
        "\t\tfallthrough\n"
        "\t}\n"
        "\ttemplate ANY ANY reddog.microsoft.com {\n"
        "\t\trcode NXDOMAIN\n"
        "\t}\n"
        /* CoreDNS's README: addresses in names, and the reverse. */
        "\ttemplate IN A example {\n"
        "\t\tmatch (^|[.])ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$\n"
        "\t\tmatch \"^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-f0-9]{2})[.]example[.]$\"\n"
        "\t\tanswer \"{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}\"\n"
        "\t\tfallthrough\n"
        "\t}\n"
        "\ttemplate IN PTR 10.in-addr.arpa {\n"
        "\t\tmatch ^(?P<d>[0-9]*)[.](?P<c>[0-9]*)[.](?P<b>[0-9]*)[.]10[.]in-addr[.]arpa[.]$\n"
        "\t\tanswer \"{{ .Name }} 60 IN PTR ip-10-{{ .Group.b }}-{{ .Group.c }}-{{ .Group.d }}.example.\"\n"
        "\t}\n"
        "\ttemplate IN MX example {\n"
        "\t\tmatch ^mx[.]example[.]$\n"
        "\t\tanswer \"{{ .Name }} 60 IN MX 10 {{ .Name }}\"\n"
        "\t\tadditional \"{{ .Name }} 60 IN A 192.0.2.25\"\n"
        "\t\tauthority \"example. 60 IN NS ns0.example.\"\n"
        "\t}\n"
        "\ttemplate CH TXT example {\n"
        "\t\tanswer \"{{ .Name }} 0 {{ .Class }} TXT hello\"\n"
        "\t}\n"
        /* A fixed NXDOMAIN with an SOA for caches and an Extended DNS Error. */
        "\ttemplate ANY ANY invalid {\n"
        "\t\trcode NXDOMAIN\n"
        "\t\tauthority \"invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)\"\n"
        "\t\tederror 21 \"Blocked according to RFC2606\"\n"
        "\t}\n"
        /* A CNAME: the answer carries what this server answers for the target. */
        "\ttemplate IN ANY foogle.test {\n"
        "\t\tmatch \"^foogle\\.test\\.$\"\n"
        "\t\tanswer \"foogle.test 60 IN CNAME www.example.org\"\n"
        "\t}\n"
        /* No fallthrough: a name in the zone no regex matches is SERVFAIL. */
        "\ttemplate IN A strict.test {\n"
        "\t\tmatch ^ok[.]strict[.]test[.]$\n"
        "\t\tanswer \"{{ .Name }} 5 A 192.0.2.7\"\n"
        "\t}\n"
        "\thosts {\n"
        "\t\t192.0.2.80 www.example.org\n"
        "\t\t2001:db8::80 www.example.org\n"
        "\t\t192.0.2.4 a.b.internal.cloudapp.net\n"
        "\t\tfallthrough\n"
        "\t}\n"
        "\twhoami\n"
        "}\n";

static ldns_pkt *
ask(struct sx_test_server *s, const char *name, ldns_rr_type t, int rcode)
{
	ldns_pkt *p = sx_test_query(s, name, t, 0, 0);

	cr_assert(p, "%s: no reply", name);
	cr_expect_eq((int)ldns_pkt_get_rcode(p), rcode, "%s type %d: rcode %d", name, t,
	             (int)ldns_pkt_get_rcode(p));
	return p;
}

static void
expect_section(const ldns_pkt *p, ldns_pkt_section sec, const char *want)
{
	char *got = sx_test_section_str(p, sec);

	cr_expect_str_eq(got, want);
	free(got);
}

Test(template_integration, aks)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	ldns_pkt *p;
	char *out;

	/* Four labels or more under internal.cloudapp.net: NXDOMAIN, whatever the type. */
	p = ask(s, "a.default.svc.cluster.local.internal.cloudapp.net", LDNS_RR_TYPE_A,
	        LDNS_RCODE_NXDOMAIN);
	cr_expect_eq(ldns_pkt_ancount(p), 0);
	cr_expect(ldns_pkt_aa(p));
	ldns_pkt_free(p);
	ldns_pkt_free(
	        ask(s, "x.y.z.w.internal.cloudapp.net", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NXDOMAIN));
	/* Fewer: fallthrough, the next plugin (hosts) answers. */
	p = ask(s, "a.b.internal.cloudapp.net", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER,
	               "a.b.internal.cloudapp.net.\t3600\tIN\tA\t192.0.2.4");
	ldns_pkt_free(p);
	/* reddog.microsoft.com and below: NXDOMAIN, through dig and kdig too. */
	ldns_pkt_free(ask(s, "reddog.microsoft.com", LDNS_RR_TYPE_SOA, LDNS_RCODE_NXDOMAIN));
	out = sx_test_dig(s, "foo.reddog.microsoft.com TXT");
	cr_expect(strstr(out, "status: NXDOMAIN"), "%s", out);
	free(out);
	out = sx_test_kdig(s, "foo.reddog.microsoft.com A");
	cr_expect(strstr(out, "status: NXDOMAIN"), "%s", out);
	free(out);
	/* Names outside every template's zones go on. */
	ldns_pkt_free(ask(s, "microsoft.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR));
	sx_test_stop(s);
}

Test(template_integration, groups_and_sections)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	ldns_pkt *p;
	char *out;

	p = ask(s, "ip-10-1-2-3.example", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "ip-10-1-2-3.example.\t60\tIN\tA\t10.1.2.3");
	ldns_pkt_free(p);
	/* The answer echoes the name as the client wrote it. */
	out = sx_test_dig(s, "+short WWW.IP-10-9-8-7.Example A");
	cr_expect_str_eq(out, "10.9.8.7\n");
	free(out);
	out = sx_test_kdig(s, "+noall +answer ip-10-9-8-7.example A");
	cr_expect(strstr(out, "ip-10-9-8-7.example.") && strstr(out, "10.9.8.7"), "%s", out);
	free(out);
	/* The second regex, with its own groups (group a is absent: Go's "<no value>" is no address). */
	p = ask(s, "ip0a7b0cff.example", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	p = ask(s, "3.2.1.10.in-addr.arpa", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER,
	               "3.2.1.10.in-addr.arpa.\t60\tIN\tPTR\tip-10-1-2-3.example.");
	ldns_pkt_free(p);
	p = ask(s, "mx.example", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "mx.example.\t60\tIN\tMX\t10 mx.example.");
	expect_section(p, LDNS_SECTION_AUTHORITY, "example.\t60\tIN\tNS\tns0.example.");
	expect_section(p, LDNS_SECTION_ADDITIONAL, "mx.example.\t60\tIN\tA\t192.0.2.25");
	ldns_pkt_free(p);
	/* Class CH, through a template that covers any class. */
	out = sx_test_dig(s, "+short -c CH -t TXT -q ver.example");
	cr_expect_str_eq(out, "\"hello\"\n");
	free(out);
	/* A type the template does not cover goes on (whoami answers). */
	p = ask(s, "ip-10-1-2-3.example", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(template_integration, rcode_authority_ederror_servfail)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	ldns_pkt *p;
	char *out;

	p = ask(s, "foo.invalid", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	expect_section(p, LDNS_SECTION_AUTHORITY,
	               "invalid.\t60\tIN\tSOA\tns.invalid. hostmaster.invalid. 1 60 60 60 60");
	ldns_pkt_free(p);
	out = sx_test_dig(s, "foo.invalid A");
	cr_expect(strstr(out, "EDE: 21") && strstr(out, "Blocked according to RFC2606"), "%s", out);
	free(out);
	/* No regex matches and no fallthrough: SERVFAIL. */
	ldns_pkt_free(ask(s, "other.strict.test", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL));
	p = ask(s, "ok.strict.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "ok.strict.test.\t5\tIN\tA\t192.0.2.7");
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(template_integration, cname_target_looked_up)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	ldns_pkt *p;

	p = ask(s, "foogle.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER,
	               "foogle.test.\t60\tIN\tCNAME\twww.example.org.\n"
	               "www.example.org.\t3600\tIN\tA\t192.0.2.80");
	ldns_pkt_free(p);
	p = sx_test_query(s, "foogle.test", LDNS_RR_TYPE_AAAA, SX_Q_TCP, 0);
	cr_assert(p);
	expect_section(p, LDNS_SECTION_ANSWER,
	               "foogle.test.\t60\tIN\tCNAME\twww.example.org.\n"
	               "www.example.org.\t3600\tIN\tAAAA\t2001:db8::80");
	ldns_pkt_free(p);
	/* Other types get the CNAME alone. */
	p = ask(s, "foogle.test", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "foogle.test.\t60\tIN\tCNAME\twww.example.org.");
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(template_integration, metrics)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	uint16_t port = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");
	char want[512], *m;
	long status;

	ldns_pkt_free(ask(s, "a.b.c.d.internal.cloudapp.net", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN));
	ldns_pkt_free(ask(s, "e.b.c.d.internal.cloudapp.net", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN));
	ldns_pkt_free(ask(s, "ip0a7b0cff.example", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL));
	m = sx_test_http_get(port, "/metrics", &status);
	cr_assert_eq(status, 200);
	snprintf(
	        want, sizeof(want),
	        "coredns_template_matches_total{server=\"dns://:%u\",zone=\"internal.cloudapp.net.\","
	        "view=\"\",class=\"IN\",type=\"A\"} 2\n",
	        sx_test_port(s));
	cr_expect(strstr(m, want), "want %s in %s", want, m);
	snprintf(want, sizeof(want),
	         "coredns_template_rr_failures_total{server=\"dns://:%u\",zone=\"example.\","
	         "view=\"\",class=\"IN\",type=\"A\",section=\"answer\",template=\"{{ .Name }} 60 "
	         "IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}\"} 1\n",
	         sx_test_port(s));
	cr_expect(strstr(m, want), "want %s in %s", want, m);
	free(m);
	sx_test_stop(s);
}

static void
check_error(const char *block, const char *want)
{
	char corefile2[1024], *out;

	snprintf(corefile2, sizeof(corefile2), ". {\n\t%s\n}\n", block);
	cr_expect_eq(sx_test_check(corefile2, &out), 1, "%s", block);
	cr_expect(strstr(out, want), "%s: want \"%s\" in: %s", block, want, out);
	free(out);
}

Test(template_integration, setup)
{
	char *out;

	cr_expect_eq(sx_test_check(corefile, &out), 0, "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\ttemplate\n\ttemplate IN\n\ttemplate CH TXT a b {\n"
	                           "\t\tupstream\n\t\trcode refused\n\t}\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
	check_error("template XX", "Corefile:2: plugin/template: invalid query class XX");
	check_error("template IN AX", "Corefile:2: plugin/template: invalid query type AX");
	check_error("template IN A {\n\t\tmatch ([a-z\n\t}",
	            "Corefile:3: plugin/template: invalid regex '([a-z' at offset 5:");
	check_error("template IN A {\n\t\trcode NOPE\n\t}",
	            "Corefile:3: plugin/template: unknown rcode NOPE");
	check_error("template IN A {\n\t\tanswer \"{{ .Meta \\\"x\\\" }} A 1.2.3.4\"\n\t}",
	            "Corefile:3: plugin/template: unsupported template action");
	check_error("template IN A {\n\t\tanswer \"{{ .Name }\"\n\t}",
	            "Corefile:3: plugin/template: unclosed action");
	check_error("template IN A {\n\t\tadditional \"a.example. 60 IN A 1.2.3\"\n\t}",
	            "Corefile:3: plugin/template: invalid additional record 'a.example. 60 IN A "
	            "1.2.3'");
	check_error("template IN A {\n\t\tederror 99\n\t}",
	            "Corefile:3: plugin/template: invalid extended DNS error code 99");
	check_error("template IN A {\n\t\tanswer\n\t}",
	            "Corefile:3: plugin/template: wrong argument count for 'answer'");
	check_error("template IN A {\n\t\tbogus 1\n\t}",
	            "Corefile:3: plugin/template: unknown property");
}
