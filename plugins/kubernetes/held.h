/* held.h -- EndpointSlices held back from views until their Service is in (the first LIST). */
#pragma once

#include <stddef.h>

struct k8s_ns;
struct k8s_slice;

/*
 * While the Services' first LIST runs, a slice whose Service is not in yet
 * waits here instead of in a view of its own. With pages, most slices come
 * before their Service, and each such view was replaced as soon as the
 * Service came: about 86,000 small blocks freed after a grace period, long
 * after the heap had grown past them, 1.8 MB of holes at 100,000 Services.
 * One open-addressed array, large enough to be mapped and handed back whole
 * when freed. Slices are borrowed: the slice index owns them.
 */
struct k8s_held {
	struct k8s_slice **slot; /* NULL: never used; a tombstone: removed */
	size_t cap;              /* a power of two, or 0 */
	size_t used;             /* live slices and tombstones */
};

/** Hold @sl under its Service. @return 0, or -ENOMEM. */
int k8s_held_add(struct k8s_held *h, struct k8s_slice *sl);

/** Let go of @sl if held. */
void k8s_held_remove(struct k8s_held *h, const struct k8s_slice *sl);

/**
 * The slices held for Service @name of @ns: into @out (room for all, or NULL
 * to count). @return how many.
 */
size_t k8s_held_find(struct k8s_held *h, const struct k8s_ns *ns, const char *name, size_t len,
                     struct k8s_slice **out);

/** Let go of every slice held for Service @name of @ns. */
void k8s_held_drop(struct k8s_held *h, const struct k8s_ns *ns, const char *name, size_t len);

/**
 * The first slice held at or after *@pos (start from 0), and *@pos past it;
 * NULL at the end. Letting go of slices meanwhile does not upset the walk.
 */
struct k8s_slice *k8s_held_next(const struct k8s_held *h, size_t *pos);

/** Free the array (not the slices); @h is empty again. */
void k8s_held_free(struct k8s_held *h);
