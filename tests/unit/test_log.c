/* test_log.c -- log lines: level prefixes, plugin prefixes, the level threshold, long lines. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sextant/log.h>

/* Log lines go to stdout with write(2): the tests point it at a file of their own. */
static int saved_stdout = -1, capture_fd = -1;
static char got[4096];

static void
capture_start(void)
{
	capture_fd = memfd_create("log", 0);
	cr_assert_geq(capture_fd, 0);
	saved_stdout = dup(STDOUT_FILENO);
	cr_assert_geq(saved_stdout, 0);
	cr_assert_geq(dup2(capture_fd, STDOUT_FILENO), 0);
}

/* Everything written since capture_start(), as a string in @got. @return its length. */
static size_t
captured(void)
{
	ssize_t n = pread(capture_fd, got, sizeof(got) - 1, 0);

	cr_assert_geq(n, 0);
	got[n] = '\0';
	return (size_t)n;
}

static void
capture_stop(void)
{
	dup2(saved_stdout, STDOUT_FILENO);
	close(saved_stdout);
	close(capture_fd);
}

TestSuite(log, .init = capture_start, .fini = capture_stop);

Test(log, each_level_has_its_prefix)
{
	sx_log_set_level(SX_LOG_DEBUG);
	sx_log(SX_LOG_DEBUG, "d %d", 1);
	sx_log(SX_LOG_INFO, "i %s", "two");
	sx_log(SX_LOG_WARNING, "w");
	sx_log(SX_LOG_ERROR, "e");
	sx_log(SX_LOG_FATAL, "f");
	captured();
	cr_assert_str_eq(got, "[DEBUG] d 1\n[INFO] i two\n[WARNING] w\n[ERROR] e\n[FATAL] f\n");
}

Test(log, plugin_lines_name_the_plugin)
{
	sx_plog(SX_LOG_INFO, "kubernetes", "synced %d services", 214);
	sx_plog(SX_LOG_ERROR, "forward", "%s", "no healthy upstream");
	captured();
	cr_assert_str_eq(got, "[INFO] plugin/kubernetes: synced 214 services\n"
	                      "[ERROR] plugin/forward: no healthy upstream\n");
}

Test(log, info_is_the_default_threshold)
{
	sx_log(SX_LOG_DEBUG, "hidden");
	sx_plog(SX_LOG_DEBUG, "cache", "hidden");
	sx_log(SX_LOG_INFO, "shown");
	captured();
	cr_assert_str_eq(got, "[INFO] shown\n");
}

Test(log, lines_below_the_level_are_dropped)
{
	sx_log_set_level(SX_LOG_ERROR);
	sx_log(SX_LOG_INFO, "no");
	sx_log(SX_LOG_WARNING, "no");
	sx_plog(SX_LOG_WARNING, "health", "no");
	sx_log(SX_LOG_ERROR, "yes");
	sx_plog(SX_LOG_FATAL, "health", "yes");
	captured();
	cr_assert_str_eq(got, "[ERROR] yes\n[FATAL] plugin/health: yes\n");

	/* Lowered again, the lines below come back. */
	sx_log_set_level(SX_LOG_DEBUG);
	sx_log(SX_LOG_DEBUG, "again");
	captured();
	cr_assert_str_eq(got, "[ERROR] yes\n[FATAL] plugin/health: yes\n[DEBUG] again\n");
}

static void __attribute__((format(printf, 2, 3)))
vlog_wrapper(enum sx_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sx_vlog(level, fmt, ap);
	va_end(ap);
}

Test(log, vlog_is_log_with_a_va_list)
{
	vlog_wrapper(SX_LOG_WARNING, "%s=%u", "port", 53u);
	captured();
	cr_assert_str_eq(got, "[WARNING] port=53\n");
}

/* A string of @n - 1 bytes @c, malloc'ed. */
static char *
filled(size_t n, char c)
{
	char *s = malloc(n);

	cr_assert_not_null(s);
	memset(s, c, n - 1);
	s[n - 1] = '\0';
	return s;
}

/* What was logged is one line that starts with @start, cut at 2048 bytes after @fill, still
 * ending in a newline, and then "next" whole. */
static void
assert_cut_then_next(const char *start, char fill)
{
	size_t n = captured();

	cr_assert_eq(n, 2048 + strlen("[INFO] next\n"));
	cr_assert_eq(strncmp(got, start, strlen(start)), 0, "%.40s", got);
	cr_assert_eq(got[2046], fill);
	cr_assert_eq(got[2047], '\n');
	cr_assert_str_eq(got + 2048, "[INFO] next\n");
}

Test(log, a_long_message_is_cut_to_one_line)
{
	char *msg = filled(3000, 'x');

	sx_plog(SX_LOG_INFO, "log", "%s", msg);
	sx_log(SX_LOG_INFO, "next");
	free(msg);
	assert_cut_then_next("[INFO] plugin/log: xxx", 'x');
}

/* The name fills the line; the message has no room left; nothing past the line's end. */
Test(log, a_plugin_name_longer_than_the_line_is_cut)
{
	char *name = filled(5000, 'p');

	sx_plog(SX_LOG_INFO, name, "after the %s", "name");
	sx_log(SX_LOG_INFO, "next");
	free(name);
	assert_cut_then_next("[INFO] plugin/ppp", 'p');
}
