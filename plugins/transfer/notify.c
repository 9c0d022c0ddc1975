/* notify.c -- NOTIFY (RFC 1996) to the secondaries of a zone that changed, over UDP. */
#include "xfr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sextant/dname.h>
#include <sextant/io.h>
#include <sextant/time.h>
#include <sextant/wire.h>

/* As CoreDNS: three tries, each waiting as long as its DNS client does (2 s). */
#define NOTIFY_TRIES   3
#define NOTIFY_WAIT_MS 2000

#define OPCODE_NOTIFY 4u
#define OPCODE_SHIFT  11

/* Header, question, and the SOA in the answer (owner compressed, RFC 1996 3.7). */
#define NOTIFY_MAX (SX_WIRE_QUERY_MAX + 12 + SX_RDATA_EXPANDED)

struct xfr_notify {
	struct xfr_notify *next;
	struct xfr *t;
	const struct xfr_net *to;
	int fd;
	struct sx_io *io;
	struct sx_timer *timer;
	unsigned tries;
	int err; /* the last socket error, for the log */
	uint16_t id;
	size_t len;
	uint8_t zone[SX_DNAME_MAX];
	uint8_t wire[NOTIFY_MAX];
};

static void
addr_str(const struct xfr_net *n, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];

	inet_ntop(n->fam == 4 ? AF_INET : AF_INET6, n->addr, host, sizeof(host));
	snprintf(out, cap, n->fam == 4 ? "%s:%u" : "[%s]:%u", host, n->port);
}

static void
zone_str(const struct xfr_notify *n, char *out, size_t cap)
{
	if (sx_dname_to_str(out, cap, n->zone) < 0) {
		snprintf(out, cap, "?");
	}
}

static void
job_free(struct xfr_notify *n)
{
	struct xfr_notify **pp;

	for (pp = &n->t->notifies; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	sx_io_free(n->io);
	sx_timer_free(n->timer);
	if (n->fd >= 0) {
		close(n->fd);
	}
	free(n);
}

/* CoreDNS's words, so that its users' log alerts still match. */
static void
give_up(struct xfr_notify *n, const char *why)
{
	char zone[SX_DNAME_STRMAX], to[INET6_ADDRSTRLEN + 16];

	zone_str(n, zone, sizeof(zone));
	addr_str(n->to, to, sizeof(to));
	sx_plog(SX_LOG_WARNING, "transfer", "notify for zone \"%s\" was not accepted by \"%s\": %s",
	        zone, to, why);
	job_free(n);
}

/* A datagram that answers our NOTIFY: same ID and question, QR set, opcode NOTIFY. */
static bool
answers(const struct xfr_notify *n, const uint8_t *p, size_t len)
{
	uint8_t name[SX_DNAME_MAX];
	size_t qend;

	if (len < 12 || ((p[0] << 8) | p[1]) != n->id || !(p[2] & 0x80) ||
	    ((p[2] >> 3) & 0xF) != OPCODE_NOTIFY || ((p[4] << 8) | p[5]) != 1) {
		return false;
	}
	if (sx_wire_name(p, len, 12, name) < 0 || !sx_dname_eq(name, n->zone)) {
		return false;
	}
	qend = sx_wire_skip_name(p, len, 12);
	return qend != 0 && qend + 4 <= len && ((p[qend] << 8) | p[qend + 1]) == SX_TYPE_SOA;
}

static void
on_reply(int fd, unsigned what, void *arg)
{
	struct xfr_notify *n = arg;
	uint8_t buf[512];
	ssize_t got;

	(void)what;
	for (;;) {
		got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got < 0 && errno == ECONNREFUSED) {
			/* An ICMP error for an earlier try: the next one may still be answered. */
			n->err = errno;
			continue;
		}
		if (got < 0) {
			return; /* nothing more to read */
		}
		if (!answers(n, buf, (size_t)got)) {
			continue;
		}
		unsigned rcode = buf[3] & 0xF;
		if (rcode != SX_RCODE_NOERROR) {
			char name[16], why[64];

			snprintf(why, sizeof(why), "rcode was \"%s\"", sx_rcode_name(rcode, name));
			give_up(n, why);
			return;
		}
		job_free(n);
		return;
	}
}

static void
send_try(struct xfr_notify *n)
{
	n->tries++;
	if (send(n->fd, n->wire, n->len, 0) < 0) {
		n->err = errno;
	}
	if (sx_timer_once(n->timer, NOTIFY_WAIT_MS) < 0) {
		give_up(n, strerror(ENOMEM));
	}
}

static void
on_timeout(void *arg)
{
	struct xfr_notify *n = arg;

	if (n->tries < NOTIFY_TRIES) {
		send_try(n);
		return;
	}
	char why[128];
	snprintf(why, sizeof(why), "no reply after %u tries%s%s", n->tries, n->err ? ": " : "",
	         n->err ? strerror(n->err) : "");
	give_up(n, why);
}

/* The NOTIFY itself: opcode NOTIFY, AA, question ZONE SOA, and the new SOA as the answer. */
static int
build(struct xfr_notify *n, const struct sx_zone_version *v)
{
	struct sx_wire_query q = {
		.id = n->id,
		.flags = (uint16_t)(OPCODE_NOTIFY << OPCODE_SHIFT | SX_FLAG_AA),
		.qname = n->zone,
		.qname_len = sx_dname_len(n->zone),
		.qtype = SX_TYPE_SOA,
		.qclass = SX_CLASS_IN,
	};
	int len = sx_wire_query(n->wire, sizeof(n->wire), &q);
	uint8_t *p;

	if (len < 0 || (size_t)len + 12 + v->soa_len > sizeof(n->wire)) {
		return SX_ETRUNC;
	}
	p = n->wire + len;
	*p++ = 0xC0; /* the owner is the question's name, at offset 12 */
	*p++ = 12;
	*p++ = 0;
	*p++ = SX_TYPE_SOA;
	*p++ = 0;
	*p++ = SX_CLASS_IN;
	for (int shift = 24; shift >= 0; shift -= 8) {
		*p++ = (uint8_t)(v->soa_ttl >> shift);
	}
	*p++ = (uint8_t)(v->soa_len >> 8);
	*p++ = (uint8_t)v->soa_len;
	memcpy(p, v->soa, v->soa_len);
	p += v->soa_len;
	n->wire[7] = 1; /* ANCOUNT */
	n->len = (size_t)(p - n->wire);
	return 0;
}

/* A connected socket: the kernel drops datagrams from anyone but the secondary. */
static int
open_socket(const struct xfr_net *to)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd;

	if (to->fam == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(to->port);
		memcpy(&sin->sin_addr, to->addr, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(to->port);
		memcpy(&sin6->sin6_addr, to->addr, 16);
		len = sizeof(*sin6);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int
job_start(struct xfr *t, const struct xfr_net *to, const struct sx_zone_version *v)
{
	struct xfr_notify *n = calloc(1, sizeof(*n));
	int rc;

	if (!n) {
		return -ENOMEM;
	}
	n->t = t;
	n->to = to;
	n->fd = -1;
	n->next = t->notifies;
	t->notifies = n;
	memcpy(n->zone, v->zone, sx_dname_len(v->zone));
	if (getrandom(&n->id, sizeof(n->id), 0) != sizeof(n->id)) {
		n->id = (uint16_t)sx_now_ns();
	}
	rc = build(n, v);
	if (rc < 0) {
		goto fail;
	}
	n->fd = open_socket(to);
	if (n->fd < 0) {
		rc = n->fd;
		goto fail;
	}
	n->io = sx_io_new(n->fd, SX_IO_READ, on_reply, n);
	n->timer = sx_timer_new(on_timeout, n);
	if (!n->io || !n->timer) {
		rc = -ENOMEM;
		goto fail;
	}
	send_try(n);
	return 0;
fail:
	job_free(n);
	return rc;
}

void
xfr_notify(struct xfr *t, const struct sx_zone_version *v)
{
	int i = sx_zones_match(&t->zones, v->zone);

	/* Transfers are answered at the apex of the plugin's zones only, so are notifies. */
	if (i < 0 || t->zones.z[i].len != sx_dname_len(v->zone)) {
		return;
	}
	for (size_t k = 0; k < t->nto; k++) {
		const struct xfr_net *to = &t->to[k];

		if (to->port == 0) {
			continue;
		}
		/* The older version's NOTIFY is moot: the secondary is told of the newer one. */
		for (struct xfr_notify *n = t->notifies, *next; n; n = next) {
			next = n->next;
			if (n->to == to && sx_dname_eq(n->zone, v->zone)) {
				job_free(n);
			}
		}
		int rc = job_start(t, to, v);
		if (rc < 0) {
			char addr[INET6_ADDRSTRLEN + 16];

			addr_str(to, addr, sizeof(addr));
			sx_plog(SX_LOG_WARNING, "transfer",
			        "notify for zone \"%s\" to \"%s\" not sent: %s", t->zones.z[i].name,
			        addr, sx_strerror(rc));
		}
	}
}

void
xfr_notify_stop(struct xfr *t)
{
	while (t->notifies) {
		job_free(t->notifies);
	}
}
