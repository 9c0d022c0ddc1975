/* filewatch.h -- be told when a file or a directory may have changed (inotify, else polling). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct sx_filewatch;
typedef void (*sx_filewatch_fn)(void *arg);

struct sx_filewatch_opts {
	uint64_t poll_ms;   /* period of the polling that stands in for inotify; 0: 1 s */
	uint64_t settle_ms; /* quiet time after a change before the call; 0: 100 ms */
	bool poll_only;     /* never use inotify */
	bool poll_always;   /* call every poll_ms even while inotify works */
};

/**
 * Watch @path on the calling thread's loop and call @fn(@arg) there once a
 * change settles. A directory is watched for its entries (added, removed,
 * written); a file through its directory, so that a file replaced by a rename
 * counts. While inotify cannot watch (no inotify, the directory missing) the
 * call comes every poll_ms instead, and inotify is tried again after each.
 * The call means "may have changed": the caller compares. @opts may be NULL.
 * @return the watch, or NULL when out of memory or the thread has no loop.
 */
struct sx_filewatch *sx_filewatch_new(const char *path, const struct sx_filewatch_opts *opts,
                                      sx_filewatch_fn fn, void *arg);

/** Whether inotify watches now (else polling). */
bool sx_filewatch_notified(const struct sx_filewatch *fw);

/** Stop and free the watch. NULL is a no-op. */
void sx_filewatch_free(struct sx_filewatch *fw);
