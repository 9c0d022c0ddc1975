/* filewatch.h -- be told when a file or directory may have changed; stamps to tell if it did. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

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

/*
 * What a file was when it was last read, so that a later stat tells whether
 * it may have changed without reading it again: another file (dev, inode),
 * another size, or another modification or status-change time (ctime also
 * catches a write whose mtime was set back). A zeroed stamp is no file read.
 */
struct sx_file_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool racy; /* see sx_file_stamp_mark_if_racy() */
};

/** Stamp the file whose stat, taken before it was read, is @sb. */
void sx_file_stamp_set(struct sx_file_stamp *s, const struct stat *sb);

/**
 * Mark @s racy if its file changed less than two seconds ago: file times are
 * coarse (a clock tick, two seconds on FAT), so a write of the same size in
 * the same tick as the one read would keep every field of the stamp. A racy
 * stamp counts as changed at the next check, which reads the file again.
 * Callers that would rather miss such a write than read a file twice (a
 * read that is costly or logs) leave it out.
 */
void sx_file_stamp_mark_if_racy(struct sx_file_stamp *s);

/** Whether the file whose stat is @sb may differ from the one stamped @s. */
bool sx_file_stamp_changed(const struct sx_file_stamp *s, const struct stat *sb);
