/* loop.c -- detect a forwarding loop at start: our random HINFO probe must not come back. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include <sextant/io.h>
#include <sextant/plugin.h>
#include <sextant/time.h>
#include <sextant/wire.h>

/*
 * As CoreDNS: at start, send "<random>.<random>.<zone> HINFO" to the block's
 * own listener (its first bound address, see probe_address()), once a second until something answers (or for 30 s). If
 * the probe name reaches the handler more than twice, the query went round
 * in a loop (typically forward to a resolver that forwards back to us): log
 * a fatal error and exit, because serving on would loop every query until
 * the process runs out of memory. Two seconds after the first answer, or
 * after 30 s, the plugin turns itself off and only passes queries on.
 */
#define LOOP_PROBE_WINDOW_MS 30000
#define LOOP_EXCHANGE_MS     2000 /* a probe's read timeout */
#define LOOP_RETRY_MS        1000
#define LOOP_LINGER_MS       2000 /* after an answer, copies still in flight may arrive */

struct loop {
	uint8_t qname[SX_DNAME_MAX]; /* lower case */
	size_t qlen;
	char qstr[SX_DNAME_STRMAX];
	char zone[SX_DNAME_STRMAX];
	uint16_t port_cfg;
	const struct sx_block *block; /* its first `bind` address is where probes go */
	unsigned long seen;           /* arrivals of the probe name (atomic) */
	int disabled;                 /* atomic */
	/* The prober, on the control thread. */
	struct sockaddr_storage to;
	int fd; /* valid when have_fd */
	bool have_fd;
	struct sx_io *rd;
	struct sx_timer *timer;
	uint64_t deadline_ms;
	uint16_t id;
	bool answered;
};

static void
disable(struct loop *l)
{
	uatomic_set(&l->disabled, 1);
	if (l->rd) {
		sx_io_set(l->rd, 0);
	}
}

static void
send_probe(struct loop *l)
{
	uint8_t q[SX_WIRE_QUERY_MAX];
	struct sx_wire_query wq = { .flags = SX_FLAG_RD,
		                    .qname = l->qname,
		                    .qname_len = l->qlen,
		                    .qtype = SX_TYPE_HINFO,
		                    .qclass = SX_CLASS_IN };
	int n;
	uint16_t id;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
		id = (uint16_t)sx_now_ms();
	}
	id = id ? id : 1; /* 0 means "no probe out" */
	l->id = id;
	wq.id = id;
	n = sx_wire_query(q, sizeof(q), &wq);
	/* A lost datagram is a timeout like any other: the next probe follows. */
	(void)send(l->fd, q, (size_t)n, 0);
}

/* The timer: the next probe, a probe's timeout, or the end of the window. */
static void
on_timer(void *arg)
{
	struct loop *l = arg;

	if (l->answered || sx_now_ms() >= l->deadline_ms) {
		disable(l);
		return;
	}
	if (l->id && !l->answered) {
		/* The last probe timed out: count afresh for the next one, as CoreDNS resets. */
		uatomic_set(&l->seen, 0);
		l->id = 0;
		sx_timer_once(l->timer, LOOP_RETRY_MS);
		return;
	}
	send_probe(l);
	sx_timer_once(l->timer, LOOP_EXCHANGE_MS);
}

static void
on_reply(int fd, unsigned what, void *arg)
{
	struct loop *l = arg;
	uint8_t buf[512];
	ssize_t n;

	(void)what;
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		if (n >= 12 && l->id && buf[0] == (uint8_t)(l->id >> 8) &&
		    buf[1] == (uint8_t)l->id && (buf[2] & 0x80)) {
			/* Any answer ends probing; copies of the probe may still be looping. */
			l->answered = true;
			sx_io_set(l->rd, 0);
			sx_timer_once(l->timer, LOOP_LINGER_MS);
			return;
		}
	}
}

static enum sx_verdict
loop_handle(struct sx_req *req, void *inst)
{
	struct loop *l = inst;
	const struct sx_query *q = sx_req_query(req);
	char from[INET6_ADDRSTRLEN + 8], host[INET6_ADDRSTRLEN];

	if (q->qtype != SX_TYPE_HINFO || uatomic_read(&l->disabled) ||
	    !sx_dname_eq(q->lname, l->qname)) {
		return SX_NEXT;
	}
	if (uatomic_add_return(&l->seen, 1) <= 2) {
		return SX_NEXT;
	}
	if (q->client.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&q->client;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(from, sizeof(from), "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)&q->client;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(from, sizeof(from), "%s:%u", host, ntohs(s4->sin_port));
	}
	sx_plog(SX_LOG_FATAL, "loop",
	        "Loop (%s -> :%u) detected for zone \"%s\", see "
	        "https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO %s\"",
	        from, q->local_port, l->zone, l->qstr);
	/* Like Go's os.Exit: no cleanup, the workers may be mid-query. The line is written. */
	_exit(1);
}

static int
loop_setup(struct sx_cf *cf, void *inst)
{
	struct loop *l = inst;
	const struct sx_zones *zones = sx_cf_block_zones(cf);
	uint64_t r[2];
	char name[SX_DNAME_STRMAX + 48];
	int len;

	if (sx_cf_nargs(cf) > 1) {
		return sx_cf_err(cf, "Wrong argument count or unexpected line ending after '%s'",
		                 sx_cf_arg(cf, 1));
	}
	snprintf(l->zone, sizeof(l->zone), "%s", zones->z[0].name);
	l->port_cfg = sx_cf_block_port(cf, 0);
	l->block = sx_cf_block(cf);
	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		r[0] = sx_now_ms() * 0x9e3779b97f4a7c15ull;
		r[1] = (uint64_t)getpid() * 0xbf58476d1ce4e5b9ull;
	}
	/* Two non-negative 63-bit numbers, as Go's rand.Int() gives CoreDNS. */
	snprintf(name, sizeof(name), "%" PRIu64 ".%" PRIu64 ".%s", r[0] >> 1, r[1] >> 1,
	         strcmp(l->zone, ".") ? l->zone : "");
	len = sx_dname_from_str(l->qname, name);
	if (len < 0) {
		return sx_cf_err(cf, "zone %s leaves no room for the probe name", l->zone);
	}
	l->qlen = (size_t)len;
	sx_dname_lower(l->qname, l->qname);
	sx_dname_to_str(l->qstr, sizeof(l->qstr), l->qname);
	return 0;
}

/*
 * Where the probes go, as CoreDNS: the block's first listen address, so that
 * a block bound only to, say, 169.254.20.10 is probed there; 127.0.0.1 for one
 * on the wildcard address, or bound to it (a wildcard is no destination).
 */
static void
probe_address(struct loop *l, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->to;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->to;

	if (!sx_block_listen(l->block, 0, &l->to)) {
		memset(&l->to, 0, sizeof(l->to));
		sin->sin_family = AF_INET;
	}
	if (l->to.ss_family == AF_INET6) {
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
			sin6->sin6_addr = in6addr_loopback;
		}
		sin6->sin6_port = htons(port);
	} else {
		if (sin->sin_addr.s_addr == htonl(INADDR_ANY)) {
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		}
		sin->sin_port = htons(port);
	}
}

static int
loop_start(void *inst, struct sx_runtime *rt)
{
	struct loop *l = inst;

	probe_address(l, sx_rt_port(rt, l->port_cfg));
	l->fd = socket(l->to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		return -errno;
	}
	l->have_fd = true;
	if (connect(l->fd, (struct sockaddr *)&l->to,
	            l->to.ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                       : sizeof(struct sockaddr_in6)) < 0) {
		return -errno;
	}
	l->rd = sx_io_new(l->fd, SX_IO_READ, on_reply, l);
	l->timer = sx_timer_new(on_timer, l);
	if (!l->rd || !l->timer) {
		return -ENOMEM;
	}
	l->deadline_ms = sx_now_ms() + LOOP_PROBE_WINDOW_MS;
	/* The first probe goes out once the control loop runs, after the workers started. */
	sx_timer_once(l->timer, 0);
	return 0;
}

static void
loop_teardown(void *inst)
{
	struct loop *l = inst;

	sx_io_free(l->rd);
	sx_timer_free(l->timer);
	if (l->have_fd) {
		close(l->fd);
	}
}

const struct sx_plugin sx_plugin_loop = {
	.name = "loop",
	.inst_size = sizeof(struct loop),
	.setup = loop_setup,
	.start = loop_start,
	.handle = loop_handle,
	.teardown = loop_teardown,
};
