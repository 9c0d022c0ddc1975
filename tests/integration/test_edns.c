/* test_edns.c -- placeholder until written. */
#include <criterion/criterion.h>
