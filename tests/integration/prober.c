/* prober.c -- legitimate clients that query a server without pause, counted, during a fault. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sextant/testing/prober.h>

struct sx_prober {
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct sx_probe *probes;
	size_t n;
	int flags, every_ms, timeout_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct sx_probe_stats st;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wait for @events on @fd until @deadline (now_ms() time). */
static bool
wait_fd(int fd, short events, double deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	double left;
	int r;

	do {
		left = deadline - now_ms();
		if (left <= 0) {
			return false;
		}
		r = poll(&pfd, 1, (int)left + 1);
	} while (r < 0 && errno == EINTR);
	return r == 1;
}

static bool
send_all(int fd, const uint8_t *buf, size_t len, double deadline)
{
	while (len > 0) {
		ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);

		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(fd, POLLOUT, deadline)) {
				return false;
			}
			continue;
		}
		if (r <= 0) {
			return false;
		}
		buf += r;
		len -= (size_t)r;
	}
	return true;
}

static bool
recv_all(int fd, uint8_t *buf, size_t len, double deadline)
{
	while (len > 0) {
		ssize_t r = recv(fd, buf, len, 0);

		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(fd, POLLIN, deadline)) {
				return false;
			}
			continue;
		}
		if (r <= 0) {
			return false;
		}
		buf += r;
		len -= (size_t)r;
	}
	return true;
}

/* One exchange; @return the reply's length in @buf, or 0 when none came in time. */
static size_t
exchange(struct sx_prober *p, const uint8_t *q, size_t qlen, uint8_t *buf, size_t cap)
{
	bool tcp = p->flags & SX_PROBE_TCP;
	double deadline = now_ms() + p->timeout_ms;
	int fd = socket(p->ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
	size_t got = 0;

	if (fd < 0) {
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&p->ss, p->sslen) < 0 &&
	    (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline))) {
		goto out;
	}
	if (tcp) {
		uint8_t len[2] = { (uint8_t)(qlen >> 8), (uint8_t)qlen };
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0 ||
		    !send_all(fd, len, 2, deadline) || !send_all(fd, q, qlen, deadline) ||
		    !recv_all(fd, len, 2, deadline)) {
			goto out;
		}
		got = (size_t)(len[0] << 8 | len[1]);
		if (got > cap || !recv_all(fd, buf, got, deadline)) {
			got = 0;
		}
		goto out;
	}
	if (!send_all(fd, q, qlen, deadline)) {
		goto out;
	}
	while (wait_fd(fd, POLLIN, deadline)) {
		ssize_t r = recv(fd, buf, cap, 0);

		/* A reply to an earlier, timed-out question has another ID: keep waiting. */
		if (r >= 12 && buf[0] == q[0] && buf[1] == q[1]) {
			got = (size_t)r;
			break;
		}
	}
out:
	close(fd);
	return got;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* @text's lines sorted, joined by '\n' (malloc'ed). */
static char *
sorted_lines(const char *text)
{
	char *copy = strdup(text), *save = NULL, *line, **v = NULL, *out;
	size_t n = 0, len = strlen(text) + 1;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = line;
	}
	if (n > 1) {
		qsort(v, n, sizeof(*v), cmp_str);
	}
	out = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i) {
			strcat(out, "\n");
		}
		strcat(out, v[i]);
	}
	free(v);
	free(copy);
	return out;
}

/* The answer section of @r as presentation lines (malloc'ed). */
static char *
answer_str(const ldns_pkt *r)
{
	ldns_rr_list *list = ldns_pkt_answer(r);
	ldns_buffer *b = ldns_buffer_new(1024);
	char *s;

	for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr2buffer_str(b, ldns_rr_list_rr(list, i));
	}
	s = ldns_buffer_export2str(b);
	ldns_buffer_free(b);
	return s ? s : strdup("");
}

/* NULL when @r is what @pr wants, else why not (malloc'ed). */
static char *
judge(const struct sx_probe *pr, const ldns_pkt *r)
{
	char *why = NULL, *got, *a, *b;

	if (ldns_pkt_get_rcode(r) != pr->rcode) {
		if (asprintf(&why, "%s: rcode %d, not %d", pr->name, ldns_pkt_get_rcode(r),
		             pr->rcode) < 0) {
			why = NULL;
		}
		return why ? why : strdup("rcode");
	}
	if (!pr->answer) {
		return NULL;
	}
	got = answer_str(r);
	a = sorted_lines(got);
	b = sorted_lines(pr->answer);
	if (strcmp(a, b) != 0 && asprintf(&why, "%s: answer\n%s\nnot\n%s", pr->name, a, b) < 0) {
		why = strdup("answer");
	}
	free(got);
	free(a);
	free(b);
	return why;
}

static void *
run(void *arg)
{
	struct sx_prober *p = arg;
	uint8_t *buf = malloc(65536);
	uint16_t id = (uint16_t)(getpid() ^ (uintptr_t)p);

	for (size_t i = 0;; i = (i + 1) % p->n) {
		const struct sx_probe *pr = &p->probes[i];
		ldns_pkt *q = NULL, *r = NULL;
		uint8_t *wire = NULL;
		size_t wlen = 0, got;
		double t0;
		char *why = NULL;

		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pthread_mutex_unlock(&p->lock);
		if (ldns_pkt_query_new_frm_str(&q, pr->name, pr->type, LDNS_RR_CLASS_IN, LDNS_RD) !=
		    LDNS_STATUS_OK) {
			abort(); /* a test's own probe list is wrong */
		}
		ldns_pkt_set_id(q, ++id);
		if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK) {
			abort();
		}
		t0 = now_ms();
		got = exchange(p, wire, wlen, buf, 65536);
		if (got > 0 && ldns_wire2pkt(&r, buf, got) == LDNS_STATUS_OK) {
			why = judge(pr, r);
		}
		pthread_mutex_lock(&p->lock);
		p->st.sent++;
		if (r) {
			double ms = now_ms() - t0;

			p->st.answered++;
			p->st.right += why == NULL;
			p->st.worst_ms = ms > p->st.worst_ms ? ms : p->st.worst_ms;
			if (why && !p->st.wrong[0]) {
				snprintf(p->st.wrong, sizeof(p->st.wrong), "%s", why);
			}
		}
		pthread_cond_broadcast(&p->cond);
		if (p->every_ms > 0 && !p->stop) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)p->every_ms * 1000000;
			until.tv_sec += until.tv_nsec / 1000000000;
			until.tv_nsec %= 1000000000;
			while (!p->stop &&
			       pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT) {
			}
		}
		pthread_mutex_unlock(&p->lock);
		free(why);
		free(wire);
		ldns_pkt_free(q);
		ldns_pkt_free(r);
	}
	free(buf);
	return NULL;
}

struct sx_prober *
sx_prober_start(const char *addr, uint16_t port, const struct sx_probe *probes, size_t n, int flags,
                int every_ms, int timeout_ms)
{
	struct sx_prober *p = calloc(1, sizeof(*p));
	struct sockaddr_in *sin = (struct sockaddr_in *)&p->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->ss;

	if (!p || n == 0 || !(p->probes = calloc(n, sizeof(*probes)))) {
		abort();
	}
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		p->sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		p->sslen = sizeof(*sin6);
	} else {
		abort();
	}
	memcpy(p->probes, probes, n * sizeof(*probes));
	p->n = n;
	p->flags = flags;
	p->every_ms = every_ms;
	p->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		abort();
	}
	return p;
}

void
sx_prober_stats(struct sx_prober *p, struct sx_probe_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}

/* Wait up to @ms until the count at @field grows by @more. */
static bool
wait_count(struct sx_prober *p, const long *field, long more, int ms)
{
	struct timespec until;
	long want;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&p->lock);
	want = *field + more;
	while (*field < want && pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT) {
	}
	ok = *field >= want;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

bool
sx_prober_wait(struct sx_prober *p, long more, int ms)
{
	return wait_count(p, &p->st.answered, more, ms);
}

bool
sx_prober_wait_sent(struct sx_prober *p, long more, int ms)
{
	return wait_count(p, &p->st.sent, more, ms);
}

void
sx_prober_stop(struct sx_prober *p, struct sx_probe_stats *out)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	if (out) {
		*out = p->st;
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->probes);
	free(p);
}

const char *
sx_probe_str(const struct sx_probe_stats *st, char *buf, size_t size)
{
	snprintf(buf, size, "sent %ld, answered %ld (%.2f%%), right %ld, worst %.0f ms", st->sent,
	         st->answered, st->sent ? 100.0 * (double)st->answered / (double)st->sent : 0.0,
	         st->right, st->worst_ms);
	return buf;
}
