/* pool.c -- cache entries recycled per worker, so that a cache miss allocates nothing. */
#include <stdlib.h>

#include <urcu/lfstack.h>
#include <urcu/uatomic.h>

#include "cache.h"

/*
 * Every insert of a full cache evicts an entry, which is freed after a grace
 * period on the call_rcu thread. Instead of going back to malloc, a freed
 * entry goes back to the pool of the worker that made it, in its size class,
 * and that worker's next insert of that class takes it again. A worker is the
 * only one to take from its pools; any thread gives back. With one consumer a
 * pop cannot lose a race to another pop, which is what makes a lock-free stack
 * unsafe (ABA), so no lock and no read-side section are needed.
 *
 * A class keeps at most POOL_BYTES of idle entries: what a burst of frees
 * (a grace period's worth) brings back beyond that is freed.
 */

#define POOL_BYTES (1u << 20)

static const size_t class_size[CACHE_POOL_CLASSES] = { 256, 512, 1024, 2048, CACHE_ENTRY_MAX };

struct pool_class {
	_Alignas(64) struct __cds_lfs_stack stack;
	unsigned long idle; /* entries in the stack (uatomic) */
	unsigned long max_idle;
	size_t size;
};

struct cache_pool {
	struct pool_class cls[CACHE_POOL_CLASSES];
};

struct cache_pool *
cache_pool_new(void)
{
	struct cache_pool *p = aligned_alloc(64, sizeof(*p));

	if (!p) {
		return NULL;
	}
	for (unsigned c = 0; c < CACHE_POOL_CLASSES; c++) {
		struct pool_class *pc = &p->cls[c];

		__cds_lfs_init(&pc->stack);
		pc->idle = 0;
		pc->size = class_size[c];
		pc->max_idle = POOL_BYTES / class_size[c];
	}
	return p;
}

void
cache_pool_free(struct cache_pool *p)
{
	if (!p) {
		return;
	}
	for (unsigned c = 0; c < CACHE_POOL_CLASSES; c++) {
		struct cds_lfs_node *node;

		while ((node = __cds_lfs_pop(&p->cls[c].stack)) != NULL) {
			free(caa_container_of(node, struct cache_entry, free_node));
		}
	}
	free(p);
}

struct cache_entry *
cache_pool_get(struct cache_pool *p, size_t size)
{
	struct pool_class *pc = NULL;
	struct cds_lfs_node *node;
	struct cache_entry *e;

	for (unsigned c = 0; c < CACHE_POOL_CLASSES; c++) {
		if (size <= class_size[c]) {
			pc = &p->cls[c];
			break;
		}
	}
	if (!pc) {
		return NULL;
	}
	node = __cds_lfs_pop(&pc->stack);
	if (node) {
		uatomic_dec(&pc->idle);
		e = caa_container_of(node, struct cache_entry, free_node);
	} else {
		e = malloc(pc->size);
		if (!e) {
			return NULL;
		}
	}
	e->home = pc;
	return e;
}

void
cache_pool_put(struct cache_entry *e)
{
	struct pool_class *pc = e->home;

	if (!pc || uatomic_read(&pc->idle) >= pc->max_idle) {
		free(e);
		return;
	}
	uatomic_inc(&pc->idle);
	cds_lfs_node_init(&e->free_node);
	cds_lfs_push(&pc->stack, &e->free_node);
}
