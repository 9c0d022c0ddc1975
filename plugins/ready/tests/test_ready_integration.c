/* test_ready_integration.c -- /ready with every plugin ready, and its setup errors. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

Test(ready, ok_when_nothing_reports_unready)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, ". {\n\tbind 127.0.0.1\n\tready 127.0.0.1:0\n\twhoami\n}\n");
	uint16_t rp = (uint16_t)sx_test_log_number(s, "serving /ready on port ");
	long status;
	char *b = sx_test_http_get(rp, "/ready", &status);

	cr_assert_eq(status, 200);
	cr_assert_str_eq(b, "OK");
	free(b);
	sx_test_stop(s);
}

Test(ready, bad_monitor_mode)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;
	int st;

	sx_test_write(s, "Corefile", ". {\n\tready {\n\t\tmonitor sometimes\n\t}\n\twhoami\n}\n");
	st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_assert(strstr(out, "Corefile:3: plugin/ready: monitor must be 'until-ready' or "
	                      "'continuously', not 'sometimes'"),
	          "%s", out);
	free(out);
	sx_test_stop(s);
}
