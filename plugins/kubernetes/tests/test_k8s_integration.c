/* test_k8s_integration.c -- kubernetes through the real binary, fed from a manifests directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#define FIXTURE "/plugins/kubernetes/tests/data/cluster.json"

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	cr_assert(f, "cannot read %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	cr_assert(fread(text, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	return text;
}

/* A server not started yet, with the fixture cluster in DIR/m. */
static struct sx_test_server *
prepare(void)
{
	struct sx_test_server *s = sx_test_prepare();
	const char *root = getenv("SX_SOURCE_ROOT");
	char path[1024];
	char *text;

	snprintf(path, sizeof(path), "%s/m", sx_test_dir(s));
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s" FIXTURE, root ? root : ".");
	text = slurp(path);
	sx_test_write(s, "m/cluster.json", text);
	free(text);
	return s;
}

/* A server with the fixture cluster in DIR/m, started and synced. */
static struct sx_test_server *
start(const char *options)
{
	struct sx_test_server *s = prepare();
	char corefile[2048];

	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n"
	         "\tbind 127.0.0.1\n"
	         "\tkubernetes {\n"
	         "\t\tmanifests m\n"
	         "%s"
	         "\t}\n"
	         "}\n",
	         options);
	sx_test_start(s, corefile);
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000),
	          "no sync line in:\n%s", sx_test_log(s));
	return s;
}

static char *
section(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags,
        ldns_pkt_section sec, ldns_pkt_rcode *rcode)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);
	char *str;

	cr_assert(p, "no reply for %s", name);
	cr_expect(ldns_pkt_aa(p), "%s: no aa", name);
	if (rcode) {
		*rcode = ldns_pkt_get_rcode(p);
	}
	str = sx_test_section_str(p, sec);
	ldns_pkt_free(p);
	return str;
}

static void
expect(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags, const char *want)
{
	ldns_pkt_rcode rc;
	char *got = section(s, name, type, flags, LDNS_SECTION_ANSWER, &rc);

	cr_expect_eq(rc, LDNS_RCODE_NOERROR, "%s: rcode %d", name, rc);
	cr_expect_str_eq(got, want, "%s over %s", name, flags & SX_Q_TCP ? "TCP" : "UDP");
	free(got);
}

#define SOA     "cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. "
#define REV_SOA "in-addr.arpa.\t5\tIN\tSOA\tns.dns.in-addr.arpa. hostmaster.in-addr.arpa. "

/* NXDOMAIN with the SOA of the zone in authority (its start is @soa). */
static void
expect_nx(struct sx_test_server *s, const char *name, ldns_rr_type type, const char *soa)
{
	ldns_pkt_rcode rc;
	char *auth = section(s, name, type, 0, LDNS_SECTION_AUTHORITY, &rc);

	cr_expect_eq(rc, LDNS_RCODE_NXDOMAIN, "%s: rcode %d", name, rc);
	cr_expect(strncmp(auth, soa, strlen(soa)) == 0, "%s: authority %s", name, auth);
	free(auth);
}

Test(k8s_integration, answers_from_manifests)
{
	struct sx_test_server *s = start("");

	for (int tcp = 0; tcp <= 1; tcp++) {
		int f = tcp ? SX_Q_TCP : 0;
		expect(s, "svc1.testns.svc.cluster.local", LDNS_RR_TYPE_A, f,
		       "svc1.testns.svc.cluster.local.\t5\tIN\tA\t10.96.1.1");
		expect(s, "hdls1.testns.svc.cluster.local", LDNS_RR_TYPE_A, f,
		       "hdls1.testns.svc.cluster.local.\t5\tIN\tA\t10.244.1.30\n"
		       "hdls1.testns.svc.cluster.local.\t5\tIN\tA\t10.244.1.32");
		expect(s, "_http._tcp.svc1.testns.svc.cluster.local", LDNS_RR_TYPE_SRV, f,
		       "_http._tcp.svc1.testns.svc.cluster.local.\t5\tIN\tSRV\t0 100 80 "
		       "svc1.testns.svc.cluster.local.");
		expect(s, "1.1.96.10.in-addr.arpa", LDNS_RR_TYPE_PTR, f,
		       "1.1.96.10.in-addr.arpa.\t5\tIN\tPTR\tsvc1.testns.svc.cluster.local.");
		expect(s, "dns-version.cluster.local", LDNS_RR_TYPE_TXT, f,
		       "dns-version.cluster.local.\t28800\tIN\tTXT\t\"1.1.0\"");
	}
	expect(s, "Svc1.TestNS.svc.cluster.local", LDNS_RR_TYPE_A, 0,
	       "Svc1.TestNS.svc.cluster.local.\t5\tIN\tA\t10.96.1.1");
	expect_nx(s, "nope.testns.svc.cluster.local", LDNS_RR_TYPE_A, SOA);
	expect_nx(s, "9.9.9.10.in-addr.arpa", LDNS_RR_TYPE_PTR, REV_SOA);

	char *add = section(s, "_http._tcp.svc1.testns.svc.cluster.local", LDNS_RR_TYPE_SRV, 0,
	                    LDNS_SECTION_ADDITIONAL, NULL);
	cr_expect_str_eq(add, "svc1.testns.svc.cluster.local.\t5\tIN\tA\t10.96.1.1");
	free(add);
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(k8s_integration, follows_changes)
{
	struct sx_test_server *s = start("\t\tttl 30\n");
	bool seen = false;

	sx_test_write(s, "m/extra.json",
	              "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"late\","
	              "\"namespace\":\"testns\"},\"spec\":{\"clusterIP\":\"10.96.7.7\","
	              "\"ports\":[{\"port\":80}]}}");
	for (int waited = 0; waited < 5000 && !seen; waited += 100) {
		ldns_pkt_rcode rc;
		char *got = section(s, "late.testns.svc.cluster.local", LDNS_RR_TYPE_A, 0,
		                    LDNS_SECTION_ANSWER, &rc);
		seen = strcmp(got, "late.testns.svc.cluster.local.\t30\tIN\tA\t10.96.7.7") == 0;
		free(got);
		if (!seen) {
			usleep(100 * 1000);
		}
	}
	cr_assert(seen, "the new service never answered:\n%s", sx_test_log(s));
	/* The files are the whole truth: a removed file takes its objects along. */
	char path[1024];
	snprintf(path, sizeof(path), "%s/m/extra.json", sx_test_dir(s));
	cr_assert_eq(unlink(path), 0);
	for (int waited = 0; waited < 5000 && seen; waited += 100) {
		ldns_pkt_rcode rc;
		free(section(s, "late.testns.svc.cluster.local", LDNS_RR_TYPE_A, 0,
		             LDNS_SECTION_ANSWER, &rc));
		seen = rc != LDNS_RCODE_NXDOMAIN;
		if (seen) {
			usleep(100 * 1000);
		}
	}
	cr_assert_not(seen, "the removed service still answers");
	expect(s, "svc1.testns.svc.cluster.local", LDNS_RR_TYPE_A, 0,
	       "svc1.testns.svc.cluster.local.\t30\tIN\tA\t10.96.1.1");
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(k8s_integration, bad_option_stops_start)
{
	char *out = NULL;
	struct sx_test_server *s = sx_test_prepare();
	char conf[1024];
	int st;

	sx_test_write(s, "Corefile", "cluster.local {\n\tkubernetes {\n\t\tttl 9999\n\t}\n}\n");
	snprintf(conf, sizeof(conf), "-conf %s/Corefile -dns.port 0", sx_test_dir(s));
	st = sx_test_run(&out, "%s", conf);
	cr_expect_neq(st, 0);
	cr_expect(
	        strstr(out, "Corefile:3: plugin/kubernetes: ttl must be in range [0, 3600]: 9999"),
	        "%s", out);
	free(out);
	sx_test_stop(s);
}

/* @text with each run of blanks made one space, so that lines read as records, not columns. */
static char *
squeeze(char *text)
{
	char *w = text;

	for (const char *r = text; *r; r++) {
		if ((*r == ' ' || *r == '\t') && w > text && w[-1] == ' ') {
			continue;
		}
		*w++ = *r == '\t' ? ' ' : *r;
	}
	*w = '\0';
	return text;
}

static unsigned
count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
		n++;
	}
	return n;
}

/* The cluster zone copied out whole by AXFR (and IXFR in AXFR form) to the addresses of `to`. */
Test(k8s_integration, axfr_with_transfer)
{
	struct sx_test_server *s = prepare();
	char *out;

	sx_test_start(s, "cluster.local in-addr.arpa ip6.arpa {\n\tbind 127.0.0.1\n"
	                 "\tkubernetes {\n\t\tmanifests m\n\t}\n"
	                 "\ttransfer cluster.local in-addr.arpa {\n\t\tto 127.0.0.1\n\t}\n}\n");
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000), "%s",
	          sx_test_log(s));

	out = squeeze(sx_test_dig(s, "+nocmd +nostats AXFR cluster.local"));
	/* The SOA opens and closes it. */
	const char *soa =
	        "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. ";
	cr_expect(strncmp(out, soa, strlen(soa)) == 0, "%s", out);
	cr_expect_eq(count(out, " SOA "), 2, "%s", out);
	cr_expect_eq(count(out, "cluster.local. 5 IN NS ns.dns.cluster.local.\n"), 1, "%s", out);
	/* A ClusterIP Service: its address, and SRV records at its name and its named ports. */
	cr_expect(strstr(out, "\nsvc1.testns.svc.cluster.local. 5 IN A 10.96.1.1\n"), "%s", out);
	cr_expect(strstr(out, "\n_http._tcp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 "
	                      "svc1.testns.svc.cluster.local.\n"),
	          "%s", out);
	cr_expect(strstr(out, "\n_c-port._udp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 1234 "
	                      "svc1.testns.svc.cluster.local.\n"),
	          "%s", out);
	cr_expect(strstr(out, "\nsvc-v6.testns.svc.cluster.local. 5 IN AAAA fd00:10:96::1:6\n"),
	          "%s", out);
	/* UDP and TCP 53: one SRV at the name, as answers give it. */
	cr_expect_eq(count(out, "\nkube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 "), 1,
	             "%s", out);
	/* A headless one: ready endpoints only, at its name and their own. */
	cr_expect(strstr(out, "\nhdls1.testns.svc.cluster.local. 5 IN A 10.244.1.30\n"), "%s", out);
	cr_expect(strstr(out, "\nhdls1-0.hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.30\n"),
	          "%s", out);
	cr_expect(strstr(out, "\n10-244-1-32.hdls1.testns.svc.cluster.local. 5 IN A 10.244.1.32\n"),
	          "%s", out);
	cr_expect(!strstr(out, "10.244.1.31"), "an endpoint not ready was transferred:\n%s", out);
	cr_expect(strstr(out, "\n_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 50 80 "
	                      "hdls1-0.hdls1.testns.svc.cluster.local.\n"),
	          "%s", out);
	/* An address in two slices is one record. */
	cr_expect_eq(count(out, " IN A 10.244.2.2\n"), 2, "%s", out);
	cr_expect_eq(
	        count(out, " SRV 0 50 80 10-244-2-2.hdls-dup.testns.svc.cluster.local.\n") +
	                count(out, " SRV 0 100 80 10-244-2-2.hdls-dup.testns.svc.cluster.local.\n"),
	        1, "%s", out);
	/* ExternalName: a CNAME. */
	cr_expect(strstr(out, "\next-svc.testns.svc.cluster.local. 5 IN CNAME ext.example.net.\n"),
	          "%s", out);
	cr_expect(!strstr(out, "failed"), "%s", out);
	free(out);

	/* IXFR: the same, in AXFR form. */
	out = squeeze(sx_test_kdig(s, "+nocomments IXFR=1 cluster.local"));
	cr_expect(strstr(out, "\nsvc1.testns.svc.cluster.local. 5 IN A 10.96.1.1\n"), "%s", out);
	cr_expect_eq(count(out, " SOA "), 2, "%s", out);
	free(out);

	/* Refused: another address, and the reverse zones (as CoreDNS). */
	out = sx_test_dig(s, "-b 127.0.0.2 AXFR cluster.local");
	cr_expect(!strstr(out, "\tSOA\t"), "%s", out);
	free(out);
	out = sx_test_dig(s, "AXFR in-addr.arpa");
	cr_expect(!strstr(out, "\tSOA\t"), "%s", out);
	cr_expect(strstr(out, "Transfer failed") || strstr(out, "REFUSED"), "%s", out);
	free(out);
	sx_test_stop(s);
}

/* Without transfer the zone is never copied out. */
Test(k8s_integration, axfr_refused_without_transfer)
{
	struct sx_test_server *s = start("");
	char *out = sx_test_dig(s, "AXFR cluster.local");

	cr_expect(!strstr(out, "\tSOA\t"), "%s", out);
	cr_expect(strstr(out, "Transfer failed") || strstr(out, "REFUSED"), "%s", out);
	free(out);
	sx_test_stop(s);
}
