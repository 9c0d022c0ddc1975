/* dns.h -- answers of running sextants as canonical text, and waiting for an answer to change. */
#pragma once

#include <stdbool.h>

#include <ldns/ldns.h>

#include <sextant/testing.h>

/*
 * An answer as one comparable text: the rcode and flags, then the records of
 * each section sorted (the plugin's order within an RRset is not part of what
 * is checked), with the SOA serial written as SERIAL (it is the time of the
 * last change). E.g.
 *   NOERROR qr aa rd
 *   an: web.ns.svc.cluster.local.	5	IN	A	10.96.0.12
 *   au: ...
 */

/** Ask @s over UDP (or TCP with SX_Q_TCP in @flags). @return the text, malloc'ed. */
char *dns_text(const struct sx_test_server *s, const char *name, ldns_rr_type type, int flags);

/**
 * The answer section of @text alone (records sorted, '\n'-joined), or the
 * rcode's name when it is not NOERROR, or "NODATA" when empty: what most
 * checks compare. malloc'ed.
 */
char *dns_short(const char *text);

/** dns_short() of asking @s. malloc'ed. */
char *dns_ask(const struct sx_test_server *s, const char *name, ldns_rr_type type);

/**
 * Ask every server of @servers (NULL-terminated) again and again until
 * dns_ask() is @want on all of them, or @limit_ms have passed since @t0_ms
 * (dns_now_ms()). @return the milliseconds it took, or -1 (and the test
 * fails, showing what each server answered and its log).
 */
double dns_wait(struct sx_test_server *const *servers, const char *name, ldns_rr_type type,
                const char *want, double t0_ms, double limit_ms);

/**
 * As dns_wait(), with what is wanted written by @want(out, size, @arg) before
 * each round of queries: for a truth that may still change while waiting.
 */
double dns_wait_for(struct sx_test_server *const *servers, const char *name, ldns_rr_type type,
                    void (*want)(char *out, size_t size, void *arg), void *arg, double t0_ms,
                    double limit_ms);

/** qsort()'s order of an array of strings (char *). */
int dns_by_str(const void *a, const void *b);

/** How many times @needle is in @s's log. */
int dns_log_count(struct sx_test_server *s, const char *needle);

/** CLOCK_MONOTONIC in milliseconds. */
double dns_now_ms(void);
