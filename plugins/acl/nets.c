/* nets.c -- acl's address sets: CIDR text to sorted disjoint ranges, and lookups by binary search. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

static int
push(struct acl_nets *s, const uint8_t lo[16], const uint8_t hi[16])
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct acl_range *r = realloc(s->r, cap * sizeof(*r));

		if (!r) {
			return -ENOMEM;
		}
		s->r = r;
		s->cap = cap;
	}
	memcpy(s->r[s->n].lo, lo, 16);
	memcpy(s->r[s->n].hi, hi, 16);
	s->n++;
	return 0;
}

int
acl_nets_add(struct acl_nets *s, const char *text)
{
	uint8_t a[16] = { 0 }, lo[16], hi[16];
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	long bits;
	int max;

	if (strcmp(text, "*") == 0) { /* every address, both families */
		memset(lo, 0, 16);
		memset(hi, 0xff, 16);
		return push(s, lo, hi);
	}
	if (alen >= sizeof(buf)) {
		return SX_EINVAL;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		max = 128;
	} else {
		return SX_EINVAL;
	}
	bits = max; /* a single address */
	if (slash) {
		char *end;

		bits = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || bits < 0 || bits > max) {
			return SX_EINVAL;
		}
	}
	bits += 128 - max; /* IPv4 lives in the last 32 bits */
	for (int i = 0; i < 16; i++) {
		int keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? (int)bits - i * 8 : 0;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		lo[i] = a[i] & mask;
		hi[i] = (uint8_t)(a[i] | (uint8_t)~mask);
	}
	return push(s, lo, hi);
}

static int
cmp_lo(const void *x, const void *y)
{
	return memcmp(((const struct acl_range *)x)->lo, ((const struct acl_range *)y)->lo, 16);
}

/* @a + 1 == @b, or @a >= @b: the ranges touch or overlap. */
static bool
adjacent(const uint8_t a[16], const uint8_t b[16])
{
	uint8_t n[16];
	int i;

	if (memcmp(a, b, 16) >= 0) {
		return true;
	}
	memcpy(n, a, 16);
	for (i = 15; i >= 0 && ++n[i] == 0; i--) {
	}
	return i >= 0 && memcmp(n, b, 16) == 0;
}

void
acl_nets_seal(struct acl_nets *s)
{
	size_t out = 0;

	if (s->n == 0) {
		return;
	}
	qsort(s->r, s->n, sizeof(s->r[0]), cmp_lo);
	for (size_t i = 1; i < s->n; i++) {
		if (adjacent(s->r[out].hi, s->r[i].lo)) {
			if (memcmp(s->r[i].hi, s->r[out].hi, 16) > 0) {
				memcpy(s->r[out].hi, s->r[i].hi, 16);
			}
		} else {
			s->r[++out] = s->r[i];
		}
	}
	s->n = out + 1;
}

bool
acl_nets_has(const struct acl_nets *s, const struct sockaddr_storage *sa)
{
	uint8_t a[16] = { 0 };
	size_t lo = 0, hi = s->n;

	if (sa->ss_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->ss_family == AF_INET6) {
		/* An IPv4 client on a dual-stack socket arrives v4-mapped: the same address. */
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return false;
	}
	while (lo < hi) { /* the last range starting at or below a */
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(s->r[mid].lo, a, 16) <= 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo > 0 && memcmp(a, s->r[lo - 1].hi, 16) <= 0;
}

void
acl_nets_fini(struct acl_nets *s)
{
	free(s->r);
	s->r = NULL;
	s->n = s->cap = 0;
}
