/* error.c -- messages for the SX_E* codes and negated errno values. */
#include <string.h>

#include <sextant/error.h>

const char *
sx_strerror(int err)
{
	switch (err) {
	case SX_EOK:
		return "success";
	case SX_EINVAL:
		return "invalid argument";
	case SX_ETRUNC:
		return "does not fit";
	case SX_EMALF:
		return "malformed message";
	case SX_ENOTSUP:
		return "not supported";
	case SX_EEXIST:
		return "already defined";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
	}
}
