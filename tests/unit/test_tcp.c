/* test_tcp.c -- DNS over TCP on loopback: framing, pipelining, bad lengths, deadlines, eviction. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sextant/msg.h>

#include "req_internal.h"
#include "serving.h"
#include "worker.h"

/* whoami answers every name under example.; a message must be whole in 3 s, idling may last 20 s. */
static const char corefile[] = "example.:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\ttimeouts {\n"
                               "\t\tidle 20s\n"
                               "\t}\n"
                               "\twhoami\n"
                               "}\n";

static uint16_t port;

static void
setup(void)
{
	port = serving_start(serving_config(NULL, corefile));
}

TestSuite(tcp, .init = setup, .fini = serving_stop, .timeout = 60);

static int
connect_server(void)
{
	int fd = serving_connect("127.0.0.1", port);
	int one = 1;

	cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
	/* Each send() leaves at once, so the server sees the pieces a test cuts. */
	cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	return fd;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len, "send: %s", strerror(errno));
}

/* Append query @id for @name to @buf at *@off, behind its 2-byte length. */
static void
frame_query(uint8_t *buf, size_t cap, size_t *off, uint16_t id, const char *name)
{
	size_t len = serving_query(buf + *off + 2, cap - *off - 2, id, name, SX_TYPE_A);

	buf[*off] = (uint8_t)(len >> 8);
	buf[*off + 1] = (uint8_t)len;
	*off += len + 2;
}

/* Read one framed reply from @fd and check its ID and rcode. */
static void
expect_reply(int fd, uint16_t id, unsigned rcode)
{
	uint8_t lenbuf[2], msg[65535];
	size_t len;

	cr_assert_eq(recv(fd, lenbuf, 2, MSG_WAITALL), 2, "no reply to %#x: %s", id,
	             strerror(errno));
	len = (size_t)lenbuf[0] << 8 | lenbuf[1];
	cr_assert_geq(len, 12);
	cr_assert_eq(recv(fd, msg, len, MSG_WAITALL), (ssize_t)len);
	cr_assert_eq(msg[0] << 8 | msg[1], id, "got %#x, wanted %#x", msg[0] << 8 | msg[1], id);
	cr_assert(msg[2] & 0x80, "QR set");
	cr_assert_eq(msg[3] & 0x0f, rcode, "reply to %#x", id);
}

static void
expect_answer(int fd, uint16_t id)
{
	expect_reply(fd, id, SX_RCODE_NOERROR);
}

/* Whether the server closed @fd (EOF or reset) within @ms; what it sent before is skipped. */
static bool
closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b[512];

	while (poll(&p, 1, ms) == 1) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			return true;
		}
	}
	return false;
}

/*
 * One query over UDP to the same (single) worker: once it is answered, the worker has
 * run the loop iteration that saw what was sent before on other sockets.
 */
static void
barrier(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	uint8_t q[512], r[512];
	size_t len = serving_query(q, sizeof(q), 0x7777, "barrier.example.", SX_TYPE_A);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	cr_assert_eq(sendto(fd, q, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
	cr_assert_geq(recv(fd, r, sizeof(r), 0), 12, "barrier: %s", strerror(errno));
	close(fd);
}

Test(tcp, a_query_split_over_several_reads_is_put_together)
{
	uint8_t buf[512];
	size_t len = 0;
	int fd = connect_server();
	/* Cut in the length, just after it, and inside the question. */
	const size_t cuts[] = { 1, 2, 9, 20 };
	size_t from = 0;

	frame_query(buf, sizeof(buf), &len, 0x1234, "split.example.");
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		send_all(fd, buf + from, cuts[i] - from);
		from = cuts[i];
		barrier();
		cr_assert_not(closed_within(fd, 0), "closed after %zu bytes", from);
	}
	send_all(fd, buf + from, len - from);
	expect_answer(fd, 0x1234);
	/* The connection reads the next message from a clean start. */
	len = 0;
	frame_query(buf, sizeof(buf), &len, 0x1235, "again.example.");
	send_all(fd, buf, len);
	expect_answer(fd, 0x1235);
	close(fd);
}

Test(tcp, pipelined_queries_in_one_write_are_all_answered_in_order)
{
	uint8_t buf[4096];
	size_t len = 0;
	int fd = connect_server();

	for (uint16_t id = 1; id <= 20; id++) {
		frame_query(buf, sizeof(buf), &len, id, "pipe.example.");
	}
	send_all(fd, buf, len);
	/* whoami answers at once, so each reply follows the one before. */
	for (uint16_t id = 1; id <= 20; id++) {
		expect_answer(fd, id);
	}
	close(fd);
}

Test(tcp, a_length_shorter_than_a_header_closes_the_connection)
{
	uint8_t buf[512];
	size_t len = 0;
	int fd = connect_server();

	frame_query(buf, sizeof(buf), &len, 0x0101, "before.example.");
	send_all(fd, buf, len);
	expect_answer(fd, 0x0101);
	/* Five bytes announced and sent: not even a DNS header. What follows is not read. */
	memcpy(buf, "\x00\x05hello", 7);
	len = 7;
	frame_query(buf, sizeof(buf), &len, 0x0102, "after.example.");
	send_all(fd, buf, len);
	/* At once: well before the read deadline would close it for what is left unread. */
	struct pollfd p = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 2000), 1, "still open");
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "got %zd bytes, not the end", n);
	close(fd);
}

Test(tcp, the_answers_read_before_a_short_frame_go_out_before_the_close)
{
	uint8_t buf[512];
	size_t len = 0;
	int fd = connect_server();

	/* Two queries and a frame too short for a header, in one write: one read for all. */
	frame_query(buf, sizeof(buf), &len, 0x0201, "first.example.");
	frame_query(buf, sizeof(buf), &len, 0x0202, "second.example.");
	memcpy(buf + len, "\x00\x05hello", 7);
	len += 7;
	send_all(fd, buf, len);
	expect_answer(fd, 0x0201);
	expect_answer(fd, 0x0202);
	cr_assert(closed_within(fd, 2000), "the connection stayed open after the short frame");
	close(fd);
}

Test(tcp, a_message_larger_than_a_query_may_be_gets_formerr_and_the_connection_goes_on)
{
	static uint8_t buf[2 + SX_QUERY_MAX + 1 + 512];
	size_t big = SX_QUERY_MAX + 1, len;
	int fd = connect_server();

	/* A header (ID 0xbeef, one question) followed by bytes no query has room for. */
	memset(buf, 'x', sizeof(buf));
	buf[0] = (uint8_t)(big >> 8);
	buf[1] = (uint8_t)big;
	memcpy(buf + 2, "\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	len = 2 + big;
	frame_query(buf, sizeof(buf), &len, 0x0202, "next.example.");
	send_all(fd, buf, len);
	expect_reply(fd, 0xbeef, SX_RCODE_FORMERR);
	expect_answer(fd, 0x0202);
	close(fd);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(tcp, a_message_begun_but_not_finished_is_cut_at_the_read_deadline)
{
	uint8_t buf[512];
	size_t len = 0;
	int fd = connect_server(), idle = connect_server();
	double t0;

	/* A length that promises more than ever comes: only the read deadline can end it. */
	frame_query(buf, sizeof(buf), &len, 0x0303, "slow.example.");
	t0 = now_s();
	send_all(fd, buf, len - 3);
	/* Closed by the 3 s deadline (swept once a second), long before the 20 s idle timeout. */
	cr_assert(closed_within(fd, 10000), "still open after %.1f s", now_s() - t0);
	cr_assert_geq(now_s() - t0, 2.9);
	/* A connection with nothing begun is idle, not late: it stays, and is served. */
	cr_assert_not(closed_within(idle, 0));
	len = 0;
	frame_query(buf, sizeof(buf), &len, 0x0304, "idle.example.");
	send_all(idle, buf, len);
	expect_answer(idle, 0x0304);
	close(fd);
	close(idle);
}

Test(tcp, when_every_slot_is_taken_the_least_recently_useful_connection_goes)
{
	static int fds[SX_TCP_MAX_CONNS + 1];
	const int n = SX_TCP_MAX_CONNS, last = SX_TCP_MAX_CONNS - 1;
	uint8_t buf[512];
	size_t len;

	for (int i = 0; i < n; i++) {
		fds[i] = connect_server();
	}
	/* The last one answered: the server has accepted every connection, in order. */
	len = 0;
	frame_query(buf, sizeof(buf), &len, 0x0401, "last.example.");
	send_all(fds[last], buf, len);
	expect_answer(fds[last], 0x0401);
	/* The first becomes the most recently useful; the second is now the oldest. */
	len = 0;
	frame_query(buf, sizeof(buf), &len, 0x0402, "first.example.");
	send_all(fds[0], buf, len);
	expect_answer(fds[0], 0x0402);

	fds[n] = connect_server();
	len = 0;
	frame_query(buf, sizeof(buf), &len, 0x0403, "new.example.");
	send_all(fds[n], buf, len);
	expect_answer(fds[n], 0x0403);
	cr_assert(closed_within(fds[1], 5000), "the oldest idle connection was not evicted");
	for (int i = 2; i <= n; i++) {
		cr_assert_not(closed_within(fds[i], 0), "connection %d closed", i);
	}
	len = 0;
	frame_query(buf, sizeof(buf), &len, 0x0404, "first.example.");
	send_all(fds[0], buf, len);
	expect_answer(fds[0], 0x0404);
	for (int i = 0; i <= n; i++) {
		close(fds[i]);
	}
}
