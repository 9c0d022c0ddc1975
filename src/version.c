/* version.c -- the version meson stamps into the build, for plugins (sx_version()). */
#include <sextant/plugin.h>

#include "version.h"

const char *
sx_version(void)
{
	return SX_VERSION;
}
