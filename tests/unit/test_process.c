/* test_process.c -- the heap's settings, and plugins' init and fini hooks, once per process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>
#include <sextant/mem.h>

#include "process.h"

/* Which hooks ran, in order: "+a" for a's init, "-a" for its fini. */
static char calls[64];

static void
called(const char *what)
{
	strncat(calls, what, sizeof(calls) - strlen(calls) - 1);
}

static int
init_a(char *err, size_t cap)
{
	(void)err;
	(void)cap;
	called("+a");
	return 0;
}

static void
fini_a(void)
{
	called("-a");
}

static int
init_c(char *err, size_t cap)
{
	(void)err;
	(void)cap;
	called("+c");
	return 0;
}

static void
fini_c(void)
{
	called("-c");
}

static int
init_fails(char *err, size_t cap)
{
	snprintf(err, cap, "no library");
	called("+x");
	return SX_EINVAL;
}

static int
init_fails_silently(char *err, size_t cap)
{
	(void)err;
	(void)cap;
	return -ENOMEM;
}

static void
fini_never(void)
{
	called("-x");
}

static const struct sx_plugin a = { .name = "a", .init = init_a, .fini = fini_a };
static const struct sx_plugin b = { .name = "b" }; /* no hooks */
static const struct sx_plugin c = { .name = "c", .init = init_c, .fini = fini_c };
static const struct sx_plugin x = { .name = "x", .init = init_fails, .fini = fini_never };
static const struct sx_plugin y = { .name = "y", .init = init_fails_silently };

Test(process, hooks_run_in_order_and_fini_in_reverse)
{
	const struct sx_plugin *const plugins[] = { &a, &b, &c, NULL };
	char err[128] = "";

	cr_assert_eq(sx_process_init(plugins, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(calls, "+a+c");
	sx_process_fini(plugins);
	cr_assert_str_eq(calls, "+a+c-c-a");
}

Test(process, a_failed_init_undoes_the_ones_before_and_names_the_plugin)
{
	const struct sx_plugin *const plugins[] = { &a, &c, &x, &b, NULL };
	char err[128] = "";

	cr_assert_eq(sx_process_init(plugins, err, sizeof(err)), SX_EINVAL);
	cr_assert_str_eq(err, "plugin/x: no library");
	/* x's own fini does not run: its init failed. */
	cr_assert_str_eq(calls, "+a+c+x-c-a");
}

Test(process, an_init_that_gives_no_reason_gets_its_error_code_spelled)
{
	const struct sx_plugin *const plugins[] = { &y, &a, NULL };
	char err[128] = "";

	cr_assert_eq(sx_process_init(plugins, err, sizeof(err)), -ENOMEM);
	cr_assert_str_eq(err, "plugin/y: Cannot allocate memory", "%s", err);
	cr_assert_str_eq(calls, "");
}

/*
 * Only glibc's own allocator has an mmap threshold; under AddressSanitizer
 * malloc is the sanitizer's and mallopt() changes nothing it uses.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_MALLOC 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_MALLOC 1
#endif

#if defined(__GLIBC__) && !defined(SANITIZER_MALLOC)
Test(process, large_blocks_stay_mmapped_after_a_larger_one_was_freed)
{
	const struct sx_plugin *const none[] = { NULL };
	char err[128] = "";
	/* volatile: clang removes a malloc/free pair whose block nobody reads. */
	char *volatile big;
	char *volatile mid;
	size_t before;

	cr_assert_eq(sx_process_init(none, err, sizeof(err)), 0, "%s", err);
	/*
	 * glibc's own policy would raise the mmap threshold to 4 MiB when the
	 * first block is freed, and take the second from the heap.
	 */
	big = malloc(4u << 20);
	cr_assert_not_null(big);
	memset(big, 1, 4u << 20);
	free(big);
	before = mallinfo2().hblks;
	mid = malloc(256u << 10);
	cr_assert_not_null(mid);
	cr_assert_eq(mallinfo2().hblks, before + 1, "a 256 KiB block came from the heap");
	free(mid);
	sx_mem_trim();
}
#endif
