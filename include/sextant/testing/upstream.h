/* upstream.h -- real and fake upstream DNS servers on loopback, for forwarding tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Each upstream runs in its own process with its own temporary directory, on
 * 127.0.0.1 only, and dies with the test process. The fake one is
 * tests/upstream/fakeup.py (see its docstring for what each query name
 * makes it do); the real one is Debian's knotd serving a zone.
 */
struct sx_upstream;

/**
 * Start the fake upstream; it answers A queries with 192.0.2.@id. With @tls
 * it also serves DNS over TLS with a certificate for "dns.test" and
 * 127.0.0.1, signed by a CA whose file is sx_up_ca().
 */
struct sx_upstream *sx_up_fake(unsigned id, bool tls);
/** As sx_up_fake() without TLS, on @ip (in 127/8) and @port (0: any free one). */
struct sx_upstream *sx_up_fake_on(unsigned id, const char *ip, uint16_t port);
/** Start knotd serving @zone_text (a zone file) for @origin. */
struct sx_upstream *sx_up_knot(const char *origin, const char *zone_text);

uint16_t sx_up_port(const struct sx_upstream *u);
/** The DNS over TLS port of a fake started with @tls. */
uint16_t sx_up_tls_port(const struct sx_upstream *u);
/** The CA certificate file a TLS fake's certificate is signed with. */
const char *sx_up_ca(const struct sx_upstream *u);
const char *sx_up_dir(const struct sx_upstream *u);

/** Switch the fake: "normal", "silent", "refused", "servfail" or a label mode ("nodata"...). */
void sx_up_mode(struct sx_upstream *u, const char *mode);
/** Logged queries ("PROTO QNAME QTYPE rd=0|1 from=SRCADDR SRCPORT") containing @needle. */
int sx_up_count(const struct sx_upstream *u, const char *needle);
/** Distinct source ports among the logged queries containing @needle. */
int sx_up_ports(const struct sx_upstream *u, const char *needle);
/** Forget the queries logged so far. */
void sx_up_clear(struct sx_upstream *u);

/** Stop the server and remove its directory. */
void sx_up_stop(struct sx_upstream *u);

/** A 127.0.0.1 port free for UDP and TCP at the time of the call, below the ephemeral range. */
uint16_t sx_up_free_port(void);
