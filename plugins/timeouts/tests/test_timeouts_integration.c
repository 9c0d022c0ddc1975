/* test_timeouts_integration.c -- timeouts through the binary: idle and read timeouts of TCP. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sx_test_server *
start(const char *timeouts)
{
	char cf[512];

	snprintf(cf, sizeof(cf),
	         "example.test {\n\tbind 127.0.0.1\n\ttimeouts {\n%s\t}\n"
	         "\thosts {\n\t\t192.0.2.7 www.example.test\n\t}\n}\n",
	         timeouts);
	return sx_test_start(NULL, cf);
}

static int
connect_to(const struct sx_test_server *s)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(sx_test_port(s)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0, "connect: %s",
	             strerror(errno));
	return fd;
}

/* Seconds until the server closes @fd (EOF or reset), or -1 when it is open after @ms. */
static double
closed_after(int fd, int ms)
{
	double t0 = now_s();
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[64];

	while (poll(&p, 1, ms) == 1) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			return now_s() - t0;
		}
	}
	return -1;
}

Test(timeouts_integration, idle_closes_a_silent_connection_sooner_than_the_default)
{
	struct sx_test_server *s = start("\t\tidle 1s\n");
	ldns_pkt *p = sx_test_query(s, "www.example.test", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	int fd = connect_to(s);
	double t;

	cr_assert(p, "queries over TCP are answered:\n%s", sx_test_log(s));
	ldns_pkt_free(p);
	/* The default idle timeout is 10 s: closing before 9 s is the option's doing. */
	t = closed_after(fd, 9000);
	cr_expect(t >= 0, "still open after 9 s");
	close(fd);
	sx_test_stop(s);
}

Test(timeouts_integration, read_bounds_a_message_that_trickles_in)
{
	struct sx_test_server *s = start("\t\tread 6s\n\t\tidle 1m\n");
	int fd = connect_to(s);
	double t0 = now_s(), t;

	/* Half a length prefix, then nothing: the default (3 s) would close it by 4 s. */
	cr_assert_eq(send(fd, "\0", 1, 0), 1);
	cr_expect_eq(closed_after(fd, 4500), -1, "closed before the read timeout");
	t = closed_after(fd, 30000);
	cr_expect(t >= 0, "the partial message was never given up");
	t = now_s() - t0;
	cr_expect(t >= 5.5 && t < 30, "closed after %.1f s", t);
	close(fd);
	sx_test_stop(s);
}

Test(timeouts_integration, bad_blocks_are_refused_with_their_line)
{
	static const struct {
		const char *cf, *want;
	} cases[] = {
		{ ". {\n\ttimeouts\n}\n", "Corefile:2: plugin/timeouts: timeouts block with no" },
		{ ". {\n\ttimeouts 5s\n}\n", "Corefile:2: plugin/timeouts: wrong argument count" },
		{ ". {\n\ttimeouts {\n\t\tread 500ms\n\t}\n}\n",
		  "Corefile:3: plugin/timeouts: read must be in range [1s, 24h]" },
		{ ". {\n\ttimeouts {\n\t\tidle 25h\n\t}\n}\n",
		  "Corefile:3: plugin/timeouts: idle must be in range [1s, 24h]" },
		{ ". {\n\ttimeouts {\n\t\twrite soon\n\t}\n}\n",
		  "Corefile:3: plugin/timeouts: write: invalid duration" },
		{ ". {\n\ttimeouts {\n\t\tlinger 5s\n\t}\n}\n", "Corefile:3: plugin/timeouts:" },
	};
	char *out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(sx_test_check(cases[i].cf, &out), 1, "%s", cases[i].cf);
		cr_expect(strstr(out, cases[i].want), "%s\nwant %s", out, cases[i].want);
		free(out);
	}
	cr_expect_eq(sx_test_check(". {\n\ttimeouts {\n\t\tread 10s\n\t\twrite 20s\n"
	                           "\t\tidle 60s\n\t}\n\twhoami\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
}
