/* io.c -- file descriptor readiness on the calling thread's loop. */
#include <errno.h>
#include <stdlib.h>

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
