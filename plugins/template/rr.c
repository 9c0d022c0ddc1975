/* rr.c -- a record in zone-file form turned into wire form, without allocating for common types. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include <sextant/error.h>
#include <sextant/msg.h>

#include "rr.h"

#define DEFAULT_TTL 3600

/* The next space-separated token of *@s into @tok (@cap bytes). @return its length (0: none). */
static size_t
token(const char **s, char *tok, size_t cap)
{
	const char *p = *s;
	size_t n;

	while (isspace((unsigned char)*p)) {
		p++;
	}
	n = strcspn(p, " \t\r\n");
	if (n >= cap) {
		return 0;
	}
	memcpy(tok, p, n);
	tok[n] = '\0';
	*s = p + n;
	return n;
}

static bool
all_digits(const char *s)
{
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s)) {
			return false;
		}
	}
	return true;
}

/* The common one-token rdatas; @return its length, or -1 for ldns to handle. */
static int
simple_rdata(uint16_t type, const char *rest, uint8_t *rdata)
{
	char tok[SX_DNAME_STRMAX], extra[2];
	const char *p = rest;
	int n;

	if (!token(&p, tok, sizeof(tok)) || token(&p, extra, sizeof(extra)) || *tok == '(' ||
	    *tok == '"' || *tok == '\\') {
		return -1;
	}
	switch (type) {
	case SX_TYPE_A:
		return inet_pton(AF_INET, tok, rdata) == 1 ? 4 : SX_EINVAL;
	case SX_TYPE_AAAA:
		return inet_pton(AF_INET6, tok, rdata) == 1 ? 16 : SX_EINVAL;
	case SX_TYPE_CNAME:
	case SX_TYPE_PTR:
	case SX_TYPE_NS:
	case 39: /* DNAME */
		n = sx_dname_from_str(rdata, tok);
		return n < 0 ? SX_EINVAL : n;
	default:
		return -1;
	}
}

/* Everything else: ldns parses the whole line (it allocates). */
static int
ldns_rdata(const char *text, struct rr_wire *out)
{
	ldns_rdf *origin = ldns_dname_new_frm_str(".");
	ldns_rr *rr = NULL;
	ldns_status s;
	size_t len = 0;
	int rc = 0;

	if (!origin) {
		return SX_EINVAL;
	}
	s = ldns_rr_new_frm_str(&rr, text, DEFAULT_TTL, origin, NULL);
	ldns_rdf_deep_free(origin);
	if (s != LDNS_STATUS_OK || !rr) {
		return SX_EINVAL;
	}
	/* The rdata's wire form is its fields one after the other, names uncompressed. */
	for (size_t i = 0; i < ldns_rr_rd_count(rr) && rc == 0; i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);

		if (len + ldns_rdf_size(f) > sizeof(out->rdata)) {
			rc = SX_EINVAL;
			break;
		}
		memcpy(out->rdata + len, ldns_rdf_data(f), ldns_rdf_size(f));
		len += ldns_rdf_size(f);
	}
	out->rdlen = (uint16_t)len;
	out->type = (uint16_t)ldns_rr_get_type(rr);
	out->rclass = (uint16_t)ldns_rr_get_class(rr);
	out->ttl = ldns_rr_ttl(rr);
	ldns_rr_free(rr);
	return rc;
}

int
rr_parse(const char *text, struct rr_wire *out)
{
	char tok[SX_DNAME_STRMAX];
	const char *p = text;
	bool have_ttl = false, have_class = false;
	int type = -1, n;

	if (!token(&p, tok, sizeof(tok)) || sx_dname_from_str(out->owner, tok) < 0) {
		return SX_EINVAL;
	}
	out->ttl = DEFAULT_TTL;
	out->rclass = SX_CLASS_IN;
	while (type < 0 && token(&p, tok, sizeof(tok))) {
		if (!have_ttl && all_digits(tok) && strlen(tok) <= 10) {
			unsigned long v = strtoul(tok, NULL, 10);

			if (v > UINT32_MAX) {
				return ldns_rdata(text, out);
			}
			out->ttl = (uint32_t)v;
			have_ttl = true;
		} else if (!have_class && (!strcasecmp(tok, "IN") || !strcasecmp(tok, "CH") ||
		                           !strcasecmp(tok, "HS"))) {
			out->rclass = !strcasecmp(tok, "IN")   ? SX_CLASS_IN
			              : !strcasecmp(tok, "CH") ? SX_CLASS_CH
			                                       : 4;
			have_class = true;
		} else {
			for (char *c = tok; *c; c++) {
				*c = (char)toupper((unsigned char)*c);
			}
			type = sx_rrtype_from_name(tok);
			if (type < 0) {
				return ldns_rdata(text,
				                  out); /* a TTL like 1h, a class ldns knows */
			}
		}
	}
	if (type < 0) {
		return SX_EINVAL;
	}
	out->type = (uint16_t)type;
	n = simple_rdata(out->type, p, out->rdata);
	if (n == -1) {
		/* ldns wants TTL before class: hand it the header in that order. */
		char line[RR_RDATA_MAX * 2], cls[16], ty[16];

		if (snprintf(line, sizeof(line), ". %u %s %s %s", out->ttl,
		             sx_class_name(out->rclass, cls), sx_rrtype_name(out->type, ty),
		             p) >= (int)sizeof(line)) {
			return SX_EINVAL;
		}
		return ldns_rdata(line, out);
	}
	if (n < 0) {
		return SX_EINVAL;
	}
	out->rdlen = (uint16_t)n;
	return 0;
}
