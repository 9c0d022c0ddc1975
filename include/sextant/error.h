/* error.h -- error codes shared by the core and plugins. */
#pragma once

/*
 * Functions return 0 on success or a negative SX_E* value. Where an errno
 * value describes the failure it is returned negated (-ENOMEM, -ENOENT).
 */
enum {
	SX_EOK = 0,
	SX_EINVAL = -1000, /* bad input (configuration, arguments, wire data) */
	SX_ETRUNC,         /* does not fit in the space given */
	SX_EMALF,          /* malformed DNS message */
	SX_ENOTSUP,        /* valid but not supported */
	SX_EEXIST,         /* already defined */
};

/*
 * Marks a function whose result must not be ignored: a caller that drops it
 * does not compile (-Werror), and a (void) cast does not silence it.
 */
#define SX_MUST_USE __attribute__((warn_unused_result))

/** @return a static, human-readable description of @err (negative code). */
const char *sx_strerror(int err);
