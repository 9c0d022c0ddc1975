/* test_server.c -- placeholder until written. */
#include <criterion/criterion.h>
