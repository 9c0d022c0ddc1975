/* process.c -- process-wide state: the heap's settings, and each plugin's init and fini hooks. */
#include <malloc.h>
#include <stdio.h>

#include <sextant/error.h>
#include <sextant/mem.h>

#include "process.h"

static void
heap_init(void)
{
#ifdef __GLIBC__
	/*
	 * glibc serves a block of 128 KiB or more with mmap, but raises that
	 * threshold to the size of each such block freed (up to 32 MiB): after the
	 * first of them (a hash table resized by a kubernetes sync, a zone file's
	 * buffers), the large blocks of the next bulk load came from the heap
	 * between the objects kept, and left holes in it. A LIST in 500-item pages
	 * kept 41.4 MB anonymous for 100,000 Services and 200,000 endpoints, 37.6
	 * MB with the threshold fixed (docs/performance.md).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

void
sx_mem_trim(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* The fini hooks of @plugins[0..@n), last first. */
static void
fini_first(const struct sx_plugin *const *plugins, size_t n)
{
	while (n-- > 0) {
		if (plugins[n]->fini) {
			plugins[n]->fini();
		}
	}
}

int
sx_process_init(const struct sx_plugin *const *plugins, char *err, size_t errlen)
{
	char why[256];
	size_t i;
	int rc;

	heap_init();
	for (i = 0; plugins[i]; i++) {
		if (!plugins[i]->init) {
			continue;
		}
		why[0] = '\0';
		rc = plugins[i]->init(why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "plugin/%s: %s", plugins[i]->name,
			         why[0] ? why : sx_strerror(rc));
			fini_first(plugins, i);
			return rc;
		}
	}
	return 0;
}

void
sx_process_fini(const struct sx_plugin *const *plugins)
{
	size_t n = 0;

	while (plugins[n]) {
		n++;
	}
	fini_first(plugins, n);
}
