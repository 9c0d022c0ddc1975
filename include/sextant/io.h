/* io.h -- readiness of a file descriptor, watched on the calling thread's event loop. */
#pragma once

enum {
	SX_IO_READ = 1,  /* readable (or at end of file, or in error) */
	SX_IO_WRITE = 2, /* writable */
};

struct sx_io;
/** @what: the SX_IO_* that happened. */
typedef void (*sx_io_fn)(int fd, unsigned what, void *arg);

/**
 * Watch @fd for @what (SX_IO_READ and/or SX_IO_WRITE) on the loop of the calling
 * thread, calling @fn(@fd, what, @arg) each time it is ready, until freed or
 * changed. @what 0: created idle. The caller keeps owning @fd.
 * @return the watch, or NULL when out of memory or the thread has no loop.
 */
struct sx_io *sx_io_new(int fd, unsigned what, sx_io_fn fn, void *arg);

/** Watch for @what instead (0: pause). @return 0, or -ENOMEM. */
int sx_io_set(struct sx_io *io, unsigned what);

/** Stop watching and free; @fd stays open. NULL is a no-op. On the watch's own thread. */
void sx_io_free(struct sx_io *io);
