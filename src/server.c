/* server.c -- listeners, configuration generations under RCU, start, reload and stop. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <urcu.h>

#include <sextant/dname.h>
#include <sextant/log.h>

#include "config.h"
#include "labels.h"
#include "server.h"
#include "version.h"
#include "worker.h"

static struct {
	struct event_base *control;
	pthread_t control_thread;
	struct sx_runtime rt;
	struct sx_worker *workers;
	unsigned nworkers;
	struct sx_gen *current; /* RCU-protected */
	struct sx_listener *listeners;
	unsigned next_lid;
	uint16_t ephemeral; /* the port keys with port 0 share */
	/* A reloaded generation waiting for its plugins to be ready before it serves. */
	struct sx_gen *pending;
	struct event *pending_poll;
	uint64_t pending_until_ns;
	/* The first generation while a plugin holds serving back (sx_rt_hold_serving()). */
	struct sx_gen *first;
	struct event *first_poll;
	uint64_t first_until_ns;
	bool quiet;
} srv;

/*
 * How long a reloaded configuration may wait for its plugins (kubernetes' first LIST)
 * before it serves anyway. The running one answers meanwhile, up to date (its watches
 * go on), so the wait can be generous: a LIST took 4.4 s in the soak on a loaded machine.
 */
#define RELOAD_READY_WAIT_S  10
#define RELOAD_READY_WAIT_NS (RELOAD_READY_WAIT_S * 1000000000ull)
#define RELOAD_READY_POLL_US 50000
/* How far below the workers the control thread runs: CFS gives it about a
 * tenth of a busy worker's share, never nothing (the zone must stay fresh). */
#define CONTROL_NICE_STEP 10

unsigned
sx_rt_workers(struct sx_runtime *rt)
{
	return rt->workers;
}

uint16_t
sx_rt_port(struct sx_runtime *rt, uint16_t configured)
{
	(void)rt;
	return configured ? configured : srv.ephemeral;
}

struct sx_runtime *
sx_server_runtime(void)
{
	return &srv.rt;
}

struct event_base *
sx_server_control(void)
{
	return srv.control;
}

unsigned
sx_server_workers(void)
{
	return srv.nworkers;
}

uint64_t
sx_server_received(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; srv.workers && i < srv.nworkers; i++) {
		n += __atomic_load_n(&srv.workers[i].received, __ATOMIC_RELAXED);
	}
	return n;
}

/* ---- generations ---- */

struct sx_gen *
sx_gen_current(void)
{
	return rcu_dereference(srv.current);
}

static void
longest(uint64_t *have, uint64_t set)
{
	if (set > *have) {
		*have = set;
	}
}

void
sx_gen_tcp_timeouts(const struct sx_gen *gen, unsigned lid, uint64_t *read_ms, uint64_t *write_ms,
                    uint64_t *idle_ms)
{
	*read_ms = *write_ms = *idle_ms = 0;
	for (size_t i = 0; i < gen->nroutes; i++) {
		const struct sx_block *b = gen->routes[i].block;

		if (gen->routes[i].lid == lid) {
			longest(read_ms, b->tcp_read_ms);
			longest(write_ms, b->tcp_write_ms);
			longest(idle_ms, b->tcp_idle_ms);
		}
	}
	*read_ms = *read_ms ? *read_ms : SX_TCP_READ_SEC * 1000u;
	*write_ms = *write_ms ? *write_ms : SX_TCP_WRITE_SEC * 1000u;
	*idle_ms = *idle_ms ? *idle_ms : SX_TCP_IDLE_SEC * 1000u;
}

const struct sx_block *
sx_gen_route(const struct sx_gen *gen, unsigned lid, const struct sx_query *q, const uint8_t **zone)
{
	const uint8_t *name = q->lname;
	struct sx_labels label;
	size_t len = sx_labels_of(name, &label);
	size_t i;

	/* Routes are sorted longest zone first: the first that contains the name wins. */
	for (i = 0; i < gen->nroutes; i++) {
		const struct sx_route *r = &gen->routes[i];

		if (r->lid != lid || r->zlen > len || !sx_labels_at(&label, len - r->zlen) ||
		    memcmp(name + len - r->zlen, r->zone, r->zlen) != 0) {
			continue;
		}
		/* A DS record lives in the parent: prefer the parent zone's block (RFC 4035 3.1.4.1). */
		if (q->qtype == SX_TYPE_DS && r->zlen == len && len > 1) {
			continue;
		}
		*zone = r->zone;
		return r->block;
	}
	/* A DS query for a zone apex with no parent block goes to the apex block after all. */
	for (i = 0; q->qtype == SX_TYPE_DS && i < gen->nroutes; i++) {
		const struct sx_route *r = &gen->routes[i];

		if (r->lid == lid && r->zlen == len && memcmp(name, r->zone, len) == 0) {
			*zone = r->zone;
			return r->block;
		}
	}
	return NULL;
}

/* Generations still alive: the current one and old ones held by suspended requests. */
static struct sx_gen *live_gens;

static void listener_release(struct sx_listener *l);

const struct sx_block *
sx_server_block_of(const void *inst)
{
	for (const struct sx_gen *gen = live_gens; gen; gen = gen->next) {
		for (size_t bi = 0; gen->cfg && bi < gen->cfg->nblocks; bi++) {
			const struct sx_block *b = &gen->cfg->blocks[bi];

			for (size_t i = 0; i < b->nchain; i++) {
				if (b->chain[i].inst == inst) {
					return b;
				}
			}
		}
	}
	return NULL;
}

static void
gen_free(struct sx_gen *gen)
{
	struct sx_gen **pp;
	size_t i;

	for (pp = &live_gens; *pp; pp = &(*pp)->next) {
		if (*pp == gen) {
			*pp = gen->next;
			break;
		}
	}
	/* Plugin instances first: none of them may outlive the sockets it answered on. */
	sx_config_free(gen->cfg);
	for (i = 0; i < gen->nlisteners; i++) {
		listener_release(gen->listeners[i]);
	}
	free(gen->listeners);
	free(gen->routes);
	free(gen);
}

void
sx_gen_ref(struct sx_gen *gen)
{
	uatomic_inc(&gen->refs);
}

static void
gen_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gen_free(arg);
}

/* Second hop, on the worker: its callback into the old generation has returned. */
static void
gen_to_control(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (event_base_once(srv.control, -1, EV_TIMEOUT, gen_free_cb, arg, NULL) < 0) {
		sx_log(SX_LOG_ERROR, "cannot schedule the release of an old configuration");
	}
}

void
sx_gen_unref(struct sx_gen *gen)
{
	struct event_base *worker = sx_worker_current_base();

	if (uatomic_sub_return(&gen->refs, 1) != 0) {
		return;
	}
	/*
	 * Plugin teardown belongs to the control thread. A worker dropping the last
	 * reference is still inside a callback of one of the generation's plugins
	 * (the one that resumed the request): let that callback return first.
	 */
	if (!worker) {
		gen_free(gen);
	} else if (event_base_once(worker, -1, EV_TIMEOUT, gen_to_control, gen, NULL) < 0) {
		sx_log(SX_LOG_ERROR, "cannot schedule the release of an old configuration");
	}
}

/* ---- listeners ---- */

static int
addr_port(const struct sockaddr_storage *a)
{
	return ntohs(((const struct sockaddr_in *)a)->sin_port);
}

static void
set_port(struct sockaddr_storage *a, uint16_t port)
{
	((struct sockaddr_in *)a)->sin_port = htons(port);
}

static void
addr_str(const struct sockaddr_storage *a, char *buf, size_t cap)
{
	if (a->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, buf,
		          (socklen_t)cap);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, buf, (socklen_t)cap);
	}
}

/*
 * A listener's sockets share their port with SO_REUSEPORT, one per worker. The
 * one that picks the ephemeral port binds without it and takes it after (an
 * @exclusive one): a socket that has it when bound to port 0 may be given a
 * port that another process of the same user serves with SO_REUSEPORT (the
 * kernel skips only ports it could not share), and the two servers then split
 * each other's queries. Bound without it, the port is one no socket holds;
 * the sockets that follow on that port, of any protocol or address, cannot
 * meet another server's there.
 */
static int
open_socket(struct sx_listener *l, bool exclusive, char *err, size_t errlen)
{
	int type = l->proto == SX_LISTEN_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int one = 1, rcvbuf = 4 << 20;
	char host[INET6_ADDRSTRLEN];
	int fd;

	fd = socket(l->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		goto fail;
	}
	/*
	 * For TCP, a restart binds while old connections wait in TIME_WAIT. Not
	 * for UDP: there it would let any socket with it bind the port too, even
	 * a client's given it as its ephemeral source port.
	 */
	if (type == SOCK_STREAM) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (!exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		goto fail;
	}
	if (l->addr.ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (type == SOCK_DGRAM) {
		/* Best effort: a bigger buffer rides out bursts; root may exceed rmem_max. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0) {
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		}
		if (l->wildcard && l->addr.ss_family == AF_INET) {
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		} else if (l->wildcard) {
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		}
	}
	if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) < 0) {
		goto fail;
	}
	if (exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		goto fail;
	}
	if (type == SOCK_STREAM && listen(fd, 1024) < 0) {
		goto fail;
	}
	if (addr_port(&l->addr) == 0) {
		socklen_t len = l->addrlen;

		getsockname(fd, (struct sockaddr *)&l->addr, &len);
	}
	return fd;
fail:
	addr_str(&l->addr, host, sizeof(host));
	snprintf(err, errlen, "listen %s %s%s%s:%d: %s", type == SOCK_DGRAM ? "udp" : "tcp",
	         l->addr.ss_family == AF_INET6 ? "[" : "", host,
	         l->addr.ss_family == AF_INET6 ? "]" : "", addr_port(&l->addr), strerror(errno));
	if (fd >= 0) {
		close(fd);
	}
	return -errno;
}

/* The events that borrow the sockets go first, then the sockets, their only owner being @l. */
static void
listener_free(struct sx_listener *l)
{
	unsigned i;

	if (l->attached) {
		sx_workers_detach(srv.workers, srv.nworkers, l);
	}
	for (i = 0; l->fds && i < srv.nworkers; i++) {
		if (l->fds[i] >= 0) {
			close(l->fds[i]);
		}
	}
	free(l->fds);
	free(l);
}

static void
listener_retire(struct sx_listener *l)
{
	struct sx_listener **pp;

	for (pp = &srv.listeners; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	listener_free(l);
}

/* Drop a generation's reference; the last one retires the listener. */
static void
listener_release(struct sx_listener *l)
{
	if (--l->refs == 0) {
		listener_retire(l);
	}
}

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* Find the listener for @addr (port set, 0 for the ephemeral one) or open a new one. */
static struct sx_listener *
listener_get(const struct sockaddr_storage *addr, int proto, bool wildcard, int *rc, char *err,
             size_t errlen)
{
	struct sx_listener *l;
	struct sockaddr_storage want = *addr;
	unsigned i;

	if (addr_port(&want) == 0 && srv.ephemeral) {
		set_port(&want, srv.ephemeral);
	}
	for (l = srv.listeners; l; l = l->next) {
		if (l->proto == proto && same_addr(&l->addr, &want)) {
			return l;
		}
	}
	l = calloc(1, sizeof(*l));
	if (!l || !(l->fds = malloc(srv.nworkers * sizeof(int)))) {
		free(l);
		*rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->proto = proto;
	l->addr = want;
	l->addrlen = want.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                        : sizeof(struct sockaddr_in);
	l->wildcard = wildcard;
	for (i = 0; i < srv.nworkers; i++) {
		l->fds[i] = -1;
	}
	/* One socket per worker; the first fixes the port when it was 0. */
	for (i = 0; i < srv.nworkers; i++) {
		int fd = open_socket(l, i == 0 && !srv.ephemeral && addr_port(addr) == 0, err,
		                     errlen);

		if (fd < 0) {
			*rc = fd;
			listener_free(l);
			return NULL;
		}
		l->fds[i] = fd;
	}
	if (!srv.ephemeral && addr_port(addr) == 0) {
		srv.ephemeral = (uint16_t)addr_port(&l->addr);
	}
	l->id = ++srv.next_lid;
	l->next = srv.listeners;
	srv.listeners = l;
	return l;
}

/* ---- building a generation ---- */

static int
route_cmp(const void *a, const void *b)
{
	const struct sx_route *x = a, *y = b;

	return (int)y->zlen - (int)x->zlen;
}

static int
add_route(struct sx_gen *gen, size_t *cap, unsigned lid, const struct sx_zone *z,
          const struct sx_block *b)
{
	if (gen->nroutes == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct sx_route *r = realloc(gen->routes, ncap * sizeof(*r));

		if (!r) {
			return -ENOMEM;
		}
		gen->routes = r;
		*cap = ncap;
	}
	gen->routes[gen->nroutes++] = (struct sx_route){
		.lid = lid,
		.zone = z->wire,
		.zlen = z->len,
		.block = b,
	};
	return 0;
}

/* @gen routes through @l: hold it (once) for as long as @gen lives. */
static int
gen_hold(struct sx_gen *gen, struct sx_listener *l)
{
	struct sx_listener **v;
	size_t i;

	for (i = 0; i < gen->nlisteners; i++) {
		if (gen->listeners[i] == l) {
			return 0;
		}
	}
	v = realloc(gen->listeners, (gen->nlisteners + 1) * sizeof(*v));
	if (!v) {
		if (l->refs == 0) {
			listener_retire(l); /* opened for @gen, which cannot hold it */
		}
		return -ENOMEM;
	}
	gen->listeners = v;
	gen->listeners[gen->nlisteners++] = l;
	l->refs++;
	return 0;
}

static int
wildcards(struct sockaddr_storage out[2])
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out[0];
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out[1];

	memset(out, 0, 2 * sizeof(*out));
	v4->sin_family = AF_INET;
	v4->sin_addr.s_addr = htonl(INADDR_ANY);
	v6->sin6_family = AF_INET6;
	v6->sin6_addr = in6addr_any;
	return 2;
}

static int
gen_new(struct sx_config *cfg, struct sx_gen **out, char *err, size_t errlen)
{
	struct sx_gen *gen = calloc(1, sizeof(*gen));
	size_t cap = 0, bi, zi, ai;
	int rc = 0;

	if (!gen) {
		return -ENOMEM;
	}
	gen->cfg = cfg;
	gen->refs = 1;
	gen->next = live_gens;
	live_gens = gen;
	for (bi = 0; bi < cfg->nblocks; bi++) {
		const struct sx_block *b = &cfg->blocks[bi];
		struct sockaddr_storage wild[2];
		const struct sockaddr_storage *addrs = b->listen;
		size_t naddrs = b->nlisten;

		if (naddrs == 0) {
			naddrs = (size_t)wildcards(wild);
			addrs = wild;
		}
		for (zi = 0; zi < b->zones.n; zi++) {
			for (ai = 0; ai < naddrs; ai++) {
				struct sockaddr_storage a = addrs[ai];
				int proto;

				set_port(&a, b->ports[zi]);
				for (proto = SX_LISTEN_UDP; proto <= SX_LISTEN_TCP; proto++) {
					struct sx_listener *l;

					l = listener_get(&a, proto, b->nlisten == 0, &rc, err,
					                 errlen);
					if (!l && b->nlisten == 0 && a.ss_family == AF_INET6 &&
					    (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL)) {
						continue; /* no IPv6 here: the IPv4 wildcard still serves */
					}
					if (!l) {
						goto fail;
					}
					rc = gen_hold(gen, l);
					if (rc < 0) {
						goto fail;
					}
					rc = add_route(gen, &cap, l->id, &b->zones.z[zi], b);
					if (rc < 0) {
						goto fail;
					}
				}
			}
		}
	}
	qsort(gen->routes, gen->nroutes, sizeof(gen->routes[0]), route_cmp);
	*out = gen;
	return 0;
fail:
	gen->cfg = NULL; /* the caller still owns it */
	gen_free(gen);
	return rc ? rc : -ENOMEM;
}

static int
start_plugins(struct sx_config *cfg, char *err, size_t errlen)
{
	size_t bi, i;

	srv.rt.starting = cfg;
	for (bi = 0; bi < cfg->nblocks; bi++) {
		const struct sx_block *b = &cfg->blocks[bi];

		for (i = 0; i < b->nchain; i++) {
			const struct sx_instance *in = &b->chain[i];
			int rc;

			if (!in->plugin->start) {
				continue;
			}
			rc = in->plugin->start(in->inst, &srv.rt);
			if (rc < 0) {
				snprintf(err, errlen, "%s:%d: plugin/%s: %s", b->file, b->line,
				         in->plugin->name, sx_strerror(rc));
				srv.rt.starting = NULL;
				return rc;
			}
		}
	}
	srv.rt.starting = NULL;
	return 0;
}

/*
 * Stage @gen's new listeners: every worker polls them from now on. Before
 * @gen is published their queries find no route (REFUSED), as for any
 * address not yet served. On failure the listener that failed is detached
 * again; freeing @gen closes what it opened.
 */
static int
attach_listeners(struct sx_gen *gen, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < gen->nlisteners; i++) {
		struct sx_listener *l = gen->listeners[i];
		int rc;

		if (l->attached) {
			continue;
		}
		rc = sx_workers_attach(srv.workers, srv.nworkers, l);
		if (rc < 0) {
			snprintf(err, errlen, "cannot attach listeners: %s", sx_strerror(rc));
			return rc;
		}
		l->attached = true;
	}
	return 0;
}

static void
print_banner(const struct sx_config *cfg)
{
	size_t bi, zi, ai;
	char host[INET6_ADDRSTRLEN];

	for (bi = 0; bi < cfg->nblocks; bi++) {
		const struct sx_block *b = &cfg->blocks[bi];

		for (zi = 0; zi < b->zones.n; zi++) {
			unsigned port = b->ports[zi] ? b->ports[zi] : srv.ephemeral;
			char line[1024];
			int n = snprintf(line, sizeof(line), "%s:%u", b->zones.z[zi].name, port);

			for (ai = 0; ai < b->nlisten && n > 0 && (size_t)n < sizeof(line); ai++) {
				addr_str(&b->listen[ai], host, sizeof(host));
				n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s",
				              ai ? " " : " on ", host);
			}
			printf("%s\n", line);
		}
	}
	printf("sextant-%s\nlinux/%s, gcc %d.%d.%d\n", SX_VERSION, SX_ARCH, __GNUC__,
	       __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
	fflush(stdout);
}

void
sx_rt_hold_serving(struct sx_runtime *rt, const char *who, uint64_t ms, const char *waiting,
                   const char *late)
{
	if (ms > rt->hold_ms) {
		rt->hold_ms = ms;
		rt->hold_by = who;
		rt->hold_waiting = waiting;
		rt->hold_late = late;
	}
}

static bool gen_ready(const struct sx_gen *gen);

/*
 * The first generation serves: its listeners are polled from now on, and the
 * banner says so. It is published first: a worker reads a listener the moment
 * it is attached, and queries held in the kernel while serving waited are
 * there at once; they must find a generation to route by.
 */
static int
serve_first(struct sx_gen *gen, char *err, size_t errlen)
{
	int rc;

	rcu_assign_pointer(srv.current, gen);
	rc = attach_listeners(gen, err, errlen);
	if (rc < 0) {
		return rc;
	}
	if (!srv.quiet) {
		print_banner(gen->cfg);
	}
	return 0;
}

/*
 * While serving is held back the sockets are bound but not polled: queries wait in
 * the kernel's buffers (as CoreDNS's clients wait before it listens) and are answered
 * once the plugins are ready or the hold is over.
 */
static void
first_check(evutil_socket_t fd, short what, void *arg)
{
	struct sx_runtime *rt = &srv.rt;
	struct timeval tv = { 0, RELOAD_READY_POLL_US };
	char err[256];
	bool ready = gen_ready(srv.first);

	(void)fd;
	(void)what;
	(void)arg;
	if (!ready && sx_now_ns() < srv.first_until_ns) {
		evtimer_add(srv.first_poll, &tv);
		return;
	}
	if (!ready) {
		sx_plog(SX_LOG_WARNING, rt->hold_by, "%s", rt->hold_late);
	}
	if (serve_first(srv.first, err, sizeof(err)) < 0) {
		sx_log(SX_LOG_ERROR, "%s", err);
		event_base_loopbreak(srv.control);
	}
	srv.first = NULL;
}

/*
 * Answers come before syncs: a relist or a reload builds its zone on this
 * thread while workers answer from the old one, and a worker woken by a query
 * should not wait for a core this thread holds. Only this thread is lowered
 * (Linux keeps a nice value per thread): the workers were created before, and
 * liburcu's call_rcu thread, created later by this one, inherits it. Not
 * fatal: the server only answers less evenly under a relist.
 */
static void
lower_control_priority(void)
{
	int now;

	errno = 0;
	now = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && setpriority(PRIO_PROCESS, 0, now + CONTROL_NICE_STEP) < 0) {
		sx_log(SX_LOG_WARNING, "cannot lower the control thread's priority: %s",
		       sx_strerror(-errno));
	}
}

int
sx_server_start(struct event_base *control, struct sx_config *cfg,
                const struct sx_server_opts *opts, char *err, size_t errlen)
{
	struct sx_gen *gen;
	int rc;

	srv.control = control;
	srv.control_thread = pthread_self();
	srv.nworkers = opts->workers;
	srv.rt.base = control;
	srv.rt.workers = opts->workers;
	{
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		srv.rt.start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	}
	srv.workers = sx_workers_new(opts->workers);
	if (!srv.workers) {
		sx_config_free(cfg);
		snprintf(err, errlen, "cannot create worker event loops");
		return -ENOMEM;
	}
	/*
	 * The ephemeral port is chosen by the first UDP socket; its TCP twin may be
	 * taken (by some client's port): then start over with another port (the
	 * failed attempt closed what it opened).
	 */
	for (int attempt = 0;; attempt++) {
		rc = gen_new(cfg, &gen, err, errlen);
		if (rc != -EADDRINUSE || !srv.ephemeral || attempt == 20) {
			break;
		}
		srv.ephemeral = 0;
	}
	if (rc < 0) {
		sx_config_free(cfg);
		return rc;
	}
	srv.quiet = opts->quiet;
	rc = start_plugins(cfg, err, errlen);
	if (rc < 0) {
		gen_free(gen);
		return rc;
	}
	rc = sx_workers_run(srv.workers, srv.nworkers);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start worker threads: %s", sx_strerror(rc));
		gen_free(gen);
		return rc;
	}
	lower_control_priority();
	if (srv.rt.hold_ms == 0 || gen_ready(gen)) {
		return serve_first(gen, err, errlen);
	}
	srv.first_poll = evtimer_new(control, first_check, NULL);
	if (!srv.first_poll) {
		gen_free(gen);
		return -ENOMEM;
	}
	sx_plog(SX_LOG_INFO, srv.rt.hold_by, "%s", srv.rt.hold_waiting);
	srv.first = gen;
	srv.first_until_ns = sx_now_ns() + srv.rt.hold_ms * 1000000u;
	first_check(-1, 0, NULL);
	return 0;
}

static bool
gen_ready(const struct sx_gen *gen)
{
	char why[256];

	for (size_t bi = 0; bi < gen->cfg->nblocks; bi++) {
		const struct sx_block *b = &gen->cfg->blocks[bi];

		for (size_t i = 0; i < b->nchain; i++) {
			const struct sx_instance *in = &b->chain[i];

			if (in->plugin->ready && !in->plugin->ready(in->inst, why, sizeof(why))) {
				return false;
			}
		}
	}
	return true;
}

/* Publish the pending generation once it is ready or its wait is over; else look again. */
static void
pending_check(evutil_socket_t fd, short what, void *arg)
{
	struct sx_gen *old;

	(void)fd;
	(void)what;
	(void)arg;
	if (!srv.pending) {
		return;
	}
	if (!gen_ready(srv.pending) && sx_now_ns() < srv.pending_until_ns) {
		struct timeval tv = { 0, RELOAD_READY_POLL_US };

		if (srv.pending_poll ||
		    (srv.pending_poll = evtimer_new(srv.control, pending_check, NULL))) {
			evtimer_add(srv.pending_poll, &tv);
			return;
		}
	}
	if (fd == -1 && what == EV_TIMEOUT) {
		if (gen_ready(srv.pending)) {
			sx_log(SX_LOG_INFO,
			       "Reload: the new configuration serves (its plugins are ready)");
		} else {
			sx_log(SX_LOG_INFO,
			       "Reload: the new configuration serves (its plugins not ready after %d s)",
			       RELOAD_READY_WAIT_S);
		}
	}
	old = rcu_xchg_pointer(&srv.current, srv.pending);
	srv.pending = NULL;
	synchronize_rcu(); /* no worker routes through the old generation any more */
	sx_gen_unref(old); /* when the last reference goes, so do the listeners only it used */
}

int
sx_server_reload(struct sx_config *cfg, char *err, size_t errlen)
{
	struct sx_gen *gen;
	int rc;

	rc = gen_new(cfg, &gen, err, errlen);
	if (rc < 0) {
		sx_config_free(cfg);
		return rc;
	}
	rc = start_plugins(cfg, err, errlen);
	if (rc == 0 && srv.first) {
		/*
		 * Not serving yet: the new configuration takes the first one's place and
		 * deadline. Nothing ever saw the first one, so it goes at once.
		 */
		gen_free(srv.first);
		srv.first = gen;
		return 0;
	}
	if (rc == 0) {
		rc = attach_listeners(gen, err, errlen);
	}
	if (rc < 0) {
		/* Never published: its instances and the listeners only it holds go now. */
		gen_free(gen);
		return rc;
	}
	/*
	 * The running generation keeps answering until the new one's plugins are ready (its
	 * kubernetes instance starts from an empty store: published at once, it answered
	 * SERVFAIL for the seconds its LIST took). A reload while another waits replaces it
	 * and keeps its deadline, so a storm of reloads still ends in the newest.
	 */
	if (srv.pending) {
		sx_gen_unref(srv.pending);
	} else {
		srv.pending_until_ns = sx_now_ns() + RELOAD_READY_WAIT_NS;
	}
	srv.pending = gen;
	pending_check(-1, 0, NULL);
	return 0;
}

void
sx_server_stop(void)
{
	sx_workers_stop(srv.workers, srv.nworkers);
	srv.current = NULL;
	srv.pending = NULL; /* freed below with every live generation */
	srv.first = NULL;
	if (srv.pending_poll) {
		event_free(srv.pending_poll);
		srv.pending_poll = NULL;
	}
	if (srv.first_poll) {
		event_free(srv.first_poll);
		srv.first_poll = NULL;
	}
	/*
	 * Workers are stopped: suspended requests will never finish. Free every
	 * generation still alive (old ones they held too); the requests themselves
	 * go with their workers.
	 */
	while (live_gens) {
		gen_free(live_gens); /* the last of them retires every listener */
	}
	sx_workers_free(srv.workers, srv.nworkers);
	srv.workers = NULL;
}
