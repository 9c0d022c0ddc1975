/* dname.c -- domain names in wire format: conversion, case, comparison. */
#include <sextant/dname.h>
#include <sextant/error.h>

#include <string.h>

#include "fold.h"

/* Label lengths (0..63) are never letters, so folding a whole name byte by byte is safe. */
static inline uint8_t
lc(uint8_t c)
{
	return (uint8_t)(c - 'A') < 26u ? c | 0x20 : c;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One character of a presentation label, escapes decoded; @return bytes of @p used, or 0. */
static size_t
unescape(const char *p, uint8_t *byte)
{
	if (p[0] != '\\') {
		*byte = (uint8_t)p[0];
		return 1;
	}
	if (p[1] == '\0') {
		return 0;
	}
	if (!is_digit(p[1])) {
		*byte = (uint8_t)p[1];
		return 2;
	}
	if (!is_digit(p[2]) || !is_digit(p[3])) {
		return 0;
	}
	unsigned v = (unsigned)(p[1] - '0') * 100 + (unsigned)(p[2] - '0') * 10 +
	             (unsigned)(p[3] - '0');
	if (v > 255) {
		return 0;
	}
	*byte = (uint8_t)v;
	return 4;
}

int
sx_dname_from_str(uint8_t out[SX_DNAME_MAX], const char *str)
{
	if (str[0] == '\0' || (str[0] == '.' && str[1] == '\0')) {
		out[0] = 0;
		return 1;
	}
	size_t o = 0; /* offset of the current label's length byte */
	size_t n = 0; /* bytes in the current label */
	const char *p = str;
	while (*p != '\0') {
		if (*p == '.') {
			if (n == 0) {
				return SX_EINVAL;
			}
			out[o] = (uint8_t)n;
			o += n + 1;
			n = 0;
			p++;
			continue;
		}
		uint8_t byte;
		size_t used = unescape(p, &byte);
		/* Index o + 1 + n must leave room for this label's close and the root byte. */
		if (used == 0 || n == 63 || o + 1 + n > SX_DNAME_MAX - 2) {
			return SX_EINVAL;
		}
		out[o + 1 + n] = byte;
		n++;
		p += used;
	}
	if (n > 0) {
		out[o] = (uint8_t)n;
		o += n + 1;
	}
	out[o] = 0;
	return (int)(o + 1);
}

static bool
needs_escape(uint8_t c)
{
	return c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';';
}

int
sx_dname_to_str(char *out, size_t cap, const uint8_t *wire)
{
	size_t n = 0;
	if (wire[0] == 0) {
		if (cap < 2) {
			return SX_ETRUNC;
		}
		memcpy(out, ".", 2);
		return 1;
	}
	for (const uint8_t *l = wire; *l != 0; l += *l + 1) {
		for (unsigned i = 1; i <= *l; i++) {
			uint8_t c = l[i];
			size_t need = needs_escape(c) ? 2 : (c < 0x21 || c > 0x7e) ? 4 : 1;
			if (n + need + 1 > cap) {
				return SX_ETRUNC;
			}
			if (need == 1) {
				out[n] = (char)c;
			} else if (need == 2) {
				out[n] = '\\';
				out[n + 1] = (char)c;
			} else {
				out[n] = '\\';
				out[n + 1] = (char)('0' + c / 100);
				out[n + 2] = (char)('0' + c / 10 % 10);
				out[n + 3] = (char)('0' + c % 10);
			}
			n += need;
		}
		if (n + 2 > cap) {
			return SX_ETRUNC;
		}
		out[n++] = '.';
	}
	out[n] = '\0';
	return (int)n;
}

size_t
sx_dname_len(const uint8_t *wire)
{
	const uint8_t *p = wire;
	while (*p != 0) {
		p += *p + 1;
	}
	return (size_t)(p - wire) + 1;
}

unsigned
sx_dname_labels(const uint8_t *wire)
{
	unsigned n = 0;
	for (const uint8_t *p = wire; *p != 0; p += *p + 1) {
		n++;
	}
	return n;
}

static inline void
lower8(uint8_t *dst, const uint8_t *src)
{
	uint64_t x;
	memcpy(&x, src, 8);
	x = fold8(x);
	memcpy(dst, &x, 8);
}

/* Runs on every query: eight bytes at a time, the tail as one overlapping step. */
size_t
sx_dname_lower(uint8_t *dst, const uint8_t *src)
{
	size_t len = sx_dname_len(src);
	if (len < 8) {
		for (size_t i = 0; i < len; i++) {
			dst[i] = lc(src[i]);
		}
		return len;
	}
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		lower8(dst + i, src + i);
	}
	if (i < len) {
		lower8(dst + len - 8, src + len - 8);
	}
	return len;
}

bool
sx_dname_eq(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		uint8_t n = *a;
		if (n != *b) {
			return false;
		}
		if (n == 0) {
			return true;
		}
		for (unsigned i = 1; i <= n; i++) {
			if (lc(a[i]) != lc(b[i])) {
				return false;
			}
		}
		a += n + 1;
		b += n + 1;
	}
}

bool
sx_dname_is_sub(const uint8_t *name, const uint8_t *zone)
{
	unsigned nl = sx_dname_labels(name);
	unsigned zl = sx_dname_labels(zone);
	if (nl < zl) {
		return false;
	}
	return sx_dname_eq(sx_dname_skip(name, nl - zl), zone);
}

const uint8_t *
sx_dname_skip(const uint8_t *wire, unsigned n)
{
	while (n > 0 && *wire != 0) {
		wire += *wire + 1;
		n--;
	}
	return wire;
}
