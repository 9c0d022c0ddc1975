/* test_server.c -- the real binary: routing, transports, chain ends, flags and signals. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#define WHOAMI_CF ". {\n\tbind 127.0.0.1\n\twhoami\n}\n"

Test(server, whoami_over_udp_and_tcp)
{
	struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);
	char *udp = sx_test_dig(s, "example.org A");
	char *tcp = sx_test_dig(s, "+tcp example.org A");

	cr_assert(strstr(udp, "status: NOERROR"), "%s", udp);
	cr_assert(strstr(udp, "flags: qr aa rd;"), "%s", udp);
	cr_assert(strstr(udp, "example.org.\t\t0\tIN\tA\t127.0.0.1"), "%s", udp);
	cr_assert(strstr(udp, "_udp.example.org.\t0\tIN\tSRV\t0 0 "), "%s", udp);
	cr_assert(strstr(tcp, "_tcp.example.org.\t0\tIN\tSRV\t0 0 "), "%s", tcp);
	free(udp);
	free(tcp);
	sx_test_stop(s);
}

Test(server, question_case_is_preserved)
{
	struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);
	ldns_pkt *p = sx_test_query(s, "ExAmPlE.OrG", LDNS_RR_TYPE_A, 0, 0);
	char *add;

	cr_assert(p);
	add = sx_test_section_str(p, LDNS_SECTION_ADDITIONAL);
	cr_assert(strstr(add, "ExAmPlE.OrG.\t0\tIN\tA\t127.0.0.1"), "%s", add);
	free(add);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(server, longest_zone_wins_and_unserved_is_refused)
{
	struct sx_test_server *s = sx_test_start(
	        NULL, "example.org {\n\tbind 127.0.0.1\n\twhoami\n}\n"
	              "sub.example.org {\n\tbind 127.0.0.1\n\terrors\n}\n");
	ldns_pkt *a = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
	ldns_pkt *b = sx_test_query(s, "www.sub.example.org", LDNS_RR_TYPE_A, 0, 0);
	ldns_pkt *c = sx_test_query(s, "example.com", LDNS_RR_TYPE_A, 0, 0);
	ldns_pkt *d = sx_test_query(s, "xsub.example.org", LDNS_RR_TYPE_A, 0, 0);

	cr_assert(a && b && c && d);
	cr_assert_eq(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
	/* errors alone calls next and the chain ends: SERVFAIL, and the reason is logged. */
	cr_assert_eq(ldns_pkt_get_rcode(b), LDNS_RCODE_SERVFAIL);
	cr_assert_eq(ldns_pkt_get_rcode(c), LDNS_RCODE_REFUSED);
	/* "xsub" is not on a label boundary of sub.example.org. */
	cr_assert_eq(ldns_pkt_get_rcode(d), LDNS_RCODE_NOERROR);
	cr_assert(
	        sx_test_wait_log(
	                s,
	                "[ERROR] plugin/errors: 2 www.sub.example.org. A: plugin/errors: no next plugin found",
	                30000),
	        "%s", sx_test_log(s));
	ldns_pkt_free(a);
	ldns_pkt_free(b);
	ldns_pkt_free(c);
	ldns_pkt_free(d);
	sx_test_stop(s);
}

Test(server, notimp_for_other_opcodes)
{
	struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);
	/* A NOTIFY (opcode 4) for example.org SOA. */
	static const uint8_t q[] = {
		0x12, 0x34, 0x20, 0x00, 0,   1, 0,   0,   0,   0, 0, 0, 7, 'e', 'x',
		'a',  'm',  'p',  'l',  'e', 3, 'o', 'r', 'g', 0, 0, 6, 0, 1,
	};
	uint8_t r[512];
	size_t n = sx_test_raw_udp(s, q, sizeof(q), r, sizeof(r), 2000);

	cr_assert(n >= 12);
	cr_assert_eq(r[0], 0x12);
	cr_assert_eq(r[1], 0x34);
	cr_assert(r[2] & 0x80, "QR set");
	cr_assert_eq((r[2] >> 3) & 0xf, 4, "opcode echoed");
	cr_assert_eq(r[3] & 0xf, 4, "NOTIMP");
	sx_test_stop(s);
}

Test(server, pipelined_tcp_queries_all_answered)
{
	struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);
	char *out = sx_test_dig(s, "+tcp +keepopen a.example b.example c.example d.example");
	const char *p = out;
	int n = 0;

	while ((p = strstr(p, "status: NOERROR"))) {
		n++;
		p++;
	}
	cr_assert_eq(n, 4, "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(server, stops_cleanly_on_sigterm)
{
	struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);
	int status;

	cr_assert(sx_test_wait_log(s, "sextant-", 30000));
	status = sx_test_stop(s);
	cr_assert(WIFEXITED(status), "status %d", status);
	cr_assert_eq(WEXITSTATUS(status), 0);
}

Test(server, sigusr1_reloads_and_keeps_old_on_bad_config)
{
	struct sx_test_server *s = sx_test_start(NULL,
	                                         "example.org {\n\tbind 127.0.0.1\n\twhoami\n}\n");
	char path[512];
	ldns_pkt *p;
	FILE *f;

	p = sx_test_query(s, "example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);

	/* A valid new Corefile that serves every name. */
	snprintf(path, sizeof(path), "%s/Corefile", sx_test_dir(s));
	f = fopen(path, "w");
	fputs(". {\n\tbind 127.0.0.1\n\twhoami\n}\n", f);
	fclose(f);
	kill(sx_test_pid(s), SIGUSR1);
	cr_assert(sx_test_wait_log(s, "Reload completed", 30000), "%s", sx_test_log(s));
	p = sx_test_query(s, "example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);

	/* A broken one: logged, and the running configuration stays. */
	f = fopen(path, "w");
	fputs(". {\n\tbind 127.0.0.1\n\tnosuchplugin\n}\n", f);
	fclose(f);
	kill(sx_test_pid(s), SIGUSR1);
	cr_assert(sx_test_wait_log(s, "Restart failed", 30000), "%s", sx_test_log(s));
	cr_assert(strstr(sx_test_log(s), "Unknown directive 'nosuchplugin'"), "%s", sx_test_log(s));
	p = sx_test_query(s, "example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(server, flags_version_plugins_and_bad_flags)
{
	char *out;
	int st;

	st = sx_test_run(&out, "-version");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert(!strncmp(out, "sextant-", 8), "%s", out);
	free(out);

	st = sx_test_run(&out, "-plugins");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert(strstr(out, "dns.whoami") && strstr(out, "dns.errors"), "%s", out);
	/* Execution order: errors before whoami, as plugin.cfg says. */
	cr_assert(strstr(out, "dns.errors") < strstr(out, "dns.whoami"), "%s", out);
	free(out);

	st = sx_test_run(&out, "-nosuchflag");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	cr_assert(strstr(out, "flag provided but not defined: -nosuchflag"), "%s", out);
	free(out);

	st = sx_test_run(&out, "-conf");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	free(out);
}

Test(server, quiet_hides_banner_and_pidfile_is_written)
{
	struct sx_test_server *s = sx_test_prepare();
	char cmd[4096], pidfile[600], *out;
	FILE *f;
	int pid = 0;

	snprintf(pidfile, sizeof(pidfile), "%s/sextant.pid", sx_test_dir(s));
	sx_test_write(s, "Corefile", ". {\n\tbind 127.0.0.1\n\twhoami\n}\n");
	/* Run in the background until the pidfile is there, then stop it through the pidfile. */
	snprintf(cmd, sizeof(cmd),
	         "sh -c '%s -conf %s/Corefile -dns.port 0 -quiet -pidfile %s > %s/out 2>&1 & "
	         "for i in $(seq 600); do [ -s %s ] && break; sleep 0.1; done; "
	         "kill $(cat %s); wait; cat %s/out'",
	         getenv("SEXTANT_BIN"), sx_test_dir(s), pidfile, sx_test_dir(s), pidfile, pidfile,
	         sx_test_dir(s));
	f = popen(cmd, "r");
	cr_assert(f);
	out = calloc(1, 4096);
	cr_assert(fread(out, 1, 4095, f) < 4095);
	pclose(f);
	cr_assert(!strstr(out, "sextant-"), "banner printed with -quiet: %s", out);
	cr_assert(strstr(out, "SIGTERM: Shutting down servers then terminating"), "%s", out);
	cr_assert(access(pidfile, F_OK) != 0, "pidfile removed at exit");
	(void)pid;
	free(out);
	sx_test_stop(s);
}

/*
 * Many clients at once: replies of one recvmmsg batch go to their own
 * clients (each client checks it gets the answer to its own query).
 */
static void *
client(void *arg)
{
	const struct sx_test_server *s = arg;
	int ok = 0;

	for (int i = 0; i < 200; i++) {
		ldns_pkt *p = sx_test_query(s, "many.example", LDNS_RR_TYPE_A, 0, 0);

		ok += p != NULL;
		ldns_pkt_free(p);
	}
	return (void *)(intptr_t)ok;
}

Test(server, concurrent_udp_clients_each_get_their_answer)
{
	struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);
	pthread_t t[8];
	intptr_t total = 0;

	for (int i = 0; i < 8; i++) {
		pthread_create(&t[i], NULL, client, s);
	}
	for (int i = 0; i < 8; i++) {
		void *ok;

		pthread_join(t[i], &ok);
		total += (intptr_t)ok;
	}
	/* sx_test_query drops replies with another ID, so a misdirected reply is a loss. */
	cr_assert_eq(total, 8 * 200, "answered %ld of 1600", (long)total);
	sx_test_stop(s);
}

/* A query for c<i>-r<r>.wild.test A with ID @id; @return its length. */
static size_t
wild_query(uint8_t *q, uint16_t id, int i, int r)
{
	char label[32];
	size_t n = 12;
	int len = snprintf(label, sizeof(label), "c%d-r%d", i, r);

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;
	q[n++] = (uint8_t)len;
	memcpy(q + n, label, (size_t)len);
	n += (size_t)len;
	memcpy(q + n, "\004wild\004test\000\000\001\000\001", 15);
	return n + 15;
}

/* Whether the server on @port answers a query sent from port @from over @type. */
static bool
answered_from(uint16_t port, uint16_t from, int type)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(from) };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 10, 0 };
	uint8_t q[66], a[514];
	size_t qlen = wild_query(q + 2, 0x5e1f, 0, 0);
	int fd = socket(AF_INET, type, 0), one = 1;
	bool tcp = type == SOCK_STREAM;
	const uint8_t *r = tcp ? a + 2 : a;
	ssize_t n = -1;

	me.sin_addr.s_addr = to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	q[0] = (uint8_t)(qlen >> 8);
	q[1] = (uint8_t)qlen;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
	    send(fd, tcp ? q : q + 2, tcp ? qlen + 2 : qlen, 0) > 0) {
		n = recv(fd, a, sizeof(a), 0);
	}
	close(fd);
	n -= tcp ? 2 : 0;
	return n >= 12 && memcmp(r, q + 2, 2) == 0 && (r[2] & 0x80) &&
	       r[11] >= 2; /* whoami: A, SRV */
}

/*
 * In a network namespace of its own (the port range is per namespace), every
 * ephemeral port but one is held by a UDP socket with SO_REUSEPORT of the same
 * user, as another server's would be. A server given port 0 must take the free
 * one: joining a held one would split that server's queries with it.
 */
Test(server, the_ephemeral_port_is_one_no_other_socket_shares)
{
	enum {
		LOW = 40000,
		FREE = 40005,
		HIGH = 40009
	};
	struct ifreq lo = { .ifr_name = "lo" };
	int held[HIGH - LOW + 1], one = 1, fd;
	FILE *f;

	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare (root): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(ioctl(fd, SIOCGIFFLAGS, &lo), 0);
	lo.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(fd, SIOCSIFFLAGS, &lo), 0, "lo up: %s", strerror(errno));
	close(fd);
	cr_assert_not_null(f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w"));
	fprintf(f, "%d %d\n", LOW, HIGH);
	cr_assert_eq(fclose(f), 0);
	for (int p = LOW; p <= HIGH; p++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
		int *h = &held[p - LOW];

		*h = -1;
		if (p == FREE) {
			continue;
		}
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*h = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(*h, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		cr_assert_eq(bind(*h, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	/*
	 * Picked at random among the ten, a held port comes nine times in ten.
	 * The clients bind ports outside the range, which has none left to give.
	 */
	for (int round = 0; round < 3; round++) {
		struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);

		cr_expect_eq(sx_test_port(s), FREE, "round %d: port %u", round, sx_test_port(s));
		cr_expect(answered_from(sx_test_port(s), (uint16_t)(HIGH + 1 + 2 * round),
		                        SOCK_DGRAM),
		          "round %d: no answer over UDP", round);
		cr_expect(answered_from(sx_test_port(s), (uint16_t)(HIGH + 2 + 2 * round),
		                        SOCK_STREAM),
		          "round %d: no answer over TCP", round);
		cr_expect_eq(sx_test_stop(s), 0);
	}
	for (int i = 0; i <= HIGH - LOW; i++) {
		if (held[i] >= 0) {
			close(held[i]);
		}
	}
}

/*
 * Replies of requests that resume in one turn of the loop (forward's upstream
 * answered them) leave together, one sendmmsg for all: each must still reach
 * its own client socket, with its own ID and question.
 */
Test(server, resumed_replies_reach_their_own_clients)
{
	static const char zone[] = "$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\n"
	                           "ns A 192.0.2.53\n* A 192.0.2.1\n";
	enum {
		N = 64,
		ROUNDS = 4
	};
	struct sx_upstream *k = sx_up_knot("wild.test.", zone);
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct sx_test_server *s;
	unsigned right = 0;
	char cf[128], wrong[1024] = "";
	size_t wlen = 0;
	int fd[N];

	snprintf(cf, sizeof(cf), ". {\n\tbind 127.0.0.1\n\tforward . 127.0.0.1:%u\n}\n",
	         sx_up_port(k));
	s = sx_test_start(NULL, cf);
	to.sin_port = htons(sx_test_port(s));
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	for (int i = 0; i < N; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		cr_assert_geq(fd[i], 0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		uint8_t q[N][64], a[512];
		size_t qlen[N];

		/* All at once, so that many are in flight together. */
		for (int i = 0; i < N; i++) {
			qlen[i] = wild_query(q[i], (uint16_t)(r * N + i), i, r);
			cr_assert_eq(
			        sendto(fd[i], q[i], qlen[i], 0, (struct sockaddr *)&to, sizeof(to)),
			        (ssize_t)qlen[i]);
		}
		/* Every socket's reply, within five seconds for the round. */
		struct pollfd pfd[N];
		int left = N;

		for (int i = 0; i < N; i++) {
			pfd[i] = (struct pollfd){ .fd = fd[i], .events = POLLIN };
		}
		while (left > 0 && poll(pfd, N, 5000) > 0) {
			for (int i = 0; i < N; i++) {
				ssize_t n;

				if (!(pfd[i].revents & POLLIN) ||
				    (n = recv(fd[i], a, sizeof(a), 0)) < 0) {
					continue;
				}
				pfd[i].fd = -1; /* one reply per socket */
				left--;
				/* Its ID, a reply, NOERROR, one answer, and the question it asked. */
				bool same_q = (size_t)n > qlen[i] &&
				              memcmp(a + 12, q[i] + 12, qlen[i] - 12) == 0;

				if (same_q && memcmp(a, q[i], 2) == 0 && (a[2] & 0x80) &&
				    (a[3] & 0x0f) == 0 && a[7] == 1) {
					right++;
				} else if (wlen < sizeof(wrong) - 96) {
					wlen += (size_t)snprintf(
					        wrong + wlen, sizeof(wrong) - wlen,
					        "\nround %d socket %d: %zd bytes, id %u (asked %u), "
					        "rcode %u, %u answers, question %s",
					        r, i, n, n >= 2 ? (unsigned)(a[0] << 8 | a[1]) : 0u,
					        (unsigned)(r * N + i), n >= 4 ? a[3] & 0x0fu : 0u,
					        n >= 8 ? a[7] : 0u, same_q ? "same" : "other");
				}
			}
		}
	}
	cr_expect_eq(right, N * ROUNDS, "%u of %d replies right:%s\nlog:\n%s", right, N * ROUNDS,
	             wrong, sx_test_log(s));
	for (int i = 0; i < N; i++) {
		close(fd[i]);
	}
	cr_expect_eq(sx_test_stop(s), 0);
	sx_up_stop(k);
}

/* @q from @src port 5353 to 127.0.0.1:@port, through a raw socket (IPv4 allows no UDP checksum). */
static void
forge_udp(const char *src, uint16_t port, const uint8_t *q, size_t qlen)
{
	uint8_t pkt[128] = { 0x45, 0, 0, 0, 0, 1, 0, 0, 64, IPPROTO_UDP };
	struct sockaddr_in to = { .sin_family = AF_INET };
	size_t len = 28 + qlen;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	cr_assert_geq(fd, 0, "a raw socket (root) forges the source: %s", strerror(errno));
	cr_assert_leq(len, sizeof(pkt));
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	inet_pton(AF_INET, src, pkt + 12);
	inet_pton(AF_INET, "127.0.0.1", pkt + 16);
	pkt[20] = 5353 >> 8;
	pkt[21] = 5353 & 0xff;
	pkt[22] = (uint8_t)(port >> 8);
	pkt[23] = (uint8_t)port;
	pkt[24] = (uint8_t)((len - 20) >> 8);
	pkt[25] = (uint8_t)(len - 20);
	memcpy(pkt + 28, q, qlen);
	to.sin_addr = (struct in_addr){ htonl(INADDR_LOOPBACK) };
	cr_assert_eq(sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len,
	             "%s", strerror(errno));
	close(fd);
}

/* The fields of the stat file @path from the state (field 3) on, read into @buf. */
static const char *
stat_fields(const char *path, char *buf, size_t size)
{
	const char *p;
	FILE *f;
	size_t n;

	cr_assert((f = fopen(path, "r")), "%s: %s", path, strerror(errno));
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the name, which may hold anything, ')' included. */
	p = strrchr(buf, ')');
	cr_assert(p && p[1] == ' ' && p[2], "%s", buf);
	return p + 2;
}

/* The state letter of process @pid ('T' once stopped). */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_fields(path, buf, sizeof(buf))[0];
}

/*
 * A reply the kernel refuses to send (EACCES towards a broadcast source; a
 * firewall's EPERM is the same) is skipped, and the replies read in the same
 * batch after it still leave. The server is stopped while the datagrams queue,
 * so one recvmmsg() reads them all, the refused one first.
 */
Test(server, a_reply_that_cannot_be_sent_loses_only_itself)
{
	enum {
		N = 8
	};
	struct sx_test_server *s = sx_test_prepare();
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint8_t q[64], a[512];
	unsigned got = 0;
	struct pollfd pfd;
	size_t qlen;
	int fd;

	sx_test_add_arg(s, "-workers");
	sx_test_add_arg(s, "1");
	s = sx_test_start(s, WHOAMI_CF);
	to.sin_port = htons(sx_test_port(s));
	to.sin_addr = (struct in_addr){ htonl(INADDR_LOOPBACK) };
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);

	cr_assert_eq(kill(sx_test_pid(s), SIGSTOP), 0);
	for (int i = 0; proc_state(sx_test_pid(s)) != 'T'; i++) {
		cr_assert(i < 10000, "the server never stopped");
		usleep(1000);
	}
	qlen = wild_query(q, 0xbad, 0, 0);
	forge_udp("255.255.255.255", sx_test_port(s), q, qlen);
	for (int i = 1; i <= N; i++) {
		qlen = wild_query(q, (uint16_t)i, i, 0);
		cr_assert_eq(send(fd, q, qlen, 0), (ssize_t)qlen);
	}
	cr_assert_eq(kill(sx_test_pid(s), SIGCONT), 0);

	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (got < N && poll(&pfd, 1, 10000) > 0) {
		ssize_t n = recv(fd, a, sizeof(a), 0);

		got += n >= 12 && (a[2] & 0x80) && a[0] == 0 && a[1] >= 1 && a[1] <= N;
	}
	cr_expect_eq(got, N, "%u of %d replies after the refused one\n%s", got, N, sx_test_log(s));
	close(fd);
	cr_expect_eq(sx_test_stop(s), 0);
}

/* The nice value of thread @tid of @pid, and its name into @comm. */
static int
thread_nice(pid_t pid, const char *tid, char *comm, size_t commlen)
{
	char path[320], buf[512];
	const char *fields;
	int nice = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, tid);
	cr_assert((f = fopen(path, "r")), "%s: %s", path, strerror(errno));
	cr_assert(fgets(comm, (int)commlen, f));
	comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, tid);
	fields = stat_fields(path, buf, sizeof(buf));
	/* state (field 3) ... nice (field 19) */
	cr_assert(sscanf(fields,
	                 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
	                 "%*d %d",
	                 &nice) == 1,
	          "%s", buf);
	return nice;
}

/*
 * Answers come before syncs: the control thread, which builds a relist's or a
 * reload's zone, runs ten nice steps below the workers, which keep the nice
 * value the server was started with.
 */
Test(server, the_control_thread_runs_below_the_workers)
{
	struct sx_test_server *s = sx_test_start(NULL, WHOAMI_CF);
	int base = getpriority(PRIO_PROCESS, 0), control = -100, workers = 0;
	char path[64], comm[32];
	struct dirent *d;
	ldns_pkt *p;
	DIR *dir;

	p = sx_test_query(s, "example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)sx_test_pid(s));
	cr_assert((dir = opendir(path)));
	while ((d = readdir(dir))) {
		int nice;

		if (d->d_name[0] == '.') {
			continue;
		}
		nice = thread_nice(sx_test_pid(s), d->d_name, comm, sizeof(comm));
		if (atoi(d->d_name) == sx_test_pid(s)) {
			control = nice;
		} else if (!strncmp(comm, "sx-worker-", 10)) {
			cr_expect_eq(nice, base, "worker %s runs at nice %d", comm, nice);
			workers++;
		}
	}
	closedir(dir);
	cr_expect_eq(workers, 2, "%d threads named sx-worker-N", workers);
	cr_expect_eq(control, base + 10 > 19 ? 19 : base + 10, "the control thread at nice %d",
	             control);
	cr_expect_eq(sx_test_stop(s), 0);
}
