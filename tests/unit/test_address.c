/* test_address.c -- server block keys: scheme, zone normalisation, ports, reverse CIDRs. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>

#include "address.h"

/* The zones of @zones joined by spaces. */
static char *
names(const struct sx_zones *zones)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < zones->n; i++) {
		len += strlen(zones->z[i].name) + 1;
	}
	s = calloc(1, len);
	for (size_t i = 0; i < zones->n; i++) {
		if (i) {
			strcat(s, " ");
		}
		strcat(s, zones->z[i].name);
	}
	return s;
}

static void
key_ok(const char *key, uint16_t dflt, const char *want, uint16_t want_port)
{
	struct sx_zones zones = { 0 };
	uint16_t port = 7;
	char err[256] = "";
	int rc = sx_address_key(key, dflt, &zones, &port, err, sizeof(err));

	cr_assert_eq(rc, 0, "key %s: %s", key, err);
	char *got = names(&zones);
	cr_assert_str_eq(got, want, "key %s", key);
	cr_assert_eq(port, want_port, "key %s: port %u", key, port);
	free(got);
	sx_zones_fini(&zones);
}

static void
key_err(const char *key, int want_rc, const char *want)
{
	struct sx_zones zones = { 0 };
	uint16_t port;
	char err[256] = "";
	int rc = sx_address_key(key, 53, &zones, &port, err, sizeof(err));

	cr_assert_eq(rc, want_rc, "key %s: rc %d (%s)", key, rc, err);
	cr_assert_str_eq(err, want, "key %s", key);
	sx_zones_fini(&zones);
}

Test(address, names_become_lower_case_fqdn)
{
	key_ok("example.org", 53, "example.org.", 53);
	key_ok("Example.ORG.", 53, "example.org.", 53);
	key_ok(".", 53, ".", 53);
	key_ok("cluster.local", 53, "cluster.local.", 53);
	/* RFC 2317 classless delegations are names, not CIDRs. */
	key_ok("0/25.2.0.192.in-addr.arpa", 53, "0/25.2.0.192.in-addr.arpa.", 53);
	/* An address without a mask is a name too. */
	key_ok("10.0.0.1", 53, "10.0.0.1.", 53);
}

Test(address, wire_form)
{
	struct sx_zones zones = { 0 };
	uint16_t port;
	char err[64];

	cr_assert_eq(sx_address_key("Ab.C", 53, &zones, &port, err, sizeof(err)), 0);
	cr_assert_eq(zones.n, 1);
	cr_assert_eq(zones.z[0].len, 6);
	cr_assert_eq(memcmp(zones.z[0].wire, "\2ab\1c\0", 6), 0);
	sx_zones_fini(&zones);
	cr_assert_eq(zones.n, 0);
	cr_assert_null(zones.z);
}

Test(address, ports)
{
	key_ok("example.org:1053", 53, "example.org.", 1053);
	key_ok(".:53", 1053, ".", 53);
	key_ok("example.org", 1053, "example.org.", 1053);
	key_ok("example.org", 0, "example.org.", 0);
	key_ok("example.org:0", 53, "example.org.", 0);
	key_ok("example.org:65535", 53, "example.org.", 65535);
	key_ok("dns://example.org:1053", 53, "example.org.", 1053);
	key_ok("dns://example.org", 5300, "example.org.", 5300);
	key_ok("DNS://.", 53, ".", 53);
}

Test(address, reverse_cidr_on_a_boundary)
{
	key_ok("10.0.0.0/24", 53, "0.0.10.in-addr.arpa.", 53);
	key_ok("10.0.0.0/8:53", 1053, "10.in-addr.arpa.", 53);
	key_ok("10.0.0.0/16", 53, "0.10.in-addr.arpa.", 53);
	key_ok("192.168.1.7/32", 53, "7.1.168.192.in-addr.arpa.", 53);
	key_ok("0.0.0.0/0", 53, "in-addr.arpa.", 53);
	key_ok("2001:db8::/32", 53, "8.b.d.0.1.0.0.2.ip6.arpa.", 53);
	key_ok("2001:db8::/32:1053", 53, "8.b.d.0.1.0.0.2.ip6.arpa.", 1053);
	key_ok("fd00::/8", 53, "d.f.ip6.arpa.", 53);
	key_ok("dns://10.0.0.0/8", 53, "10.in-addr.arpa.", 53);
}

Test(address, reverse_cidr_split_to_the_next_boundary)
{
	key_ok("10.0.0.0/15", 53, "0.10.in-addr.arpa. 1.10.in-addr.arpa.", 53);
	key_ok("2001:db8::/30", 53,
	       "8.b.d.0.1.0.0.2.ip6.arpa. 9.b.d.0.1.0.0.2.ip6.arpa. "
	       "a.b.d.0.1.0.0.2.ip6.arpa. b.b.d.0.1.0.0.2.ip6.arpa.",
	       53);
	key_ok("172.16.0.0/12", 53,
	       "16.172.in-addr.arpa. 17.172.in-addr.arpa. 18.172.in-addr.arpa. "
	       "19.172.in-addr.arpa. 20.172.in-addr.arpa. 21.172.in-addr.arpa. "
	       "22.172.in-addr.arpa. 23.172.in-addr.arpa. 24.172.in-addr.arpa. "
	       "25.172.in-addr.arpa. 26.172.in-addr.arpa. 27.172.in-addr.arpa. "
	       "28.172.in-addr.arpa. 29.172.in-addr.arpa. 30.172.in-addr.arpa. "
	       "31.172.in-addr.arpa.",
	       53);
	key_ok("10.0.0.0/31", 53, "0.0.0.10.in-addr.arpa. 1.0.0.10.in-addr.arpa.", 53);
}

Test(address, reverse_cidr_largest_split)
{
	struct sx_zones zones = { 0 };
	uint16_t port;
	char err[64];

	cr_assert_eq(sx_address_key("192.168.0.0/17", 53, &zones, &port, err, sizeof(err)), 0);
	cr_assert_eq(zones.n, 128);
	cr_assert_str_eq(zones.z[0].name, "0.168.192.in-addr.arpa.");
	cr_assert_str_eq(zones.z[127].name, "127.168.192.in-addr.arpa.");
	sx_zones_fini(&zones);
}

Test(address, reverse_cidr_host_bits_are_masked)
{
	key_ok("10.1.2.3/8", 53, "10.in-addr.arpa.", 53);
	key_ok("10.3.0.0/15", 53, "2.10.in-addr.arpa. 3.10.in-addr.arpa.", 53);
}

Test(address, other_schemes_are_not_supported)
{
	key_err("tls://example.org", SX_ENOTSUP, "scheme tls:// is not supported (only dns://)");
	key_err("https://example.org:443", SX_ENOTSUP,
	        "scheme https:// is not supported (only dns://)");
	key_err("grpc://.", SX_ENOTSUP, "scheme grpc:// is not supported (only dns://)");
	key_err("quic://.", SX_ENOTSUP, "scheme quic:// is not supported (only dns://)");
	key_err("://.", SX_ENOTSUP, "scheme :// is not supported (only dns://)");
}

Test(address, bad_keys)
{
	char long_name[300];

	key_err("example.org:", SX_EINVAL,
	        "expecting a port after the last colon in 'example.org:'");
	key_err("example.org:65536", SX_EINVAL, "invalid port '65536' in 'example.org:65536'");
	key_err("example.org:123456", SX_EINVAL, "invalid port '123456' in 'example.org:123456'");
	key_err("example.org:dns", SX_EINVAL, "invalid zone or port in 'example.org:dns'");
	key_err(":53", SX_EINVAL, "no zone in ':53'");
	key_err("dns://", SX_EINVAL, "no zone in 'dns://'");
	key_err("a..b", SX_EINVAL, "zone 'a..b' is not a valid domain name");
	key_err("10.0.0.0/33", SX_EINVAL, "invalid CIDR '10.0.0.0/33'");
	key_err("10.0.0/8", SX_EINVAL, "invalid CIDR '10.0.0/8'");
	key_err("2001:db8::/129", SX_EINVAL, "invalid CIDR '2001:db8::/129'");
	key_err("::/0", SX_EINVAL, "invalid CIDR '::/0'");
	key_err("0::/8", SX_EINVAL, "invalid CIDR '0::/8'");
	key_err("10.0.0.0/0008", SX_EINVAL, "invalid CIDR '10.0.0.0/0008'");

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	key_err(long_name, SX_EINVAL, "zone is too long: 299 > 255");
	/* Labels over 63 bytes. */
	memset(long_name, 'a', 64);
	strcpy(long_name + 64, ".org");
	char want[400];
	snprintf(want, sizeof(want), "zone '%s' is not a valid domain name", long_name);
	key_err(long_name, SX_EINVAL, want);
}

Test(address, zone_arguments_ignore_scheme_and_port)
{
	struct sx_zones zones = { 0 };
	char err[128];

	cr_assert_eq(sx_address_zone("Cluster.Local", &zones, err, sizeof(err)), 0);
	cr_assert_eq(sx_address_zone("dns://example.org:53", &zones, err, sizeof(err)), 0);
	cr_assert_eq(sx_address_zone("tls://example.net", &zones, err, sizeof(err)), 0);
	cr_assert_eq(sx_address_zone("10.0.0.0/15", &zones, err, sizeof(err)), 0);
	char *got = names(&zones);
	cr_assert_str_eq(got, "cluster.local. example.org. example.net. 0.10.in-addr.arpa. "
	                      "1.10.in-addr.arpa.");
	free(got);
	cr_assert_eq(sx_address_zone("a..b", &zones, err, sizeof(err)), SX_EINVAL);
	cr_assert_str_eq(err, "zone 'a..b' is not a valid domain name");
	sx_zones_fini(&zones);
}

Test(address, zones_push)
{
	struct sx_zones zones = { 0 };

	cr_assert_eq(sx_zones_push(&zones, (const uint8_t *)"\3foo\0"), 0);
	cr_assert_eq(sx_zones_push(&zones, (const uint8_t *)"\0"), 0);
	cr_assert_eq(zones.n, 2);
	cr_assert_str_eq(zones.z[0].name, "foo.");
	cr_assert_eq(zones.z[0].len, 5);
	cr_assert_str_eq(zones.z[1].name, ".");
	sx_zones_fini(&zones);
}
