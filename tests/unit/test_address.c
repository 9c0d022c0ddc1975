/* test_address.c -- placeholder until written. */
#include <criterion/criterion.h>
