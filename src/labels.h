/* labels.h -- where the labels of a wire name start, as a bit set (private to the core). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bit O: a label (or the final root label) starts at offset O; names take at most 255 bytes. */
struct sx_labels {
	uint64_t bit[4];
};

/*
 * Note where each label of @name (uncompressed, well-formed) starts. @return its length.
 * Routing and zone matching ask "does a zone of Z bytes end this name?" once per zone: with
 * the set that is one bit test at len - Z, not a walk of the name per zone.
 */
static inline size_t
sx_labels_of(const uint8_t *name, struct sx_labels *l)
{
	size_t off = 0;

	l->bit[0] = l->bit[1] = l->bit[2] = l->bit[3] = 0;
	for (;;) {
		l->bit[off >> 6] |= 1ull << (off & 63);
		if (name[off] == 0) {
			return off + 1;
		}
		off += name[off] + 1u;
	}
}

/* Whether a label of the name sx_labels_of() read starts at @off (which is within the name). */
static inline bool
sx_labels_at(const struct sx_labels *l, size_t off)
{
	return l->bit[off >> 6] >> (off & 63) & 1;
}
