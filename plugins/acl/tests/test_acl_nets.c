/* test_acl_nets.c -- acl's address sets: CIDR parsing, merging, and lookups at the edges. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../acl.h"

static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage ss = { 0 };

	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else {
		cr_assert_eq(inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1,
		             "%s", s);
		ss.ss_family = AF_INET6;
	}
	return ss;
}

static bool
has(const struct acl_nets *n, const char *s)
{
	struct sockaddr_storage ss = addr(s);

	return acl_nets_has(n, &ss);
}

Test(acl_nets, cidrs_and_single_addresses)
{
	struct acl_nets n = { 0 };

	cr_assert_eq(acl_nets_add(&n, "192.168.0.0/16"), 0);
	cr_assert_eq(acl_nets_add(&n, "10.1.2.3"), 0);
	cr_assert_eq(acl_nets_add(&n, "2001:db8::/32"), 0);
	cr_assert_eq(acl_nets_add(&n, "::1"), 0); /* a single IPv6 address is a /128 */
	acl_nets_seal(&n);
	cr_expect(has(&n, "192.168.0.0"));
	cr_expect(has(&n, "192.168.255.255"));
	cr_expect(!has(&n, "192.169.0.0"));
	cr_expect(!has(&n, "192.167.255.255"));
	cr_expect(has(&n, "10.1.2.3"));
	cr_expect(!has(&n, "10.1.2.4"));
	cr_expect(has(&n, "2001:db8:ffff::1"));
	cr_expect(!has(&n, "2001:db9::"));
	cr_expect(has(&n, "::1"));
	cr_expect(!has(&n, "::2"));
	/* An IPv4 client seen on a dual-stack socket is the same IPv4 address. */
	cr_expect(has(&n, "::ffff:192.168.1.1"));
	cr_expect(!has(&n, "::ffff:192.169.1.1"));
	acl_nets_fini(&n);
}

Test(acl_nets, overlapping_and_adjacent_ranges_merge)
{
	struct acl_nets n = { 0 };

	cr_assert_eq(acl_nets_add(&n, "10.0.1.0/24"), 0);
	cr_assert_eq(acl_nets_add(&n, "10.0.0.0/24"), 0);
	cr_assert_eq(acl_nets_add(&n, "10.0.0.128/25"), 0);
	cr_assert_eq(acl_nets_add(&n, "10.0.3.0/24"), 0);
	acl_nets_seal(&n);
	cr_assert_eq(n.n, 2);
	cr_expect(has(&n, "10.0.1.255"));
	cr_expect(!has(&n, "10.0.2.0"));
	cr_expect(has(&n, "10.0.3.7"));
	acl_nets_fini(&n);
}

Test(acl_nets, star_and_zero_prefix_match_everything_of_their_family)
{
	struct acl_nets all = { 0 }, v4 = { 0 };

	cr_assert_eq(acl_nets_add(&all, "*"), 0);
	acl_nets_seal(&all);
	cr_expect(has(&all, "203.0.113.9"));
	cr_expect(has(&all, "2001:db8::9"));
	cr_assert_eq(acl_nets_add(&v4, "0.0.0.0/0"), 0);
	acl_nets_seal(&v4);
	cr_expect(has(&v4, "203.0.113.9"));
	cr_expect(!has(&v4, "2001:db8::9"));
	acl_nets_fini(&all);
	acl_nets_fini(&v4);
}

Test(acl_nets, bad_text_is_refused)
{
	struct acl_nets n = { 0 };
	static const char *const bad[] = { "10.0.0.0/33",  "10.0.0.0/", "10.0.0.0/-1",
		                           "10.0.0.0/8x",  "::/129",    "300.1.1.1",
		                           "host.example", "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(acl_nets_add(&n, bad[i]), SX_EINVAL, "%s", bad[i]);
	}
	cr_expect_eq(n.n, 0);
	acl_nets_fini(&n);
}
