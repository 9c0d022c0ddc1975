/* alloc_count.c -- LD_PRELOAD heap counter: calls to malloc and friends, per thread, readable live. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * tests/bench/run starts a server with LD_PRELOAD=libsx_alloc_count.so and
 * SX_ALLOC_COUNT=FILE. Every allocation and free is counted in FILE, mapped
 * shared, in one slot per thread: the benchmark reads the counts before and
 * after a load run, while the server keeps running, and divides by the
 * queries answered. The calls go on to glibc's own allocator.
 *
 * FILE: SLOTS records of { int32 tid; uint32 unused; uint64 allocs, frees,
 * bytes }, native byte order. A thread takes the first free slot on its first
 * call; threads beyond SLOTS share the last one.
 */

#define SLOTS 64

struct slot {
	_Atomic int32_t tid;
	uint32_t unused;
	_Atomic uint64_t allocs, frees, bytes;
};

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static struct slot *slots;
static atomic_int state; /* 0: not mapped yet, 1: mapping, 2: mapped, 3: no file */
static _Thread_local struct slot *mine __attribute__((tls_model("initial-exec")));

static void
map_file(void)
{
	int expect = 0;

	if (!atomic_compare_exchange_strong(&state, &expect, 1)) {
		return; /* another thread maps it; its calls until then go uncounted */
	}
	const char *path = getenv("SX_ALLOC_COUNT");
	int fd = path ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
	size_t size = SLOTS * sizeof(struct slot);

	if (fd >= 0 && ftruncate(fd, (off_t)size) == 0) {
		void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (p != MAP_FAILED) {
			slots = p;
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	atomic_store(&state, slots ? 2 : 3);
}

static struct slot *
my_slot(void)
{
	if (mine) {
		return mine;
	}
	if (atomic_load(&state) == 0) {
		map_file();
	}
	if (atomic_load(&state) != 2) {
		return NULL;
	}
	int32_t tid = (int32_t)gettid();
	for (int i = 0; i < SLOTS - 1; i++) {
		int32_t free_tid = 0;

		if (atomic_compare_exchange_strong(&slots[i].tid, &free_tid, tid)) {
			mine = &slots[i];
			return mine;
		}
	}
	mine = &slots[SLOTS - 1];
	return mine;
}

static void
count_alloc(size_t size)
{
	struct slot *s = my_slot();

	if (s) {
		atomic_fetch_add_explicit(&s->allocs, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->bytes, size, memory_order_relaxed);
	}
}

static void
count_free(void *p)
{
	struct slot *s;

	if (p && (s = my_slot())) {
		atomic_fetch_add_explicit(&s->frees, 1, memory_order_relaxed);
	}
}

void *
malloc(size_t size)
{
	count_alloc(size);
	return __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
	count_alloc(n * size);
	return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
	count_alloc(size);
	return __libc_realloc(p, size);
}

void
free(void *p)
{
	count_free(p);
	__libc_free(p);
}

void *
memalign(size_t align, size_t size)
{
	count_alloc(size);
	return __libc_memalign(align, size);
}

void *
aligned_alloc(size_t align, size_t size)
{
	return memalign(align, size);
}

int
posix_memalign(void **out, size_t align, size_t size)
{
	void *p = memalign(align, size);

	if (!p) {
		return ENOMEM;
	}
	*out = p;
	return 0;
}
