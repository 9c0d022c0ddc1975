/* bind.c -- listen on given addresses or interfaces instead of the wildcard address. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/plugin.h>

/*
 * bind ADDRESS|IFACE ... { except ADDRESS... }
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

static int
set_except(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct bind *b = inst;
	int i, n = sx_cf_nargs(cf);

	(void)d;
	b->except = calloc((size_t)n, sizeof(*b->except));
	if (!b->except) {
		return sx_cf_err(cf, "out of memory");
	}
	for (i = 1; i < n; i++) {
		if (!parse_ip(sx_cf_arg(cf, i), &b->except[b->nexcept++])) {
			return sx_cf_err(cf, "not a valid IP address: '%s'", sx_cf_arg(cf, i));
		}
	}
	return 0;
}

static const struct sx_directive bind_directives[] = {
	{ "except", 1, -1, set_except },
	{ NULL },
};

/* Every address of interface @name, except link-local IPv6 ones (they need a scope). */
static int
add_interface(struct sx_cf *cf, const struct bind *b, const char *name, bool *found)
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
	int i, n = sx_cf_nargs(cf), rc;

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
			rc = sx_cf_add_listen(cf, (struct sockaddr *)&ss,
			                      ss.ss_family == AF_INET
			                              ? sizeof(struct sockaddr_in)
			                              : sizeof(struct sockaddr_in6));
		} else {
			rc = add_interface(cf, b, a, &found);
			if (rc == 0 && !found) {
				return sx_cf_err(
				        cf, "not a valid IP address or interface name: '%s'", a);
			}
		}
		if (rc < 0) {
			return rc;
		}
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
