/* harness.h -- start the real sextant binary on loopback and query it, for integration tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <ldns/ldns.h>

/*
 * sx_test_start() writes @corefile into a fresh temporary directory (also
 * handed to the test through sx_test_dir(), to place zone and hosts files
 * before starting, see sx_test_prepare()), runs $SEXTANT_BIN -conf FILE
 * -dns.port 0 with stdout+stderr captured to a log file, and waits until the
 * start-up banner reports the port. Keys without a port then share one
 * ephemeral port, bound on 127.0.0.1 by the test's `bind 127.0.0.1` (the
 * harness adds nothing: write it in the Corefile).
 */
struct sx_test_server;

/** A temporary directory for files a Corefile will name. Freed by sx_test_stop(). */
struct sx_test_server *sx_test_prepare(void);
const char *sx_test_dir(const struct sx_test_server *s);
/** One more command-line argument for sx_test_start() (at most 8; @arg is kept, not copied). */
void sx_test_add_arg(struct sx_test_server *s, const char *arg);

/** Write @text to sx_test_dir()/@name. */
void sx_test_write(struct sx_test_server *s, const char *name, const char *text);

/**
 * Start the server on @corefile ("%DIR%" is replaced by sx_test_dir()). Fails
 * the test (criterion assert) if it does not come up within 10 s.
 * @s may come from sx_test_prepare() or be NULL.
 */
struct sx_test_server *sx_test_start(struct sx_test_server *s, const char *corefile);
uint16_t sx_test_port(const struct sx_test_server *s);
/** Query @ip ("127.0.0.2", "::1") from now on instead of 127.0.0.1. */
void sx_test_set_addr(struct sx_test_server *s, const char *ip);
pid_t sx_test_pid(const struct sx_test_server *s);

/**
 * SIGTERM, wait (SIGKILL after 30 s), remove the directory. A sanitizer report
 * in the server's output fails the test. @return the exit status (waitpid form).
 */
int sx_test_stop(struct sx_test_server *s);

/** The whole text of @path ("" if it cannot be read); the caller frees it. */
char *sx_test_read_file(const char *path);
/** Everything the server printed so far (NUL-terminated, owned by @s). */
const char *sx_test_log(struct sx_test_server *s);
/** Wait up to @ms for @needle in the log. */
bool sx_test_wait_log(struct sx_test_server *s, const char *needle, int ms);
/** Wait up to @ms for @needle in the file at @path (another program's log). */
bool sx_test_wait_file(const char *path, const char *needle, int ms);
/**
 * Ask @done(@arg) every 20 ms until it says true, for at most @ms: for an event
 * only a question shows (an answer that changes). @return its last answer.
 */
bool sx_test_until(bool (*done)(void *arg), void *arg, int ms);

/**
 * Run `dig @ADDR -p PORT +tries=1 +time=2 ARGS` (ARGS is formatted and
 * split on spaces) and return its stdout, malloc'ed.
 */
char *sx_test_dig(const struct sx_test_server *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/** The same with Knot's kdig (`+retry=0` for `+tries=1`). */
char *sx_test_kdig(const struct sx_test_server *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/** Flags for sx_test_query(). */
#define SX_Q_TCP    0x1 /* over TCP */
#define SX_Q_NOEDNS 0x2 /* no OPT record */
#define SX_Q_DO     0x4 /* DO bit */
#define SX_Q_NORD   0x8 /* RD clear */

/**
 * Send one query with ldns to the server over UDP or TCP and return the reply
 * (caller frees with ldns_pkt_free), or NULL on timeout (2 s). @bufsize is the
 * EDNS payload size advertised (0: 1232).
 */
ldns_pkt *sx_test_query(const struct sx_test_server *s, const char *name, ldns_rr_type type,
                        int flags, uint16_t bufsize);

/** Send raw bytes over UDP and return the raw reply length (0 on timeout) into @out. */
size_t sx_test_raw_udp(const struct sx_test_server *s, const uint8_t *q, size_t qlen, uint8_t *out,
                       size_t cap, int timeout_ms);

/** Answer section of @p as presentation lines joined by '\n' (malloc'ed), for str asserts. */
char *sx_test_section_str(const ldns_pkt *p, ldns_pkt_section sec);

/** Run `sextant ARGS` to completion; *@out gets stdout+stderr (malloc'ed). @return exit status. */
int sx_test_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Write @corefile as "Corefile" in a fresh directory and run `sextant -check` on it. *@out gets
 * stdout+stderr (malloc'ed) with that directory's path taken out, so that messages read
 * "Corefile:2: plugin/NAME: ...". @return the exit code (0: valid, 1: not).
 */
int sx_test_check(const char *corefile, char **out);

/**
 * GET http://127.0.0.1:@port@path with libcurl (2 s timeout). @return the body
 * (malloc'ed, "" when none) and *@status (0 when no answer).
 */
char *sx_test_http_get(uint16_t port, const char *path, long *status);

/** The number printed right after @needle in the log (waits up to 5 s), e.g. a port. */
long sx_test_log_number(struct sx_test_server *s, const char *needle);
