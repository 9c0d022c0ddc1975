/* test_config_errors.c -- placeholder until written. */
#include <criterion/criterion.h>
