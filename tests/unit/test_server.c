/* test_server.c -- routing a query to its server block, TCP timeouts per listener, reloads. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <urcu.h>

#include <sextant/dname.h>
#include <sextant/wire.h>

#include "config.h"
#include "msg_reader.h"
#include "serving.h"
#include "server.h"
#include "worker.h"

/*
 * Three blocks on one port: two zones of which one is nested in the other's on
 * 127.0.0.1, the root on 127.0.0.2. Different TCP timeouts on the first address.
 */
static const char corefile[] = "example.org.:0 cluster.local.:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\ttimeouts {\n"
                               "\t\tread 2s\n"
                               "\t\tidle 20s\n"
                               "\t}\n"
                               "\twhoami\n"
                               "}\n"
                               "svc.cluster.local.:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\ttimeouts {\n"
                               "\t\tread 7s\n"
                               "\t}\n"
                               "\twhoami\n"
                               "}\n"
                               ".:0 {\n"
                               "\tbind 127.0.0.2\n"
                               "\twhoami\n"
                               "}\n";

static uint16_t port;

static void
setup(void)
{
	port = serving_start(serving_config(NULL, corefile));
}

TestSuite(server, .init = setup, .fini = serving_stop, .timeout = 60);

/* The id of the listener of @proto on @addr:port in the running generation. */
static unsigned
lid_of(const char *addr, int proto)
{
	struct sx_gen *gen;
	struct in_addr want;
	unsigned lid = 0;

	cr_assert_eq(inet_pton(AF_INET, addr, &want), 1);
	rcu_read_lock();
	gen = sx_gen_current();
	for (size_t i = 0; i < gen->nlisteners; i++) {
		const struct sx_listener *l = gen->listeners[i];
		const struct sockaddr_in *a = (const struct sockaddr_in *)&l->addr;

		if (l->proto == proto && a->sin_addr.s_addr == want.s_addr &&
		    ntohs(a->sin_port) == port) {
			lid = l->id;
		}
	}
	rcu_read_unlock();
	cr_assert_neq(lid, 0, "no listener on %s", addr);
	return lid;
}

/* Block @i of the running configuration. */
static const struct sx_block *
block(size_t i)
{
	const struct sx_block *b;

	rcu_read_lock();
	b = &sx_gen_current()->cfg->blocks[i];
	rcu_read_unlock();
	return b;
}

static const uint8_t *routed_zone;

/* The block a query for wire name @qname, type @qtype on listener @lid goes to. */
static const struct sx_block *
route_wire(unsigned lid, const uint8_t *qname, size_t qlen, uint16_t qtype)
{
	struct sx_wire_query wq = {
		.id = 1, .qname = qname, .qname_len = qlen, .qtype = qtype, .qclass = SX_CLASS_IN
	};
	uint8_t wire[512], lname[SX_DNAME_MAX];
	struct sx_query q = { 0 };
	const struct sx_block *b;
	int len = sx_wire_query(wire, sizeof(wire), &wq);

	cr_assert_gt(len, 0);
	/* As the server reads it: the lower-cased name is what routes. */
	cr_assert_eq(sx_wire_parse_query(wire, (size_t)len, &q, lname), SX_PARSE_OK);
	routed_zone = NULL;
	rcu_read_lock();
	b = sx_gen_route(sx_gen_current(), lid, &q, &routed_zone);
	rcu_read_unlock();
	return b;
}

static const struct sx_block *
route(unsigned lid, const char *name, uint16_t qtype)
{
	uint8_t qname[SX_DNAME_MAX];
	int qlen = sx_dname_from_str(qname, name);

	cr_assert_gt(qlen, 0);
	return route_wire(lid, qname, (size_t)qlen, qtype);
}

/* That the last route went through the zone @zone (presentation form). */
static void
expect_zone(const char *zone)
{
	uint8_t want[SX_DNAME_MAX];
	int len = sx_dname_from_str(want, zone);

	cr_assert_not_null(routed_zone);
	cr_assert_eq(memcmp(routed_zone, want, (size_t)len), 0, "not routed by %s", zone);
}

Test(server, the_longest_zone_that_holds_the_name_wins)
{
	unsigned one = lid_of("127.0.0.1", SX_LISTEN_UDP);

	cr_assert_eq(route(one, "a.b.svc.cluster.local.", SX_TYPE_A), block(1));
	expect_zone("svc.cluster.local.");
	cr_assert_eq(route(one, "svc.cluster.local.", SX_TYPE_A), block(1));
	cr_assert_eq(route(one, "pod.cluster.local.", SX_TYPE_A), block(0));
	expect_zone("cluster.local.");
	cr_assert_eq(route(one, "cluster.local.", SX_TYPE_A), block(0));
	cr_assert_eq(route(one, "www.example.org.", SX_TYPE_A), block(0));
	expect_zone("example.org.");
}

/* x\007example.org.: its last 13 bytes spell example.org. from the middle of a label. */
static const uint8_t unaligned[] = "\x09x\x07"
                                   "example\x03org";

Test(server, a_name_under_no_zone_of_its_listener_has_no_block)
{
	unsigned one = lid_of("127.0.0.1", SX_LISTEN_UDP);

	cr_assert_null(route(one, "example.com.", SX_TYPE_A));
	cr_assert_null(route(one, "local.", SX_TYPE_A));
	cr_assert_null(route(one, ".", SX_TYPE_A));
	/* Ends like a zone, but not on a label boundary. */
	cr_assert_null(route(one, "notexample.org.", SX_TYPE_A));
	cr_assert_null(route_wire(one, unaligned, sizeof(unaligned), SX_TYPE_A));
}

Test(server, the_root_zone_takes_every_name_on_its_own_listener_only)
{
	unsigned two = lid_of("127.0.0.2", SX_LISTEN_UDP);

	cr_assert_eq(route(two, "example.com.", SX_TYPE_A), block(2));
	expect_zone(".");
	cr_assert_eq(route(two, ".", SX_TYPE_A), block(2));
	/* svc.cluster.local. is another listener's zone: here the root serves it. */
	cr_assert_eq(route(two, "a.svc.cluster.local.", SX_TYPE_A), block(2));
}

Test(server, tcp_listeners_route_as_their_udp_twins)
{
	unsigned one = lid_of("127.0.0.1", SX_LISTEN_TCP), two = lid_of("127.0.0.2", SX_LISTEN_TCP);

	cr_assert_neq(one, lid_of("127.0.0.1", SX_LISTEN_UDP));
	cr_assert_eq(route(one, "a.svc.cluster.local.", SX_TYPE_A), block(1));
	cr_assert_eq(route(one, "a.example.org.", SX_TYPE_A), block(0));
	cr_assert_null(route(one, "example.com.", SX_TYPE_A));
	cr_assert_eq(route(two, "example.com.", SX_TYPE_A), block(2));
}

Test(server, names_route_whatever_their_case)
{
	unsigned one = lid_of("127.0.0.1", SX_LISTEN_UDP);

	cr_assert_eq(route(one, "WWW.Example.ORG.", SX_TYPE_A), block(0));
	cr_assert_eq(route(one, "A.SVC.Cluster.Local.", SX_TYPE_A), block(1));
}

Test(server, a_ds_query_for_a_zone_apex_goes_to_the_parent_zone_if_served)
{
	unsigned one = lid_of("127.0.0.1", SX_LISTEN_UDP), two = lid_of("127.0.0.2", SX_LISTEN_UDP);

	/* The DS of svc.cluster.local. lives in cluster.local. */
	cr_assert_eq(route(one, "svc.cluster.local.", SX_TYPE_DS), block(0));
	expect_zone("cluster.local.");
	/* Below the apex, DS is like any type. */
	cr_assert_eq(route(one, "a.svc.cluster.local.", SX_TYPE_DS), block(1));
	/* No parent here: the apex block answers after all. */
	cr_assert_eq(route(one, "cluster.local.", SX_TYPE_DS), block(0));
	expect_zone("cluster.local.");
	cr_assert_eq(route(two, ".", SX_TYPE_DS), block(2));
}

Test(server, a_listener_gets_the_longest_tcp_timeouts_its_blocks_set)
{
	uint64_t r, w, idle;

	rcu_read_lock();
	sx_gen_tcp_timeouts(sx_gen_current(), lid_of("127.0.0.1", SX_LISTEN_TCP), &r, &w, &idle);
	cr_assert_eq(r, 7000);
	cr_assert_eq(w, SX_TCP_WRITE_SEC * 1000u);
	cr_assert_eq(idle, 20000);
	/* No block there sets any: the defaults. */
	sx_gen_tcp_timeouts(sx_gen_current(), lid_of("127.0.0.2", SX_LISTEN_TCP), &r, &w, &idle);
	cr_assert_eq(r, SX_TCP_READ_SEC * 1000u);
	cr_assert_eq(w, SX_TCP_WRITE_SEC * 1000u);
	cr_assert_eq(idle, SX_TCP_IDLE_SEC * 1000u);
	rcu_read_unlock();
}

static bool
accepts(const char *addr)
{
	int fd = serving_connect(addr, port);

	if (fd < 0) {
		cr_assert_eq(errno, ECONNREFUSED, "connect: %s", strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

/*
 * Hold the running generation, as a suspended request does, and reload to a
 * configuration that no longer serves 127.0.0.2. @return the held generation.
 */
static struct sx_gen *
hold_and_drop_127_0_0_2(void)
{
	struct sx_gen *old;
	char err[512] = "";

	rcu_read_lock();
	old = sx_gen_current();
	sx_gen_ref(old);
	rcu_read_unlock();
	cr_assert_eq(sx_server_reload(serving_config(NULL, "example.org.:0 {\n"
	                                                   "\tbind 127.0.0.1\n"
	                                                   "\twhoami\n"
	                                                   "}\n"),
	                              err, sizeof(err)),
	             0, "%s", err);
	return old;
}

Test(server, a_reload_publishes_and_an_old_generation_lives_while_referenced)
{
	const void *root_whoami = block(2)->chain[block(2)->nchain - 1].inst;
	struct sx_gen *old = hold_and_drop_127_0_0_2();

	cr_assert_eq(sx_server_block_of(root_whoami), &old->cfg->blocks[2]);
	rcu_read_lock();
	cr_assert_neq(sx_gen_current(), old);
	cr_assert_eq(sx_gen_current()->cfg->nblocks, 1);
	rcu_read_unlock();
	cr_assert_eq(route(lid_of("127.0.0.1", SX_LISTEN_UDP), "www.example.org.", SX_TYPE_A),
	             block(0));
	cr_assert_null(route(lid_of("127.0.0.1", SX_LISTEN_UDP), "a.cluster.local.", SX_TYPE_A));

	/* The old generation is held: its instances and sockets are still there. */
	cr_assert_eq(sx_server_block_of(root_whoami), &old->cfg->blocks[2]);
	cr_assert(accepts("127.0.0.2"));
	sx_gen_unref(old);
	/* The last reference, off the workers: freed now, with the listener only it used. */
	cr_assert_null(sx_server_block_of(root_whoami));
	cr_assert_not(accepts("127.0.0.2"));
	cr_assert(accepts("127.0.0.1"));
}

struct hammer {
	uint16_t port;
	unsigned connects; /* atomic */
	bool stop;         /* atomic */
};

/* Connect to 127.0.0.2 and close, again and again, until told or refused. */
static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(h->port) };

	inet_pton(AF_INET, "127.0.0.2", &to.sin_addr);
	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), r;

		r = connect(fd, (struct sockaddr *)&to, sizeof(to));
		close(fd);
		if (r < 0) {
			break;
		}
		__atomic_add_fetch(&h->connects, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * A listener retired while its workers accept connections on it: the control
 * thread frees each worker's listening event while that worker may be inside
 * its accept callback, which must finish before the state it uses goes.
 */
Test(server, a_listener_retired_while_it_accepts_waits_for_its_callbacks)
{
	struct hammer h = { .port = port };
	struct sx_gen *old = hold_and_drop_127_0_0_2();
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, hammer_main, &h), 0);
	while (__atomic_load_n(&h.connects, __ATOMIC_ACQUIRE) < 200) {
		sched_yield();
	}
	sx_gen_unref(old); /* the last reference: 127.0.0.2 goes now */
	__atomic_store_n(&h.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	cr_assert_not(accepts("127.0.0.2"));
	cr_assert(accepts("127.0.0.1"));
}

static int
refuse_to_start(void *inst, struct sx_runtime *rt)
{
	(void)inst;
	(void)rt;
	return -EACCES;
}

static const struct sx_plugin refuse = { .name = "refuse", .start = refuse_to_start };

Test(server, a_reload_whose_plugin_cannot_start_changes_nothing)
{
	extern const struct sx_plugin sx_plugin_bind;
	static const struct sx_plugin *const plugins[] = { &sx_plugin_bind, &refuse, NULL };
	struct sx_gen *before;
	char err[512] = "";

	rcu_read_lock();
	before = sx_gen_current();
	rcu_read_unlock();
	cr_assert_lt(sx_server_reload(serving_config(plugins, "example.net.:0 {\n"
	                                                      "\tbind 127.0.0.3\n"
	                                                      "\trefuse\n"
	                                                      "}\n"),
	                              err, sizeof(err)),
	             0);
	cr_assert(strstr(err, "Corefile:1: plugin/refuse: ") != NULL, "%s", err);
	rcu_read_lock();
	cr_assert_eq(sx_gen_current(), before);
	rcu_read_unlock();
	/* What was opened for it is closed again; the running configuration still serves. */
	cr_assert_not(accepts("127.0.0.3"));
	cr_assert(accepts("127.0.0.2"));
	cr_assert_eq(route(lid_of("127.0.0.1", SX_LISTEN_UDP), "a.cluster.local.", SX_TYPE_A),
	             block(0));
}
