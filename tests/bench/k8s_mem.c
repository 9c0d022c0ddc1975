/* k8s_mem.c -- memory the kubernetes plugin keeps per service, endpoint and pod, and in total. */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <urcu.h>

#include "../../plugins/kubernetes/zone.h"
#include "process.h"

/*
 * Two measures.
 *
 * 1. In this process: N services (one in ten headless) in N/50 namespaces,
 *    one EndpointSlice of 3 ready endpoints per service, 3N pods (`pods
 *    verified`), applied to a store one object at a time as the API watch
 *    does. The heap in use (mallinfo2, after the deferred frees ran) and the
 *    resident size are read after each kind: bytes per service, per endpoint
 *    (slices included) and per pod.
 *
 * 2. The real server ($SEXTANT_BIN, 2 workers as on the n1-standard-2 of
 *    CoreDNS's figures) fed by tests/fakeapi with the clusters behind those
 *    figures (coredns/deployment Scaling_CoreDNS.md: 820 services and 15000
 *    pods, 3280 / 60000, 8200 / 150000; every pod an endpoint of a service):
 *    its resident size once synced, against CoreDNS's measured maxima and the
 *    budget of one eighth of CoreDNS's formula (pods + services) / 1000 + 54 MB.
 */

#define EPS 3 /* ready endpoints per service, part 1 */

static size_t
heap(void)
{
	struct mallinfo2 mi;

	rcu_barrier(); /* the views replaced while slices came in are freed by call_rcu */
	mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static size_t
rss_self(void)
{
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%*d %ld", &pages) != 1) {
			pages = 0;
		}
		fclose(f);
	}
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void
apply(struct k8s_store *st, enum k8s_kind kind, json_t *o)
{
	char err[256], *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text == NULL ||
	    k8s_store_apply(st, kind, K8S_ADDED, text, strlen(text), err, sizeof(err)) < 0) {
		fprintf(stderr, "k8s_mem: cannot apply an object: %s\n",
		        text ? err : "out of memory");
		exit(1);
	}
	free(text);
	json_decref(o);
}

static json_t *
meta(const char *ns, const char *name)
{
	return ns ? json_pack("{s:s,s:s}", "name", name, "namespace", ns)
	          : json_pack("{s:s}", "name", name);
}

static void
load(struct k8s_store *st, unsigned n, size_t h[4], size_t r[4])
{
	char ns[32], name[64], ip[32], pod[64];

	h[0] = heap();
	r[0] = rss_self();
	for (unsigned i = 0; i <= n / 50; i++) {
		snprintf(ns, sizeof(ns), "team-%u", i);
		apply(st, K8S_NAMESPACE, json_pack("{s:o}", "metadata", meta(NULL, ns)));
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(ns, sizeof(ns), "team-%u", i / 50);
		snprintf(name, sizeof(name), "service-%u", i);
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", 96 + (i >> 16), (i >> 8) & 255, i & 255);
		apply(st, K8S_SERVICE,
		      json_pack("{s:o,s:{s:s,s:[{s:s,s:i,s:s},{s:s,s:i,s:s}]}}", "metadata",
		                meta(ns, name), "spec", "clusterIP", i % 10 == 9 ? "None" : ip,
		                "ports", "name", "http", "port", 80, "protocol", "TCP", "name",
		                "metrics", "port", 9090, "protocol", "TCP"));
	}
	h[1] = heap();
	r[1] = rss_self();
	for (unsigned i = 0; i < n; i++) {
		json_t *eps = json_array();

		snprintf(ns, sizeof(ns), "team-%u", i / 50);
		snprintf(name, sizeof(name), "service-%u-x7k2p", i);
		for (unsigned e = 0; e < EPS; e++) {
			unsigned a = i * EPS + e;
			snprintf(ip, sizeof(ip), "10.%u.%u.%u", 128 + (a >> 16), (a >> 8) & 255,
			         a & 255);
			snprintf(pod, sizeof(pod), "service-%u-5f7c8d9b4-%05u", i, e);
			json_array_append_new(eps,
			                      json_pack("{s:[s],s:{s:b},s:{s:s,s:s}}", "addresses",
			                                ip, "conditions", "ready", 1, "targetRef",
			                                "kind", "Pod", "name", pod));
		}
		snprintf(pod, sizeof(pod), "service-%u", i);
		apply(st, K8S_SLICE,
		      json_pack("{s:{s:s,s:s,s:{s:s}},s:s,s:o,s:[{s:s,s:i,s:s}]}", "metadata",
		                "name", name, "namespace", ns, "labels",
		                "kubernetes.io/service-name", pod, "addressType", "IPv4",
		                "endpoints", eps, "ports", "name", "http", "port", 8080, "protocol",
		                "TCP"));
	}
	h[2] = heap();
	r[2] = rss_self();
	for (unsigned i = 0; i < n; i++) {
		snprintf(ns, sizeof(ns), "team-%u", i / 50);
		for (unsigned e = 0; e < EPS; e++) {
			unsigned a = i * EPS + e;
			snprintf(ip, sizeof(ip), "10.%u.%u.%u", 128 + (a >> 16), (a >> 8) & 255,
			         a & 255);
			snprintf(pod, sizeof(pod), "service-%u-5f7c8d9b4-%05u", i, e);
			apply(st, K8S_POD,
			      json_pack("{s:o,s:{s:s,s:s}}", "metadata", meta(ns, pod), "status",
			                "phase", "Running", "podIP", ip));
		}
	}
	h[3] = heap();
	r[3] = rss_self();
}

struct per {
	double svc, ep, pod;
};

static struct per
in_process(unsigned n, double *secs)
{
	struct k8s_store_opts o = { .need = { true, true, true, true } };
	struct k8s_store *st;
	size_t h[4], r[4];
	struct timespec t0, t1;
	struct per p;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (k8s_store_new(&st, &o) < 0) {
		exit(1);
	}
	load(st, n, h, r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p.svc = (double)(h[1] - h[0]) / n;
	p.ep = (double)(h[2] - h[1]) / (n * EPS);
	p.pod = (double)(h[3] - h[2]) / (n * EPS);
	*secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%7u services, %7u endpoints, %7u pods: heap %6.1f MB, RSS +%6.1f MB (%.1f s)\n", n,
	       n * EPS, n * EPS, (double)(h[3] - h[0]) / 1e6, (double)(r[3] - r[0]) / 1e6, *secs);
	printf("         bytes per service %6.0f (RSS %6.0f), per endpoint %5.0f (RSS %5.0f), "
	       "per pod %5.0f (RSS %5.0f)\n",
	       p.svc, (double)(r[1] - r[0]) / n, p.ep, (double)(r[2] - r[1]) / (n * EPS), p.pod,
	       (double)(r[3] - r[2]) / (n * EPS));
	k8s_store_free(st);
	return p;
}

/* ---- part 2: the real server ---- */

static pid_t
spawn(const char *const *argv, const char *log)
{
	/* Emptied before the child runs: the last run's "synced" must not be read as this one's. */
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid = fork();

	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd);
	return pid;
}

static bool
file_has(const char *path, const char *needle, int timeout_ms)
{
	static char buf[1 << 16];

	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f) {
			fclose(f);
		}
		buf[n] = '\0';
		if (strstr(buf, needle)) {
			return true;
		}
		usleep(50 * 1000);
	}
	return false;
}

/* VmRSS, RssAnon (private: the libraries' pages left out) and VmHWM of @pid, in bytes. */
static void
vm(pid_t pid, size_t *rss, size_t *anon, size_t *hwm)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	*rss = *anon = *hwm = 0;
	if ((f = fopen(path, "r")) == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long kb;
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1) {
			*rss = kb * 1024;
		} else if (sscanf(line, "RssAnon: %lu kB", &kb) == 1) {
			*anon = kb * 1024;
		} else if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) {
			*hwm = kb * 1024;
		}
	}
	fclose(f);
}

/* A cluster of @nsvc services and @npods pods, every pod a ready endpoint of one service. */
static void
write_cluster(const char *path, unsigned nsvc, unsigned npods)
{
	FILE *f = fopen(path, "w");
	unsigned nns = nsvc / 20 + 1;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(f, "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[");
	for (unsigned i = 0; i < nns; i++) {
		fprintf(f,
		        "%s{\"kind\":\"Namespace\",\"apiVersion\":\"v1\","
		        "\"metadata\":{\"name\":\"team-%u\"}}",
		        i ? "," : "", i);
	}
	for (unsigned i = 0; i < nsvc; i++) {
		fprintf(f,
		        ",{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
		        "\"service-%u\",\"namespace\":\"team-%u\"},\"spec\":{\"clusterIP\":",
		        i, i % nns);
		if (i % 10 == 9) {
			fprintf(f, "\"None\"");
		} else {
			fprintf(f, "\"10.%u.%u.%u\"", 96 + (i >> 16), (i >> 8) & 255, i & 255);
		}
		fprintf(f, ",\"ports\":[{\"name\":\"http\",\"port\":80},"
		           "{\"name\":\"metrics\",\"port\":9090}]}}");
	}
	/* Pods spread round-robin over the services; slices of at most 100 endpoints. */
	for (unsigned i = 0; i < nsvc; i++) {
		unsigned mine = npods / nsvc + (i < npods % nsvc);
		for (unsigned s = 0; s * 100 < mine; s++) {
			fprintf(f,
			        ",{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","
			        "\"metadata\":{\"name\":\"service-%u-%u\",\"namespace\":\"team-%u\","
			        "\"labels\":{\"kubernetes.io/service-name\":\"service-%u\"}},"
			        "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080}],"
			        "\"endpoints\":[",
			        i, s, i % nns, i);
			for (unsigned e = s * 100; e < mine && e < (s + 1) * 100; e++) {
				unsigned a = e * nsvc + i;
				fprintf(f,
				        "%s{\"addresses\":[\"10.%u.%u.%u\"],\"conditions\":{\"ready\":true},"
				        "\"nodeName\":\"node-%u\",\"targetRef\":{\"kind\":\"Pod\",\"name\":"
				        "\"service-%u-5f7c8d9b4-%05u\"}}",
				        e > s * 100 ? "," : "", 128 + (a >> 16), (a >> 8) & 255,
				        a & 255, a % 500, i, e);
			}
			fprintf(f, "]}");
		}
	}
	fprintf(f, "]}\n");
	fclose(f);
}

/* Resident size of the synced server for the cluster (0, 0 for an empty one). */
static bool
server_rss(const char *tmp, unsigned nsvc, unsigned npods, size_t *rss, size_t *anon, size_t *hwm)
{
	const char *bin = getenv("SEXTANT_BIN"), *root = getenv("SX_SOURCE_ROOT");
	char cluster[600], portfile[600], fakelog[600], conf[600], log[600], script[600], url[64];
	char text[1024];
	int port = 0;
	pid_t fake, srv;
	FILE *f;
	bool ok;

	snprintf(cluster, sizeof(cluster), "%s/cluster.json", tmp);
	snprintf(portfile, sizeof(portfile), "%s/port", tmp);
	snprintf(fakelog, sizeof(fakelog), "%s/fakeapi.log", tmp);
	snprintf(conf, sizeof(conf), "%s/Corefile", tmp);
	snprintf(log, sizeof(log), "%s/sextant.log", tmp);
	snprintf(script, sizeof(script), "%s/tests/fakeapi/fakeapi.py", root);
	write_cluster(cluster, nsvc, npods);
	unlink(portfile);
	const char *fargv[] = {
		"/usr/bin/python3", script,  "--port-file", portfile, "--bookmark-interval", "0",
		"--load",           cluster, NULL
	};
	fake = spawn(fargv, fakelog);
	for (int i = 0; i < 1200 && port == 0; i++) {
		if ((f = fopen(portfile, "r")) != NULL) {
			if (fscanf(f, "%d", &port) != 1) {
				port = 0;
			}
			fclose(f);
		}
		if (port == 0) {
			usleep(50 * 1000);
		}
	}
	if (port == 0) {
		fprintf(stderr, "k8s_mem: fakeapi did not start (see %s)\n", fakelog);
		kill(fake, SIGKILL);
		waitpid(fake, NULL, 0);
		return false;
	}
	/* kubeadm's Corefile, on loopback only. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	snprintf(text, sizeof(text),
	         ".:0 {\n"
	         "\tbind 127.0.0.1\n"
	         "\terrors\n"
	         "\thealth 127.0.0.1:0\n"
	         "\tready 127.0.0.1:0\n"
	         "\tkubernetes cluster.local in-addr.arpa ip6.arpa {\n"
	         "\t\tendpoint %s\n"
	         "\t\tpods insecure\n"
	         "\t\tfallthrough in-addr.arpa ip6.arpa\n"
	         "\t\tttl 30\n"
	         "\t}\n"
	         "\tprometheus 127.0.0.1:0\n"
	         "\tforward . 127.0.0.1:9\n"
	         "\tcache 30\n"
	         "\treload\n"
	         "\tloadbalance\n"
	         "}\n",
	         url);
	if ((f = fopen(conf, "w")) == NULL) {
		return false;
	}
	fputs(text, f);
	fclose(f);
	const char *sargv[] = { bin, "-conf", conf, "-dns.port", "0", "-workers", "2", NULL };
	srv = spawn(sargv, log);
	ok = file_has(log, "plugin/kubernetes: synced", 120000);
	if (ok) {
		usleep(500 * 1000);
		vm(srv, rss, anon, hwm);
	} else {
		fprintf(stderr, "k8s_mem: the server did not sync (see %s)\n", log);
	}
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	return ok;
}

static void
real_server(const struct per *p)
{
	static const struct {
		unsigned svc, pods, coredns_mb;
	} points[] = { { 820, 15000, 31 }, { 3280, 60000, 76 }, { 8200, 150000, 154 } };
	char tmp[] = "/tmp/k8s_mem.XXXXXX";
	size_t idle, idle_anon, idle_hwm, rss, anon, hwm;

	if (!getenv("SEXTANT_BIN") || !getenv("SX_SOURCE_ROOT") || mkdtemp(tmp) == NULL) {
		printf("\n(no SEXTANT_BIN / SX_SOURCE_ROOT: the server was not measured)\n");
		return;
	}
	if (!server_rss(tmp, 0, 0, &idle, &idle_anon, &idle_hwm)) {
		return;
	}
	printf("\nThe server (2 workers, kubeadm's Corefile, API from tests/fakeapi), once synced:\n");
	printf("  empty cluster: resident %.1f MB, of it private %.1f MB (the rest: library pages)\n",
	       (double)idle / 1e6, (double)idle_anon / 1e6);
	printf("  %-22s %8s %8s %8s %8s | %8s %8s %8s\n", "services + pods", "estimate", "resident",
	       "private", "peak", "CoreDNS", "formula", "budget");
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		unsigned s = points[i].svc, n = points[i].pods;
		/* CoreDNS's formula counts its 30 MB cache and 5 MB buffer; its data points do not. */
		double formula = (double)(s + n) / 1000 + 54;
		double est = (double)idle / 1e6 + (s * p->svc + n * p->ep) / 1e6;

		if (!server_rss(tmp, s, n, &rss, &anon, &hwm)) {
			return;
		}
		printf("  %4u + %6u = %6u %5.1f MB %5.1f MB %5.1f MB %5.1f MB | %3u+35 MB %5.1f MB "
		       "%5.1f MB %s\n",
		       s, n, s + n, est, (double)rss / 1e6, (double)anon / 1e6, (double)hwm / 1e6,
		       points[i].coredns_mb, formula, formula / 8,
		       (double)rss / 1e6 <= formula / 8 ? "within" : "OVER");
	}
	printf("  estimate: empty server + services x bytes/service + pods x bytes/endpoint "
	       "(largest N above)\n"
	       "  CoreDNS: its measured maximum, without its 30 MB cache and 5 MB buffer "
	       "(Scaling_CoreDNS.md);\n"
	       "  budget: one eighth of its formula (pods + services) / 1000 + 54 MB; "
	       "within/OVER compares the resident size\n");
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0) {
		fprintf(stderr, "k8s_mem: could not remove %s\n", tmp);
	}
}

int
main(void)
{
	static const unsigned sizes[] = { 1000, 10000, 100000 };
	struct per p = { 0 };
	char err[256];

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The heap set up as the server's, so that the figures are its. */
	if (sx_process_init(sx_plugins, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rcu_register_thread();
	printf("kubernetes store, in process (%u ready endpoints and %u pods per service, "
	       "1 in 10 headless):\n",
	       EPS, EPS);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double secs;
		p = in_process(sizes[i], &secs);
		if (i + 1 < sizeof(sizes) / sizeof(sizes[0]) && secs * 10 > 60) {
			printf("(%u would take over a minute on this machine: stopped here)\n",
			       sizes[i + 1]);
			break;
		}
	}
	real_server(&p);
	rcu_unregister_thread();
	sx_process_fini(sx_plugins);
	return 0;
}
