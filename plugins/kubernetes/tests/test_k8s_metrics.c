/* test_k8s_metrics.c -- the kubernetes plugin's metrics on /metrics, through the binary. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#include "../objects.h"

#define PROG     "coredns_kubernetes_dns_programming_duration_seconds"
#define HEADLESS "service_kind=\"headless_with_selector\""

/* RFC 3339 time @ago seconds before now, with nanoseconds, as the endpoints controller writes. */
static void
rfc3339_ago(char out[64], double ago)
{
	struct timespec ts;
	struct tm tm;
	time_t secs;
	long ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	secs = ts.tv_sec - (time_t)ago;
	ns = ts.tv_nsec - (long)((ago - (double)(time_t)ago) * 1e9); /* ago >= 0: no libm */
	if (ns < 0) {
		ns += 1000000000;
		secs--;
	}
	gmtime_r(&secs, &tm);
	strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 64 - strlen(out), ".%09ldZ", ns);
}

/* An EndpointSlice of @svc with one ready address, and the trigger time @when (or none). */
static void
slice(char *out, size_t cap, const char *name, const char *svc, const char *ip, const char *when)
{
	char ann[160] = "";

	if (when) {
		snprintf(ann, sizeof(ann),
		         ",\"annotations\":{\"endpoints.kubernetes.io/last-change-trigger-time\":"
		         "\"%s\"}",
		         when);
	}
	snprintf(out, cap,
	         "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","
	         "\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns1\",\"labels\":"
	         "{\"kubernetes.io/service-name\":\"%s\"}%s},\"addressType\":\"IPv4\","
	         "\"endpoints\":[{\"addresses\":[\"%s\"]}],\"ports\":[{\"port\":80}]}",
	         name, svc, ann, ip);
}

static const char services[] =
        "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":["
        "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"ns1\"}},"
        "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"hl\","
        "\"namespace\":\"ns1\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}},"
        "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"cip\","
        "\"namespace\":\"ns1\"},\"spec\":{\"clusterIP\":\"10.96.0.5\",\"ports\":[{\"port\":80}]}}"
        "]}";

/* The value of the sample line starting with @series (name and labels), or -1. */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			return strtod(p + n + 1, NULL);
		}
	}
	return -1;
}

static char *
scrape(struct sx_test_server *s)
{
	long status = 0;
	char *text = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                              "/metrics", &status);

	cr_assert_eq(status, 200, "scrape: %ld", status);
	return text;
}

Test(k8s_metrics, time_parse)
{
	double t;

	cr_assert(k8s_time_parse("2024-05-01T10:00:00Z", &t));
	cr_expect_eq(t, 1714557600.0);
	cr_assert(k8s_time_parse("2024-05-01T12:00:00.25+02:00", &t));
	cr_expect_eq(t, 1714557600.25);
	cr_assert(k8s_time_parse("2024-05-01t09:30:00-00:30", &t));
	cr_expect_eq(t, 1714557600.0);
	cr_expect_not(k8s_time_parse("2024-05-01T10:00:00", &t));
	cr_expect_not(k8s_time_parse("2024-13-01T10:00:00Z", &t));
	cr_expect_not(k8s_time_parse("2024-05-01 10:00:00Z", &t));
	cr_expect_not(k8s_time_parse("2024-05-01T10:00:00.Z", &t));
	cr_expect_not(k8s_time_parse("2024-05-01T10:00:00+0200", &t));
	cr_expect_not(k8s_time_parse("yesterday", &t));
}

Test(k8s_metrics, programming_duration)
{
	struct sx_test_server *s = sx_test_prepare();
	char path[1024], when[64], obj[1024];
	char *text;
	double n = -1;

	snprintf(path, sizeof(path), "%s/m", sx_test_dir(s));
	cr_assert_eq(mkdir(path, 0755), 0);
	sx_test_write(s, "m/services.json", services);
	/* Counted: a headless service's slice with the annotation. */
	rfc3339_ago(when, 2.5);
	slice(obj, sizeof(obj), "hl-1", "hl", "10.244.0.1", when);
	sx_test_write(s, "m/hl-1.json", obj);
	/* Not counted: no annotation, or a ClusterIP service (as CoreDNS). */
	slice(obj, sizeof(obj), "hl-2", "hl", "10.244.0.2", NULL);
	sx_test_write(s, "m/hl-2.json", obj);
	slice(obj, sizeof(obj), "cip-1", "cip", "10.244.0.3", when);
	sx_test_write(s, "m/cip-1.json", obj);
	sx_test_start(s, "cluster.local {\n"
	                 "\tbind 127.0.0.1\n"
	                 "\tprometheus 127.0.0.1:0\n"
	                 "\tkubernetes {\n"
	                 "\t\tmanifests m\n"
	                 "\t}\n"
	                 "}\n");
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000));
	text = scrape(s);
	cr_expect(strstr(text, "# TYPE " PROG " histogram\n"), "%s", text);
	cr_expect_eq(sample(text, PROG "_count{" HEADLESS "}"), 1, "%s", text);
	/* About 2.5 s: above 2.048, and below 16.384 however slow the start was. */
	cr_expect_eq(sample(text, PROG "_bucket{" HEADLESS ",le=\"2.048\"}"), 0, "%s", text);
	cr_expect_eq(sample(text, PROG "_bucket{" HEADLESS ",le=\"16.384\"}"), 1, "%s", text);
	cr_expect_eq(sample(text, PROG "_bucket{" HEADLESS ",le=\"+Inf\"}"), 1, "%s", text);
	cr_expect_geq(sample(text, PROG "_sum{" HEADLESS "}"), 2.5, "%s", text);
	free(text);

	/* A change of the slice counts again; the same data rewritten does not. */
	rfc3339_ago(when, 0.2);
	slice(obj, sizeof(obj), "hl-1", "hl", "10.244.0.9", when);
	sx_test_write(s, "m/hl-1.json", obj);
	for (int waited = 0; waited < 5000 && n != 2; waited += 100) {
		text = scrape(s);
		n = sample(text, PROG "_count{" HEADLESS "}");
		free(text);
		if (n != 2) {
			usleep(100 * 1000);
		}
	}
	cr_expect_eq(n, 2);
	sx_test_write(s, "m/services.json", services);
	usleep(1500 * 1000);
	text = scrape(s);
	cr_expect_eq(sample(text, PROG "_count{" HEADLESS "}"), 2, "%s", text);
	cr_expect_eq(sample(text, PROG "_bucket{" HEADLESS ",le=\"2.048\"}"), 1, "%s", text);
	cr_expect(strstr(text, "cluster_ip") == NULL);
	free(text);
	cr_expect_eq(sx_test_stop(s), 0);
}

/* ---- the API client's metrics, against tests/fakeapi ---- */

struct fake {
	pid_t pid;
	int port;
};

static struct fake
fake_start(const char *dir, const char *load)
{
	const char *root = getenv("SX_SOURCE_ROOT");
	char script[512], portfile[1024], errpath[1024];
	struct fake f = { 0 };

	cr_assert_not_null(root);
	snprintf(script, sizeof(script), "%s/tests/fakeapi/fakeapi.py", root);
	snprintf(portfile, sizeof(portfile), "%s/fake.port", dir);
	snprintf(errpath, sizeof(errpath), "%s/fake.log", dir);
	f.pid = fork();
	cr_assert_geq(f.pid, 0);
	if (f.pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		int err = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(null, 1);
		dup2(err, 2);
		execl("/usr/bin/python3", "python3", script, "--port-file", portfile,
		      "--bookmark-interval", "0", "--load", load, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 800 && f.port == 0; i++) {
		FILE *pf = fopen(portfile, "r");
		if (pf) {
			if (fscanf(pf, "%d", &f.port) != 1) {
				f.port = 0;
			}
			fclose(pf);
		}
		if (f.port == 0) {
			usleep(25 * 1000);
		}
	}
	cr_assert_neq(f.port, 0, "fakeapi did not start");
	return f;
}

static void
fake_stop(struct fake *f)
{
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
}

Test(k8s_metrics, rest_client)
{
	struct sx_test_server *s = sx_test_prepare();
	char load[1024], corefile[1024], series[256], *text;
	struct fake f;
	double n = -1;
	int dead;

	sx_test_write(s, "cluster.json", services);
	snprintf(load, sizeof(load), "%s/cluster.json", sx_test_dir(s));
	f = fake_start(sx_test_dir(s), load);
	/* A port nobody listens on: the second block's client only gets errors. */
	dead = f.port == 1 ? 2 : 1;
	snprintf(corefile, sizeof(corefile),
	         "cluster.local {\n"
	         "\tbind 127.0.0.1\n"
	         "\tprometheus 127.0.0.1:0\n"
	         "\tkubernetes {\n"
	         "\t\tendpoint http://127.0.0.1:%d\n"
	         "\t}\n"
	         "}\n"
	         "dead.local {\n"
	         "\tbind 127.0.0.1\n"
	         "\tkubernetes {\n"
	         "\t\tendpoint http://127.0.0.1:%d/\n"
	         "\t}\n"
	         "}\n",
	         f.port, dead);
	sx_test_start(s, corefile);
	cr_assert(sx_test_wait_log(s, "synced 2 services", 10000), "%s", sx_test_log(s));

	/* EndpointSlice discovery, three LISTs, three WATCHes: seven 200s once all are open. */
	snprintf(series, sizeof(series),
	         "coredns_kubernetes_rest_client_requests_total{code=\"200\",method=\"GET\","
	         "host=\"127.0.0.1:%d\"}",
	         f.port);
	for (int waited = 0; waited < 5000 && n < 7; waited += 100) {
		text = scrape(s);
		n = sample(text, series);
		free(text);
		if (n < 7) {
			usleep(100 * 1000);
		}
	}
	text = scrape(s);
	cr_expect_eq(n, 7, "%s", text);
	snprintf(series, sizeof(series),
	         "coredns_kubernetes_rest_client_request_duration_seconds_count{verb=\"GET\","
	         "host=\"127.0.0.1:%d\"}",
	         f.port);
	cr_expect_eq(sample(text, series), 4, "%s", text);
	snprintf(series, sizeof(series),
	         "coredns_kubernetes_rest_client_request_duration_seconds_bucket{verb=\"GET\","
	         "host=\"127.0.0.1:%d\",le=\"10\"}",
	         f.port);
	cr_expect_eq(sample(text, series), 4, "%s", text);
	snprintf(series, sizeof(series),
	         "coredns_kubernetes_rest_client_requests_total{code=\"<error>\",method=\"GET\","
	         "host=\"127.0.0.1:%d\"}",
	         dead);
	cr_expect_geq(sample(text, series), 1, "%s", text);
	/* Each family once, whatever the number of instances. */
	const char *type = strstr(text, "# TYPE coredns_kubernetes_rest_client_requests_total ");
	cr_assert_not_null(type);
	cr_expect_null(strstr(type + 1, "# TYPE coredns_kubernetes_rest_client_requests_total "));
	free(text);
	cr_expect_eq(sx_test_stop(s), 0);
	fake_stop(&f);
}
