/* log.c -- one-line log records on stdout, CoreDNS style, safe across threads. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sextant/log.h>

static enum sx_log_level min_level = SX_LOG_INFO;

static const char *const level_prefix[] = {
	[SX_LOG_DEBUG] = "[DEBUG] ", [SX_LOG_INFO] = "[INFO] ",   [SX_LOG_WARNING] = "[WARNING] ",
	[SX_LOG_ERROR] = "[ERROR] ", [SX_LOG_FATAL] = "[FATAL] ",
};

void
sx_log_set_level(enum sx_log_level level)
{
	min_level = level;
}

/* What vsnprintf() wrote into the @room bytes it had, not counting the NUL: a longer text was cut. */
static size_t
written(int r, size_t room)
{
	if (r <= 0) {
		return 0;
	}
	return (size_t)r < room ? (size_t)r : room - 1;
}

/*
 * One write(2) per line: lines from different threads never interleave. A line too long
 * for the buffer is cut, whichever part (plugin name or message) is too long.
 */
static void __attribute__((format(printf, 3, 0)))
emit(enum sx_log_level level, const char *plugin, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n;

	if (level < min_level) {
		return;
	}
	n = strlen(level_prefix[level]);
	memcpy(line, level_prefix[level], n);
	if (plugin) {
		n += written(snprintf(line + n, sizeof(line) - n, "plugin/%s: ", plugin),
		             sizeof(line) - n);
	}
	n += written(vsnprintf(line + n, sizeof(line) - n, fmt, ap), sizeof(line) - n);
	line[n++] = '\n'; /* where the NUL was: n < sizeof(line) */
	if (write(STDOUT_FILENO, line, n) < 0) {
		return; /* nowhere left to report it */
	}
}

void
sx_vlog(enum sx_log_level level, const char *fmt, va_list ap)
{
	emit(level, NULL, fmt, ap);
}

void
sx_log(enum sx_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, NULL, fmt, ap);
	va_end(ap);
}

void
sx_plog(enum sx_log_level level, const char *plugin, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(level, plugin, fmt, ap);
	va_end(ap);
}
