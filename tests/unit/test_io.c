/* test_io.c -- readiness watches and streams on the thread's loop: read, write, pause, errors. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
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
	/* As main() does: streams are locked, and a write to a closed socket is only an error. */
	cr_assert_eq(evthread_use_pthreads(), 0);
	signal(SIGPIPE, SIG_IGN);
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

Test(io, a_rebound_watch_reports_the_new_descriptor_and_not_the_old)
{
	struct seen s = { 0 };
	struct sx_io *io = sx_io_new(sv[0], SX_IO_READ, on_ready, &s);
	int other[2];

	cr_assert_not_null(io);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, other), 0);
	cr_assert_eq(sx_io_rebind(io, other[0]), 0);
	cr_assert_eq(write(sv[1], "x", 1), 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(s.calls, 0, "the old descriptor is no longer watched");
	cr_assert_eq(write(other[1], "y", 1), 1);
	spin(&s, 1);
	cr_assert_eq(s.calls, 1);
	cr_assert_eq(s.fd, other[0]);
	/* A paused watch stays paused on its new descriptor. */
	cr_assert_eq(sx_io_set(io, 0), 0);
	cr_assert_eq(sx_io_rebind(io, sv[0]), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(s.calls, 1, "paused, with sv[0] readable");
	cr_assert_eq(sx_io_set(io, SX_IO_READ), 0);
	spin(&s, 2);
	cr_assert_eq(s.fd, sv[0]);
	sx_io_free(io);
	close(other[0]);
	close(other[1]);
}

Test(io, no_loop_no_watch)
{
	sx_loop_bind(NULL);
	cr_assert_null(sx_io_new(sv[0], SX_IO_READ, on_ready, NULL));
	sx_loop_bind(base);
}

struct sseen {
	unsigned what; /* every SX_STREAM_* reported */
	unsigned calls;
	int err;
};

static void
on_stream(struct sx_stream *st, unsigned what, int err, void *arg)
{
	struct sseen *s = arg;

	(void)st;
	s->what |= what;
	s->calls++;
	if (err) {
		s->err = err;
	}
}

static void
spin_stream(struct sseen *s, unsigned what)
{
	uint64_t end = sx_now_ms() + 10000;

	while (!(s->what & what) && sx_now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
	}
}

Test(io, stream_writes_reads_peeks_takes_and_sees_eof)
{
	struct sseen s = { 0 };
	int fd = dup(sv[0]);
	struct sx_stream *st = sx_stream_new(fd, NULL, on_stream, &s);
	char buf[16] = { 0 };
	uint64_t end = sx_now_ms() + 10000;
	ssize_t n = 0;

	cr_assert_not_null(st);
	cr_assert_eq(sx_stream_fd(st), fd);
	cr_assert_eq(sx_stream_write(st, "ping", 4), 0);
	while (n <= 0 && sx_now_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		n = read(sv[1], buf, sizeof(buf));
	}
	cr_assert_eq(n, 4);
	cr_assert_arr_eq(buf, "ping", 4);
	/* Not reading yet: the peer's bytes wait in the socket. */
	cr_assert_eq(write(sv[1], "pong!", 5), 5);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(s.calls, 0);
	cr_assert_eq(sx_stream_reading(st, true), 0);
	spin_stream(&s, SX_STREAM_READ);
	cr_assert_eq(s.what, SX_STREAM_READ);
	cr_assert_eq(sx_stream_buffered(st), 5);
	cr_assert_eq(sx_stream_copy(st, buf, 2, false), 2);
	cr_assert_arr_eq(buf, "po", 2);
	cr_assert_eq(sx_stream_buffered(st), 5, "a peek leaves the bytes");
	cr_assert_eq(sx_stream_copy(st, buf, 4, true), 4);
	cr_assert_arr_eq(buf, "pong", 4);
	cr_assert_eq(sx_stream_buffered(st), 1);
	cr_assert_eq(sx_stream_copy(st, buf, sizeof(buf), true), 1);
	cr_assert_eq(sx_stream_tls_error(st), 0);
	shutdown(sv[1], SHUT_WR);
	spin_stream(&s, SX_STREAM_EOF);
	cr_assert(s.what & SX_STREAM_EOF);
	cr_assert_eq(s.err, 0);
	sx_stream_free(st);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_lt(fcntl(fd, F_GETFD), 0, "the stream closed its descriptor");
	sx_stream_free(NULL);
}

Test(io, stream_reports_a_refused_connect_as_an_error_with_errno)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), fd;
	struct sseen s = { 0 };
	struct sx_stream *st;

	/* A port bound but not listening: the connect is refused. */
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS ||
	          errno == ECONNREFUSED);
	st = sx_stream_new(fd, NULL, on_stream, &s);
	cr_assert_not_null(st);
	/* libevent reports a refused connect through a write, not a read. */
	cr_assert_eq(sx_stream_write(st, "x", 1), 0);
	cr_assert_eq(sx_stream_reading(st, true), 0);
	spin_stream(&s, SX_STREAM_ERROR);
	cr_assert(s.what & SX_STREAM_ERROR);
	cr_assert(s.err == ECONNREFUSED || s.err == EPIPE, "%s", strerror(s.err));
	sx_stream_free(st);
	close(l);
}

Test(io, no_loop_no_stream)
{
	sx_loop_bind(NULL);
	cr_assert_null(sx_stream_new(sv[0], NULL, on_stream, NULL));
	sx_loop_bind(base);
}
