/* test_rewrite_integration.c -- rewrite through the binary: every rule kind, stop/continue,
 * the reply as the client asked, behind hosts, template, forward and kubernetes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* One block per feature, so that the rules of one cannot catch the queries of another. */
static const char corefile[] =
        "names.test:0 example.org:0 {\n"
        "\tbind 127.0.0.1\n"
        "\tprometheus 127.0.0.1:0\n"
        "\trewrite name exact alias.names.test www.example.org\n"
        "\trewrite name prefix old- new-\n"
        "\trewrite name suffix .corp.names.test .example.org answer auto\n"
        "\trewrite name substring legacy modern\n"
        "\trewrite stop {\n"
        "\t\tname regex (.*)-(eu)\\.names\\.test {1}.svc.{2}.example.org\n"
        "\t\tanswer name (.*)\\.svc\\.(eu)\\.example\\.org {1}-{2}.names.test\n"
        "\t\tanswer value (.*)\\.svc\\.(eu)\\.example\\.org {1}-{2}.names.test\n"
        "\t}\n"
        /* A group past the last one matched is empty. */
        "\trewrite name regex ^(www)|(none)[.]grp[.]names[.]test[.]$ {1}{2}.example.org\n"
        "\ttemplate IN SRV example.org {\n"
        "\t\tanswer \"{{ .Name }} 60 IN SRV 10 5 8080 www.example.org.\"\n"
        "\t\tadditional \"www.example.org. 60 IN A 192.0.2.1\"\n"
        "\t}\n"
        "\ttemplate IN CNAME example.org {\n"
        "\t\tmatch ^cn\\.svc\\.eu\\.example\\.org\\.$\n"
        "\t\tanswer \"{{ .Name }} 60 IN CNAME db.svc.eu.example.org.\"\n"
        "\t\tfallthrough\n"
        "\t}\n"
        "\thosts {\n"
        "\t\t192.0.2.1 www.example.org\n"
        "\t\t192.0.2.2 app.example.org\n"
        "\t\t192.0.2.3 new-app.example.org\n"
        "\t\t192.0.2.4 api.modern.example.org\n"
        "\t\t192.0.2.5 db.svc.eu.example.org\n"
        "\t}\n"
        "}\n"
        "sc.test:0 {\n"
        "\tbind 127.0.0.1\n"
        "\trewrite continue name exact a.sc.test b.sc.test\n"
        "\trewrite name exact b.sc.test c.sc.test\n"
        "\trewrite name exact c.sc.test d.sc.test\n"
        "\thosts {\n"
        "\t\t192.0.2.11 b.sc.test\n"
        "\t\t192.0.2.12 c.sc.test\n"
        "\t\t192.0.2.13 d.sc.test\n"
        "\t}\n"
        "}\n"
        "type.test:0 {\n"
        "\tbind 127.0.0.1\n"
        "\trewrite type TXT A\n"
        "\trewrite class CH IN\n"
        "\thosts {\n"
        "\t\t192.0.2.21 t.type.test\n"
        "\t}\n"
        "}\n"
        "ttl.test:0 {\n"
        "\tbind 127.0.0.1\n"
        "\trewrite continue ttl exact a.ttl.test 100-\n"
        "\trewrite ttl regex ^b\\.ttl\\.test\\.$ 30\n"
        "\trewrite rcode suffix .ttl.test NXDOMAIN REFUSED\n"
        "\ttemplate ANY ANY nx.ttl.test {\n"
        "\t\trcode NXDOMAIN\n"
        "\t}\n"
        "\thosts {\n"
        "\t\tttl 5\n"
        "\t\t192.0.2.31 a.ttl.test\n"
        "\t\t192.0.2.32 b.ttl.test\n"
        "\t\t192.0.2.33 c.ttl.test\n"
        "\t}\n"
        "}\n";

static ldns_pkt *
ask_flags(struct sx_test_server *s, const char *name, ldns_rr_type t, int flags, int rcode)
{
	ldns_pkt *p = sx_test_query(s, name, t, flags, 0);

	cr_assert(p, "%s: no reply", name);
	cr_expect_eq((int)ldns_pkt_get_rcode(p), rcode, "%s type %d: rcode %d", name, t,
	             (int)ldns_pkt_get_rcode(p));
	return p;
}

static ldns_pkt *
ask(struct sx_test_server *s, const char *name, ldns_rr_type t, int rcode)
{
	return ask_flags(s, name, t, 0, rcode);
}

static void
expect_section(const ldns_pkt *p, ldns_pkt_section sec, const char *want)
{
	char *got = sx_test_section_str(p, sec);

	cr_expect_str_eq(got, want);
	free(got);
}

/* The reply's question is the client's, name and type. */
static void
expect_question(const ldns_pkt *p, const char *name, ldns_rr_type t)
{
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	char *got = ldns_rdf2str(ldns_rr_owner(q));

	cr_expect_str_eq(got, name);
	cr_expect_eq(ldns_rr_get_type(q), t);
	free(got);
}

Test(rewrite_integration, name_rules)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	ldns_pkt *p;

	/* exact: the answer's owner goes back to the name asked, in the client's case. */
	p = ask(s, "Alias.Names.Test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_question(p, "Alias.Names.Test.", LDNS_RR_TYPE_A);
	expect_section(p, LDNS_SECTION_ANSWER, "Alias.Names.Test.\t3600\tIN\tA\t192.0.2.1");
	ldns_pkt_free(p);

	/* prefix without answer rules: the question is the client's, the records the backend's. */
	p = ask(s, "old-app.example.org", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_question(p, "old-app.example.org.", LDNS_RR_TYPE_A);
	expect_section(p, LDNS_SECTION_ANSWER, "new-app.example.org.\t3600\tIN\tA\t192.0.2.3");
	ldns_pkt_free(p);

	/* suffix with answer auto: owners and the SRV target, in every section. */
	p = ask(s, "app.corp.names.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "app.corp.names.test.\t3600\tIN\tA\t192.0.2.2");
	ldns_pkt_free(p);
	p = ask(s, "_http._tcp.corp.names.test", LDNS_RR_TYPE_SRV, LDNS_RCODE_NOERROR);
	expect_question(p, "_http._tcp.corp.names.test.", LDNS_RR_TYPE_SRV);
	expect_section(p, LDNS_SECTION_ANSWER,
	               "_http._tcp.corp.names.test.\t60\tIN\tSRV\t10 5 8080 www.corp.names.test.");
	expect_section(p, LDNS_SECTION_ADDITIONAL, "www.corp.names.test.\t60\tIN\tA\t192.0.2.1");
	ldns_pkt_free(p);

	/* substring: every occurrence. */
	p = ask(s, "api.legacy.example.org", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_question(p, "api.legacy.example.org.", LDNS_RR_TYPE_A);
	expect_section(p, LDNS_SECTION_ANSWER, "api.modern.example.org.\t3600\tIN\tA\t192.0.2.4");
	ldns_pkt_free(p);

	/* regex with groups; answer name for owners, answer value for the CNAME target. */
	p = ask(s, "db-eu.names.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_question(p, "db-eu.names.test.", LDNS_RR_TYPE_A);
	expect_section(p, LDNS_SECTION_ANSWER, "db-eu.names.test.\t3600\tIN\tA\t192.0.2.5");
	ldns_pkt_free(p);
	p = ask(s, "cn-eu.names.test", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER,
	               "cn-eu.names.test.\t60\tIN\tCNAME\tdb-eu.names.test.");
	ldns_pkt_free(p);

	p = ask(s, "www.grp.names.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "www.example.org.\t3600\tIN\tA\t192.0.2.1");
	ldns_pkt_free(p);

	/* A name no rule matches goes through untouched. */
	p = ask(s, "www.example.org", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "www.example.org.\t3600\tIN\tA\t192.0.2.1");
	ldns_pkt_free(p);

	/* The same through dig and kdig, over TCP too. */
	char *out = sx_test_dig(s, "+short +tcp alias.names.test A");
	cr_expect_str_eq(out, "192.0.2.1\n");
	free(out);
	out = sx_test_kdig(s, "+noall +answer db-eu.names.test A");
	cr_expect(strstr(out, "db-eu.names.test.") && strstr(out, "192.0.2.5"), "%s", out);
	free(out);

	long port = sx_test_log_number(s, "serving /metrics on port ");
	long status = 0;
	char *m = sx_test_http_get((uint16_t)port, "/metrics", &status);
	cr_expect(strstr(m, "coredns_rewrite_request_rewrite_name_total{server=\"dns://:") &&
	                  strstr(m, "match_type=\"exact\",src=\"alias.names.test.\","
	                            "dest=\"www.example.org.\"} 2"),
	          "%s", m);
	free(m);
	sx_test_stop(s);
}

Test(rewrite_integration, stop_continue_type_class_ttl_rcode)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	ldns_pkt *p;

	/* a -> b (continue) -> c (stop): d's rule is not reached; owners revert twice. */
	p = ask(s, "a.sc.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "a.sc.test.\t3600\tIN\tA\t192.0.2.12");
	ldns_pkt_free(p);
	p = ask(s, "b.sc.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "b.sc.test.\t3600\tIN\tA\t192.0.2.12");
	ldns_pkt_free(p);
	p = ask(s, "c.sc.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "c.sc.test.\t3600\tIN\tA\t192.0.2.13");
	ldns_pkt_free(p);

	/* type: TXT asked, A looked up; the question stays TXT. */
	p = ask(s, "t.type.test", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR);
	expect_question(p, "t.type.test.", LDNS_RR_TYPE_TXT);
	expect_section(p, LDNS_SECTION_ANSWER, "t.type.test.\t3600\tIN\tA\t192.0.2.21");
	ldns_pkt_free(p);
	/* class: CH asked, IN looked up (without the rule, REFUSED). */
	char *out = sx_test_dig(s, "+noall +answer +question -c CH t.type.test A");
	cr_expect(strstr(out, ";t.type.test.\t\t\tCH\tA") &&
	                  strstr(out, "t.type.test.\t\t3600\tIN\tA\t192.0.2.21"),
	          "%s", out);
	free(out);

	/* ttl: a floor of 100, a fixed 30, and untouched for c. */
	p = ask(s, "a.ttl.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "a.ttl.test.\t100\tIN\tA\t192.0.2.31");
	ldns_pkt_free(p);
	p = ask(s, "b.ttl.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "b.ttl.test.\t30\tIN\tA\t192.0.2.32");
	ldns_pkt_free(p);
	p = ask(s, "c.ttl.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_section(p, LDNS_SECTION_ANSWER, "c.ttl.test.\t5\tIN\tA\t192.0.2.33");
	ldns_pkt_free(p);
	/* rcode: NXDOMAIN becomes REFUSED. */
	p = ask(s, "nope.nx.ttl.test", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

/* forward: the upstream sees the rewritten name and the EDNS options set; the client sees its name. */
Test(rewrite_integration, forward_and_edns0)
{
	struct sx_upstream *u = sx_up_fake(7, false);
	char cf[4096];

	snprintf(cf, sizeof(cf),
	         "fw.test:0 {\n"
	         "\tbind 127.0.0.1\n"
	         "\trewrite name suffix .fw.test .up.test answer auto\n"
	         "\tforward . 127.0.0.1:%u\n"
	         "}\n"
	         /* The shape of AKS's customisation guide: a regex and answer name, logged. */
	         "aks.test:0 {\n"
	         "\tbind 127.0.0.1\n"
	         "\tlog\n"
	         "\terrors\n"
	         "\trewrite stop {\n"
	         "\t\tname regex (.*)\\.aks\\.test {1}.default.svc.cluster.local\n"
	         "\t\tanswer name (.*)\\.default\\.svc\\.cluster\\.local {1}.aks.test\n"
	         "\t}\n"
	         "\tforward . 127.0.0.1:%u\n"
	         "}\n"
	         "edns.test:0 {\n"
	         "\tbind 127.0.0.1\n"
	         "\trewrite continue edns0 local set 0xffee 0x61626364\n"
	         "\trewrite continue edns0 nsid set\n"
	         "\trewrite continue edns0 subnet set 24 56\n"
	         "\trewrite continue edns0 local append 0xffee other\n"
	         "\trewrite edns0 local set 65000 {protocol}\n"
	         "\tforward . 127.0.0.1:%u\n"
	         "}\n",
	         sx_up_port(u), sx_up_port(u), sx_up_port(u));
	struct sx_test_server *s = sx_test_start(NULL, cf);
	ldns_pkt *p = ask(s, "www.fw.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	expect_question(p, "www.fw.test.", LDNS_RR_TYPE_A);
	expect_section(p, LDNS_SECTION_ANSWER, "www.fw.test.\t30\tIN\tA\t192.0.2.7");
	ldns_pkt_free(p);
	cr_expect_eq(sx_up_count(u, "www.up.test"), 1);
	cr_expect_eq(sx_up_count(u, "fw.test"), 0);

	p = ask(s, "web.aks.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	expect_question(p, "web.aks.test.", LDNS_RR_TYPE_A);
	expect_section(p, LDNS_SECTION_ANSWER, "web.aks.test.\t30\tIN\tA\t192.0.2.7");
	ldns_pkt_free(p);
	cr_expect_eq(sx_up_count(u, "web.default.svc.cluster.local."), 1);
	cr_expect(sx_test_wait_log(s, "\"A IN web.aks.test. udp", 5000), "%s", sx_test_log(s));

	/* append does nothing where the option is already there. */
	p = ask(s, "echo.edns.test", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR);
	char *txt = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_expect(strstr(txt, "opts=65518:61626364,3:,8:000118007f0000,65000:756470\""), "%s", txt);
	free(txt);
	ldns_pkt_free(p);
	sx_test_stop(s);
	sx_up_stop(u);
}

/* kubernetes from the fake API server: a name outside the cluster domain for a Service. */
Test(rewrite_integration, kubernetes_alias)
{
	struct sx_fakeapi_opts o = { .load = "basic" };
	struct sx_fakeapi *f = sx_fakeapi_start(&o);
	char cf[2048];

	snprintf(cf, sizeof(cf),
	         ".:0 {\n"
	         "\tbind 127.0.0.1\n"
	         "\trewrite name exact db.corp.example svc1.testns.svc.cluster.local\n"
	         "\trewrite name suffix .corp.internal .svc.cluster.local answer auto\n"
	         "\tkubernetes cluster.local {\n"
	         "\t\tendpoint %s\n"
	         "\t}\n"
	         "}\n",
	         sx_fakeapi_url(f));
	struct sx_test_server *s = sx_test_start(NULL, cf);
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000), "%s",
	          sx_test_log(s));
	ldns_pkt *p = ask(s, "db.corp.example", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	expect_question(p, "db.corp.example.", LDNS_RR_TYPE_A);
	expect_section(p, LDNS_SECTION_ANSWER, "db.corp.example.\t5\tIN\tA\t10.96.1.1");
	ldns_pkt_free(p);
	/* SRV: owner and target under the name the client uses. */
	p = ask(s, "_http._tcp.svc1.testns.corp.internal", LDNS_RR_TYPE_SRV, LDNS_RCODE_NOERROR);
	char *an = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_expect(strstr(an, "_http._tcp.svc1.testns.corp.internal.\t5\tIN\tSRV\t0 100 80 "
	                     "svc1.testns.corp.internal."),
	          "%s", an);
	free(an);
	ldns_pkt_free(p);
	/* A name that does not exist: NXDOMAIN, the SOA's owner is cluster.local. */
	p = ask(s, "nope.testns.corp.internal", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	expect_question(p, "nope.testns.corp.internal.", LDNS_RR_TYPE_A);
	ldns_pkt_free(p);
	sx_test_stop(s);
	sx_fakeapi_stop(f);
}

static void
check_error(const char *lines, const char *want)
{
	char corefile2[1024], *out;

	snprintf(corefile2, sizeof(corefile2), ". {\n\t%s\n\twhoami\n}\n", lines);
	cr_expect_eq(sx_test_check(corefile2, &out), 1, "%s", lines);
	cr_expect(strstr(out, want), "%s: want \"%s\" in: %s", lines, want, out);
	free(out);
}

Test(rewrite_integration, check)
{
	char *out;

	cr_expect_eq(sx_test_check(corefile, &out), 0, "%s", out);
	free(out);
	check_error("rewrite", "Corefile:2: plugin/rewrite: missing rule");
	check_error("rewrite stop", "Corefile:2: plugin/rewrite: missing rule");
	check_error("rewrite foo a b", "Corefile:2: plugin/rewrite: unknown rule 'foo'");
	check_error("rewrite name a", "Corefile:2: plugin/rewrite: name needs FROM and TO");
	check_error("rewrite name exact a b c", "Corefile:2: plugin/rewrite: unexpected 'c'");
	check_error("rewrite name regex (a b", "Corefile:2: plugin/rewrite: invalid regex '(a'");
	check_error("rewrite name regex (a).b {2}.c",
	            "Corefile:2: plugin/rewrite: '{2}.c' uses more groups than the regex has");
	check_error("rewrite {\n\t\tname regex (a).b {1}.c\n\t\tanswer name (x {1}\n\t}",
	            "Corefile:4: plugin/rewrite: invalid regex '(x'");
	check_error("rewrite name suffix a b answer bogus",
	            "Corefile:2: plugin/rewrite: answer takes auto, name FROM TO or value FROM TO");
	check_error("rewrite name exact a b answer auto answer name x y",
	            "answer auto cannot be combined");
	check_error("rewrite type A BOGUS", "Corefile:2: plugin/rewrite: not a type: 'BOGUS'");
	check_error("rewrite class IN XX", "Corefile:2: plugin/rewrite: not a class: 'XX'");
	check_error("rewrite ttl exact a.b 300-30",
	            "Corefile:2: plugin/rewrite: not a TTL or TTL range (30, 30-300, -300, 30-): "
	            "'300-30'");
	check_error("rewrite ttl a.b x", "not a TTL or TTL range");
	check_error("rewrite rcode exact a.b NXDOMAIN NOPE",
	            "Corefile:2: plugin/rewrite: not a rcode: 'NOPE'");
	check_error("rewrite edns0 local set 0x1ffff abc",
	            "Corefile:2: plugin/rewrite: not an EDNS0 option code: '0x1ffff'");
	check_error("rewrite edns0 local set 0xffee 0xabc", "odd number of hex digits");
	check_error("rewrite edns0 local set 0xffee {nope}", "unknown variable '{nope}'");
	check_error("rewrite edns0 subnet set 33 56", "edns0 subnet needs IPv4 (0-32)");
	check_error("rewrite edns0 cookie set", "edns0 supports local, nsid and subnet");
	check_error("rewrite edns0 nsid add", "edns0 action must be set, replace, append or unset");
	cr_expect_eq(sx_test_check(". {\n\trewrite edns0 local unset 0xffee\n"
	                           "\trewrite continue ttl prefix a -30\n"
	                           "\trewrite rcode a SERVFAIL 5\n\twhoami\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
}
