/* rr.h -- a record in zone-file form ("NAME [TTL] [CLASS] TYPE RDATA") turned into wire form. */
#pragma once

#include <stdint.h>

#include <sextant/dname.h>

#define RR_RDATA_MAX 4096 /* rdata a template may produce */

struct rr_wire {
	uint8_t owner[SX_DNAME_MAX];
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	uint8_t rdata[RR_RDATA_MAX];
};

/**
 * Parse @text as one zone-file record: relative names are taken as absolute,
 * the TTL defaults to 3600 and the class to IN (as CoreDNS's dns.NewRR does).
 * A, AAAA, CNAME, PTR, NS and DNAME records are parsed in place; others go
 * through ldns, which allocates. @return 0, or SX_EINVAL.
 */
int rr_parse(const char *text, struct rr_wire *out);
