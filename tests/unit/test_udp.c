/* test_udp.c -- UDP replies on loopback: one at once, and resumed ones sent together later. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "req_internal.h"
#include "worker.h"

static struct sx_worker *worker;
static int server_fd = -1, client_fd = -1;
static struct sockaddr_in server_addr, client_addr;

/* A UDP socket on 127.0.0.1, on a port the kernel picks; its address in @addr. */
static int
loopback(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	/* A lost reply fails the test instead of hanging it. */
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void
setup(void)
{
	worker = sx_workers_new(1);
	cr_assert_not_null(worker);
	server_fd = loopback(&server_addr);
	client_fd = loopback(&client_addr);
}

static void
teardown(void)
{
	close(server_fd);
	close(client_fd);
	sx_workers_free(worker, 1);
}

TestSuite(udp, .init = setup, .fini = teardown);

/* A request from the client socket whose reply is @text. */
static struct sx_req *
new_req(const char *text)
{
	struct sx_req *req = sx_req_get(worker);

	cr_assert_not_null(req);
	memcpy(&req->q.client, &client_addr, sizeof(client_addr));
	req->q.client_len = sizeof(client_addr);
	req->udp_fd = server_fd;
	req->out = sx_req_alloc(req, strlen(text) + 1);
	cr_assert_not_null(req->out);
	memcpy(req->out, text, strlen(text) + 1);
	return req;
}

/* The next datagram the client gets: its text, and that the server's socket sent it. */
static void
expect(const char *text)
{
	char buf[2048];
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	ssize_t n = recvfrom(client_fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from,
	                     &fromlen);

	cr_assert_eq(n, (ssize_t)strlen(text), "wanted <%s>", text);
	buf[n] = '\0';
	cr_assert_str_eq(buf, text);
	cr_assert_eq(from.sin_port, server_addr.sin_port);
	cr_assert_eq(from.sin_addr.s_addr, server_addr.sin_addr.s_addr);
}

static bool
nothing_waiting(void)
{
	char buf[16];

	return recv(client_fd, buf, sizeof(buf), MSG_DONTWAIT) < 0;
}

Test(udp, send_one_goes_to_the_client_at_once)
{
	struct sx_req *req = new_req("first");

	sx_udp_send_one(req, strlen("first"));
	expect("first");
	sx_req_put(req);
}

Test(udp, send_one_from_the_address_the_query_was_sent_to)
{
	struct sx_req *req = new_req("pktinfo");
	struct sockaddr_in *local = (struct sockaddr_in *)&req->local;

	/* As on a wildcard socket: the source address goes with the reply (IP_PKTINFO). */
	local->sin_family = AF_INET;
	local->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	req->has_local = true;
	sx_udp_send_one(req, strlen("pktinfo"));
	expect("pktinfo");
	sx_req_put(req);
}

Test(udp, late_replies_wait_for_the_flush_and_keep_their_order)
{
	static const char *const texts[] = { "one", "two", "three" };

	for (int i = 0; i < 3; i++) {
		struct sx_req *req = new_req(texts[i]);

		sx_udp_send_late(req, strlen(texts[i]));
		/* The request may go back to the pool at once: the reply was copied. */
		memset(req->out, 'X', strlen(texts[i]));
		sx_req_put(req);
	}
	cr_assert_eq(worker->nlate, 3);
	cr_assert(nothing_waiting());
	sx_udp_flush_late(-1, 0, worker);
	cr_assert_eq(worker->nlate, 0);
	for (int i = 0; i < 3; i++) {
		expect(texts[i]);
	}
}

Test(udp, a_large_late_reply_goes_at_once)
{
	char big[SX_LATE_MAX + 2];
	struct sx_req *req;

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	req = new_req(big);
	sx_udp_send_late(req, strlen(big));
	cr_assert_eq(worker->nlate, 0);
	expect(big);
	sx_req_put(req);
}

Test(udp, a_full_late_batch_is_sent_before_the_next)
{
	char text[16];

	for (int i = 0; i <= SX_UDP_BATCH; i++) {
		struct sx_req *req;

		snprintf(text, sizeof(text), "r%d", i);
		req = new_req(text);
		sx_udp_send_late(req, strlen(text));
		sx_req_put(req);
	}
	cr_assert_eq(worker->nlate, 1);
	for (int i = 0; i < SX_UDP_BATCH; i++) {
		snprintf(text, sizeof(text), "r%d", i);
		expect(text);
	}
	cr_assert(nothing_waiting());
	sx_udp_flush_late(-1, 0, worker);
	snprintf(text, sizeof(text), "r%d", SX_UDP_BATCH);
	expect(text);
}
