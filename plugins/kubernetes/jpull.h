/* jpull.h -- read one JSON text in place, a value at a time (a pull parser). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The kubernetes plugin reads a few dozen fields out of objects the API
 * server sends by the hundred thousand. jansson builds a tree of every value
 * first, at about 180 instructions a byte: three quarters of a large sync.
 * This cursor walks the text instead: the caller asks for what it wants in
 * document order (an object's keys, a string into its own buffer, an
 * integer) and skips the rest, and nothing is allocated.
 *
 * The grammar is RFC 8259's, and integers (numbers without a fraction or an
 * exponent) must fit an int64, as jansson wants them. Strings are checked for
 * escapes and control characters, not for UTF-8 (the plugin validates the
 * names it keeps). The
 * first error sticks: every later call returns nothing, and k8s_jp_error()
 * says what and where.
 */

enum k8s_jt {
	K8S_JT_NONE, /* an error, or no value here */
	K8S_JT_OBJECT,
	K8S_JT_ARRAY,
	K8S_JT_STRING,
	K8S_JT_NUMBER,
	K8S_JT_BOOL,
	K8S_JT_NULL,
};

/* A cursor; copy it to come back to a value later. */
struct k8s_jp {
	const char *start, *p, *end;
	const char *why; /* the first error, or NULL */
	size_t err_at;   /* where it was found */
	uint32_t depth;  /* containers entered with k8s_jp_object/_array */
	uint64_t more;   /* bit d: the container at depth d has had a member */
};

/** Start reading @len bytes at @text (borrowed: it must outlive the cursor). */
void k8s_jp_init(struct k8s_jp *jp, const char *text, size_t len);

/** The type of the next value, without reading it. */
enum k8s_jt k8s_jp_peek(struct k8s_jp *jp);

/**
 * Enter an object. @return false, and the value skipped, when the next value
 * is something else (that is no error).
 */
bool k8s_jp_object(struct k8s_jp *jp);

/**
 * The next member of the object entered last: its key, NUL-terminated, in
 * @key (@size >= 2 bytes; a key that may not fit becomes "\x01", which
 * matches no name); the caller must then read or skip its value.
 * @return false at the end of the object (then left) or on an error.
 */
bool k8s_jp_key(struct k8s_jp *jp, char *key, size_t size);

/** Enter an array; like k8s_jp_object. */
bool k8s_jp_array(struct k8s_jp *jp);

/**
 * Whether another element of the array entered last follows; the caller
 * must then read or skip it. false at the end (then left) or on an error.
 */
bool k8s_jp_next(struct k8s_jp *jp);

/**
 * Read a string into @buf (@size > 0 bytes: at most @size - 1 of them, then
 * a NUL). @return its whole decoded length, which may be @size or more (the
 * copy was cut); -1, and the value skipped, when it is not a string.
 */
ssize_t k8s_jp_str(struct k8s_jp *jp, char *buf, size_t size);

/**
 * Read an integer (no fraction, no exponent).
 * @return false, and the value skipped, when it is anything else.
 */
bool k8s_jp_int(struct k8s_jp *jp, int64_t *v);

/** Read a boolean. @return 1 or 0; -1, and the value skipped, for anything else. */
int k8s_jp_bool(struct k8s_jp *jp);

/**
 * Skip the next value, whatever it is, checking its syntax. With @at and
 * @len, say where its text lies.
 */
void k8s_jp_skip(struct k8s_jp *jp, const char **at, size_t *len);

/** Whether everything was read without an error, and only whitespace is left. */
bool k8s_jp_end(struct k8s_jp *jp);

/** @return @buf holding "byte N: what was wrong", or NULL when nothing was. */
const char *k8s_jp_error(const struct k8s_jp *jp, char *buf, size_t size);
