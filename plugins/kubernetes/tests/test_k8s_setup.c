/* test_k8s_setup.c -- kubernetes Corefile options: what they set, and their exact errors. */
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/plugin.h>
#include <sextant/testing.h>

#include "../zone.h"

extern const struct sx_plugin sx_plugin_kubernetes;

static struct sx_config *cfg;

static void
fini(void)
{
	sx_test_config_free(cfg);
	cfg = NULL;
}

TestSuite(setup, .fini = fini);

/* Set up @text; @return the kubernetes instance of its first block. */
static struct k8s *
ok(const char *text)
{
	struct sx_test_opts o = { .default_port = 53, .workers = 1 };
	char err[512] = "";

	sx_test_config_free(cfg);
	cfg = NULL;
	cr_assert_eq(sx_test_config(text, "/etc/coredns", &o, &cfg, err, sizeof(err)), 0, "%s",
	             err);
	void *inst = sx_test_instance(cfg, 0, &sx_plugin_kubernetes, 0);

	cr_assert(inst, "no kubernetes instance");
	return inst;
}

static void
bad(const char *text, const char *want)
{
	struct sx_test_opts o = { .default_port = 53, .workers = 1 };
	struct sx_config *c = NULL;
	char err[512] = "";

	cr_assert_neq(sx_test_config(text, "/etc/coredns", &o, &c, err, sizeof(err)), 0,
	              "accepted: %s", text);
	cr_assert_null(c);
	cr_assert_str_eq(err, want);
}

static void
zones_are(const struct sx_zones *z, const char *const *names)
{
	size_t n = 0;

	for (; names[n] != NULL; n++) {
		cr_assert(n < z->n, "missing zone %s", names[n]);
		cr_assert_str_eq(z->z[n].name, names[n]);
	}
	cr_assert_eq(z->n, n);
}

#define Z(...)                    \
	(const char *const[])     \
	{                         \
		__VA_ARGS__, NULL \
	}

Test(setup, defaults)
{
	struct k8s *k = ok("cluster.local {\n\tkubernetes\n}\n");

	zones_are(&k->zones, Z("cluster.local."));
	cr_assert_eq(k->primary, 0);
	cr_assert_eq(k->ttl, 5);
	cr_assert_eq(k->startup_ms, 5000);
	cr_assert(k->qps == 0 && k->burst == 0 && k->max_inflight == 0); /* no client-side limit */
	cr_assert_eq(k->pods, K8S_PODS_DISABLED);
	cr_assert_eq(k->fall.n, 0);
	cr_assert_not(k->endpoint_pod_names);
	cr_assert_not(k->noendpoints);
	cr_assert_not(k->ignore_empty);
	cr_assert_null(k->endpoint);
	cr_assert_null(k->kubeconfig);
	cr_assert_null(k->manifests);
	cr_assert_eq(k->nnamespaces, 0);
}

Test(setup, zones_from_the_block_or_the_line)
{
	struct k8s *k = ok(". {\n\tkubernetes cluster.local in-addr.arpa ip6.arpa\n}\n");

	zones_are(&k->zones, Z("cluster.local.", "in-addr.arpa.", "ip6.arpa."));
	cr_assert_eq(k->primary, 0);
	k = ok("in-addr.arpa Cluster.Local {\n\tkubernetes\n}\n");
	zones_are(&k->zones, Z("in-addr.arpa.", "cluster.local."));
	cr_assert_eq(k->primary, 1); /* the first non-reverse zone names PTR targets */
	k = ok(". {\n\tkubernetes 10.0.0.0/15 cluster.local\n}\n");
	zones_are(&k->zones, Z("0.10.in-addr.arpa.", "1.10.in-addr.arpa.", "cluster.local."));
	cr_assert_eq(k->primary, 2);
}

Test(setup, every_option)
{
	struct k8s *k = ok("cluster.local in-addr.arpa ip6.arpa {\n"
	                   "\tkubernetes {\n"
	                   "\t\tendpoint https://10.0.0.1:6443\n"
	                   "\t\ttls cert.pem key.pem ca.pem\n"
	                   "\t\tkubeconfig /etc/kube.conf prod\n"
	                   "\t\tnamespaces Default kube-system\n"
	                   "\t\tnamespaces testns\n"
	                   "\t\tlabels environment in (production, qa),tier!=cache\n"
	                   "\t\tpods verified\n"
	                   "\t\tendpoint_pod_names\n"
	                   "\t\tttl 0\n"
	                   "\t\tnoendpoints\n"
	                   "\t\tfallthrough in-addr.arpa ip6.arpa\n"
	                   "\t\tignore empty_service\n"
	                   "\t\tmanifests cluster/\n"
	                   "\t\tstartup_timeout 1m30s\n"
	                   "\t\tapiserver_qps 2.5\n"
	                   "\t\tapiserver_burst 7\n"
	                   "\t\tapiserver_max_inflight 3\n"
	                   "\t}\n"
	                   "}\n");

	cr_assert_str_eq(k->endpoint, "https://10.0.0.1:6443");
	cr_assert_str_eq(k->tls_cert, "cert.pem");
	cr_assert_str_eq(k->tls_key, "key.pem");
	cr_assert_str_eq(k->tls_ca, "ca.pem");
	cr_assert_str_eq(k->kubeconfig, "/etc/kube.conf");
	cr_assert_str_eq(k->context, "prod");
	cr_assert_eq(k->nnamespaces, 3);
	cr_assert_str_eq(k->namespaces[0], "default");
	cr_assert_str_eq(k->namespaces[2], "testns");
	cr_assert_str_eq(k->labels, "environment in (production, qa),tier!=cache");
	cr_assert_eq(k->pods, K8S_PODS_VERIFIED);
	cr_assert(k->endpoint_pod_names);
	cr_assert_eq(k->ttl, 0);
	cr_assert(k->noendpoints);
	zones_are(&k->fall, Z("in-addr.arpa.", "ip6.arpa."));
	cr_assert(k->ignore_empty);
	cr_assert_str_eq(k->manifests, "/etc/coredns/cluster/");
	cr_assert_eq(k->startup_ms, 90000);
	cr_assert(k->qps == 2.5);
	cr_assert_eq(k->burst, 7);
	cr_assert_eq(k->max_inflight, 3);
	/* One of qps and burst alone: the other is client-go's default, as in CoreDNS. */
	k = ok("cluster.local {\n\tkubernetes {\n\t\tapiserver_burst 20\n\t}\n}\n");
	cr_assert(k->qps == 5 && k->burst == 20);
	k = ok("cluster.local {\n\tkubernetes {\n\t\tapiserver_qps 50\n\t}\n}\n");
	cr_assert(k->qps == 50 && k->burst == 10);
}

Test(setup, small_options)
{
	struct k8s *k = ok("cluster.local in-addr.arpa {\n\tkubernetes {\n\t\tfallthrough\n"
	                   "\t\tttl 3600\n\t\tpods insecure\n\t\tmanifests /srv/k8s\n"
	                   "\t\tnamespace_labels istio-injection=enabled\n\t}\n}\n");

	zones_are(&k->fall, Z("cluster.local.", "in-addr.arpa.")); /* all zones */
	cr_assert_eq(k->ttl, 3600);
	cr_assert_eq(k->pods, K8S_PODS_INSECURE);
	cr_assert_str_eq(k->manifests, "/srv/k8s");
	cr_assert_str_eq(k->namespace_labels, "istio-injection=enabled");
	k = ok("cluster.local {\n\tkubernetes {\n\t\tlabels !canary, app\n\t\tpods disabled\n\t}\n}\n");
	cr_assert_str_eq(k->labels, "!canary, app");
	cr_assert_eq(k->pods, K8S_PODS_DISABLED);
}

Test(setup, errors)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "in-addr.arpa {\n\tkubernetes\n}\n",
		  "Corefile:2: plugin/kubernetes: non-reverse zone name must be used" },
		{ ". {\n\tkubernetes 10.0.0.0/8 ip6.arpa\n}\n",
		  "Corefile:2: plugin/kubernetes: non-reverse zone name must be used" },
		{ "cluster.local {\n\tkubernetes {\n\t\tttl 3601\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: ttl must be in range [0, 3600]: 3601" },
		{ "cluster.local {\n\tkubernetes {\n\t\tttl -1\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: ttl must be in range [0, 3600]: -1" },
		{ "cluster.local {\n\tkubernetes {\n\t\tttl 5s\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: ttl must be an integer: '5s'" },
		{ "cluster.local {\n\tkubernetes {\n\t\tttl\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'ttl' (expects 1)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tttl 5\n\t\tttl 6\n\t}\n}\n",
		  "Corefile:4: plugin/kubernetes: 'ttl' is given twice" },
		{ "cluster.local {\n\tkubernetes {\n\t\tpods sometimes\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong value for pods: sometimes,  must be one of: "
		  "disabled, verified, insecure" },
		{ "cluster.local {\n\tkubernetes {\n\t\tpods\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'pods' (expects 1)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tignore everything\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: unable to parse ignore value: 'everything'" },
		{ "cluster.local {\n\tkubernetes {\n\t\ttls a b\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'tls' (expects 3)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tkubeconfig a b c\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'kubeconfig' "
		  "(expects 1 to 2)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tendpoint\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'endpoint' "
		  "(expects at least 1)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tnamespaces\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'namespaces' "
		  "(expects at least 1)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tendpoint_pod_names yes\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'endpoint_pod_names' "
		  "(expects 0)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tnoendpoints please\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'noendpoints' (expects 0)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tstartup_timeout soon\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: startup_timeout: invalid duration 'soon' (examples: "
		  "500ms, 30s, 5m, 1h30m)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tstartup_timeout\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: wrong argument count for 'startup_timeout' "
		  "(expects 1)" },
		{ "cluster.local {\n\tkubernetes {\n\t\tapiserver_qps -1\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: apiserver_qps must be a number in range [0, 1000000]: "
		  "'-1'" },
		{ "cluster.local {\n\tkubernetes {\n\t\tapiserver_qps fast\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: apiserver_qps must be a number in range [0, 1000000]: "
		  "'fast'" },
		{ "cluster.local {\n\tkubernetes {\n\t\tapiserver_burst -3\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: apiserver_burst must be in range [0, 1000000], not '-3'" },
		{ "cluster.local {\n\tkubernetes {\n\t\tapiserver_max_inflight 1.5\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: apiserver_max_inflight must be in range [0, 1000000], "
		  "not '1.5'" },
		{ "cluster.local {\n\tkubernetes {\n\t\tresyncperiod 5m\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: unknown property 'resyncperiod'" },
		{ "cluster.local {\n\tkubernetes {\n\t\tnamespaces a\n"
		  "\t\tnamespace_labels x=y\n\t}\n}\n",
		  "Corefile:2: plugin/kubernetes: namespaces and namespace_labels cannot both be set" },
		{ "cluster.local {\n\tkubernetes {\n\t\tlabels a b c\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: unable to parse label selector value: 'a b c': "
		  "label selector: unknown operator at \"b c\"" },
		{ "cluster.local {\n\tkubernetes {\n\t\tlabels env in (a b)\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: unable to parse label selector value: "
		  "'env in (a b)': label selector: \")\" expected in the values of \"env\"" },
		{ "cluster.local {\n\tkubernetes {\n\t\tnamespace_labels x>1\n\t}\n}\n",
		  "Corefile:3: plugin/kubernetes: unable to parse namespace_label selector value: "
		  "'x>1': label selector: unknown operator at \">1\"" },
		{ "cluster.local {\n\tkubernetes\n\tkubernetes\n}\n",
		  "Corefile:3: plugin/kubernetes: this plugin can only be used once per Server Block" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bad(cases[i].text, cases[i].err);
	}
}
