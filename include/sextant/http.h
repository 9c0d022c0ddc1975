/* http.h -- HTTP endpoints (health, ready, metrics) on the control thread, and a self-probe client. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A request being answered: valid only inside its handler, which answers it once. */
struct sx_http_req;
struct sx_http_route;

typedef void (*sx_http_handler)(struct sx_http_req *req, void *arg);

/**
 * Serve @path on @addr (":8080" for every address, "localhost:9153",
 * "127.0.0.1:0", "[::1]:8181") with @h, on the calling thread's loop (the
 * control thread's, in start). Listeners are shared by address and outlive
 * configuration reloads: when two routes have the same address and path (old
 * and new configuration during a reload), the newest one answers. Port 0 picks
 * a free port, logged as "serving PATH on port N" (and given by
 * sx_http_route_port()).
 * @return 0, or an error with a message ("listen tcp :8080: ...") in @err.
 */
int sx_http_route_add(struct sx_http_route **out, const char *addr, const char *path,
                      sx_http_handler h, void *arg, char *err, size_t errlen);

struct ssl_ctx_st; /* OpenSSL's SSL_CTX, kept out of this header */

/**
 * As sx_http_route_add(), and ask for @addr to be served over TLS with @tls
 * (a server SSL_CTX the caller owns, and keeps until sx_http_route_free()).
 * A listener takes each new connection with the context of its newest route
 * that gave one, plain HTTP when none did: a reload that changes certificates
 * applies to the connections that follow, and routes without a context
 * (health, ready) on the same address are served as that address is.
 */
int sx_http_route_add_tls(struct sx_http_route **out, const char *addr, const char *path,
                          sx_http_handler h, void *arg, struct ssl_ctx_st *tls, char *err,
                          size_t errlen);

/** The port the route's listener is bound to. */
uint16_t sx_http_route_port(const struct sx_http_route *r);

/** Remove the route; the listener closes with its last route. NULL is a no-op. */
void sx_http_route_free(struct sx_http_route *r);

/** Reply @code with a text/plain @body. */
void sx_http_reply(struct sx_http_req *req, int code, const char *body, size_t len);

/** Reply @code with @body of Content-Type @type. */
void sx_http_reply_type(struct sx_http_req *req, int code, const char *type, const char *body,
                        size_t len);

/* A keep-alive connection to this host's own endpoint, for self-probes (health's). */
struct sx_http_client;

/** @status: the reply's HTTP status, or 0 when none came (refused, reset, timed out). */
typedef void (*sx_http_done)(int status, void *arg);

/**
 * A client of http://127.0.0.1:@port on the calling thread's loop; a request
 * gets no reply after @timeout_ms. It connects with its first request, and
 * again after a failure. @return it, or NULL (out of memory, no loop).
 */
struct sx_http_client *sx_http_client_new(uint16_t port, uint64_t timeout_ms);

/**
 * GET @path (Host: localhost); @fn(status, @arg) runs once, later, on the
 * client's loop. One request at a time.
 * @return 0, -EBUSY while one is in flight, or -ENOMEM (@fn is not called).
 */
int sx_http_get(struct sx_http_client *c, const char *path, sx_http_done fn, void *arg);

/** Close and free; a request in flight is dropped without its callback. NULL is a no-op. */
void sx_http_client_free(struct sx_http_client *c);
