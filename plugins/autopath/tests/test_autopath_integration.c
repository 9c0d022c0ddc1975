/* test_autopath_integration.c -- autopath with a resolv.conf file, through the binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#include "successes.h"

#define ZONE                                                                                 \
	"$ORIGIN cluster.local.\n"                                                           \
	"@ 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30\n" \
	"web.svc 30 IN A 10.0.0.1\n"                                                         \
	"db.ns1.svc 30 IN A 10.0.0.2\n"

/* A server whose clients search ns1.svc.cluster.local, svc.cluster.local, cluster.local. */
static struct sx_test_server *
start(struct sx_upstream *up)
{
	struct sx_test_server *s = sx_test_prepare();
	char cf[512];

	sx_test_write(s, "resolv.conf",
	              "# a pod's\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local\n"
	              "options ndots:5\n");
	sx_test_write(s, "db.cluster.local", ZONE);
	snprintf(cf, sizeof(cf),
	         ".:0 {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0\n\tautopath resolv.conf\n"
	         "\tfile db.cluster.local cluster.local\n\tforward . 127.0.0.1:%u\n}\n",
	         sx_up_port(up));
	return sx_test_start(s, cf);
}

/* The reply's answer section as text, one record a line (caller frees). */
static char *
answer(struct sx_test_server *s, const char *name, ldns_rr_type type, int rcode)
{
	ldns_pkt *p = sx_test_query(s, name, type, 0, 0);
	char *text;

	cr_assert(p, "no reply for %s:\n%s", name, sx_test_log(s));
	cr_expect_eq((int)ldns_pkt_get_rcode(p), rcode, "%s: rcode %d", name,
	             (int)ldns_pkt_get_rcode(p));
	text = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	ldns_pkt_free(p);
	return text;
}

static void
expect_answer(struct sx_test_server *s, const char *name, ldns_rr_type type, int rcode,
              const char *const *want, size_t nwant)
{
	char *a = answer(s, name, type, rcode);

	for (size_t i = 0; i < nwant; i++) {
		cr_expect(strstr(a, want[i]), "%s: want \"%s\" in:\n%s", name, want[i], a);
	}
	if (nwant == 0) {
		cr_expect_str_empty(a, "%s: want no answer, got:\n%s", name, a);
	}
	free(a);
}

Test(autopath_integration, a_service_in_a_later_search_domain_comes_as_a_cname)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_test_server *s = start(up);
	const char *web[] = { "web.ns1.svc.cluster.local.\t30\tIN\tCNAME\tweb.svc.cluster.local.",
		              "web.svc.cluster.local.\t30\tIN\tA\t10.0.0.1" };
	const char *db[] = { "db.ns1.svc.cluster.local.\t30\tIN\tA\t10.0.0.2" };
	char *a;

	expect_answer(s, "web.ns1.svc.cluster.local", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, web, 2);
	/* Found at once: the answer as it is, no CNAME (still a success, as CoreDNS counts). */
	a = answer(s, "db.ns1.svc.cluster.local", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	cr_expect(strstr(a, db[0]), "%s", a);
	cr_expect_null(strstr(a, "CNAME"), "%s", a);
	free(a);
	/* NODATA ends the walk too: no CNAME, as there is no record to point at. */
	expect_answer(s, "web.ns1.svc.cluster.local", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, NULL,
	              0);
	/* Nothing in the zone went upstream. */
	cr_expect_eq(sx_up_count(up, " A "), 0);
	cr_expect_eq(sx_up_count(up, " AAAA "), 0);
	cr_expect_eq(successes(s), 3);
	sx_test_stop(s);
	sx_up_stop(up);
}

Test(autopath_integration, an_outside_name_is_found_upstream_in_one_client_query)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_test_server *s = start(up);
	const char *www[] = {
		"www.example.org.ns1.svc.cluster.local.\t30\tIN\tCNAME\twww.example.org.",
		"www.example.org.\t30\tIN\tA\t192.0.2.7"
	};

	expect_answer(s, "www.example.org.ns1.svc.cluster.local", LDNS_RR_TYPE_A,
	              LDNS_RCODE_NOERROR, www, 2);
	/* The upstream saw the bare name only, once. */
	cr_expect_eq(sx_up_count(up, " A "), 1);
	cr_expect_eq(sx_up_count(up, "www.example.org. A "), 1);
	cr_expect_eq(successes(s), 1);
	sx_test_stop(s);
	sx_up_stop(up);
}

Test(autopath_integration, nxdomain_everywhere_is_the_first_nxdomain)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_test_server *s = start(up);
	ldns_pkt *p;
	char *q;

	p = sx_test_query(s, "nxdomain.ns1.svc.cluster.local", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p, "%s", sx_test_log(s));
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	cr_expect_eq(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0);
	q = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
	cr_expect_str_eq(q, "nxdomain.ns1.svc.cluster.local.");
	/* The zone's SOA of the client's own name, as the chain answered it first. */
	free(q);
	q = sx_test_section_str(p, LDNS_SECTION_AUTHORITY);
	cr_expect(strstr(q, "cluster.local.\t30\tIN\tSOA"), "%s", q);
	free(q);
	ldns_pkt_free(p);
	/* The walk did end at the bare name, upstream. */
	cr_expect_eq(sx_up_count(up, "nxdomain. A "), 1);
	cr_expect_eq(successes(s), 0);
	sx_test_stop(s);
	sx_up_stop(up);
}

Test(autopath_integration, a_failure_ends_the_walk)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_test_server *s = start(up);
	char *a = answer(s, "servfail.ns1.svc.cluster.local", LDNS_RR_TYPE_A, LDNS_RCODE_SERVFAIL);

	free(a);
	cr_expect_eq(successes(s), 0);
	sx_test_stop(s);
	sx_up_stop(up);
}

Test(autopath_integration, names_outside_the_first_search_domain_pass_through)
{
	struct sx_upstream *up = sx_up_fake(7, false);
	struct sx_test_server *s = start(up);
	const char *www[] = { "www.example.org.\t30\tIN\tA\t192.0.2.7" };
	char *a;

	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, www, 1);
	/* In the second search domain: the client's own walk, untouched. */
	a = answer(s, "db.svc.cluster.local", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	free(a);
	/* The first search domain itself has no base name to walk with (an empty non-terminal). */
	a = answer(s, "ns1.svc.cluster.local", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	free(a);
	cr_expect_eq(sx_up_count(up, " A "), 1);
	cr_expect_eq(successes(s), 0);
	sx_test_stop(s);
	sx_up_stop(up);
}

static void
check_error(const char *line, const char *want)
{
	char corefile[512], *out;

	snprintf(corefile, sizeof(corefile), ". {\n\t%s\n\tkubernetes\n}\n", line);
	cr_expect_eq(sx_test_check(corefile, &out), 1, "%s", line);
	cr_expect(strstr(out, want), "%s: want \"%s\" in: %s", line, want, out);
	free(out);
}

Test(autopath_integration, setup)
{
	char *out;

	cr_expect_eq(
	        sx_test_check(". {\n\tautopath @kubernetes\n\tkubernetes cluster.local\n}\n", &out),
	        0, "%s", out);
	free(out);
	/* As CoreDNS: naming a plugin that is not in the block is no error, just no autopath. */
	cr_expect_eq(
	        sx_test_check(". {\n\tautopath cluster.local @kubernetes\n\twhoami\n}\n", &out), 0,
	        "%s", out);
	free(out);
	check_error("autopath", "Corefile:2: plugin/autopath: no resolv-conf specified");
	check_error("autopath @whoami\n\twhoami",
	            "Corefile:2: plugin/autopath: whoami does not implement the AutoPather "
	            "interface");
	check_error("autopath /nonexistent/resolv.conf",
	            "Corefile:2: plugin/autopath: failed to parse \"/nonexistent/resolv.conf\": No "
	            "such file or directory");
	check_error("autopath a..b @kubernetes", "Corefile:2: plugin/autopath: ");
	check_error("autopath @kubernetes {\n\t}", "Corefile:2: plugin/autopath: unexpected block");
}
