/* test_corefile.c -- placeholder until written. */
#include <criterion/criterion.h>
