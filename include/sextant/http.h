/* http.h -- HTTP endpoints (health, ready, metrics) served by evhttp on the control thread. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct evhttp_request;
struct event_base;
struct sx_http_route;

typedef void (*sx_http_handler)(struct evhttp_request *req, void *arg);

/**
 * Serve @path on @addr (":8080" for every address, "localhost:9153",
 * "127.0.0.1:0", "[::1]:8181") with @h, on the control thread's loop @base.
 * Listeners are shared by address and outlive configuration reloads: when two
 * routes have the same address and path (old and new configuration during a
 * reload), the newest one answers. Port 0 picks a free port, logged as
 * "serving PATH on port N" (and given by sx_http_route_port()).
 * @return 0, or an error with a message ("listen tcp :8080: ...") in @err.
 */
int sx_http_route_add(struct sx_http_route **out, struct event_base *base, const char *addr,
                      const char *path, sx_http_handler h, void *arg, char *err, size_t errlen);

/** The port the route's listener is bound to. */
uint16_t sx_http_route_port(const struct sx_http_route *r);

/** Remove the route; the listener closes with its last route. NULL is a no-op. */
void sx_http_route_free(struct sx_http_route *r);

/** Reply @code with a text/plain @body. */
void sx_http_reply(struct evhttp_request *req, int code, const char *body, size_t len);
