/* test_http.c -- routes on shared listeners, replies, and the self-probe client, on one loop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sextant/http.h>
#include <sextant/time.h>

#include "loop.h"

static struct event_base *base;

static void
setup(void)
{
	base = event_base_new();
	cr_assert_not_null(base);
	sx_loop_bind(base);
}

static void
teardown(void)
{
	sx_loop_bind(NULL);
	event_base_free(base);
}

TestSuite(http, .init = setup, .fini = teardown);

static void
answer(struct sx_http_req *req, void *arg)
{
	sx_http_reply(req, *(int *)arg, "x", 1);
}

struct got {
	int status;
	unsigned calls;
};

static void
on_done(int status, void *arg)
{
	struct got *g = arg;

	g->status = status;
	g->calls++;
}

/* GET @path on @port; the status, or -1 when the client never called back. */
static int
get(uint16_t port, const char *path)
{
	struct sx_http_client *c = sx_http_client_new(port, 10000);
	struct got g = { 0 };
	uint64_t end = sx_now_ms() + 10000;

	cr_assert_not_null(c);
	cr_assert_eq(sx_http_get(c, path, on_done, &g), 0);
	cr_assert_eq(sx_http_get(c, path, on_done, &g), -EBUSY, "one request at a time");
	while (g.calls == 0 && sx_now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
	}
	sx_http_client_free(c);
	cr_assert_leq(g.calls, 1);
	return g.calls ? g.status : -1;
}

Test(http, routes_answer_by_path_and_newest_wins)
{
	int ok = 200, gone = 503;
	struct sx_http_route *a, *b, *other;
	char err[128];
	uint16_t port;

	cr_assert_eq(sx_http_route_add(&a, "127.0.0.1:0", "/p", answer, &ok, err, sizeof(err)), 0,
	             "%s", err);
	port = sx_http_route_port(a);
	cr_assert_neq(port, 0);
	cr_assert_eq(get(port, "/p"), 200);
	cr_assert_eq(get(port, "/nothing"), 404);
	/* Same address: the same listener; the newest route of a path answers. */
	cr_assert_eq(sx_http_route_add(&b, "127.0.0.1:0", "/p", answer, &gone, err, sizeof(err)),
	             0);
	cr_assert_eq(sx_http_route_port(b), port);
	cr_assert_eq(get(port, "/p"), 503);
	sx_http_route_free(b);
	cr_assert_eq(get(port, "/p"), 200, "the older route answers again");
	cr_assert_eq(
	        sx_http_route_add(&other, "127.0.0.1:0", "/q", answer, &gone, err, sizeof(err)), 0);
	cr_assert_eq(get(port, "/q"), 503);
	sx_http_route_free(other);
	sx_http_route_free(a);
	cr_assert_eq(get(port, "/p"), 0, "the listener closed with its last route");
	sx_http_route_free(NULL);
}

Test(http, bad_address_and_no_loop_are_errors)
{
	struct sx_http_route *r = NULL;
	char err[128];

	cr_assert_lt(sx_http_route_add(&r, "8080", "/p", answer, NULL, err, sizeof(err)), 0);
	cr_assert_str_eq(err, "invalid address '8080' (want [HOST]:PORT)");
	sx_loop_bind(NULL);
	cr_assert_lt(sx_http_route_add(&r, "127.0.0.1:0", "/p", answer, NULL, err, sizeof(err)), 0);
	cr_assert_null(sx_http_client_new(1, 1000));
	sx_loop_bind(base);
}

Test(http, client_freed_in_flight_never_calls_back)
{
	int ok = 200;
	struct sx_http_route *r;
	struct sx_http_client *c;
	struct got g = { 0 };
	char err[128];

	cr_assert_eq(sx_http_route_add(&r, "127.0.0.1:0", "/p", answer, &ok, err, sizeof(err)), 0);
	c = sx_http_client_new(sx_http_route_port(r), 10000);
	cr_assert_not_null(c);
	cr_assert_eq(sx_http_get(c, "/p", on_done, &g), 0);
	sx_http_client_free(c);
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(g.calls, 0);
	sx_http_route_free(r);
	sx_http_client_free(NULL);
}
