/* io.c -- file descriptor readiness and byte streams on the calling thread's loop. */
#include <errno.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <sextant/io.h>

#include "loop.h"

struct sx_io {
	struct event *ev;
	sx_io_fn fn;
	void *arg;
};

static void
ready(evutil_socket_t fd, short what, void *arg)
{
	struct sx_io *io = arg;

	io->fn(fd, (what & EV_READ ? SX_IO_READ : 0) | (what & EV_WRITE ? SX_IO_WRITE : 0),
	       io->arg);
}

struct sx_io *
sx_io_new(int fd, unsigned what, sx_io_fn fn, void *arg)
{
	struct event_base *base = sx_loop_current();
	struct sx_io *io;

	if (!base || !(io = calloc(1, sizeof(*io)))) {
		return NULL;
	}
	io->fn = fn;
	io->arg = arg;
	if (!(io->ev = event_new(base, fd, EV_PERSIST, ready, io)) || sx_io_set(io, what) < 0) {
		sx_io_free(io);
		return NULL;
	}
	return io;
}

int
sx_io_set(struct sx_io *io, unsigned what)
{
	short kind = EV_PERSIST | (what & SX_IO_READ ? EV_READ : 0) |
	             (what & SX_IO_WRITE ? EV_WRITE : 0);

	event_del(io->ev);
	if (!(what & (SX_IO_READ | SX_IO_WRITE))) {
		return 0;
	}
	if (event_assign(io->ev, event_get_base(io->ev), event_get_fd(io->ev), kind, ready, io) <
	            0 ||
	    event_add(io->ev, NULL) < 0) {
		return -ENOMEM;
	}
	return 0;
}

int
sx_io_rebind(struct sx_io *io, int fd)
{
	short kind = event_get_events(io->ev);
	bool watched = event_pending(io->ev, EV_READ | EV_WRITE, NULL) != 0;

	event_del(io->ev);
	if (event_assign(io->ev, event_get_base(io->ev), fd, kind, ready, io) < 0 ||
	    (watched && event_add(io->ev, NULL) < 0)) {
		return -ENOMEM;
	}
	return 0;
}

void
sx_io_free(struct sx_io *io)
{
	if (io) {
		if (io->ev) {
			event_free(io->ev);
		}
		free(io);
	}
}

struct sx_stream {
	struct bufferevent *bev;
	sx_stream_fn fn;
	void *arg;
};

static void
stream_read(struct bufferevent *bev, void *arg)
{
	struct sx_stream *s = arg;

	(void)bev;
	s->fn(s, SX_STREAM_READ, 0, s->arg);
}

static void
stream_event(struct bufferevent *bev, short what, void *arg)
{
	struct sx_stream *s = arg;
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	s->fn(s,
	      (what & BEV_EVENT_CONNECTED ? SX_STREAM_CONNECTED : 0) |
	              (what & BEV_EVENT_EOF ? SX_STREAM_EOF : 0) |
	              (what & BEV_EVENT_ERROR ? SX_STREAM_ERROR : 0),
	      what & BEV_EVENT_ERROR ? err : 0, s->arg);
}

/*
 * Locked: a stream's callback may drop the last reference to a configuration,
 * whose teardown then frees the stream from the control thread while the
 * worker still unwinds through libevent; bufferevent_free() waits for the lock
 * held around every callback.
 */
#define STREAM_OPTS (BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE)

struct sx_stream *
sx_stream_new(int fd, struct ssl_st *tls, sx_stream_fn fn, void *arg)
{
	struct event_base *base = sx_loop_current();
	struct sx_stream *s;

	if (!base || !(s = calloc(1, sizeof(*s)))) {
		return NULL;
	}
	s->fn = fn;
	s->arg = arg;
	s->bev = tls ? bufferevent_openssl_socket_new(base, fd, tls, BUFFEREVENT_SSL_CONNECTING,
	                                              STREAM_OPTS)
	             : bufferevent_socket_new(base, fd, STREAM_OPTS);
	if (!s->bev) {
		free(s);
		return NULL;
	}
	bufferevent_setcb(s->bev, stream_read, NULL, stream_event, s);
	return s;
}

int
sx_stream_write(struct sx_stream *s, const void *buf, size_t len)
{
	return bufferevent_write(s->bev, buf, len) < 0 || bufferevent_enable(s->bev, EV_WRITE) < 0
	               ? -ENOMEM
	               : 0;
}

int
sx_stream_reading(struct sx_stream *s, bool on)
{
	return (on ? bufferevent_enable(s->bev, EV_READ) : bufferevent_disable(s->bev, EV_READ)) < 0
	               ? -ENOMEM
	               : 0;
}

size_t
sx_stream_buffered(struct sx_stream *s)
{
	return evbuffer_get_length(bufferevent_get_input(s->bev));
}

size_t
sx_stream_copy(struct sx_stream *s, void *buf, size_t len, bool take)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	ev_ssize_t n = take ? evbuffer_remove(in, buf, len) : evbuffer_copyout(in, buf, len);

	return n < 0 ? 0 : (size_t)n;
}

int
sx_stream_fd(struct sx_stream *s)
{
	return (int)bufferevent_getfd(s->bev);
}

unsigned long
sx_stream_tls_error(struct sx_stream *s)
{
	return bufferevent_get_openssl_error(s->bev);
}

void
sx_stream_free(struct sx_stream *s)
{
	if (s) {
		bufferevent_free(s->bev);
		free(s);
	}
}
