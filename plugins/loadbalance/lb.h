/* lb.h -- the loadbalance plugin's private declarations. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <urcu.h>

#include <sextant/filewatch.h>
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

/* One `IP WEIGHT` line of a weight file, under its domain. */
struct lb_weight {
	uint8_t name[SX_DNAME_MAX]; /* lower case, zero-padded: entries compare whole */
	uint8_t alen;               /* 4 or 16 */
	uint8_t addr[16];
	uint8_t weight; /* 1..255 */
};

/* A weight file, sorted for bsearch; published under RCU, immutable. */
struct lb_weights {
	struct rcu_head rcu;
	size_t n;
	struct lb_weight e[];
};

struct lb {
	char *weightfile;   /* `weighted WEIGHTFILE`, or NULL: round_robin */
	uint64_t reload_ms; /* `reload`: how often the file is looked at; 0: never */
	bool reload_set;
	struct lb_weights *weights; /* RCU-protected; NULL until the file could be read */
	uint64_t digest;            /* of the file's contents last read */
	struct sx_filewatch *watch;
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
 * Read weight file @path into *@out (sorted), with a hash of its contents in
 * @digest. @return 0; -errno when it cannot be opened; SX_EINVAL with
 * "PATH:LINE: why" in @err; -ENOMEM.
 */
int lb_weights_load(const char *path, struct lb_weights **out, uint64_t *digest, char *err,
                    size_t errlen);

/**
 * CoreDNS's weighted policy on the answer and additional sections of @msg
 * (a NOERROR reply to an A, AAAA or SRV query): CNAMEs, other types, addresses,
 * MX, and first among the addresses one picked at random by its weight in @ws
 * (1 when not listed; @ws may be NULL). Worker thread, inside an RCU read side.
 */
void lb_weighted(struct sx_msg *msg, struct lb_worker *w, const struct lb_weights *ws);

/* Shared by the policies (shuffle.c). */
unsigned lb_below(uint64_t *s, unsigned n); /* uniform in [0, @n) */
/** The records of @msg (@count per section) into @rr; @return how many, 0 if too many. */
unsigned lb_records(const struct sx_msg *msg, struct sx_rr *rr, const unsigned count[3]);
/** Put the @n records of @msg in w->order (in place when only addresses swap). */
void lb_apply(struct sx_msg *msg, struct lb_worker *w, unsigned n, const unsigned count[3]);
/**
 * Order the @n records @rr (numbered from @first) into @o: CNAMEs, other types,
 * addresses in [@from, @to), MX from @to on.
 */
void lb_order_by_kind(uint16_t *o, const struct sx_rr *rr, unsigned first, unsigned n,
                      unsigned *from, unsigned *to);

/**
 * CoreDNS's `prefer`: in the answer and additional sections of @msg, put the
 * address records in @nets (@n subnets) first, those of the first subnet
 * before those of the second and so on, the others after them in the order
 * they had; CNAMEs lead, then addresses, MX, and the other types last.
 */
void lb_prefer(struct sx_msg *msg, struct lb_worker *w, const struct lb_net *nets, size_t n);
