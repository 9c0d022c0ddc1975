/* fold.h -- ASCII case folding of eight bytes at once (private to the core). */
#pragma once

#include <stdint.h>

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
