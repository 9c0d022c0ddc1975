/* http.c -- shared evhttp listeners with routes that survive reloads; the self-probe client. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include <sextant/http.h>
#include <sextant/log.h>

#include "loop.h"

#define HTTP_TIMEOUT_SEC 5 /* CoreDNS's read/write/idle timeouts */

struct listener;

/* The public handle of a request is the evhttp request itself, never dereferenced as ours. */
static struct evhttp_request *
ev_req(struct sx_http_req *req)
{
	return (struct evhttp_request *)req;
}

struct sx_http_route {
	struct listener *l;
	char *path;
	sx_http_handler h;
	void *arg;
	SSL_CTX *tls;               /* or NULL */
	struct sx_http_route *next; /* newest first */
};

struct listener {
	char *addr;
	struct evhttp *http;
	uint16_t port;
	struct sx_http_route *routes;
	struct listener *next;
};

static struct listener *listeners;

void
sx_http_reply_type(struct sx_http_req *sreq, int code, const char *type, const char *body,
                   size_t len)
{
	struct evhttp_request *req = ev_req(sreq);
	struct evbuffer *b = evbuffer_new();

	if (!b || evbuffer_add(b, body, len) < 0) {
		if (b) {
			evbuffer_free(b);
		}
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_send_reply(req, code,
	                  code == 200   ? "OK"
	                  : code == 404 ? "Not Found"
	                  : code == 503 ? "Service Unavailable"
	                                : "Error",
	                  b);
	evbuffer_free(b);
}

void
sx_http_reply(struct sx_http_req *req, int code, const char *body, size_t len)
{
	sx_http_reply_type(req, code, "text/plain; charset=utf-8", body, len);
}

/* The TLS context the listener serves with now: its newest route's that has one, or NULL. */
static SSL_CTX *
listener_tls(const struct listener *l)
{
	const struct sx_http_route *r;

	for (r = l->routes; r && !r->tls; r = r->next) {
	}
	return r ? r->tls : NULL;
}

static void
dispatch(struct evhttp_request *req, void *arg)
{
	struct listener *l = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct sx_http_route *r;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(
	        evhttp_request_get_connection(req));

	/* A plain connection on a TLS listener (out of memory, or kept alive over a reload). */
	if (listener_tls(l) && !bufferevent_openssl_get_ssl(bev)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		evhttp_send_error(req, 400, "TLS required");
		return;
	}
	for (r = l->routes; r && path; r = r->next) {
		if (!strcmp(r->path, path)) {
			r->h((struct sx_http_req *)req, r->arg);
			return;
		}
	}
	sx_http_reply((struct sx_http_req *)req, 404, "404 page not found\n", 19);
}

/*
 * A new connection: TLS when the listener serves it. NULL makes evhttp use a
 * plain socket bufferevent, as without this callback: on a TLS listener that
 * only happens when out of memory, and dispatch() then refuses the request.
 */
static struct bufferevent *
accept_bev(struct event_base *base, void *arg)
{
	SSL_CTX *ctx = listener_tls(arg);
	SSL *ssl;
	struct bufferevent *bev;

	if (!ctx || !(ssl = SSL_new(ctx))) {
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
	}
	return bev;
}

/* Split "host:port" (host may be empty, a name, an IPv4 or a bracketed IPv6). */
static int
split(const char *addr, char *host, size_t hostcap, uint16_t *port)
{
	const char *colon = strrchr(addr, ':');
	size_t hl;
	char *end;
	long p;

	if (!colon) {
		return -EINVAL;
	}
	p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535) {
		return -EINVAL;
	}
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= hostcap) {
		return -EINVAL;
	}
	memcpy(host, addr, hl);
	host[hl] = 0;
	if (!strcmp(host, "localhost")) {
		snprintf(host, hostcap, "127.0.0.1");
	}
	*port = (uint16_t)p;
	return 0;
}

static struct listener *
listener_open(struct event_base *base, const char *addr, char *err, size_t errlen)
{
	struct evhttp_bound_socket *bs = NULL;
	struct listener *l = calloc(1, sizeof(*l));
	char host[256];
	uint16_t port;

	if (!l || split(addr, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "invalid address '%s' (want [HOST]:PORT)", addr);
		free(l);
		return NULL;
	}
	l->http = evhttp_new(base);
	l->addr = strdup(addr);
	if (!l->http || !l->addr) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	evhttp_set_timeout(l->http, HTTP_TIMEOUT_SEC);
	evhttp_set_gencb(l->http, dispatch, l);
	evhttp_set_bevcb(l->http, accept_bev, l);
	/* An empty host means every address: IPv6 wildcard (dual stack), else IPv4. */
	if (host[0]) {
		bs = evhttp_bind_socket_with_handle(l->http, host, port);
	} else if (!(bs = evhttp_bind_socket_with_handle(l->http, "::", port))) {
		bs = evhttp_bind_socket_with_handle(l->http, "0.0.0.0", port);
	}
	if (!bs) {
		snprintf(err, errlen, "listen tcp %s: %s", addr, strerror(errno));
		goto fail;
	}
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len);
		l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	l->next = listeners;
	listeners = l;
	return l;
fail:
	if (l->http) {
		evhttp_free(l->http);
	}
	free(l->addr);
	free(l);
	return NULL;
}

int
sx_http_route_add(struct sx_http_route **out, const char *addr, const char *path, sx_http_handler h,
                  void *arg, char *err, size_t errlen)
{
	return sx_http_route_add_tls(out, addr, path, h, arg, NULL, err, errlen);
}

int
sx_http_route_add_tls(struct sx_http_route **out, const char *addr, const char *path,
                      sx_http_handler h, void *arg, SSL_CTX *tls, char *err, size_t errlen)
{
	struct event_base *base = sx_loop_current();
	struct sx_http_route *r = calloc(1, sizeof(*r));
	struct listener *l;

	if (!r || !(r->path = strdup(path))) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (l = listeners; l; l = l->next) {
		if (!strcmp(l->addr, addr)) {
			break;
		}
	}
	if (!l && (!base || !(l = listener_open(base, addr, err, errlen)))) {
		if (!base) {
			snprintf(err, errlen, "listen tcp %s: no event loop on this thread", addr);
		}
		free(r->path);
		free(r);
		return -EINVAL;
	}
	r->l = l;
	r->h = h;
	r->arg = arg;
	r->tls = tls;
	r->next = l->routes;
	l->routes = r;
	*out = r;
	/* A port picked by the kernel is only known here: say it, or nobody can reach it. */
	if (strcmp(addr + strlen(addr) - 2, ":0") == 0) {
		sx_log(SX_LOG_INFO, "serving %s on port %u", path, l->port);
	}
	return 0;
}

uint16_t
sx_http_route_port(const struct sx_http_route *r)
{
	return r->l->port;
}

void
sx_http_route_free(struct sx_http_route *r)
{
	struct sx_http_route **pp;
	struct listener *l, **lp;

	if (!r) {
		return;
	}
	l = r->l;
	for (pp = &l->routes; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	free(r->path);
	free(r);
	if (l->routes) {
		return;
	}
	for (lp = &listeners; *lp; lp = &(*lp)->next) {
		if (*lp == l) {
			*lp = l->next;
			break;
		}
	}
	evhttp_free(l->http);
	free(l->addr);
	free(l);
}

struct sx_http_client {
	struct evhttp_connection *conn;
	struct evhttp_request *req; /* in flight, or NULL */
	sx_http_done fn;
	void *arg;
};

static void
client_done(struct evhttp_request *req, void *arg)
{
	struct sx_http_client *c = arg;

	c->req = NULL;
	c->fn(req ? evhttp_request_get_response_code(req) : 0, c->arg);
}

struct sx_http_client *
sx_http_client_new(uint16_t port, uint64_t timeout_ms)
{
	struct event_base *base = sx_loop_current();
	struct sx_http_client *c;
	struct timeval tv = sx_tv_ms(timeout_ms);

	if (!base || !(c = calloc(1, sizeof(*c)))) {
		return NULL;
	}
	if (!(c->conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port))) {
		free(c);
		return NULL;
	}
	evhttp_connection_set_timeout_tv(c->conn, &tv);
	return c;
}

int
sx_http_get(struct sx_http_client *c, const char *path, sx_http_done fn, void *arg)
{
	struct evhttp_request *req;

	if (c->req) {
		return -EBUSY;
	}
	if (!(req = evhttp_request_new(client_done, c))) {
		return -ENOMEM;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "localhost");
	c->fn = fn;
	c->arg = arg;
	c->req = req;
	/* evhttp owns @req from here, failed or not. */
	if (evhttp_make_request(c->conn, req, EVHTTP_REQ_GET, path) < 0) {
		c->req = NULL;
		return -ENOMEM;
	}
	return 0;
}

void
sx_http_client_free(struct sx_http_client *c)
{
	if (c) {
		evhttp_connection_free(c->conn);
		free(c);
	}
}
