/* serving.c -- the server run in the test's own process, and a client's side of it. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <urcu.h>

#include <sextant/dname.h>
#include <sextant/wire.h>

#include "config.h"
#include "server.h"
#include "serving.h"

static struct event_base *control;

struct sx_config *
serving_config(const struct sx_plugin *const *plugins, const char *corefile)
{
	static const struct sx_config_opts opts = { .default_port = 53, .workers = 1 };
	struct sx_config *cfg;
	char err[512] = "";

	cr_assert_eq(sx_config_parse_with(plugins ? plugins : sx_plugins, "Corefile", corefile,
	                                  NULL, &opts, &cfg, err, sizeof(err)),
	             0, "%s", err);
	return cfg;
}

uint16_t
serving_start(struct sx_config *cfg)
{
	static const struct sx_server_opts opts = { .workers = 1, .quiet = true };
	char err[512] = "";

	/* As main(): the workers' loops are woken from this thread, which reads under RCU. */
	cr_assert_eq(evthread_use_pthreads(), 0);
	rcu_register_thread();
	control = event_base_new();
	cr_assert_not_null(control);
	cr_assert_eq(sx_server_start(control, cfg, &opts, err, sizeof(err)), 0, "%s", err);
	return sx_rt_port(sx_server_runtime(), 0);
}

void
serving_stop(void)
{
	sx_server_stop();
	event_base_free(control);
	control = NULL;
	rcu_unregister_thread();
}

size_t
serving_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
	uint8_t qname[SX_DNAME_MAX];
	int qlen = sx_dname_from_str(qname, name);
	struct sx_wire_query q = { .id = id, .qname = qname, .qtype = qtype, .qclass = SX_CLASS_IN };
	int len;

	cr_assert_gt(qlen, 0, "%s", name);
	q.qname_len = (size_t)qlen;
	len = sx_wire_query(buf, cap, &q);
	cr_assert_gt(len, 0);
	return (size_t)len;
}

int
serving_connect(const char *addr, uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	/* A reply that never comes fails the test instead of hanging it. */
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(inet_pton(AF_INET, addr, &to.sin_addr), 1);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
