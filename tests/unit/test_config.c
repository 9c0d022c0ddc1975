/* test_config.c -- placeholder until written. */
#include <criterion/criterion.h>
