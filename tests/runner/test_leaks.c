/* test_leaks.c -- the runner's leak-check hook (leaks.c) leaves the check on where tests run. */
#include <criterion/criterion.h>
#include <sanitizer/lsan_interface.h>
#include <stdlib.h>

/* Were this to fail, a leak in any test of the suite would pass unseen under ASan. */
Test(runner_leaks, checked_in_the_sandbox_a_test_runs_in)
{
	cr_assert_eq(__lsan_is_turned_off(), 0, "BXFI_MAP is not in a test's environment");
}

Test(runner_leaks, not_checked_in_the_runner)
{
	cr_assert_eq(unsetenv("BXFI_MAP"), 0);
	cr_assert_neq(__lsan_is_turned_off(), 0);
}
