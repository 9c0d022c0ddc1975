/* template.h -- the template plugin's instance: one `template` directive of a server block. */
#pragma once

#include <sextant/plugin.h>

#include "rr.h"
#include "tmpl.h"

#define TPL_CLASS_SLOTS 3   /* IN, CH, other */
#define TPL_TYPE_SLOTS  257 /* types 0..255, then every larger type */

/* One answer, authority or additional line. */
struct tpl_rr {
	struct tmpl t;
	char *src;             /* as written, for metric labels and errors */
	struct rr_wire *fixed; /* parsed once when the line has no action */
	size_t counter;        /* first of its failure counters (per zone, two kinds) */
};

struct template
{
	uint16_t qclass, qtype; /* SX_TYPE_ANY (255) for any, as for the class */
	struct sx_zones zones;
	pcre2_code **re;
	size_t nre;
	pcre2_match_data **md; /* one per worker */
	unsigned workers;
	struct tpl_rr *rrs[3]; /* by section: answer, authority, additional */
	size_t nrr[3];
	unsigned rcode;
	bool fall_on;
	struct sx_zones fall;
	uint8_t *ede; /* the Extended DNS Error option's data, or NULL */
	uint16_t ede_len;
	struct sx_wcounters c; /* matches (zone x class x type), then failures */
	uint16_t port;
	char server[64];
};
