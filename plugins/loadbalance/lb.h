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

/* One `prefer` subnet. */
struct lb_net {
	uint16_t type; /* SX_TYPE_A or SX_TYPE_AAAA: the records it can hold */
	uint8_t addr[16];
	unsigned bits;
};

struct lb {
	bool reload;           /* a `reload` line: the weighted policy's, which is not supported */
	struct lb_net *prefer; /* in order of preference */
	size_t nprefer;
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

/**
 * CoreDNS's `prefer`: in the answer and additional sections of @msg, put the
 * address records in @nets (@n subnets) first, those of the first subnet
 * before those of the second and so on, the others after them in the order
 * they had; CNAMEs lead, then addresses, MX, and the other types last.
 */
void lb_prefer(struct sx_msg *msg, struct lb_worker *w, const struct lb_net *nets, size_t n);
