/* test_config_errors.c -- bad Corefiles: FILE:LINE messages, exit status 1, and -check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* Write @corefile, run `sextant -conf F ARGS`, return the exit status and output. */
static int
run_conf(const char *corefile, const char *args, char **out, char path[512])
{
	struct sx_test_server *s = sx_test_prepare();
	char *o;
	int st;

	sx_test_write(s, "Corefile", corefile);
	snprintf(path, 512, "%s/Corefile", sx_test_dir(s));
	st = sx_test_run(&o, "-conf %s %s", path, args);
	*out = o;
	sx_test_stop(s);
	return st;
}

Test(config_errors, unknown_directive_names_file_and_line)
{
	char path[512], want[700], *out;
	int st = run_conf(". {\n\twhoami\n\tfrobnicate\n}\n", "-dns.port 0", &out, path);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, out);
	snprintf(want, sizeof(want), "%s:3: Unknown directive 'frobnicate'", path);
	cr_assert(strstr(out, want), "want \"%s\" in: %s", want, out);
	free(out);
}

Test(config_errors, duplicate_zone_and_port)
{
	char path[512], *out;
	int st = run_conf("example.org:1053 {\n\twhoami\n}\nexample.org:1053 {\n\twhoami\n}\n",
	                  "-check", &out, path);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_assert(strstr(out, "cannot serve dns://example.org.:1053 - it is already defined"), "%s",
	          out);
	free(out);
}

Test(config_errors, check_accepts_a_good_corefile)
{
	char path[512], *out;
	int st = run_conf("example.org {\n\terrors\n\tlog\n\twhoami\n}\n", "-check", &out, path);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	free(out);
}

Test(config_errors, bad_plugin_option_is_reported)
{
	char path[512], want[700], *out;
	int st = run_conf(". {\n\terrors {\n\t\tconsolidate 5m\n\t}\n}\n", "-check", &out, path);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	snprintf(want, sizeof(want), "%s:3: plugin/errors:", path);
	cr_assert(strstr(out, want), "want \"%s\" in: %s", want, out);
	free(out);
}

Test(config_errors, unbalanced_brace)
{
	char path[512], want[700], *out;
	int st = run_conf(". {\n\twhoami\n}\n}\n", "-check", &out, path);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	snprintf(want, sizeof(want), "%s:4:", path);
	cr_assert(strstr(out, want), "want \"%s\" in: %s", want, out);
	free(out);
}

Test(config_errors, listen_failure_exits_non_zero)
{
	char path[512], *out;
	/* 192.0.2.1 (TEST-NET-1) is not an address of this machine: bind fails. */
	int st = run_conf(". {\n\tbind 192.0.2.1\n\twhoami\n}\n", "-dns.port 0", &out, path);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_assert(strstr(out, "listen udp 192.0.2.1:"), "%s", out);
	free(out);
}

Test(config_errors, missing_corefile)
{
	char *out;
	int st = sx_test_run(&out, "-conf /nonexistent/Corefile -check");

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_assert(strstr(out, "/nonexistent/Corefile"), "%s", out);
	free(out);
}
