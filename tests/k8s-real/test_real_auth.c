/* test_real_auth.c -- service-account tokens, RBAC and in-cluster configuration on a real API server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <criterion/criterion.h>

#include "dns.h"
#include <sextant/testing.h>
#include "kube.h"

/*
 * Sextant as it runs in a cluster: the ServiceAccount, ClusterRole and
 * binding of k8s/rbac.yaml applied as they are, a token from the TokenRequest
 * API, and the in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT, the
 * token and ca.crt in SEXTANT_SA_DIR) or a kubeconfig with the CA and the
 * token. An account that may not list EndpointSlices must say so in the log
 * and on /ready; a rotated token file must be picked up before the old token
 * stops working.
 */

#define A         LDNS_RR_TYPE_A
#define Z         ".svc.cluster.local."
#define CHANGE_MS 1000.0

static struct kube *k;

static void
setup(void)
{
	k = kube_open();
}

static void
teardown(void)
{
	kube_close(k);
}

TestSuite(real_auth, .init = setup, .fini = teardown, .timeout = 240);

/* k8s/rbac.yaml, applied once per control plane. */
static void
rbac(void)
{
	char path[512];

	if (kube_req(k, "GET", "/api/v1/namespaces/kube-system/serviceaccounts/coredns", NULL,
	             NULL) == 200) {
		return;
	}
	snprintf(path, sizeof(path), "%s/k8s/rbac.yaml", getenv("SX_SOURCE_ROOT"));
	kube_create_yaml(k, path);
}

static void
write_file(const char *path, const char *text)
{
	char tmp[600];
	FILE *f;

	/* Replaced in one step, as the kubelet does with projected tokens. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	cr_assert_not_null(f, "%s: %s", tmp, strerror(errno));
	fputs(text, f);
	fclose(f);
	cr_assert_eq(rename(tmp, path), 0);
}

/* A service-account directory in @s's directory with @token and the cluster's CA. */
static void
sa_dir(struct sx_test_server *s, const char *token, char *dir, size_t size)
{
	char path[700], *ca = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(dir, size, "%s/serviceaccount", sx_test_dir(s));
	cr_assert_eq(mkdir(dir, 0700), 0);
	f = fopen(kube_env(k, "K8S_CA"), "r");
	cr_assert_not_null(f);
	cr_assert_gt(getdelim(&ca, &cap, '\0', f), 0);
	fclose(f);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	write_file(path, ca);
	free(ca);
	snprintf(path, sizeof(path), "%s/token", dir);
	write_file(path, token);
}

/* Start @s with the kubernetes plugin configured by @conn (lines), /ready on a free port. */
static void
start(struct sx_test_server *s, const char *conn)
{
	char corefile[2048];

	snprintf(corefile, sizeof(corefile),
	         "cluster.local in-addr.arpa ip6.arpa {\n\tbind 127.0.0.1\n"
	         "\tready 127.0.0.1:0\n\tkubernetes {\n%s\t\tpods verified\n\t}\n}\n",
	         conn);
	sx_test_start(s, corefile);
}

/* In-cluster: the environment a pod of the ServiceAccount would have. */
static void
in_cluster(struct sx_test_server *s, const char *token)
{
	char dir[600];

	sa_dir(s, token, dir, sizeof(dir));
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", kube_env(k, "APISERVER1_PORT"), 1);
	setenv("SEXTANT_SA_DIR", dir, 1);
	start(s, "");
}

static uint16_t
ready_port(struct sx_test_server *s)
{
	long port = sx_test_log_number(s, "serving /ready on port ");

	cr_assert(port > 0 && port < 65536);
	return (uint16_t)port;
}

/* GET /ready until it answers @status (30 s at most); @return the last body. */
static char *
wait_ready(uint16_t port, long status)
{
	double t0 = dns_now_ms();
	long got = 0;
	char *body = NULL;

	for (;;) {
		free(body);
		body = sx_test_http_get(port, "/ready", &got);
		if (got == status || dns_now_ms() - t0 > 30000) {
			break;
		}
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(got, status, "/ready: %ld %s", got, body);
	return body;
}

/* The sextant requests of the audit log from line @from: all by @user, none refused. */
static int
audited_as(const char *user, long from)
{
	json_t *evs = kube_audit(k, 1, from, NULL), *ev;
	int n = 0;
	size_t i;

	json_array_foreach(evs, i, ev)
	{
		const char *u = json_string_value(
		        json_object_get(json_object_get(ev, "user"), "username"));
		json_int_t code = json_integer_value(
		        json_object_get(json_object_get(ev, "responseStatus"), "code"));

		cr_expect_str_eq(u ? u : "", user, "%s",
		                 json_string_value(json_object_get(ev, "requestURI")));
		cr_expect_eq(code, 200, "%s: %d",
		             json_string_value(json_object_get(ev, "requestURI")), (int)code);
		n++;
	}
	json_decref(evs);
	return n;
}

/* A ClusterIP Service in @ns, and its A record as dns_ask() shows it. */
static double
new_service(struct sx_test_server **ss, const char *ns, const char *name)
{
	char obj[512], path[256], want[256], qname[256];
	double t0 = dns_now_ms();
	json_t *svc;

	snprintf(obj, sizeof(obj),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
	         "\"namespace\":\"%s\"},\"spec\":{\"ports\":[{\"port\":80}]}}",
	         name, ns);
	kube_create(k, obj);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
	svc = kube_must(k, "GET", path, NULL);
	snprintf(want, sizeof(want), "%s.%s" Z "\t5\tIN\tA\t%s", name, ns,
	         json_string_value(json_object_get(json_object_get(svc, "spec"), "clusterIP")));
	json_decref(svc);
	snprintf(qname, sizeof(qname), "%s.%s.svc.cluster.local", name, ns);
	return dns_wait(ss, qname, A, want, t0, CHANGE_MS);
}

#define SA_USER "system:serviceaccount:kube-system:coredns"

Test(real_auth, in_cluster_with_the_rbac_of_k8s_rbac_yaml)
{
	struct sx_test_server *s = sx_test_prepare(), *ss[] = { s, NULL };
	char *tok, *body;
	long from;

	rbac();
	kube_namespace(k, "incl");
	tok = kube_sa_token(k, "kube-system", "coredns", NULL);
	json_decref(kube_audit(k, 1, 0, &from));
	in_cluster(s, tok);
	body = wait_ready(ready_port(s), 200);
	free(body);
	dns_wait(ss, "kubernetes.default.svc.cluster.local", A,
	         "kubernetes.default" Z "\t5\tIN\tA\t10.96.0.1", dns_now_ms(), 0);
	new_service(ss, "incl", "s");
	/*
	 * Discovery and the LISTs of the four kinds, all allowed, all as coredns
	 * (a watch is audited once its first event or its end is written).
	 */
	cr_expect_geq(audited_as(SA_USER, from), 5);
	cr_expect_null(strstr(sx_test_log(s), "[ERROR]"), "%s", sx_test_log(s));
	/* Nothing forced: libcurl offers HTTP/2 over TLS (ALPN) and the server takes it. */
	cr_expect_eq(dns_log_count(s, "the API server answers over "), 1, "%s", sx_test_log(s));
	cr_expect(strstr(sx_test_log(s), "the API server answers over HTTP/2"), "%s",
	          sx_test_log(s));
	free(tok);
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(real_auth, kubeconfig_with_the_ca_and_a_service_account_token)
{
	struct sx_test_server *s = sx_test_prepare(), *ss[] = { s, NULL };
	char path[512], conn[700], *tok;
	long from;

	rbac();
	kube_namespace(k, "kcfg");
	tok = kube_sa_token(k, "kube-system", "coredns", NULL);
	snprintf(path, sizeof(path), "%s/kubeconfig", sx_test_dir(s));
	kube_kubeconfig(k, path, 1, tok);
	snprintf(conn, sizeof(conn), "\t\tkubeconfig %s\n", path);
	json_decref(kube_audit(k, 1, 0, &from));
	start(s, conn);
	free(wait_ready(ready_port(s), 200));
	new_service(ss, "kcfg", "s");
	cr_expect_geq(audited_as(SA_USER, from), 5);
	cr_expect_null(strstr(sx_test_log(s), "[ERROR]"), "%s", sx_test_log(s));
	free(tok);
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(real_auth, an_account_that_may_not_list_endpointslices_says_so)
{
	static const char forbidden[] =
	        "Failed to watch *v1beta1.EndpointSlice: failed to list *v1beta1.EndpointSlice: "
	        "endpointslices.discovery.k8s.io is forbidden: User "
	        "\"system:serviceaccount:kube-system:nobody\" cannot list resource \"endpointslices\" "
	        "in API group \"discovery.k8s.io\" at the cluster scope (HTTP 403 Forbidden)";
	struct sx_test_server *s = sx_test_prepare(), *ss[] = { s, NULL };
	char want[1024], *tok, *body;
	uint16_t port;

	kube_create(k, "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":"
	               "\"nobody\",\"namespace\":\"kube-system\"}}");
	kube_create(k, "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
	               "\"metadata\":{\"name\":\"sx-test:no-slices\"},\"rules\":[{\"apiGroups\":"
	               "[\"\"],\"resources\":[\"services\",\"namespaces\",\"pods\"],\"verbs\":"
	               "[\"list\",\"watch\"]}]}");
	kube_create(k, "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":"
	               "\"ClusterRoleBinding\",\"metadata\":{\"name\":\"sx-test:no-slices\"},"
	               "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":"
	               "\"ClusterRole\",\"name\":\"sx-test:no-slices\"},\"subjects\":[{\"kind\":"
	               "\"ServiceAccount\",\"name\":\"nobody\",\"namespace\":\"kube-system\"}]}");
	tok = kube_sa_token(k, "kube-system", "nobody", NULL);
	in_cluster(s, tok);
	port = ready_port(s);
	snprintf(want, sizeof(want), "[ERROR] plugin/kubernetes: %s", forbidden);
	cr_assert(sx_test_wait_log(s, want, 20000), "%s", sx_test_log(s));
	/* Not ready, and /ready says why; the log says it once. */
	snprintf(want, sizeof(want), "kubernetes\nkubernetes: %s", forbidden);
	body = wait_ready(port, 503);
	cr_expect_str_eq(body, want);
	free(body);
	cr_expect(sx_test_wait_log(s,
	                           "Plugins not ready: \"kubernetes\" (kubernetes: Failed to watch "
	                           "*v1beta1.EndpointSlice",
	                           5000),
	          "%s", sx_test_log(s));
	/* What it may read serves; a name it cannot know yet is SERVFAIL, explained above. */
	dns_wait(ss, "kubernetes.default.svc.cluster.local", A,
	         "kubernetes.default" Z "\t5\tIN\tA\t10.96.0.1", dns_now_ms(), 0);
	dns_wait(ss, "nope.default.svc.cluster.local", A, "SERVFAIL", dns_now_ms(), 0);

	/* Granted the role of k8s/rbac.yaml, it gets on with it at its next attempt. */
	rbac();
	kube_create(k, "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":"
	               "\"ClusterRoleBinding\",\"metadata\":{\"name\":\"sx-test:nobody-now\"},"
	               "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":"
	               "\"ClusterRole\",\"name\":\"system:coredns\"},\"subjects\":[{\"kind\":"
	               "\"ServiceAccount\",\"name\":\"nobody\",\"namespace\":\"kube-system\"}]}");
	free(wait_ready(port, 200));
	dns_wait(ss, "nope.default.svc.cluster.local", A, "NXDOMAIN", dns_now_ms(), 0);
	cr_expect(strstr(sx_test_log(s), "*v1beta1.EndpointSlice: watching again"), "%s",
	          sx_test_log(s));
	cr_expect_eq(strstr(strstr(sx_test_log(s), "[ERROR]") + 1, "[ERROR]"), NULL,
	             "one error line:\n%s", sx_test_log(s));
	free(tok);
	cr_expect_eq(sx_test_stop(s), 0);
}

Test(real_auth, a_rotated_token_file_is_used_before_the_old_token_dies)
{
	struct sx_test_server *s = sx_test_prepare(), *ss[] = { s, NULL };
	char path[700], *old, *fresh;
	long from;
	double t0;
	int n;

	rbac();
	kube_namespace(k, "rot");
	/* Tokens bound to a Secret die with it: that is how the old one is revoked. */
	kube_create(k,
	            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"tok-a\","
	            "\"namespace\":\"kube-system\"}}");
	kube_create(k,
	            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"tok-b\","
	            "\"namespace\":\"kube-system\"}}");
	old = kube_sa_token(k, "kube-system", "coredns", "tok-a");
	fresh = kube_sa_token(k, "kube-system", "coredns", "tok-b");
	/* Short watches: the plugin makes new requests, with the token file read anew, often. */
	setenv("SEXTANT_K8S_WATCH_TIMEOUT", "2", 1);
	in_cluster(s, old);
	free(wait_ready(ready_port(s), 200));

	snprintf(path, sizeof(path), "%s/token", getenv("SEXTANT_SA_DIR"));
	write_file(path, fresh);
	json_decref(kube_audit(k, 1, 0, &from));
	json_decref(kube_must(k, "DELETE", "/api/v1/namespaces/kube-system/secrets/tok-a", NULL));
	for (t0 = dns_now_ms(); kube_req_as(k, old, "GET", "/api/v1/namespaces") != 401;) {
		cr_assert_lt(dns_now_ms() - t0, 10000, "the old token still works");
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	/* Renewed watches, each with the new token: none refused. */
	for (t0 = dns_now_ms(); (n = audited_as(SA_USER, from)) < 6;) {
		cr_assert_lt(dns_now_ms() - t0, 20000, "%d requests since the rotation", n);
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	new_service(ss, "rot", "s");
	cr_expect_null(strstr(sx_test_log(s), "Unauthorized"), "%s", sx_test_log(s));
	cr_expect_null(strstr(sx_test_log(s), "[ERROR]"), "%s", sx_test_log(s));
	free(old);
	free(fresh);
	cr_expect_eq(sx_test_stop(s), 0);
}
