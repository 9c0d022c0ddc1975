/* dname.h -- domain names in wire format: conversion, case, comparison. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SX_DNAME_MAX    255  /* wire length, root label included */
#define SX_DNAME_STRMAX 1024 /* presentation form, escapes included, NUL included */

/**
 * Convert a presentation name ("Example.org", "example.org.", "." or "") to
 * uncompressed wire form. A missing final dot is accepted (names are always
 * taken as absolute). Escapes \X and \DDD are understood.
 * @return wire length (>= 1), or SX_EINVAL.
 */
int sx_dname_from_str(uint8_t out[SX_DNAME_MAX], const char *str);

/**
 * Write the presentation form of uncompressed wire name @wire, with a final
 * dot ("." for the root). Non-printable bytes and dots in labels are escaped.
 * @return length written (without NUL), or SX_ETRUNC if @cap is too small.
 */
int sx_dname_to_str(char *out, size_t cap, const uint8_t *wire);

/** @return wire length of the uncompressed name @wire (which must be valid). */
size_t sx_dname_len(const uint8_t *wire);

/** Number of labels, the root not counted ("a.b." is 2, "." is 0). */
unsigned sx_dname_labels(const uint8_t *wire);

/** ASCII lower-case copy of @src into @dst (may be the same buffer). @return length. */
size_t sx_dname_lower(uint8_t *dst, const uint8_t *src);

/** Case-insensitive equality of two uncompressed wire names. */
bool sx_dname_eq(const uint8_t *a, const uint8_t *b);

/**
 * Whether @name equals @zone or lies below it, case-insensitively, on a label
 * boundary ("foo.example.org." is under "example.org.", "fooexample.org." is not).
 */
bool sx_dname_is_sub(const uint8_t *name, const uint8_t *zone);

/** Skip @n leading labels of @wire; @return pointer to the rest (the root if fewer). */
const uint8_t *sx_dname_skip(const uint8_t *wire, unsigned n);
