/* test_wire.c -- placeholder until written. */
#include <criterion/criterion.h>
