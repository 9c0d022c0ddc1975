/* test_metadata_integration.c -- metadata from kubernetes into log's {/label}, through the binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* A namespace, a Service with a named port, and a pod whose address is the test's own. */
static const char cluster[] =
        "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": ["
        "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"testns\"}},"
        "{\"apiVersion\": \"v1\", \"kind\": \"Service\","
        " \"metadata\": {\"name\": \"svc1\", \"namespace\": \"testns\"},"
        " \"spec\": {\"type\": \"ClusterIP\", \"clusterIP\": \"10.96.7.7\","
        "  \"ports\": [{\"name\": \"http\", \"port\": 80, \"protocol\": \"TCP\"}]}},"
        "{\"apiVersion\": \"v1\", \"kind\": \"Pod\","
        " \"metadata\": {\"name\": \"client-pod\", \"namespace\": \"testns\"},"
        " \"status\": {\"phase\": \"Running\", \"podIP\": \"127.0.0.1\"}}"
        "]}";

#define FORMAT                                                                              \
	"\"META {name} kind={/kubernetes/kind} ns={/kubernetes/namespace} "                 \
	"svc={/kubernetes/service} ep={/kubernetes/endpoint} port={/kubernetes/port-name} " \
	"proto={/kubernetes/protocol} err={/kubernetes/parse-error} "                       \
	"client={/kubernetes/client-namespace}/{/kubernetes/client-pod-name}\""

static struct sx_test_server *
start(const char *metadata_line)
{
	struct sx_test_server *s = sx_test_prepare();
	char path[1024], corefile[2048];

	snprintf(path, sizeof(path), "%s/m", sx_test_dir(s));
	cr_assert_eq(mkdir(path, 0755), 0);
	sx_test_write(s, "m/cluster.json", cluster);
	snprintf(corefile, sizeof(corefile),
	         "cluster.local:0 {\n"
	         "\tbind 127.0.0.1\n"
	         "%s"
	         "\tlog . " FORMAT "\n"
	         "\tkubernetes {\n"
	         "\t\tmanifests m\n"
	         "\t\tpods verified\n"
	         "\t}\n"
	         "}\n",
	         metadata_line);
	sx_test_start(s, corefile);
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000), "%s",
	          sx_test_log(s));
	return s;
}

static void
ask(struct sx_test_server *s, const char *name, ldns_rr_type t)
{
	ldns_pkt *p = sx_test_query(s, name, t, 0, 0);

	cr_assert(p, "%s", name);
	ldns_pkt_free(p);
}

static void
expect_line(struct sx_test_server *s, const char *want)
{
	cr_expect(sx_test_wait_log(s, want, 5000), "want \"%s\" in:\n%s", want, sx_test_log(s));
}

Test(metadata_integration, kubernetes_labels_in_log_lines)
{
	struct sx_test_server *s = start("\tmetadata\n");

	ask(s, "_http._tcp.svc1.testns.svc.cluster.local", LDNS_RR_TYPE_SRV);
	expect_line(s, "META _http._tcp.svc1.testns.svc.cluster.local. kind=svc ns=testns svc=svc1 "
	               "ep=- port=http proto=tcp err=- client=testns/client-pod");
	ask(s, "SVC1.testns.svc.cluster.local", LDNS_RR_TYPE_A);
	expect_line(s,
	            "META SVC1.testns.svc.cluster.local. kind=svc ns=testns svc=svc1 ep=- port=* "
	            "proto=* err=- client=testns/client-pod");
	ask(s, "ep-1.svc1.testns.svc.cluster.local", LDNS_RR_TYPE_A);
	expect_line(s, "kind=svc ns=testns svc=svc1 ep=ep-1 port=* proto=*");
	/* A name that cannot be a record: only the parse error (and who asked). */
	ask(s, "foo.cluster.local", LDNS_RR_TYPE_A);
	expect_line(s, "META foo.cluster.local. kind=- ns=- svc=- ep=- port=- proto=- "
	               "err=invalid query name client=testns/client-pod");
	/* The apex tells nothing. */
	ask(s, "cluster.local", LDNS_RR_TYPE_SOA);
	expect_line(s, "META cluster.local. kind=- ns=- svc=- ep=- port=- proto=- err=- "
	               "client=testns/client-pod");
	sx_test_stop(s);
}

Test(metadata_integration, nothing_without_the_plugin_or_outside_its_zones)
{
	struct sx_test_server *s = start("");

	ask(s, "svc1.testns.svc.cluster.local", LDNS_RR_TYPE_A);
	expect_line(s, "META svc1.testns.svc.cluster.local. kind=- ns=- svc=- ep=- port=- proto=- "
	               "err=- client=-/-");
	sx_test_stop(s);
	s = start("\tmetadata other.local\n");
	ask(s, "svc1.testns.svc.cluster.local", LDNS_RR_TYPE_A);
	expect_line(s, "META svc1.testns.svc.cluster.local. kind=- ns=- svc=- ep=- port=- proto=- "
	               "err=- client=-/-");
	sx_test_stop(s);
}

Test(metadata_integration, setup)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\tmetadata example.org\n\twhoami\n}\n", &out), 0, "%s",
	             out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tmetadata {\n\t\tmap {{.IP}} vrf\n\t}\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3: plugin/metadata: map is not supported"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tmetadata a..b\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/metadata: zone 'a..b' is not a valid"), "%s",
	          out);
	free(out);
}
