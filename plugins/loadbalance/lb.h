/* lb.h -- the loadbalance plugin's private declarations. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <sextant/plugin.h>

#define LB_MAX_RR 512 /* replies with more records are left as they are */

/* What one worker needs to reorder a reply without allocating. */
struct lb_worker {
	_Alignas(64) uint64_t rng;  /* xorshift64* state, never 0 */
	struct sx_rr rr[LB_MAX_RR]; /* the reply's records */
	uint16_t order[LB_MAX_RR];  /* their new order */
	uint8_t copy[65536];        /* the reply, while it is written again */
};

struct lb {
	bool reload; /* a `reload` line: the weighted policy's, which is not supported */
	struct lb_worker *workers;
	unsigned nworkers;
};

/**
 * Shuffle the A and AAAA records (and MX, as CoreDNS) of each section of
 * @msg, CNAMEs first, as CoreDNS's round_robin policy does. @msg must be a
 * NOERROR reply. Records stay whole; when only addresses of one name swap
 * places their rdata is swapped in place, otherwise the reply is written again.
 */
void lb_shuffle(struct sx_msg *msg, struct lb_worker *w);
