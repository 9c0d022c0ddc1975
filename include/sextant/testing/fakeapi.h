/* fakeapi.h -- run the fake Kubernetes API server (tests/fakeapi/fakeapi.py) for tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * The fake runs as a child process of the test (it dies with it), on
 * 127.0.0.1 only, with its own temporary directory holding its log, port
 * file and, with TLS, the certificates of tests/fakeapi/gen-certs.sh
 * (certs/ca.crt, server.*, client.*). Control calls go to its /_fake/ interface
 * over the same scheme, presenting the client certificate when there is one.
 */
struct sx_fakeapi;

/** How to run the fake; zeroed fields take fakeapi.py's defaults. */
struct sx_fakeapi_opts {
	bool tls;                 /* HTTPS with certs/server.crt */
	bool client_ca;           /* accept client certificates signed by certs/ca.crt */
	bool require_client_cert; /* and refuse connections without one */
	const char *token;        /* --token */
	const char *token_file;   /* --token-file (re-read on every request) */
	const char *load;         /* --load FILE; "basic" is tests/fakeapi/data/basic.json */
	int initial_rv;           /* --initial-rv, 0: default (100) */
	uint16_t port;            /* 0: any free port */
	const char *extra[8];     /* more arguments, NULL-terminated */
};

/**
 * Make the fake's directory and, with @o->tls, its certificates, without
 * starting it: a test can hand its port (@o->port, nonzero) and CA to a
 * client first, then sx_fakeapi_launch() it.
 */
struct sx_fakeapi *sx_fakeapi_new(const struct sx_fakeapi_opts *o);

/**
 * Start the fake with @o (killing it first if it runs) and wait up to 20 s
 * until it listens; fails the test otherwise. Once it has listened, it comes
 * back on the same port, directory and certificates (@o->port and @o->tls
 * are then ignored).
 */
void sx_fakeapi_launch(struct sx_fakeapi *f, const struct sx_fakeapi_opts *o);

/** sx_fakeapi_new() then sx_fakeapi_launch(). */
struct sx_fakeapi *sx_fakeapi_start(const struct sx_fakeapi_opts *o);

/** SIGKILL the fake now (its directory stays, for sx_fakeapi_launch()). */
void sx_fakeapi_kill(struct sx_fakeapi *f);

/** Kill the fake if it runs and remove its directory. NULL is a no-op. */
void sx_fakeapi_stop(struct sx_fakeapi *f);

uint16_t sx_fakeapi_port(const struct sx_fakeapi *f);
/** "https://127.0.0.1:PORT" (or http). Valid until sx_fakeapi_stop(). */
const char *sx_fakeapi_url(const struct sx_fakeapi *f);
/** The fake's directory; with TLS its certificates are in DIR/certs. */
const char *sx_fakeapi_dir(const struct sx_fakeapi *f);
/** DIR/certs/@name, in a static buffer (valid until the next call). */
const char *sx_fakeapi_cert(const struct sx_fakeapi *f, const char *name);
/** Everything the fake printed on stderr so far (malloc'ed). */
char *sx_fakeapi_log(const struct sx_fakeapi *f);

/**
 * A call to the control interface, e.g. ("POST", "/_fake/objects", json).
 * @param body request body, or NULL.
 * @param reply if not NULL, gets the reply body (malloc'ed).
 * @return the HTTP status; fails the test when the fake does not answer.
 */
long sx_fakeapi_ctl(struct sx_fakeapi *f, const char *method, const char *path, const char *body,
                    char **reply);

/** sx_fakeapi_ctl() that must answer 200 (or 201); the reply is dropped. */
void sx_fakeapi_do(struct sx_fakeapi *f, const char *method, const char *path, const char *body);

/**
 * Wait up to @secs for @n open watches whose path starts with @path; with
 * @caught_up only watches that were sent every event so far count.
 * @return whether they were there.
 */
bool
sx_fakeapi_wait_watches(struct sx_fakeapi *f, const char *path, int n, bool caught_up, int secs);
