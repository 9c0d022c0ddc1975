/* test_prometheus_tls.c -- /metrics over HTTPS (`tls CERT KEY [CA]`) through the real binary. */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* A throw-away CA, server (SAN 127.0.0.1) and client certificate in DIR/certs. */
static void
gen_certs(struct sx_test_server *s)
{
	const char *root = getenv("SX_SOURCE_ROOT");
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "sh '%s/tests/fakeapi/gen-certs.sh' '%s/certs' >/dev/null 2>&1",
	         root ? root : ".", sx_test_dir(s));
	cr_assert_eq(system(cmd), 0, "gen-certs.sh failed: %s", cmd);
}

/*
 * `curl ARGS URL` with the test's CA; *@out gets what it printed (body, then
 * errors). @return curl's exit code: 0 when a reply came over a good TLS session.
 */
static int
curl(struct sx_test_server *s, const char *scheme, const char *args, char **out)
{
	uint16_t port = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");
	char cmd[2048], buf[4096];
	size_t len = 0, n;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd),
	         "curl -sS -m 5 --cacert '%s/certs/ca.crt' %s %s://127.0.0.1:%u/metrics 2>&1",
	         sx_test_dir(s), args, scheme, port);
	f = popen(cmd, "r");
	cr_assert(f, "popen %s", cmd);
	*out = calloc(1, 1);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		*out = realloc(*out, len + n + 1);
		cr_assert(*out);
		memcpy(*out + len, buf, n);
		len += n;
		(*out)[len] = 0;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(prometheus_tls, serves_metrics_over_https_only)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;

	gen_certs(s);
	s = sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0 {\n"
	                     "\t\ttls certs/server.crt %DIR%/certs/server.key\n\t}\n\twhoami\n}\n");
	cr_assert_eq(curl(s, "https", "", &out), 0, "%s", out);
	cr_assert(strstr(out, "coredns_build_info{"), "%s", out);
	free(out);
	cr_assert_neq(curl(s, "http", "", &out), 0, "plain HTTP was answered: %s", out);
	cr_assert(!strstr(out, "coredns_"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(prometheus_tls, a_ca_requires_a_client_certificate_it_signed)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out, args[1024];

	gen_certs(s);
	s = sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0 {\n"
	                     "\t\ttls certs/server.crt certs/server.key certs/ca.crt\n\t}\n"
	                     "\twhoami\n}\n");
	cr_assert_neq(curl(s, "https", "", &out), 0, "answered without a client cert: %s", out);
	cr_assert(!strstr(out, "coredns_"), "%s", out);
	free(out);
	snprintf(args, sizeof(args), "--cert '%s/certs/client.crt' --key '%s/certs/client.key'",
	         sx_test_dir(s), sx_test_dir(s));
	cr_assert_eq(curl(s, "https", args, &out), 0, "%s", out);
	cr_assert(strstr(out, "coredns_build_info{"), "%s", out);
	free(out);
	sx_test_stop(s);
}

/* A reload serves the new configuration's tls on the address the old one kept open. */
Test(prometheus_tls, a_reload_applies_new_tls_settings)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;

	gen_certs(s);
	s = sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0 {\n"
	                     "\t\ttls certs/server.crt certs/server.key certs/ca.crt\n\t}\n"
	                     "\twhoami\n}\n");
	cr_assert_neq(curl(s, "https", "", &out), 0, "answered without a client cert: %s", out);
	free(out);
	sx_test_write(s, "Corefile",
	              ". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0 {\n"
	              "\t\ttls certs/server.crt certs/server.key\n\t}\n\twhoami\n}\n");
	kill(sx_test_pid(s), SIGUSR1);
	cr_assert(sx_test_wait_log(s, "Reload completed", 10000), "%s", sx_test_log(s));
	cr_assert_eq(curl(s, "https", "", &out), 0, "%s", out);
	cr_assert(strstr(out, "coredns_build_info{"), "%s", out);
	free(out);
	sx_test_stop(s);
}

/* `sextant -check` on @corefile, written in @s's directory; *@out gets its output. */
static int
check(struct sx_test_server *s, const char *corefile, char **out)
{
	int st;

	sx_test_write(s, "Corefile", corefile);
	st = sx_test_run(out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_assert(WIFEXITED(st), "%s", *out);
	return WEXITSTATUS(st);
}

Test(prometheus_tls, check_reports_bad_files_and_conflicts_at_their_line)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;

	gen_certs(s);
	cr_assert_eq(check(s,
	                   ". {\n\tprometheus 127.0.0.1:0 {\n"
	                   "\t\ttls certs/missing.crt certs/server.key\n\t}\n}\n",
	                   &out),
	             1, "%s", out);
	cr_assert(strstr(out, "Corefile:3: plugin/prometheus: tls: cannot load certificate "), "%s",
	          out);
	cr_assert(strstr(out, "missing.crt"), "%s", out);
	free(out);
	cr_assert_eq(check(s,
	                   ". {\n\tprometheus 127.0.0.1:0 {\n"
	                   "\t\ttls certs/server.crt certs/client.key\n\t}\n}\n",
	                   &out),
	             1, "%s", out);
	cr_assert(strstr(out, "Corefile:3: plugin/prometheus: tls: cannot load key "), "%s", out);
	cr_assert(strstr(out, "key values mismatch"), "%s", out);
	free(out);
	/* One address is one listener: every block naming it must agree on tls. */
	cr_assert_eq(check(s,
	                   ". {\n\tprometheus 127.0.0.1:9153 {\n"
	                   "\t\ttls certs/server.crt certs/server.key\n\t}\n}\n"
	                   "example.org {\n\tprometheus 127.0.0.1:9153\n}\n",
	                   &out),
	             1, "%s", out);
	cr_assert(strstr(out,
	                 "Corefile:7: plugin/prometheus: address 127.0.0.1:9153 is served once: "
	                 "its tls differs from "),
	          "%s", out);
	free(out);
	cr_assert_eq(check(s,
	                   ". {\n\tprometheus 127.0.0.1:9153 {\n"
	                   "\t\ttls certs/server.crt certs/server.key\n\t}\n}\n"
	                   "example.org {\n\tprometheus 127.0.0.1:9153 {\n"
	                   "\t\ttls certs/server.crt certs/server.key\n\t}\n}\n",
	                   &out),
	             0, "the same settings twice: %s", out);
	free(out);
	sx_test_stop(s);
}
