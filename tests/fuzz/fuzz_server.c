/* fuzz_server.c -- see fuzz_server.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <urcu.h>

#include "config.h"
#include "fuzz_server.h"
#include "loop.h"
#include "server.h"

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_server: %s: %s\n", what, why);
	abort();
}

uint16_t
fz_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		die("port", "cannot bind 127.0.0.1:0");
	}
	close(fd);
	return ntohs(sa.sin_port);
}

int
fz_udp_socket(uint16_t bind_port, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_port = htons(bind_port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		die("udp socket", "cannot bind");
	}
	if (port) {
		sa.sin_port = htons(port);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			die("udp socket", "cannot connect");
		}
	}
	return fd;
}

ssize_t
fz_recv(int fd, uint8_t *buf, size_t cap, int ms, struct sockaddr_in *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t len = sizeof(*from);
	struct timespec now, end;
	int rc;

	/*
	 * libFuzzer's -timeout runs an interval timer whose SIGALRM interrupts poll(): an EINTR
	 * is not the end of the wait, only the deadline is.
	 */
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000;
	while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (int)((end.tv_sec - now.tv_sec) * 1000 +
		           (end.tv_nsec - now.tv_nsec) / 1000000);
		if (ms <= 0) {
			return -1;
		}
	}
	if (rc != 1) {
		return -1;
	}
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, from ? &len : NULL);
}

static void *
control_loop(void *arg)
{
	rcu_register_thread();
	sx_loop_bind(arg); /* the callbacks' timers and watches go on the same loop */
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

uint16_t
fz_server_start(const char *corefile)
{
	static const struct sx_config_opts opts = { .default_port = 53, .workers = 1 };
	const struct sx_server_opts sopts = { .workers = 1, .quiet = true };
	struct sx_config *cfg;
	struct event_base *base;
	char err[1024], *text, num[8];
	uint16_t port = fz_free_port();
	pthread_t t;
	size_t n = 0;

	/* Every %PORT% replaced by the port. */
	snprintf(num, sizeof(num), "%u", port);
	text = calloc(1, strlen(corefile) * 2 + 1);
	for (const char *p = corefile; *p;) {
		if (!strncmp(p, "%PORT%", 6)) {
			n += (size_t)sprintf(text + n, "%s", num);
			p += 6;
		} else {
			text[n++] = *p++;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0) {
		die("libevent", "no thread support");
	}
	if (!(base = event_base_new())) {
		die("libevent", "no event loop");
	}
	rcu_register_thread();
	/* As main() does: plugins put their timers and watches on the control loop. */
	sx_loop_bind(base);
	if (sx_config_parse("Corefile", text, ".", &opts, &cfg, err, sizeof(err)) < 0 ||
	    sx_server_start(base, cfg, &sopts, err, sizeof(err)) < 0) {
		die("start", err);
	}
	free(text);
	if (pthread_create(&t, NULL, control_loop, base) != 0) {
		die("start", "no control thread");
	}
	return port;
}
