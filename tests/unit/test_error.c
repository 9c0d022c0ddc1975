/* test_error.c -- sx_strerror(): the SX_E* codes, negated errno values, and what is neither. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sextant/error.h>

Test(error, sx_codes_have_their_own_messages)
{
	cr_assert_str_eq(sx_strerror(SX_EOK), "success");
	cr_assert_str_eq(sx_strerror(SX_EINVAL), "invalid argument");
	cr_assert_str_eq(sx_strerror(SX_ETRUNC), "does not fit");
	cr_assert_str_eq(sx_strerror(SX_EMALF), "malformed message");
	cr_assert_str_eq(sx_strerror(SX_ENOTSUP), "not supported");
	cr_assert_str_eq(sx_strerror(SX_EEXIST), "already defined");
}

Test(error, sx_codes_do_not_collide_with_errno)
{
	/* Functions return either: the SX_E* codes lie below every errno value Linux has. */
	static const int codes[] = { SX_EINVAL, SX_ETRUNC, SX_EMALF, SX_ENOTSUP, SX_EEXIST };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert_lt(codes[i], -EHWPOISON, "%d", codes[i]);
		cr_assert_str_neq(sx_strerror(codes[i]), strerror(-codes[i]), "%d", codes[i]);
	}
}

Test(error, negated_errno_reads_as_strerror)
{
	static const int codes[] = {
		ENOMEM, ENOENT, EACCES, EAGAIN, ECONNREFUSED, ETIMEDOUT, EINVAL
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert_str_eq(sx_strerror(-codes[i]), strerror(codes[i]), "errno %d", codes[i]);
	}
	/* Not the SX_EINVAL message: -EINVAL is the C library's. */
	cr_assert_str_eq(sx_strerror(-EINVAL), strerror(EINVAL));
}

/* glibc frees the text of an unknown errno at its next strerror(): compare with a copy. */
static void
expect_libc_words(int v)
{
	char want[64];

	snprintf(want, sizeof(want), "%s", strerror(-v));
	cr_assert_str_eq(sx_strerror(v), want, "%d", v);
}

Test(error, neither_is_unknown)
{
	/* Positive values are not errors, and nothing below -4095 is an errno value. */
	cr_assert_str_eq(sx_strerror(1), "unknown error");
	cr_assert_str_eq(sx_strerror(EINVAL), "unknown error");
	cr_assert_str_eq(sx_strerror(-4096), "unknown error");
	cr_assert_str_eq(sx_strerror(-2147483647 - 1), "unknown error");
	/* Beside the SX_E* codes, inside errno's range: the C library's words for it. */
	expect_libc_words(SX_EINVAL - 1);
	expect_libc_words(SX_EEXIST + 1);
}
