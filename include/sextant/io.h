/* io.h -- readiness of a file descriptor, and byte streams, on the calling thread's event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

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

/**
 * Watch @fd instead of the descriptor watched so far, for the same events,
 * without allocating: for a socket replaced by a new one. The old descriptor
 * is no longer watched when this returns, and may be closed. On the watch's
 * own thread. @return 0, or -ENOMEM (then nothing is watched).
 */
int sx_io_rebind(struct sx_io *io, int fd);

/**
 * Stop watching and free; @fd stays open. NULL is a no-op. From another thread
 * than the watch's, it waits for a callback in progress to return.
 */
void sx_io_free(struct sx_io *io);

/*
 * A byte stream over a connected (or connecting) TCP socket, plain or TLS, on
 * the calling thread's loop: writes are queued and sent as the socket takes
 * them, reads are buffered until taken. Streams are locked, so that one can be
 * freed from another thread (a configuration's teardown) while its callback
 * still runs on its own: sx_stream_free() waits for the callback to return.
 */
struct sx_stream;
struct ssl_st; /* OpenSSL's SSL */

enum {
	SX_STREAM_READ = 1,      /* more bytes are buffered */
	SX_STREAM_CONNECTED = 2, /* the TLS handshake completed (not reported for plain TCP) */
	SX_STREAM_EOF = 4,       /* the peer closed */
	SX_STREAM_ERROR = 8,     /* a socket error (@err, an errno), or a TLS one */
};
/** @what: one SX_STREAM_* (EOF may come with ERROR); @err: the socket's errno with ERROR, or 0. */
typedef void (*sx_stream_fn)(struct sx_stream *s, unsigned what, int err, void *arg);

/**
 * A stream over @fd (non-blocking, its connect() made), with @tls, when not
 * NULL, a client session to handshake over it first. On success the stream
 * owns @fd and @tls; it writes as soon as it can and reads once enabled.
 * @return the stream, or NULL (out of memory, no loop): @fd and @tls stay the caller's.
 */
struct sx_stream *sx_stream_new(int fd, struct ssl_st *tls, sx_stream_fn fn, void *arg);

/** Queue @len bytes of @buf to send. @return 0, or -ENOMEM. */
int sx_stream_write(struct sx_stream *s, const void *buf, size_t len);

/** Read (and report SX_STREAM_READ) or stop reading. @return 0, or -ENOMEM. */
int sx_stream_reading(struct sx_stream *s, bool on);

/** How many bytes are buffered, ready to be taken. */
size_t sx_stream_buffered(struct sx_stream *s);

/** Copy up to @len buffered bytes to @buf, taking them or (!@take) leaving them. @return how many. */
size_t sx_stream_copy(struct sx_stream *s, void *buf, size_t len, bool take);

/** The socket. */
int sx_stream_fd(struct sx_stream *s);

/** OpenSSL's code of the session's next unreported error, 0 when none (or plain TCP). */
unsigned long sx_stream_tls_error(struct sx_stream *s);

/**
 * Free the stream, from any thread; its socket (and TLS session) closes when
 * its loop next runs. NULL is a no-op.
 */
void sx_stream_free(struct sx_stream *s);
