/* version.h -- what `sextant -version` and the banner print. */
#pragma once

#include "sx_version.h"

#if defined(__x86_64__)
#define SX_ARCH "amd64"
#elif defined(__aarch64__)
#define SX_ARCH "arm64"
#elif defined(__i386__)
#define SX_ARCH "386"
#else
#define SX_ARCH "unknown"
#endif
