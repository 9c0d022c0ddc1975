/* dnsload.c -- UDP queries at a steady rate, with latency percentiles per phase. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * dnsperf reports a latency average; a relist or churn needs the tail, and
 * the tail of a chosen span of time. dnsload sends queries from a file at a
 * fixed rate over several sockets (so that SO_REUSEPORT spreads them over the
 * server's workers) and keeps each answer's latency in a histogram of 1 us
 * steps. SIGUSR1 starts the next phase: a query counts in the phase it was
 * sent in. On SIGINT or SIGTERM, or after -t seconds, it waits a second for
 * late answers and prints one line per phase:
 *   phase N: sent S answered A lost L rate Q/s p50 X p90 X p99 X p999 X max X (ms)
 *   NOERROR=n NXDOMAIN=n ...
 * A query unanswered after a second is lost.
 */

#define MAX_PHASES 8
#define HIST_US    100000 /* 100 ms in 1 us steps; later answers count in the last */
#define MAX_SOCKS  64
#define LOST_NS    1000000000ull
#define BATCH      64
#define BURST      1024 /* queries sent between two reads of the answers */

struct pending {
	uint64_t sent_ns; /* 0: none */
	uint8_t phase;
};

struct query {
	uint8_t wire[300];
	size_t len;
};

static volatile sig_atomic_t phase, stop;
static uint32_t hist[MAX_PHASES][HIST_US + 1];
static uint64_t sent[MAX_PHASES], answered[MAX_PHASES], lost[MAX_PHASES];
static uint64_t rcodes[MAX_PHASES][16];
static uint64_t phase_start[MAX_PHASES + 1];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
on_usr1(int sig)
{
	(void)sig;
	if (phase + 1 < MAX_PHASES) {
		phase++;
	}
}

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int
qtype(const char *s)
{
	static const struct {
		const char *name;
		int type;
	} t[] = { { "A", 1 },   { "NS", 2 },   { "CNAME", 5 }, { "SOA", 6 },  { "PTR", 12 },
		  { "MX", 15 }, { "TXT", 16 }, { "AAAA", 28 }, { "SRV", 33 }, { "ANY", 255 } };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!strcasecmp(s, t[i].name)) {
			return t[i].type;
		}
	}
	return -1;
}

/* "name type" to a query without its ID. @return 0 when the line is not one. */
static int
encode(struct query *q, const char *name, const char *type)
{
	static const uint8_t head[10] = { 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }; /* RD, 1 question */
	size_t n = 2, label = 0;
	int t = qtype(type);

	if (t < 0) {
		return 0;
	}
	memcpy(q->wire + n, head, sizeof(head));
	n += sizeof(head);
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t len = (size_t)(p - name) - label;
			if (len > 63 || n + len + 6 > sizeof(q->wire)) {
				return 0;
			}
			if (len > 0) {
				q->wire[n++] = (uint8_t)len;
				memcpy(q->wire + n, name + label, len);
				n += len;
			}
			label = (size_t)(p - name) + 1;
			if (*p == '\0' || p[1] == '\0') {
				break;
			}
		}
	}
	q->wire[n++] = 0;
	q->wire[n++] = (uint8_t)(t >> 8);
	q->wire[n++] = (uint8_t)t;
	q->wire[n++] = 0;
	q->wire[n++] = 1;
	q->len = n;
	return 1;
}

static struct query *
load(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	struct query *qs = NULL;
	size_t n = 0, cap = 0;
	char line[512], name[300], type[16];

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%299s %15s", name, type) != 2) {
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((qs = realloc(qs, cap * sizeof(*qs))) == NULL) {
				exit(2);
			}
		}
		if (encode(&qs[n], name, type)) {
			n++;
		}
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "dnsload: %s: no query\n", path);
		exit(2);
	}
	*count = n;
	return qs;
}

static double
percentile(int p, double q)
{
	uint64_t total = 0, seen = 0;

	for (int i = 0; i <= HIST_US; i++) {
		total += hist[p][i];
	}
	if (total == 0) {
		return 0;
	}
	for (int i = 0; i <= HIST_US; i++) {
		seen += hist[p][i];
		if ((double)seen >= q * (double)total) {
			return i / 1000.0;
		}
	}
	return HIST_US / 1000.0;
}

static double
max_ms(int p)
{
	for (int i = HIST_US; i >= 0; i--) {
		if (hist[p][i]) {
			return i / 1000.0;
		}
	}
	return 0;
}

static void
report(int phases, uint64_t end)
{
	static const char *const names[16] = { "NOERROR",  "FORMERR", "SERVFAIL",
		                               "NXDOMAIN", "NOTIMP",  "REFUSED" };

	for (int p = 0; p < phases; p++) {
		uint64_t until = p + 1 < phases ? phase_start[p + 1] : end;
		double secs = (double)(until - phase_start[p]) / 1e9;

		printf("phase %d: sent %llu answered %llu lost %llu rate %.0f/s p50 %.3f p90 %.3f "
		       "p99 %.3f p999 %.3f max %.3f (ms)\n",
		       p, (unsigned long long)sent[p], (unsigned long long)answered[p],
		       (unsigned long long)lost[p], secs > 0 ? (double)sent[p] / secs : 0,
		       percentile(p, 0.5), percentile(p, 0.9), percentile(p, 0.99),
		       percentile(p, 0.999), max_ms(p));
		printf("phase %d rcodes:", p);
		for (int r = 0; r < 16; r++) {
			if (rcodes[p][r]) {
				if (names[r]) {
					printf(" %s=%llu", names[r],
					       (unsigned long long)rcodes[p][r]);
				} else {
					printf(" rcode%d=%llu", r,
					       (unsigned long long)rcodes[p][r]);
				}
			}
		}
		printf("\n");
	}
}

int
main(int argc, char **argv)
{
	const char *server = "127.0.0.1", *file = NULL;
	int port = 53, nsock = 8, opt;
	double rate = 1000, seconds = 10;
	static struct pending pend[MAX_SOCKS][65536];
	uint16_t next_id[MAX_SOCKS] = { 0 };
	struct pollfd pfd[MAX_SOCKS];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct query *qs;
	size_t nq, qi = 0;
	uint64_t start, total = 0, last_sweep;

	while ((opt = getopt(argc, argv, "s:p:f:r:t:c:")) != -1) {
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'c':
			nsock = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (!file || rate <= 0 || nsock < 1 || nsock > MAX_SOCKS ||
	    inet_pton(AF_INET, server, &sa.sin_addr) != 1) {
		goto usage;
	}
	sa.sin_port = htons((uint16_t)port);
	qs = load(file, &nq);
	for (int i = 0; i < nsock; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("dnsload: socket");
			return 2;
		}
		pfd[i].fd = fd;
		pfd[i].events = POLLIN;
	}
	signal(SIGUSR1, on_usr1);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	start = last_sweep = now_ns();
	phase_start[0] = start;
	int seen_phase = 0;
	uint64_t stop_at = start + (uint64_t)(seconds * 1e9), drain_until = 0;

	for (;;) {
		uint64_t now = now_ns();

		if (seen_phase != phase) {
			seen_phase = phase;
			phase_start[seen_phase] = now;
		}
		if (!drain_until && (stop || now >= stop_at)) {
			drain_until = now + LOST_NS;
			stop_at = now;
		}
		if (drain_until && now >= drain_until) {
			break;
		}
		/*
		 * Send what is due, round-robin over the sockets, BURST at a time: a machine
		 * that cannot keep the rate leaves a backlog, and sending it all at once would
		 * neither read the answers nor see a stop signal until it was gone.
		 */
		uint64_t due = drain_until ? total : (uint64_t)((double)(now - start) / 1e9 * rate);
		for (unsigned burst = 0; total < due && burst < BURST; burst++) {
			int s = (int)(total % (uint64_t)nsock);
			uint16_t id = next_id[s]++;
			struct query *q = &qs[qi];
			struct pending *pd = &pend[s][id];

			if (pd->sent_ns) {
				lost[pd->phase]++; /* its ID comes round again unanswered */
			}
			q->wire[0] = (uint8_t)(id >> 8);
			q->wire[1] = (uint8_t)id;
			if (send(pfd[s].fd, q->wire, q->len, 0) < 0 && errno != EAGAIN) {
				perror("dnsload: send");
				return 2;
			}
			pd->sent_ns = now_ns();
			pd->phase = (uint8_t)seen_phase;
			sent[seen_phase]++;
			total++;
			qi = (qi + 1) % nq;
		}
		if (poll(pfd, (nfds_t)nsock, 1) < 0 && errno != EINTR) {
			perror("dnsload: poll");
			return 2;
		}
		for (int s = 0; s < nsock; s++) {
			uint8_t buf[BATCH][512];
			struct mmsghdr msgs[BATCH];
			struct iovec iov[BATCH];
			int n;

			if (!(pfd[s].revents & POLLIN)) {
				continue;
			}
			for (int i = 0; i < BATCH; i++) {
				iov[i].iov_base = buf[i];
				iov[i].iov_len = sizeof(buf[i]);
				memset(&msgs[i], 0, sizeof(msgs[i]));
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			while ((n = recvmmsg(pfd[s].fd, msgs, BATCH, MSG_DONTWAIT, NULL)) > 0) {
				uint64_t at = now_ns();
				for (int i = 0; i < n; i++) {
					const uint8_t *m = buf[i];
					struct pending *pd;
					uint64_t us;

					if (msgs[i].msg_len < 12 || !(m[2] & 0x80)) {
						continue;
					}
					pd = &pend[s][(uint16_t)(m[0] << 8 | m[1])];
					if (!pd->sent_ns) {
						continue; /* late, already counted lost */
					}
					us = (at - pd->sent_ns) / 1000;
					hist[pd->phase][us < HIST_US ? us : HIST_US]++;
					answered[pd->phase]++;
					rcodes[pd->phase][m[3] & 15]++;
					pd->sent_ns = 0;
				}
			}
		}
		/* Ten times a second, what waited a second is lost. */
		if (now - last_sweep > 100000000ull) {
			last_sweep = now;
			for (int s = 0; s < nsock; s++) {
				for (int i = 0; i < 65536; i++) {
					struct pending *pd = &pend[s][i];
					/* @now predates this round's sends: compare, not subtract */
					if (pd->sent_ns && pd->sent_ns + LOST_NS < now) {
						lost[pd->phase]++;
						pd->sent_ns = 0;
					}
				}
			}
		}
	}
	for (int s = 0; s < nsock; s++) {
		for (int i = 0; i < 65536; i++) {
			if (pend[s][i].sent_ns) {
				lost[pend[s][i].phase]++;
			}
		}
	}
	report(seen_phase + 1, stop_at);
	free(qs);
	return 0;
usage:
	fprintf(stderr,
	        "usage: dnsload -p PORT -f FILE [-s ADDR] [-r QPS] [-t SECONDS] [-c SOCKETS]\n"
	        "FILE: one query a line, \"name type\"\n");
	return 2;
}
