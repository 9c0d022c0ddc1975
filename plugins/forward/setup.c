/* setup.c -- forward's Corefile syntax: FROM, TO (addresses, tls://, resolv.conf), options. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sextant/plugin.h>

#include "fwd.h"

static int
set_policy(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	static const char *const names[] = {
		[FWD_POLICY_RANDOM] = "random",
		[FWD_POLICY_ROUND_ROBIN] = "round_robin",
		[FWD_POLICY_SEQUENTIAL] = "sequential",
	};
	struct fwd *f = inst;
	unsigned i;

	(void)d;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(sx_cf_arg(cf, 1), names[i])) {
			f->policy = i;
			return 0;
		}
	}
	return sx_cf_err(cf, "unknown policy '%s'", sx_cf_arg(cf, 1));
}

static int
rcode_value(const char *s)
{
	static const char *const names[] = {
		"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
	};
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i])) {
			return (int)i;
		}
	}
	return -1;
}

/* next RCODE... / failover RCODE...: a bit per rcode. */
static int
set_rcodes(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	uint32_t *mask = (uint32_t *)(void *)((char *)inst + d->offset);
	int i;

	for (i = 1; i < sx_cf_nargs(cf); i++) {
		int rc = rcode_value(sx_cf_arg(cf, i));

		if (rc < 0) {
			return sx_cf_err(cf, "%s is not a valid rcode", sx_cf_arg(cf, i));
		}
		/* As CoreDNS: trying the next upstream on a success makes no sense. */
		if (rc == SX_RCODE_NOERROR && strcmp(d->name, "failover") == 0) {
			return sx_cf_err(cf, "NoError cannot be used in failover");
		}
		*mask |= 1u << rc;
	}
	return 0;
}

static int
set_except(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct fwd *f = inst;

	(void)d;
	sx_zones_fini(&f->except);
	return sx_cf_zones(cf, 1, NULL, NULL, &f->except);
}

/* tls [CERT KEY CA] | tls CA: client certificate and the CA the upstream is checked against. */
static int
set_tls(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct fwd *f = inst;
	int n = sx_cf_nargs(cf) - 1;
	char **slots[3] = { NULL };
	int i;

	(void)d;
	if (n == 1) {
		slots[0] = &f->tls_ca;
	} else if (n == 2) {
		slots[0] = &f->tls_cert;
		slots[1] = &f->tls_key;
	} else if (n == 3) {
		slots[0] = &f->tls_cert;
		slots[1] = &f->tls_key;
		slots[2] = &f->tls_ca;
	}
	for (i = 0; i < n; i++) {
		const char *a = sx_cf_arg(cf, i + 1);
		char path[4096];

		if (a[0] == '/') {
			snprintf(path, sizeof(path), "%s", a);
		} else {
			snprintf(path, sizeof(path), "%s/%s", sx_cf_dir(cf), a);
		}
		*slots[i] = strdup(path);
		if (!*slots[i]) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* Generic setters that also remember the option was given, so setup can fill in defaults. */
static void
mark_given(struct fwd *f, const struct sx_directive *d)
{
	f->given |= 1u << (unsigned)(d - fwd_directives);
}

static int
set_uint_given(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	int rc = sx_set_uint(cf, d, inst);

	if (rc == 0) {
		mark_given(inst, d);
	}
	return rc;
}

static int
set_duration_given(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	int rc = sx_set_duration(cf, d, inst);

	if (rc == 0) {
		mark_given(inst, d);
	}
	return rc;
}

/* health_check DURATION [no_rec] [domain FQDN] */
static int
set_health_check(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct fwd *f = inst;
	int i, rc = set_duration_given(cf, d, inst);

	for (i = 2; rc == 0 && i < sx_cf_nargs(cf); i++) {
		const char *a = sx_cf_arg(cf, i);

		if (!strcmp(a, "no_rec")) {
			f->hc_no_rec = true;
		} else if (strcmp(a, "domain") != 0) {
			return sx_cf_err(cf, "health_check: unknown option %s", a);
		} else if (++i == sx_cf_nargs(cf)) {
			return sx_cf_err(cf, "Wrong argument count or unexpected line ending after "
			                     "'domain'");
		} else if (sx_dname_from_str(f->hc_domain, sx_cf_arg(cf, i)) < 0) {
			return sx_cf_err(cf, "health_check: invalid domain name %s",
			                 sx_cf_arg(cf, i));
		} else {
			sx_dname_lower(f->hc_domain, f->hc_domain);
		}
	}
	return rc;
}

/* source_address IP: the local address upstream sockets are bound to. */
static int
set_source(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct fwd *f = inst;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&f->src;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&f->src;
	const char *a = sx_cf_arg(cf, 1);

	(void)d;
	memset(&f->src, 0, sizeof(f->src));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		f->srclen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		f->srclen = sizeof(*s6);
	} else {
		return sx_cf_err(cf, "source_address: invalid IP address '%s'", a);
	}
	return 0;
}

static bool
given(const struct fwd *f, const char *name)
{
	unsigned i;

	for (i = 0; fwd_directives[i].name; i++) {
		if (!strcmp(fwd_directives[i].name, name)) {
			return (f->given >> i) & 1u;
		}
	}
	return false;
}

/* The row order follows the README's Syntax section. */
const struct sx_directive fwd_directives[] = {
	{ "except", 1, -1, set_except },
	SX_DIR_FLAG("force_tcp", struct fwd, force_tcp),
	SX_DIR_FLAG("prefer_udp", struct fwd, prefer_udp),
	{ "expire", 1, 1, set_duration_given, SX_FIELD(struct fwd, expire_ms, uint64_t) },
	SX_DIR_UINT("max_idle_conns", struct fwd, max_idle_conns, 0, 0),
	{ "max_fails", 1, 1, set_uint_given, SX_FIELD(struct fwd, max_fails, unsigned) },
	{ "read_timeout", 1, 1, set_duration_given, SX_FIELD(struct fwd, read_timeout_ms, uint64_t),
	  1 },
	{ "tls", 0, 3, set_tls },
	SX_DIR_STR("tls_servername", struct fwd, tls_servername),
	{ "policy", 1, 1, set_policy },
	{ "health_check", 1, 4, set_health_check, SX_FIELD(struct fwd, hc_ms, uint64_t), 1 },
	SX_DIR_UINT("max_concurrent", struct fwd, max_concurrent, 0, 0),
	{ "next", 1, -1, set_rcodes, SX_FIELD(struct fwd, next_rcodes, uint32_t) },
	SX_DIR_FLAG("next_on_nodata", struct fwd, next_nodata),
	SX_DIR_FLAG("failfast_all_unhealthy_upstreams", struct fwd, failfast),
	{ "failover", 1, -1, set_rcodes, SX_FIELD(struct fwd, failover_rcodes, uint32_t) },
	{ "source_address", 1, 1, set_source },
	{ NULL },
};

/* ---- FROM ---- */

/* The reverse zone of a CIDR, at the octet (v4) or nibble (v6) boundary at or above its mask. */
static int
cidr_zone(const char *s, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned char a[16];
	char *end;
	long bits;
	size_t n = 0;
	int i, units;

	if (!slash || (size_t)(slash - s) >= sizeof(ip)) {
		return SX_EINVAL;
	}
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1) {
		return SX_EINVAL;
	}
	if (inet_pton(AF_INET, ip, a) == 1 && bits >= 0 && bits <= 32) {
		units = (int)(bits + 7) / 8;
		for (i = units - 1; i >= 0; i--) {
			n += (size_t)snprintf(out + n, cap - n, "%u.", a[i]);
		}
		snprintf(out + n, cap - n, "in-addr.arpa.");
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) == 1 && bits >= 0 && bits <= 128) {
		units = (int)(bits + 3) / 4;
		for (i = units - 1; i >= 0; i--) {
			unsigned nib = (i % 2) ? a[i / 2] & 0xf : a[i / 2] >> 4;

			n += (size_t)snprintf(out + n, cap - n, "%x.", nib);
		}
		snprintf(out + n, cap - n, "ip6.arpa.");
		return 0;
	}
	return SX_EINVAL;
}

static int
parse_from(struct sx_cf *cf, struct fwd *f, const char *arg)
{
	struct sx_zone *z;
	char rev[128];
	const char *name = arg;
	int len;

	if (!strncasecmp(name, "dns://", 6)) {
		name += 6;
	}
	if (strchr(name, '/')) {
		if (cidr_zone(name, rev, sizeof(rev)) < 0) {
			return sx_cf_err(cf, "not a valid domain name or CIDR: '%s'", arg);
		}
		name = rev;
	}
	z = calloc(1, sizeof(*z));
	if (!z) {
		return -ENOMEM;
	}
	f->from.z = z;
	f->from.n = 1;
	len = sx_dname_from_str(z->wire, name);
	if (len < 0) {
		return sx_cf_err(cf, "not a valid domain name: '%s'", arg);
	}
	z->len = (uint8_t)len;
	sx_dname_lower(z->wire, z->wire);
	z->name = malloc(SX_DNAME_STRMAX);
	if (!z->name) {
		return -ENOMEM;
	}
	sx_dname_to_str(z->name, SX_DNAME_STRMAX, z->wire);
	return 0;
}

/* ---- TO ---- */

static void
up_name(struct fwd_up *u)
{
	char host[INET6_ADDRSTRLEN];

	if (u->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&u->addr;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(u->name, sizeof(u->name), "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)&u->addr;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(u->name, sizeof(u->name), "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* "IP", "IP:PORT", "[IPv6]:PORT", "IPv6": @return 0 with u->addr set, or SX_EINVAL. */
static int
parse_ip_port(const char *s, uint16_t dflt, struct fwd_up *u)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&u->addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&u->addr;
	unsigned long p = dflt;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] != '\0' && close[1] != ':')) {
			return SX_EINVAL;
		}
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof(host)) {
			return SX_EINVAL;
		}
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		port = close[1] == ':' ? close + 2 : NULL;
	} else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':')) {
		hl = (size_t)(strchr(s, ':') - s);
		if (hl >= sizeof(host)) {
			return SX_EINVAL;
		}
		memcpy(host, s, hl);
		host[hl] = '\0';
		port = s + hl + 1;
	} else {
		if (strlen(s) >= sizeof(host)) {
			return SX_EINVAL;
		}
		strcpy(host, s);
	}
	if (port) {
		char *end;

		if (!isdigit((unsigned char)port[0])) {
			return SX_EINVAL;
		}
		p = strtoul(port, &end, 10);
		if (*end || p == 0 || p > 65535) {
			return SX_EINVAL;
		}
	}
	memset(&u->addr, 0, sizeof(u->addr));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		u->addrlen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		u->addrlen = sizeof(*s6);
	} else {
		return SX_EINVAL;
	}
	up_name(u);
	return 0;
}

static int
add_up(struct sx_cf *cf, struct fwd *f, const struct fwd_up *u, size_t *total)
{
	(*total)++;
	if (f->nup < FWD_MAX_TO) {
		f->up[f->nup] = *u;
		f->up[f->nup].idx = f->nup;
		f->up[f->nup].f = f;
		f->nup++;
	}
	(void)cf;
	return 0;
}

/* A resolv.conf: its nameserver lines (search and options are not ours), port @port. */
static int
parse_resolv(struct sx_cf *cf, struct fwd *f, const char *path, const char *arg, bool tls,
             size_t *total)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	size_t before = *total;

	if (!fp) {
		return sx_cf_err(cf, "%s: %s", arg, strerror(errno));
	}
	while (fgets(line, sizeof(line), fp)) {
		char *save = NULL, *kw = strtok_r(line, " \t\r\n", &save), *ip;
		struct fwd_up u = { .tls = tls };

		if (!kw || strcmp(kw, "nameserver") != 0) {
			continue;
		}
		ip = strtok_r(NULL, " \t\r\n", &save);
		if (!ip) {
			continue;
		}
		/* A scoped address (fe80::1%eth0) keeps its scope out of the address parse. */
		if (strchr(ip, '%') && strchr(ip, ':')) {
			*strchr(ip, '%') = '\0';
		}
		if (parse_ip_port(ip, tls ? 853 : 53, &u) < 0 ||
		    (strchr(ip, ':') && u.addr.ss_family == AF_INET)) {
			continue; /* not an address: the libc resolver skips it too */
		}
		add_up(cf, f, &u, total);
	}
	fclose(fp);
	if (*total == before) {
		return sx_cf_err(cf, "no nameservers found in %s", arg);
	}
	return 0;
}

static int
parse_to(struct sx_cf *cf, struct fwd *f, const char *arg, size_t *total)
{
	struct fwd_up u = { 0 };
	const char *h = arg;
	char path[4096];
	struct stat st;

	if (!strncasecmp(h, "tls://", 6)) {
		u.tls = true;
		h += 6;
	} else if (!strncasecmp(h, "dns://", 6)) {
		h += 6;
	} else if (strstr(h, "://")) {
		return sx_cf_err(cf, "unsupported transport in '%s' (dns:// and tls:// are)", arg);
	}
	if (parse_ip_port(h, u.tls ? 853 : 53, &u) == 0) {
		return add_up(cf, f, &u, total);
	}
	if (h[0] == '/') {
		snprintf(path, sizeof(path), "%s", h);
	} else {
		snprintf(path, sizeof(path), "%s/%s", sx_cf_dir(cf), h);
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		return parse_resolv(cf, f, path, h, u.tls, total);
	}
	return sx_cf_err(cf, "not an IP address or file: '%s'", arg);
}

int
fwd_setup(struct sx_cf *cf, void *inst)
{
	struct fwd *f = inst;
	char err[512];
	size_t total = 0;
	int i, rc;

	/* CoreDNS's defaults for whatever the block did not set. */
	f->expire_ms = given(f, "expire") ? f->expire_ms : 10000;
	f->max_fails = given(f, "max_fails") ? f->max_fails : 2;
	f->read_timeout_ms = given(f, "read_timeout") ? f->read_timeout_ms : 2000;
	f->hc_ms = given(f, "health_check") ? f->hc_ms : 500;
	if (sx_cf_nargs(cf) < 3) {
		return sx_cf_err(cf, "Wrong argument count or unexpected line ending after '%s'",
		                 sx_cf_arg(cf, sx_cf_nargs(cf) - 1));
	}
	rc = parse_from(cf, f, sx_cf_arg(cf, 1));
	for (i = 2; rc == 0 && i < sx_cf_nargs(cf); i++) {
		rc = parse_to(cf, f, sx_cf_arg(cf, i), &total);
	}
	if (rc < 0) {
		return rc;
	}
	if (total > FWD_MAX_TO) {
		return sx_cf_err(cf, "more than %d TOs configured: %zu", FWD_MAX_TO, total);
	}
	/* As CoreDNS: `next` and `next_on_nodata` hand a query on to a following forward only. */
	f->next_forward = sx_cf_repeated_after(cf);
	if (f->force_tcp && f->prefer_udp) {
		return sx_cf_err(cf, "both force_tcp and prefer_udp configured");
	}
	for (i = 0; i < (int)f->nup; i++) {
		if (f->up[i].tls) {
			rc = fwd_tls_init(f, err, sizeof(err));
			if (rc < 0) {
				return sx_cf_err(cf, "%s", err);
			}
			break;
		}
	}
	f->nworkers = sx_cf_workers(cf);
	f->w = calloc(f->nworkers, sizeof(*f->w));
	if (!f->w) {
		return -ENOMEM;
	}
	for (i = 0; i < (int)f->nworkers; i++) {
		f->w[i] = calloc(1, sizeof(*f->w[i]));
		if (!f->w[i]) {
			return -ENOMEM;
		}
		f->w[i]->idx = (unsigned)i;
		fwd_rand_seed(f->w[i]->rng);
	}
	fwd_metrics_setup(f);
	fwd_rand_seed(f->hc_rng);
	return 0;
}
