/* log.h -- CoreDNS-style one-line logging: "[LEVEL] plugin/NAME: message". */
#pragma once

#include <stdarg.h>

enum sx_log_level {
	SX_LOG_DEBUG,
	SX_LOG_INFO,
	SX_LOG_WARNING,
	SX_LOG_ERROR,
	SX_LOG_FATAL
};

/** Lines below this level are not formatted at all. Default SX_LOG_INFO. */
void sx_log_set_level(enum sx_log_level level);

/** Write one line to stdout with one write(2), so threads never interleave. */
void sx_log(enum sx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void
sx_vlog(enum sx_log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/** As sx_log() with "plugin/@plugin: " after the level. */
void sx_plog(enum sx_log_level level, const char *plugin, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
