/* test_dname.c -- placeholder until written. */
#include <criterion/criterion.h>
