/* rrtype.c -- names of record types, classes and rcodes for logs and metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/msg.h>

static const char *const type_names[] = {
	[1] = "A",      [2] = "NS",      [5] = "CNAME",  [6] = "SOA",         [12] = "PTR",
	[13] = "HINFO", [15] = "MX",     [16] = "TXT",   [28] = "AAAA",       [33] = "SRV",
	[35] = "NAPTR", [39] = "DNAME",  [41] = "OPT",   [43] = "DS",         [46] = "RRSIG",
	[47] = "NSEC",  [48] = "DNSKEY", [50] = "NSEC3", [51] = "NSEC3PARAM", [52] = "TLSA",
	[64] = "SVCB",  [65] = "HTTPS",  [99] = "SPF",   [251] = "IXFR",      [252] = "AXFR",
	[255] = "ANY",  [257] = "CAA",
};

const char *
sx_rrtype_name(uint16_t type, char buf[16])
{
	if (type < sizeof(type_names) / sizeof(type_names[0]) && type_names[type]) {
		return type_names[type];
	}
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

int
sx_rrtype_from_name(const char *name)
{
	for (size_t t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++) {
		if (type_names[t] && strcmp(type_names[t], name) == 0) {
			return (int)t;
		}
	}
	if (strncmp(name, "TYPE", 4) == 0 && name[4] >= '0' && name[4] <= '9') {
		char *end;
		unsigned long v = strtoul(name + 4, &end, 10);

		if (*end == '\0' && v <= 65535) {
			return (int)v;
		}
	}
	return -1;
}

const char *
sx_class_name(uint16_t rclass, char buf[16])
{
	switch (rclass) {
	case 1:
		return "IN";
	case 3:
		return "CH";
	case 4:
		return "HS";
	case 254:
		return "NONE";
	case 255:
		return "ANY";
	default:
		snprintf(buf, 16, "CLASS%u", rclass);
		return buf;
	}
}

const char *
sx_rcode_name(unsigned rcode, char buf[16])
{
	static const char *const names[] = {
		"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", NULL,
		NULL,       NULL,      NULL,       NULL,       "BADVERS",
	};

	if (rcode < sizeof(names) / sizeof(names[0]) && names[rcode]) {
		return names[rcode];
	}
	snprintf(buf, 16, "RCODE%u", rcode);
	return buf;
}
