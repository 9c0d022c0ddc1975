/* fold.h -- ASCII case folding of eight bytes at once (private to the core). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ASCII lower case of eight bytes at once: bit 5 is set where a byte is in 'A'..'Z'. */
static inline uint64_t
fold8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101u;
	uint64_t low7 = x & 0x7F * ones;
	uint64_t ge_a = low7 + (0x80 - 'A') * ones;
	uint64_t gt_z = low7 + (0x7F - 'Z') * ones;
	return x | ((ge_a & ~gt_z & ~x & 0x80 * ones) >> 2);
}

static inline bool
fold_eq8(const uint8_t *a, const uint8_t *b)
{
	uint64_t x, y;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return x == y || fold8(x) == fold8(y);
}

/*
 * Case-insensitive equality of @n bytes of wire names; label lengths (< 64) are never
 * letters. From 8 bytes on, the tail is one more 8-byte compare overlapping the last.
 */
static inline bool
fold_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n < 8) {
		for (size_t i = 0; i < n; i++) {
			uint8_t x = a[i], y = b[i];
			if ((uint8_t)(x - 'A') < 26u) {
				x |= 0x20;
			}
			if ((uint8_t)(y - 'A') < 26u) {
				y |= 0x20;
			}
			if (x != y) {
				return false;
			}
		}
		return true;
	}
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		if (!fold_eq8(a + i, b + i)) {
			return false;
		}
	}
	return i == n || fold_eq8(a + n - 8, b + n - 8);
}
