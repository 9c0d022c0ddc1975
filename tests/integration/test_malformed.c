/* test_malformed.c -- placeholder until written. */
#include <criterion/criterion.h>
