/* test_prometheus_tls.c -- /metrics over HTTPS (`tls CONFIG`, a web-config file) through the real binary. */
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

/* The Corefile every test serves: its tls names certs/web.yml. */
#define COREFILE                                                                          \
	". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0 {\n\t\ttls certs/web.yml\n\t}\n" \
	"\twhoami\n}\n"

/* A web-config file requiring a client certificate that the test's CA signed. */
#define WEB_MTLS                                                                \
	"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n" \
	"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"

/* The smallest web-config file: the test's server certificate and key. */
#define CERT_KEY "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"

Test(prometheus_tls, serves_metrics_over_https_only)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out, web[1024];

	gen_certs(s);
	/* cert_file is relative to the file's directory; key_file is absolute. */
	snprintf(web, sizeof(web),
	         "tls_server_config:\n  cert_file: server.crt\n  key_file: %s/certs/server.key\n"
	         "  min_version: TLS12\n  max_version: TLS13\n",
	         sx_test_dir(s));
	sx_test_write(s, "certs/web.yml", web);
	s = sx_test_start(s, COREFILE);
	cr_assert_eq(curl(s, "https", "", &out), 0, "%s", out);
	cr_assert(strstr(out, "coredns_build_info{"), "%s", out);
	free(out);
	cr_assert_neq(curl(s, "http", "", &out), 0, "plain HTTP was answered: %s", out);
	cr_assert(!strstr(out, "coredns_"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(prometheus_tls, require_and_verify_wants_a_client_certificate_the_ca_signed)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out, args[1024];

	gen_certs(s);
	sx_test_write(s, "certs/web.yml", WEB_MTLS);
	s = sx_test_start(s, COREFILE);
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

/* No client_ca_file: the certificate is required but not verified (no CA could). */
Test(prometheus_tls, require_any_takes_an_unverified_client_certificate)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out, args[1024];

	gen_certs(s);
	sx_test_write(s, "certs/web.yml", CERT_KEY "  client_auth_type: RequireAnyClientCert\n");
	s = sx_test_start(s, COREFILE);
	cr_assert_neq(curl(s, "https", "", &out), 0, "answered without a client cert: %s", out);
	free(out);
	snprintf(args, sizeof(args), "--cert '%s/certs/client.crt' --key '%s/certs/client.key'",
	         sx_test_dir(s), sx_test_dir(s));
	cr_assert_eq(curl(s, "https", args, &out), 0, "%s", out);
	cr_assert(strstr(out, "coredns_build_info{"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(prometheus_tls, verify_if_given_answers_a_client_without_a_certificate)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;

	gen_certs(s);
	sx_test_write(s, "certs/web.yml",
	              CERT_KEY "  client_auth_type: VerifyClientCertIfGiven\n"
	                       "  client_ca_file: ca.crt\n");
	s = sx_test_start(s, COREFILE);
	cr_assert_eq(curl(s, "https", "", &out), 0, "%s", out);
	cr_assert(strstr(out, "coredns_build_info{"), "%s", out);
	free(out);
	sx_test_stop(s);
}

/* A reload reads the web-config file again: dropping the client CA opens /metrics. */
Test(prometheus_tls, a_reload_applies_the_edited_web_config)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;

	gen_certs(s);
	sx_test_write(s, "certs/web.yml", WEB_MTLS);
	s = sx_test_start(s, COREFILE);
	cr_assert_neq(curl(s, "https", "", &out), 0, "answered without a client cert: %s", out);
	free(out);
	sx_test_write(s, "certs/web.yml",
	              "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
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

/*
 * `-check` with certs/web.yml holding @web: @want is what follows "Corefile:4:
 * plugin/prometheus: tls: DIR/certs/web.yml: ", or NULL when the check must pass.
 */
static void
expect_check(struct sx_test_server *s, const char *web, const char *want)
{
	char *out, line[1024];

	sx_test_write(s, "certs/web.yml", web);
	if (!want) {
		cr_assert_eq(check(s, COREFILE, &out), 0, "%s\n%s", web, out);
		free(out);
		return;
	}
	cr_assert_eq(check(s, COREFILE, &out), 1, "%s\n%s", web, out);
	snprintf(line, sizeof(line), "Corefile:4: plugin/prometheus: tls: %s/certs/web.yml: %s",
	         sx_test_dir(s), want);
	cr_assert(strstr(out, line), "want: %s\ngot: %s", line, out);
	free(out);
}

Test(prometheus_tls, check_reports_what_is_wrong_in_the_web_config)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out, line[1024];

	gen_certs(s);
	cr_assert_eq(check(s, COREFILE, &out), 1, "%s", out);
	snprintf(line, sizeof(line),
	         "Corefile:4: plugin/prometheus: tls: %s/certs/web.yml: ", sx_test_dir(s));
	cr_assert(strstr(out, line) && strstr(out, "No such file"), "%s", out);
	free(out);
	expect_check(s, CERT_KEY, NULL);
	expect_check(s, WEB_MTLS, NULL);
	expect_check(s, "tls_server_config:\n  cert_file: [server.crt\n", "line ");
	expect_check(s, "tls_server_config:\n  key_file: server.key\n",
	             "tls_server_config needs cert_file and key_file");
	expect_check(s, "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
	             "cannot load certificate ");
	expect_check(s, "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
	             "cannot load key ");
	expect_check(s, CERT_KEY "  client_auth_type: Sometimes\n",
	             "client_auth_type: unknown value \"Sometimes\"");
	expect_check(s, CERT_KEY "  min_version: TLS14\n", "min_version: unknown TLS version");
	expect_check(s, CERT_KEY "  min_version: TLS13\n  max_version: TLS12\n",
	             "min_version is above max_version");
	expect_check(s, CERT_KEY "  client_auth_type: RequireAndVerifyClientCert\n",
	             "client_auth_type RequireAndVerifyClientCert needs client_ca_file");
	expect_check(s, CERT_KEY "  client_ca_file: ca.crt\n",
	             "client_ca_file is set but client_auth_type is NoClientCert");
	expect_check(s, CERT_KEY "basic_auth_users:\n  alice: $2y$10$abc\n",
	             "basic_auth_users: not supported");
	expect_check(s, CERT_KEY "http_server_config:\n  http2: false\n",
	             "http_server_config: not supported");
	expect_check(s, CERT_KEY "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
	             "tls_server_config: cipher_suites: not supported");
	sx_test_stop(s);
}

Test(prometheus_tls, blocks_sharing_an_address_must_name_the_same_web_config)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;

	gen_certs(s);
	sx_test_write(s, "certs/web.yml", CERT_KEY);
	/* One address is one listener: every block naming it must agree on tls. */
	cr_assert_eq(check(s,
	                   ". {\n\tprometheus 127.0.0.1:9153 {\n"
	                   "\t\ttls certs/web.yml\n\t}\n}\n"
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
	                   "\t\ttls certs/web.yml\n\t}\n}\n"
	                   "example.org {\n\tprometheus 127.0.0.1:9153 {\n"
	                   "\t\ttls certs/web.yml\n\t}\n}\n",
	                   &out),
	             0, "the same file twice: %s", out);
	free(out);
	sx_test_stop(s);
}
