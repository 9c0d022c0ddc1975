/* address.c -- server block keys and zone arguments: scheme, zones (CIDRs expanded), port. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sextant/dname.h>
#include <sextant/error.h>

#include "address.h"

int
sx_zones_push(struct sx_zones *zones, const uint8_t *wire)
{
	char name[SX_DNAME_STRMAX];
	struct sx_zone *z;
	size_t len = sx_dname_len(wire);

	if (sx_dname_to_str(name, sizeof(name), wire) < 0) {
		return SX_EINVAL;
	}
	z = realloc(zones->z, (zones->n + 1) * sizeof(*z));
	if (!z) {
		return -ENOMEM;
	}
	zones->z = z;
	z = &z[zones->n];
	memset(z, 0, sizeof(*z));
	z->name = strdup(name);
	if (!z->name) {
		return -ENOMEM;
	}
	memcpy(z->wire, wire, len);
	z->len = (uint8_t)len;
	zones->n++;
	return 0;
}

static int
push_name(struct sx_zones *zones, const char *name, char *err, size_t errlen)
{
	uint8_t wire[SX_DNAME_MAX];

	if (sx_dname_from_str(wire, name) < 0) {
		snprintf(err, errlen, "zone '%s' is not a valid domain name", name);
		return SX_EINVAL;
	}
	sx_dname_lower(wire, wire);
	return sx_zones_push(zones, wire);
}

/* The reverse zone of the first @bits bits of @addr (a multiple of 8 for v4, of 4 for v6). */
static int
push_reverse(struct sx_zones *zones, const uint8_t *addr, bool v6, unsigned bits)
{
	char name[128];
	size_t n = 0;

	if (v6) {
		for (unsigned i = bits / 4; i-- > 0;) {
			unsigned nib = (addr[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;

			n += (size_t)snprintf(name + n, sizeof(name) - n, "%x.", nib);
		}
		snprintf(name + n, sizeof(name) - n, "ip6.arpa.");
	} else {
		for (unsigned i = bits / 8; i-- > 0;) {
			n += (size_t)snprintf(name + n, sizeof(name) - n, "%u.", addr[i]);
		}
		snprintf(name + n, sizeof(name) - n, "in-addr.arpa.");
	}
	return push_name(zones, name, NULL, 0);
}

/* Whether @host has the shape ADDRESS/BITS, so that it must parse as a CIDR. */
static bool
looks_like_cidr(const char *host)
{
	const char *slash = strchr(host, '/');

	if (!slash || slash == host || slash[1] == '\0' || strchr(slash + 1, '/')) {
		return false;
	}
	if (strspn(host, "0123456789abcdefABCDEF.:") != (size_t)(slash - host)) {
		return false;
	}
	return strspn(slash + 1, "0123456789") == strlen(slash + 1);
}

/*
 * Expand the CIDR @host into reverse zones. The subnets are split at the next
 * label boundary (8 bits for v4, 4 for v6), so a /15 gives two /16 zones.
 */
static int
push_cidr(struct sx_zones *zones, const char *host, char *err, size_t errlen)
{
	const char *slash = strchr(host, '/');
	bool v6 = memchr(host, ':', (size_t)(slash - host)) != NULL;
	unsigned maxbits = v6 ? 128 : 32, step = v6 ? 4 : 8, bits, extra;
	uint8_t addr[16] = { 0 };
	char ip[INET6_ADDRSTRLEN];
	int rc = 0;

	/* CoreDNS refuses these shapes (a leading "::" or "0...::"). */
	bool odd = host[0] == ':' || (host[0] == '0' && strstr(host, "::"));

	if (odd || (size_t)(slash - host) >= sizeof(ip) || strlen(slash + 1) > 3) {
		goto bad;
	}
	memcpy(ip, host, (size_t)(slash - host));
	ip[slash - host] = '\0';
	bits = (unsigned)atoi(slash + 1);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, addr) != 1 || bits > maxbits) {
		goto bad;
	}
	for (unsigned i = bits; i < maxbits; i++) {
		addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	}
	extra = bits % step ? step - bits % step : 0;
	for (unsigned sub = 0; sub < 1u << extra && rc == 0; sub++) {
		uint8_t a[16];

		memcpy(a, addr, sizeof(a));
		for (unsigned t = 0; t < extra; t++) {
			if (sub & (1u << (extra - 1 - t))) {
				a[(bits + t) / 8] |= (uint8_t)(0x80u >> ((bits + t) % 8));
			}
		}
		rc = push_reverse(zones, a, v6, bits + extra);
	}
	return rc;
bad:
	snprintf(err, errlen, "invalid CIDR '%s'", host);
	return SX_EINVAL;
}

/* Zones of @host (a name or a CIDR); @what is the text to quote in messages. */
static int
push_host(struct sx_zones *zones, const char *host, const char *what, char *err, size_t errlen)
{
	if (host[0] == '\0') {
		snprintf(err, errlen, "no zone in '%s'", what);
		return SX_EINVAL;
	}
	if (strlen(host) > 255) {
		snprintf(err, errlen, "zone is too long: %zu > 255", strlen(host));
		return SX_EINVAL;
	}
	if (looks_like_cidr(host)) {
		return push_cidr(zones, host, err, errlen);
	}
	if (strchr(host, ':')) {
		snprintf(err, errlen, "invalid zone or port in '%s'", what);
		return SX_EINVAL;
	}
	return push_name(zones, host, err, errlen);
}

/*
 * Split "[SCHEME://]HOST[:PORT]". The port is the digits after the last
 * colon, so an IPv6 CIDR ("2001:db8::/30") keeps its colons: its mask comes
 * before any port.
 */
static int
split(const char *in, bool key, char **host, int *port, char *err, size_t errlen)
{
	const char *s = in, *sep = strstr(in, "://"), *colon;
	size_t hlen;

	*port = -1;
	if (sep) {
		if (key && !((sep - in) == 3 && strncasecmp(in, "dns", 3) == 0)) {
			snprintf(err, errlen, "scheme %.*s:// is not supported (only dns://)",
			         (int)(sep - in), in);
			return SX_ENOTSUP;
		}
		s = sep + 3;
	}
	hlen = strlen(s);
	colon = strrchr(s, ':');
	if (colon && colon[1] == '\0') {
		snprintf(err, errlen, "expecting a port after the last colon in '%s'", in);
		return SX_EINVAL;
	}
	if (colon && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		if (strlen(colon + 1) > 5 || atoi(colon + 1) > 65535) {
			snprintf(err, errlen, "invalid port '%s' in '%s'", colon + 1, in);
			return SX_EINVAL;
		}
		*port = atoi(colon + 1);
		hlen = (size_t)(colon - s);
	}
	*host = strndup(s, hlen);
	return *host ? 0 : -ENOMEM;
}

int
sx_address_key(const char *key, uint16_t dflt_port, struct sx_zones *zones, uint16_t *port,
               char *err, size_t errlen)
{
	char *host;
	int p, rc;

	rc = split(key, true, &host, &p, err, errlen);
	if (rc < 0) {
		return rc;
	}
	rc = push_host(zones, host, key, err, errlen);
	free(host);
	*port = p < 0 ? dflt_port : (uint16_t)p;
	return rc;
}

int
sx_address_zone(const char *arg, struct sx_zones *zones, char *err, size_t errlen)
{
	char *host;
	int p, rc;

	rc = split(arg, false, &host, &p, err, errlen);
	if (rc < 0) {
		return rc;
	}
	rc = push_host(zones, host, arg, err, errlen);
	free(host);
	return rc;
}
