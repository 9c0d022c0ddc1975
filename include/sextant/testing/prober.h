/* prober.h -- legitimate clients that query a server without pause, counted, during a fault. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <ldns/ldns.h>

/*
 * A prober is a thread sending the same few questions, one at a time, over
 * UDP or over a new TCP connection each (as a stub resolver does after a
 * truncated reply), and checking every reply. Fault and attack tests run one
 * or two beside what they do to the server, then assert on the counts: how
 * many questions were sent, answered (any reply with the right ID) and
 * answered right. A question unanswered after @timeout_ms counts as sent only.
 */
struct sx_prober;

/** One question and the reply it must get. */
struct sx_probe {
	const char *name;
	ldns_rr_type type;
	ldns_pkt_rcode rcode;
	/* The answer section as sx_test_section_str() prints it, in any order; NULL: not checked. */
	const char *answer;
};

struct sx_probe_stats {
	long sent, answered, right;
	double worst_ms;  /* the slowest reply */
	char wrong[1024]; /* the first wrong reply, described; "" when none */
};

/** Flags for sx_prober_start(). */
#define SX_PROBE_TCP 0x1

/**
 * Start probing @addr:@port with @probes (copied; @n of them, asked in turn),
 * one question every @every_ms (0: as soon as the last reply came).
 * @return the prober; stop it with sx_prober_stop().
 */
struct sx_prober *sx_prober_start(const char *addr, uint16_t port, const struct sx_probe *probes,
                                  size_t n, int flags, int every_ms, int timeout_ms);

/** The counts so far, without stopping. */
void sx_prober_stats(struct sx_prober *p, struct sx_probe_stats *out);

/**
 * Wait up to @ms for @more answers beyond those counted so far (proof that the
 * prober runs while a fault is on). @return whether they came.
 */
bool sx_prober_wait(struct sx_prober *p, long more, int ms);

/** Wait up to @ms for @more questions sent (answered or not). @return whether they were. */
bool sx_prober_wait_sent(struct sx_prober *p, long more, int ms);

/** Stop the thread, fill *@out (may be NULL) and free @p. */
void sx_prober_stop(struct sx_prober *p, struct sx_probe_stats *out);

/** "sent N, answered N (P%), right N, worst N ms" for messages, in @buf. */
const char *sx_probe_str(const struct sx_probe_stats *st, char *buf, size_t size);
