/* test_io.c -- readiness watches on the thread's loop: read, write, pause, change. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sextant/io.h>
#include <sextant/time.h>

#include "loop.h"

static struct event_base *base;
static int sv[2];

static void
setup(void)
{
	base = event_base_new();
	cr_assert_not_null(base);
	sx_loop_bind(base);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static void
teardown(void)
{
	close(sv[0]);
	close(sv[1]);
	sx_loop_bind(NULL);
	event_base_free(base);
}

TestSuite(io, .init = setup, .fini = teardown);

struct seen {
	unsigned calls;
	unsigned what;
	int fd;
};

static void
on_ready(int fd, unsigned what, void *arg)
{
	struct seen *s = arg;
	char buf[16];

	s->calls++;
	s->what |= what;
	s->fd = fd;
	if (what & SX_IO_READ) {
		while (read(fd, buf, sizeof(buf)) > 0) {
		}
	}
}

static void
spin(struct seen *s, unsigned calls)
{
	uint64_t end = sx_now_ms() + 10000;

	while (s->calls < calls && sx_now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
	}
}

Test(io, read_fires_on_data_and_again_on_more)
{
	struct seen s = { 0 };
	struct sx_io *io = sx_io_new(sv[0], SX_IO_READ, on_ready, &s);

	cr_assert_not_null(io);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(s.calls, 0, "nothing to read yet");
	cr_assert_eq(write(sv[1], "x", 1), 1);
	spin(&s, 1);
	cr_assert_eq(s.calls, 1);
	cr_assert_eq(s.what, SX_IO_READ);
	cr_assert_eq(s.fd, sv[0]);
	cr_assert_eq(write(sv[1], "y", 1), 1);
	spin(&s, 2);
	cr_assert_eq(s.calls, 2, "the watch persists");
	sx_io_free(io);
}

Test(io, idle_watch_then_write_then_paused)
{
	struct seen s = { 0 };
	struct sx_io *io = sx_io_new(sv[0], 0, on_ready, &s);

	cr_assert_not_null(io);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(s.calls, 0);
	cr_assert_eq(sx_io_set(io, SX_IO_WRITE), 0);
	spin(&s, 1);
	cr_assert_eq(s.what, SX_IO_WRITE);
	cr_assert_eq(sx_io_set(io, 0), 0);
	s.calls = 0;
	cr_assert_eq(write(sv[1], "x", 1), 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(s.calls, 0, "paused: neither writable nor readable is reported");
	sx_io_free(io);
	sx_io_free(NULL);
}

Test(io, no_loop_no_watch)
{
	sx_loop_bind(NULL);
	cr_assert_null(sx_io_new(sv[0], SX_IO_READ, on_ready, NULL));
	sx_loop_bind(base);
}
