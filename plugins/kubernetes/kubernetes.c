/* kubernetes.c -- the kubernetes plugin: options, start, per-query entry, teardown. */
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/plugin.h>

#include "manifests.h"
#include "zone.h"

#define DEFAULT_TTL        5
#define DEFAULT_STARTUP_MS 5000 /* CoreDNS's startup_timeout */
/* client-go's defaults, which CoreDNS's client takes for the one of qps and burst not given */
#define DEFAULT_QPS   5
#define DEFAULT_BURST 10

static int
dup_arg(struct sx_cf *cf, int i, char **out)
{
	free(*out);
	*out = strdup(sx_cf_arg(cf, i));
	return *out ? 0 : -ENOMEM;
}

static int
set_endpoint(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;

	if (sx_cf_nargs(cf) > 2) {
		sx_plog(SX_LOG_WARNING, "kubernetes",
		        "Multiple endpoints have been deprecated, only the first specified endpoint "
		        "'%s' is used",
		        sx_cf_arg(cf, 1));
	}
	return dup_arg(cf, 1, &k->endpoint);
}

static int
set_tls(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;
	int r = dup_arg(cf, 1, &k->tls_cert);

	if (r == 0) {
		r = dup_arg(cf, 2, &k->tls_key);
	}
	return r == 0 ? dup_arg(cf, 3, &k->tls_ca) : r;
}

static int
set_kubeconfig(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;
	int r = dup_arg(cf, 1, &k->kubeconfig);

	return r == 0 && sx_cf_nargs(cf) > 2 ? dup_arg(cf, 2, &k->context) : r;
}

/* `manifests DIR`: relative to the Corefile's directory, as `import` is. */
static int
set_manifests(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;
	const char *dir = sx_cf_arg(cf, 1);

	free(k->manifests);
	if (dir[0] == '/' || sx_cf_dir(cf) == NULL) {
		k->manifests = strdup(dir);
	} else if (asprintf(&k->manifests, "%s/%s", sx_cf_dir(cf), dir) < 0) {
		k->manifests = NULL;
	}
	return k->manifests ? 0 : -ENOMEM;
}

static int
set_namespaces(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;
	int n = sx_cf_nargs(cf) - 1;
	char **v = realloc(k->namespaces, (k->nnamespaces + (size_t)n) * sizeof(*v));

	if (v == NULL) {
		return -ENOMEM;
	}
	k->namespaces = v;
	for (int i = 1; i <= n; i++) {
		v[k->nnamespaces] = strdup(sx_cf_arg(cf, i));
		if (v[k->nnamespaces] == NULL) {
			return -ENOMEM;
		}
		for (char *p = v[k->nnamespaces]; *p; p++) {
			*p = (char)tolower((unsigned char)*p);
		}
		k->nnamespaces++;
	}
	return 0;
}

/* `labels` and `namespace_labels`: the arguments joined by spaces, as CoreDNS reads them. */
static int
set_selector(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	char **out = (char **)((char *)inst + d->offset);
	struct k8s_selector *sel;
	size_t len = 0;
	char why[256];
	char *s;
	int r;

	for (int i = 1; i < sx_cf_nargs(cf); i++) {
		len += strlen(sx_cf_arg(cf, i)) + 1;
	}
	s = malloc(len);
	if (s == NULL) {
		return -ENOMEM;
	}
	s[0] = '\0';
	for (int i = 1; i < sx_cf_nargs(cf); i++) {
		strcat(s, sx_cf_arg(cf, i));
		strcat(s, i + 1 < sx_cf_nargs(cf) ? " " : "");
	}
	r = k8s_selector_parse(&sel, s, why, sizeof(why));
	k8s_selector_free(sel);
	if (r == SX_EINVAL) {
		r = sx_cf_err(cf, "unable to parse %s selector value: '%s': %s",
		              strcmp(d->name, "labels") == 0 ? "label" : "namespace_label", s, why);
	}
	if (r < 0) {
		free(s);
		return r;
	}
	free(*out);
	*out = s;
	return 0;
}

static int
set_pods(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	static const char *const modes[] = { "disabled", "insecure", "verified" };
	struct k8s *k = inst;
	const char *a = sx_cf_arg(cf, 1);

	for (int i = 0; i < 3; i++) {
		if (strcmp(a, modes[i]) == 0) {
			k->pods = (enum k8s_pods)i;
			return 0;
		}
	}
	return sx_cf_err(
	        cf, "wrong value for pods: %s,  must be one of: disabled, verified, insecure", a);
}

static int
set_ttl(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;
	const char *a = sx_cf_arg(cf, 1);
	char *end;
	long v;

	errno = 0;
	v = strtol(a, &end, 10);
	if (errno != 0 || end == a || *end != '\0') {
		return sx_cf_err(cf, "ttl must be an integer: '%s'", a);
	}
	if (v < 0 || v > 3600) {
		return sx_cf_err(cf, "ttl must be in range [0, 3600]: %ld", v);
	}
	k->ttl = (unsigned)v;
	k->ttl_set = true;
	return 0;
}

static int
set_ignore(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;

	if (strcmp(sx_cf_arg(cf, 1), "empty_service") != 0) {
		return sx_cf_err(cf, "unable to parse ignore value: '%s'", sx_cf_arg(cf, 1));
	}
	k->ignore_empty = true;
	return 0;
}

static int
set_startup_timeout(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;

	k->startup_set = true;
	return sx_set_duration(cf, d, inst);
}

/* `apiserver_qps QPS`: requests per second, a decimal number as client-go's float. */
static int
set_qps(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct k8s *k = inst;
	const char *a = sx_cf_arg(cf, 1);
	char *end;
	double v;

	errno = 0;
	v = strtod(a, &end);
	if (errno != 0 || end == a || *end != '\0' || !(v >= 0 && v <= 1e6)) {
		return sx_cf_err(cf, "apiserver_qps must be a number in range [0, 1000000]: '%s'",
		                 a);
	}
	k->qps = v;
	return 0;
}

static const struct sx_directive k8s_directives[] = {
	{ "endpoint", 1, -1, set_endpoint },
	{ "tls", 3, 3, set_tls },
	{ "kubeconfig", 1, 2, set_kubeconfig },
	{ "namespaces", 1, -1, set_namespaces, .repeat = true },
	{ "namespace_labels", 1, -1, set_selector, SX_FIELD(struct k8s, namespace_labels, char *) },
	{ "labels", 1, -1, set_selector, SX_FIELD(struct k8s, labels, char *) },
	{ "pods", 1, 1, set_pods },
	SX_DIR_FLAG("endpoint_pod_names", struct k8s, endpoint_pod_names),
	{ "ttl", 1, 1, set_ttl },
	SX_DIR_FLAG("noendpoints", struct k8s, noendpoints),
	SX_DIR_ZONES("fallthrough", struct k8s, fall),
	{ "ignore", 1, 1, set_ignore },
	{ "manifests", 1, 1, set_manifests },
	{ "apiserver_qps", 1, 1, set_qps },
	SX_DIR_UINT("apiserver_burst", struct k8s, burst, 0, 1000000),
	SX_DIR_UINT("apiserver_max_inflight", struct k8s, max_inflight, 0, 1000000),
	{ "startup_timeout", 1, 1, set_startup_timeout,
	  SX_FIELD(struct k8s, startup_ms, uint64_t) },
	{ NULL },
};

static bool
reverse_zone(const struct sx_zone *z)
{
	static const uint8_t in_addr[] = "\007in-addr\004arpa";
	static const uint8_t ip6[] = "\003ip6\004arpa";

	return sx_dname_is_sub(z->wire, in_addr) || sx_dname_is_sub(z->wire, ip6);
}

static int
k8s_setup(struct sx_cf *cf, void *inst)
{
	struct k8s *k = inst;
	int r;

	r = sx_cf_zones(cf, 1, sx_cf_block_zones(cf), NULL, &k->zones);
	if (r < 0) {
		return r;
	}
	for (k->primary = 0; k->primary < k->zones.n; k->primary++) {
		if (!reverse_zone(&k->zones.z[k->primary])) {
			break;
		}
	}
	if (k->primary == k->zones.n) {
		return sx_cf_err(cf, "non-reverse zone name must be used");
	}
	if (k->nnamespaces > 0 && k->namespace_labels != NULL) {
		return sx_cf_err(cf, "namespaces and namespace_labels cannot both be set");
	}
	if (!k->ttl_set) {
		k->ttl = DEFAULT_TTL;
	}
	if (!k->startup_set) {
		k->startup_ms = DEFAULT_STARTUP_MS;
	}
	if (k->qps > 0 || k->burst > 0) {
		k->qps = k->qps > 0 ? k->qps : DEFAULT_QPS;
		k->burst = k->burst > 0 ? k->burst : DEFAULT_BURST;
	}
	/* Only autopath needs pods by address: the watch and index cost nothing without it. */
	k->autopath = sx_cf_block_has(cf, "autopath", "@kubernetes");
	return k->autopath ? k8s_search_init(k) : 0;
}

/* This host's addresses, skipping loopback and IPv6 link-local: ns.dns.<zone>'s records. */
static void
local_addrs(struct k8s *k)
{
	struct ifaddrs *ifa, *i;

	k->nlocal = 0;
	if (getifaddrs(&ifa) < 0) {
		return;
	}
	for (i = ifa; i != NULL && k->nlocal < sizeof(k->local) / sizeof(k->local[0]);
	     i = i->ifa_next) {
		struct k8s_ip *ip = &k->local[k->nlocal];

		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK)) {
			continue;
		}
		memset(ip, 0, sizeof(*ip));
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)i->ifa_addr;
			ip->fam = 4;
			memcpy(ip->a, &sin->sin_addr, 4);
			if (ip->a[0] == 127) {
				continue;
			}
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)i->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
			    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
				continue;
			}
			ip->fam = 6;
			memcpy(ip->a, &sin6->sin6_addr, 16);
		} else {
			continue;
		}
		k->nlocal++;
	}
	freeifaddrs(ifa);
}

static int
k8s_start(void *inst, struct sx_runtime *rt)
{
	struct k8s *k = inst;
	struct k8s_store_opts so = {
		.endpoint_pod_names = k->endpoint_pod_names,
		.namespaces = k->namespaces,
		.nnamespaces = k->nnamespaces,
	};
	struct k8s_source_conf sc = {
		.endpoint = k->endpoint,
		.tls_cert = k->tls_cert,
		.tls_key = k->tls_key,
		.tls_ca = k->tls_ca,
		.kubeconfig = k->kubeconfig,
		.context = k->context,
		.manifests = k->manifests,
		.labels = k->labels,
		.namespace_labels = k->namespace_labels,
		.rest_stats = &k->rest,
		.qps = k->qps,
		.burst = k->burst,
		.max_inflight = k->max_inflight,
	};
	char err[512];
	int r;

	so.need[K8S_SERVICE] = so.need[K8S_NAMESPACE] = true;
	so.need[K8S_SLICE] = !k->noendpoints;
	so.pod_objects = k->pods == K8S_PODS_VERIFIED;
	so.pod_index = k->autopath;
	so.need[K8S_POD] = so.pod_objects || so.pod_index;
	memcpy(sc.watch, so.need, sizeof(sc.watch));
	local_addrs(k);
	r = k8s_store_new(&k->st, &so);
	if (r < 0) {
		return r;
	}
	err[0] = '\0';
	r = k8s_source_start(&k->src, &sc, k->st, err, sizeof(err));
	if (r < 0) {
		sx_plog(SX_LOG_ERROR, "kubernetes", "%s", err[0] ? err : sx_strerror(r));
		return r;
	}
	/* As CoreDNS, wait for the first sync before serving; after the timeout it goes on. */
	sx_rt_hold_serving(rt, "kubernetes", k->startup_ms,
	                   "waiting for Kubernetes API before starting server",
	                   "starting server with unsynced Kubernetes API");
	return 0;
}

static enum sx_verdict
k8s_handle(struct sx_req *req, void *inst)
{
	return k8s_serve(req, inst);
}

static bool
k8s_ready(void *inst, char *why, size_t cap)
{
	const struct k8s *k = inst;

	if (k8s_store_synced(k->st)) {
		return true;
	}
	k8s_source_why(k->src, why, cap);
	return false;
}

/* The API client metrics of @insts[@first] and the later instances talking to its host, summed. */
static void
collect_host(struct sx_metrics *m, void *const *insts, size_t ninsts, size_t first)
{
	const struct k8s *k = insts[first];
	uint64_t lat[K8S_REST_BUCKETS + 1] = { 0 }, total = 0;
	char l[600], host[512], cs[16];
	double sum = 0;

	sx_metrics_escape(k->rest.host, host, sizeof(host));
	for (unsigned c = 0; c < k->rest.ncodes; c++) {
		int code = k->rest.codes[c].code;
		uint64_t n = 0;

		for (size_t ji = first; ji < ninsts; ji++) {
			const struct k8s *j = insts[ji];

			for (unsigned i = 0;
			     !strcmp(j->rest.host, k->rest.host) && i < j->rest.ncodes; i++) {
				n += j->rest.codes[i].code == code ? j->rest.codes[i].n : 0;
			}
		}
		snprintf(cs, sizeof(cs), "%d", code);
		snprintf(l, sizeof(l), "code=\"%s\",method=\"GET\",host=\"%s\"",
		         code ? cs : "<error>", host);
		sx_metrics_add(
		        m, "coredns_kubernetes_rest_client_requests_total", SX_METRIC_COUNTER,
		        "Number of HTTP requests, partitioned by status code, method, and host.", l,
		        (double)n);
	}
	for (size_t ji = first; ji < ninsts; ji++) {
		const struct k8s *j = insts[ji];

		if (strcmp(j->rest.host, k->rest.host) != 0) {
			continue;
		}
		for (unsigned b = 0; b <= K8S_REST_BUCKETS; b++) {
			lat[b] += j->rest.lat[b];
			total += j->rest.lat[b];
		}
		sum += j->rest.lat_sum;
	}
	if (total > 0) {
		snprintf(l, sizeof(l), "verb=\"GET\",host=\"%s\"", host);
		sx_metrics_histogram(m, "coredns_kubernetes_rest_client_request_duration_seconds",
		                     "Request latency in seconds. Broken down by verb and host.", l,
		                     k8s_rest_bounds, lat, K8S_REST_BUCKETS, lat[K8S_REST_BUCKETS],
		                     sum);
	}
}

/* CoreDNS's kubernetes metrics have no per-instance label: summed over every instance. */
static void
k8s_collect(void *const *insts, size_t n, struct sx_metrics *m)
{
	double bounds[K8S_PROG_BUCKETS];
	uint64_t prog[K8S_PROG_BUCKETS + 1] = { 0 }, total = 0;
	double sum = 0;

	for (unsigned b = 0; b < K8S_PROG_BUCKETS; b++) {
		bounds[b] = 0.001 * (double)(1u << b);
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s *k = insts[i];

		for (unsigned b = 0; k->st != NULL && b <= K8S_PROG_BUCKETS; b++) {
			prog[b] += k->st->prog[b];
			total += k->st->prog[b];
		}
		sum += k->st != NULL ? k->st->prog_sum : 0;
	}
	/* CoreDNS observes only headless services with a selector (the SLI's definition). */
	if (total > 0) {
		sx_metrics_histogram(m, "coredns_kubernetes_dns_programming_duration_seconds",
		                     "Histogram of the time (in seconds) it took to program a dns "
		                     "instance.",
		                     "service_kind=\"headless_with_selector\"", bounds, prog,
		                     K8S_PROG_BUCKETS, prog[K8S_PROG_BUCKETS], sum);
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s *k = insts[i];
		size_t j = 0;

		/* Each host once: at the first instance that talks to it. */
		while (j < i && strcmp(((const struct k8s *)insts[j])->rest.host, k->rest.host)) {
			j++;
		}
		if (j == i && k->rest.host[0] != '\0') {
			collect_host(m, insts, n, i);
		}
	}
}

static void
k8s_teardown(void *inst)
{
	struct k8s *k = inst;

	if (k->src != NULL) {
		k8s_source_free(k->src);
	}
	k8s_store_free(k->st);
	k8s_search_fini(k);
	sx_zones_fini(&k->zones);
	sx_zones_fini(&k->fall);
	free(k->endpoint);
	free(k->tls_cert);
	free(k->tls_key);
	free(k->tls_ca);
	free(k->kubeconfig);
	free(k->context);
	free(k->manifests);
	free(k->labels);
	free(k->namespace_labels);
	for (size_t i = 0; i < k->nnamespaces; i++) {
		free(k->namespaces[i]);
	}
	free(k->namespaces);
}

const struct sx_plugin sx_plugin_kubernetes = {
	.name = "kubernetes",
	.inst_size = sizeof(struct k8s),
	.directives = k8s_directives,
	.init = k8s_api_global_init,
	.fini = k8s_api_global_cleanup,
	.setup = k8s_setup,
	.start = k8s_start,
	.handle = k8s_handle,
	.metadata = k8s_metadata,
	.search_path = k8s_search_path,
	.ready = k8s_ready,
	.collect_all = k8s_collect,
	.teardown = k8s_teardown,
};
