/* held.c -- EndpointSlices held back from views until their Service is in (the first LIST). */
#include "held.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "zone.h"

#define MIN_CAP 1024

static char tomb_mark;
#define TOMB ((struct k8s_slice *)(void *)&tomb_mark)

static bool
live(const struct k8s_slice *s)
{
	return s != NULL && s != TOMB;
}

static size_t
home(size_t cap, const struct k8s_ns *ns, const char *name, size_t len)
{
	return (size_t)k8s_hash_pair(ns->name, ns->len, name, len) & (cap - 1);
}

static bool
of(const struct k8s_slice *s, const struct k8s_ns *ns, const char *name, size_t len)
{
	return s->ns == ns && s->svc_len == len && memcmp(k8s_slice_svc(s), name, len) == 0;
}

static void
put(struct k8s_slice **slot, size_t cap, struct k8s_slice *sl)
{
	size_t i = home(cap, sl->ns, k8s_slice_svc(sl), sl->svc_len);

	while (slot[i] != NULL) {
		i = (i + 1) & (cap - 1);
	}
	slot[i] = sl;
}

/* A new array for the live slices: at most a quarter full, tombstones gone. */
static int
rehash(struct k8s_held *h, size_t live_n)
{
	size_t cap = MIN_CAP;
	struct k8s_slice **slot;

	while (cap < 4 * (live_n + 1)) {
		cap *= 2;
	}
	slot = calloc(cap, sizeof(*slot));
	if (slot == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->cap; i++) {
		if (live(h->slot[i])) {
			put(slot, cap, h->slot[i]);
		}
	}
	free(h->slot);
	h->slot = slot;
	h->cap = cap;
	h->used = live_n;
	return 0;
}

int
k8s_held_add(struct k8s_held *h, struct k8s_slice *sl)
{
	/* Probes end at a NULL slot: keep at least half of them NULL. */
	if (2 * (h->used + 1) > h->cap) {
		size_t n = 0;

		for (size_t i = 0; i < h->cap; i++) {
			n += live(h->slot[i]);
		}
		if (rehash(h, n) < 0) {
			return -ENOMEM;
		}
	}
	put(h->slot, h->cap, sl);
	h->used++;
	return 0;
}

void
k8s_held_remove(struct k8s_held *h, const struct k8s_slice *sl)
{
	if (h->cap == 0) {
		return;
	}
	for (size_t i = home(h->cap, sl->ns, k8s_slice_svc(sl), sl->svc_len); h->slot[i] != NULL;
	     i = (i + 1) & (h->cap - 1)) {
		if (h->slot[i] == sl) {
			h->slot[i] = TOMB;
			return;
		}
	}
}

/* The slices held for Service @name of @ns: copied to @out unless NULL, let go of if @drop. */
static size_t
each_of(struct k8s_held *h, const struct k8s_ns *ns, const char *name, size_t len,
        struct k8s_slice **out, bool drop)
{
	size_t n = 0;

	if (h->cap == 0) {
		return 0;
	}
	for (size_t i = home(h->cap, ns, name, len); h->slot[i] != NULL;
	     i = (i + 1) & (h->cap - 1)) {
		if (live(h->slot[i]) && of(h->slot[i], ns, name, len)) {
			if (out != NULL) {
				out[n] = h->slot[i];
			}
			if (drop) {
				h->slot[i] = TOMB;
			}
			n++;
		}
	}
	return n;
}

size_t
k8s_held_find(struct k8s_held *h, const struct k8s_ns *ns, const char *name, size_t len,
              struct k8s_slice **out)
{
	return each_of(h, ns, name, len, out, false);
}

void
k8s_held_drop(struct k8s_held *h, const struct k8s_ns *ns, const char *name, size_t len)
{
	each_of(h, ns, name, len, NULL, true);
}

struct k8s_slice *
k8s_held_next(const struct k8s_held *h, size_t *pos)
{
	while (*pos < h->cap) {
		struct k8s_slice *s = h->slot[(*pos)++];

		if (live(s)) {
			return s;
		}
	}
	return NULL;
}

void
k8s_held_free(struct k8s_held *h)
{
	free(h->slot);
	*h = (struct k8s_held){ 0 };
}
