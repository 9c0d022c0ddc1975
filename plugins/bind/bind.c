/* bind.c -- listen on given addresses or interfaces instead of the wildcard address. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/plugin.h>

/*
 * bind ADDRESS|IFACE ... { except ADDRESS|IFACE... }
 * Everything happens at setup: the addresses go to the server block through
 * sx_cf_add_listen(); nothing runs per query.
 */
struct bind {
	struct sockaddr_storage *except;
	size_t nexcept;
};

static bool
parse_ip(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family) {
		return false;
	}
	if (a->ss_family == AF_INET) {
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	}
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
}

static bool
excepted(const struct bind *b, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < b->nexcept; i++) {
		if (same_ip(&b->except[i], sa)) {
			return true;
		}
	}
	return false;
}

/* Add every IPv4 and IPv6 address of interface @name to the exceptions. @return how many. */
static int
except_interface(struct sx_cf *cf, struct bind *b, const char *name)
{
	struct ifaddrs *ifs, *i;
	int n = 0;

	if (getifaddrs(&ifs) < 0) {
		return sx_cf_err(cf, "cannot list network interfaces");
	}
	for (i = ifs; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;
		struct sockaddr_storage *e;

		if (!sa || strcmp(i->ifa_name, name) != 0 ||
		    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
			continue;
		}
		e = reallocarray(b->except, b->nexcept + 1, sizeof(*e));
		if (!e) {
			freeifaddrs(ifs);
			return sx_cf_err(cf, "out of memory");
		}
		b->except = e;
		memset(&e[b->nexcept], 0, sizeof(*e));
		memcpy(&e[b->nexcept++], sa,
		       sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
		                                : sizeof(struct sockaddr_in6));
		n++;
	}
	freeifaddrs(ifs);
	return n;
}

static int
set_except(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct bind *b = inst;
	int i, n = sx_cf_nargs(cf), rc;

	(void)d;
	for (i = 1; i < n; i++) {
		const char *a = sx_cf_arg(cf, i);
		struct sockaddr_storage ss, *e;

		if (!parse_ip(a, &ss)) {
			rc = except_interface(cf, b, a);
			if (rc < 0) {
				return rc;
			}
			if (rc == 0) {
				return sx_cf_err(
				        cf, "not a valid IP address or interface name: '%s'", a);
			}
			continue;
		}
		e = reallocarray(b->except, b->nexcept + 1, sizeof(*e));
		if (!e) {
			return sx_cf_err(cf, "out of memory");
		}
		b->except = e;
		e[b->nexcept++] = ss;
	}
	return 0;
}

static const struct sx_directive bind_directives[] = {
	{ "except", 1, -1, set_except },
	{ NULL },
};

/* Every address of interface @name, except link-local IPv6 ones (they need a scope). */
static int
add_interface(struct sx_cf *cf, const struct bind *b, const char *name, bool *found, int *kept)
{
	struct ifaddrs *ifs, *i;
	int rc = 0;

	if (getifaddrs(&ifs) < 0) {
		return sx_cf_err(cf, "cannot list network interfaces");
	}
	for (i = ifs; i && rc == 0; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa || strcmp(i->ifa_name, name) != 0 ||
		    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
			continue;
		}
		*found = true;
		if (sa->sa_family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(
		            &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr)) {
			continue;
		}
		if (!excepted(b, sa)) {
			++*kept;
			rc = sx_cf_add_listen(cf, sa,
			                      sa->sa_family == AF_INET
			                              ? sizeof(struct sockaddr_in)
			                              : sizeof(struct sockaddr_in6));
		}
	}
	freeifaddrs(ifs);
	return rc;
}

static int
bind_setup(struct sx_cf *cf, void *inst)
{
	struct bind *b = inst;
	int i, n = sx_cf_nargs(cf), rc, kept = 0;

	if (n < 2) {
		return sx_cf_err(cf, "at least one address or interface name is expected");
	}
	for (i = 1; i < n; i++) {
		const char *a = sx_cf_arg(cf, i);
		struct sockaddr_storage ss;
		bool found = false;

		if (parse_ip(a, &ss)) {
			if (excepted(b, (struct sockaddr *)&ss)) {
				continue;
			}
			kept++;
			rc = sx_cf_add_listen(cf, (struct sockaddr *)&ss,
			                      ss.ss_family == AF_INET
			                              ? sizeof(struct sockaddr_in)
			                              : sizeof(struct sockaddr_in6));
		} else {
			rc = add_interface(cf, b, a, &found, &kept);
			if (rc == 0 && !found) {
				return sx_cf_err(
				        cf, "not a valid IP address or interface name: '%s'", a);
			}
		}
		if (rc < 0) {
			return rc;
		}
	}
	/* Nothing left would mean the wildcard address: the opposite of what was asked. */
	if (kept == 0) {
		return sx_cf_err(cf, "every address is excepted, nothing is left to listen on");
	}
	return 0;
}

static void
bind_teardown(void *inst)
{
	free(((struct bind *)inst)->except);
}

const struct sx_plugin sx_plugin_bind = {
	.name = "bind",
	.inst_size = sizeof(struct bind),
	.directives = bind_directives,
	.repeat = true,
	.setup = bind_setup,
	.teardown = bind_teardown,
};
