/* test_msg.c -- placeholder until written. */
#include <criterion/criterion.h>
