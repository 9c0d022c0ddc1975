/* harness.c -- start the real sextant binary on loopback and talk to it, for tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include <sextant/testing/harness.h>
#include <sextant/time.h>

struct sx_test_server {
	char dir[256];
	char logpath[300];
	pid_t pid;
	uint16_t port;
	char addr[64];       /* where queries go */
	char *log;           /* last read of the log file */
	const char *args[8]; /* sx_test_add_arg() */
	size_t nargs;
};

static const char *
sextant_bin(void)
{
	const char *bin = getenv("SEXTANT_BIN");

	return bin ? bin : "./sextant";
}

struct sx_test_server *
sx_test_prepare(void)
{
	struct sx_test_server *s = calloc(1, sizeof(*s));

	cr_assert(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/sx-test-XXXXXX");
	cr_assert(mkdtemp(s->dir), "mkdtemp: %s", strerror(errno));
	snprintf(s->logpath, sizeof(s->logpath), "%s/server.log", s->dir);
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1");
	return s;
}

void
sx_test_add_arg(struct sx_test_server *s, const char *arg)
{
	cr_assert_lt(s->nargs, sizeof(s->args) / sizeof(s->args[0]));
	s->args[s->nargs++] = arg;
}

const char *
sx_test_dir(const struct sx_test_server *s)
{
	return s->dir;
}

void
sx_test_write(struct sx_test_server *s, const char *name, const char *text)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	/* Write then rename, so a server polling the file never reads half of it. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	cr_assert(f, "cannot write %s: %s", tmp, strerror(errno));
	fputs(text, f);
	fclose(f);
	cr_assert(rename(tmp, path) == 0);
}

/* Replace every "%DIR%" in @text by the test directory. */
static char *
expand_dir(const struct sx_test_server *s, const char *text)
{
	size_t cap = strlen(text) * 2 + 4096, n = 0;
	char *out = malloc(cap);
	const char *p = text;

	cr_assert(out);
	while (*p) {
		if (!strncmp(p, "%DIR%", 5)) {
			n += (size_t)snprintf(out + n, cap - n, "%s", s->dir);
			p += 5;
		} else {
			out[n++] = *p++;
		}
		cr_assert(n < cap - 300);
	}
	out[n] = 0;
	return out;
}

char *
sx_test_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long len;
	char *text;

	if (!f) {
		return strdup("");
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, len > 0 ? (size_t)len + 1 : 1);
	if (text && len > 0 && fread(text, 1, (size_t)len, f) != (size_t)len) {
		text[0] = 0;
	}
	fclose(f);
	return text;
}

const char *
sx_test_log(struct sx_test_server *s)
{
	free(s->log);
	s->log = sx_test_read_file(s->logpath);
	return s->log ? s->log : "";
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

bool
sx_test_until(bool (*done)(void *arg), void *arg, int ms)
{
	uint64_t end = sx_now_ms() + (uint64_t)(ms > 0 ? ms : 0);

	while (!done(arg)) {
		if (sx_now_ms() >= end) {
			return false;
		}
		sleep_ms(20);
	}
	return true;
}

struct log_wait {
	struct sx_test_server *s;
	const char *path, *needle;
};

static bool
log_has(void *arg)
{
	struct log_wait *w = arg;

	return strstr(sx_test_log(w->s), w->needle) != NULL;
}

static bool
file_has(void *arg)
{
	struct log_wait *w = arg;
	char *text = sx_test_read_file(w->path);
	bool found = text && strstr(text, w->needle) != NULL;

	free(text);
	return found;
}

bool
sx_test_wait_log(struct sx_test_server *s, const char *needle, int ms)
{
	struct log_wait w = { .s = s, .needle = needle };

	return sx_test_until(log_has, &w, ms);
}

bool
sx_test_wait_file(const char *path, const char *needle, int ms)
{
	struct log_wait w = { .path = path, .needle = needle };

	return sx_test_until(file_has, &w, ms);
}

struct sx_test_server *
sx_test_start(struct sx_test_server *s, const char *corefile)
{
	char conf[320];
	char *text;
	int status;

	if (!s) {
		s = sx_test_prepare();
	}
	text = expand_dir(s, corefile);
	snprintf(conf, sizeof(conf), "%s/Corefile", s->dir);
	{
		FILE *f = fopen(conf, "w");

		cr_assert(f);
		fputs(text, f);
		fclose(f);
	}
	free(text);
	s->pid = fork();
	cr_assert(s->pid >= 0);
	if (s->pid == 0) {
		int fd = open(s->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* Never outlive the test process, even when an assertion kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		const char *argv[8 + sizeof(s->args) / sizeof(s->args[0]) + 1] = {
			"sextant", "-conf", conf, "-dns.port", "0", "-workers", "2",
		};

		memcpy(argv + 7, s->args, s->nargs * sizeof(s->args[0]));
		execv(sextant_bin(), (char *const *)argv);
		_exit(127);
	}
	/*
	 * The banner ends with the version line; zone lines "ZONE:PORT" come before it.
	 * A kubernetes block may hold it back for its startup_timeout (5 s by default).
	 */
	for (int waited = 0; waited < 60000; waited += 20) {
		const char *log = sx_test_log(s), *v = strstr(log, "sextant-");

		if (v) {
			const char *line = log;

			while (line < v) {
				const char *colon = strchr(line, ':'), *nl = strchr(line, '\n');

				if (colon && nl && colon < nl && line[0] != '[') {
					s->port = (uint16_t)atoi(colon + 1);
					break;
				}
				line = nl ? nl + 1 : v;
			}
			cr_assert(s->port, "no port in banner:\n%s", log);
			return s;
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			cr_assert_fail("sextant exited at start (status %d):\n%s", status, log);
		}
		sleep_ms(20);
	}
	cr_assert_fail("sextant did not start within 10 s:\n%s", sx_test_log(s));
	return s;
}

uint16_t
sx_test_port(const struct sx_test_server *s)
{
	return s->port;
}

void
sx_test_set_addr(struct sx_test_server *s, const char *ip)
{
	snprintf(s->addr, sizeof(s->addr), "%s", ip);
}

pid_t
sx_test_pid(const struct sx_test_server *s)
{
	return s->pid;
}

int
sx_test_stop(struct sx_test_server *s)
{
	int status = 0;
	char cmd[300];

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		/* A loaded machine can take seconds; a hung server is what the 30 s are for. */
		for (int waited = 0; waited < 30000; waited += 10) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
				s->pid = 0;
				break;
			}
			sleep_ms(10);
		}
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
		}
		/* Under the sanitizers, a report from the server fails the test that ran it. */
		const char *log = sx_test_log(s);
		cr_expect(!strstr(log, "AddressSanitizer") && !strstr(log, "LeakSanitizer") &&
		                  !strstr(log, "runtime error:"),
		          "sanitizer report from sextant:\n%s", log);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot remove %s\n", s->dir);
	}
	free(s->log);
	free(s);
	return status;
}

/* Run argv, capture stdout (and stderr when @both), return the exit status. */
static int
run_capture(char **argv, char **out, bool both)
{
	int pipefd[2], status;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	pid_t pid;
	ssize_t r;

	cr_assert(buf && pipe(pipefd) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], 1);
		if (both) {
			dup2(pipefd[1], 2);
		}
		close(pipefd[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((r = read(pipefd[0], buf + n, cap - n - 1)) > 0) {
		n += (size_t)r;
		if (n + 1 == cap) {
			buf = realloc(buf, cap *= 2);
			cr_assert(buf);
		}
	}
	close(pipefd[0]);
	buf[n] = 0;
	waitpid(pid, &status, 0);
	*out = buf;
	return status;
}

static char **
split_args(char *line, char **argv, size_t max, size_t n)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(line, " ", &save); tok && n < max - 1;
	     tok = strtok_r(NULL, " ", &save)) {
		argv[n++] = tok;
	}
	argv[n] = NULL;
	return argv;
}

static char *__attribute__((format(printf, 3, 0)))
run_dig(const char *prog, const struct sx_test_server *s, const char *fmt, va_list ap)
{
	char args[2048], portarg[16], at[80], *argv[64], *out;

	vsnprintf(args, sizeof(args), fmt, ap);
	snprintf(portarg, sizeof(portarg), "%u", s->port);
	snprintf(at, sizeof(at), "@%s", s->addr);
	argv[0] = (char *)prog;
	argv[1] = at;
	argv[2] = "-p";
	argv[3] = portarg;
	/* Both take +time; dig counts tries, kdig retries. */
	argv[4] = strcmp(prog, "kdig") == 0 ? "+retry=0" : "+tries=1";
	argv[5] = "+time=2";
	split_args(args, argv, 64, 6);
	run_capture(argv, &out, false);
	return out;
}

char *
sx_test_dig(const struct sx_test_server *s, const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = run_dig("dig", s, fmt, ap);
	va_end(ap);
	return out;
}

char *
sx_test_kdig(const struct sx_test_server *s, const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	out = run_dig("kdig", s, fmt, ap);
	va_end(ap);
	return out;
}

int
sx_test_run(char **out, const char *fmt, ...)
{
	char args[4096], *argv[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	argv[0] = (char *)sextant_bin();
	split_args(args, argv, 64, 1);
	return run_capture(argv, out, true);
}

int
sx_test_check(const char *corefile, char **out)
{
	struct sx_test_server *s = sx_test_prepare();
	const char *dir = sx_test_dir(s);
	size_t dlen = strlen(dir);
	char *o, *p;
	int st;

	sx_test_write(s, "Corefile", corefile);
	st = sx_test_run(&o, "-check -conf %s/Corefile", dir);
	/* "DIR/Corefile:2: ..." -> "Corefile:2: ..." */
	while ((p = strstr(o, dir)) && p[dlen] == '/') {
		memmove(p, p + dlen + 1, strlen(p + dlen + 1) + 1);
	}
	sx_test_stop(s);
	*out = o;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static ldns_pkt *
make_query(const char *name, ldns_rr_type type, int flags, uint16_t bufsize)
{
	ldns_pkt *q = NULL;
	ldns_status st;

	st = ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN,
	                                (flags & SX_Q_NORD) ? 0 : LDNS_RD);
	cr_assert(st == LDNS_STATUS_OK, "bad query name %s", name);
	ldns_pkt_set_random_id(q);
	if (!(flags & SX_Q_NOEDNS)) {
		ldns_pkt_set_edns_udp_size(q, bufsize ? bufsize : 1232);
		ldns_pkt_set_edns_do(q, (flags & SX_Q_DO) != 0);
		/* ldns only writes an OPT when some EDNS field is non-default. */
		ldns_pkt_set_edns_data(q, ldns_rdf_new_frm_str(LDNS_RDF_TYPE_HEX, ""));
	}
	return q;
}

static int
connect_to(const struct sx_test_server *s, int type)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { 2, 0 };
	socklen_t len = sizeof(*sin);
	int fd;

	if (inet_pton(AF_INET, s->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(s->port);
	} else {
		cr_assert(inet_pton(AF_INET6, s->addr, &sin6->sin6_addr) == 1, "bad %s", s->addr);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(s->port);
		len = sizeof(*sin6);
	}
	fd = socket(ss.ss_family, type, 0);
	cr_assert(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = read(fd, buf + n, len - n);

		if (r <= 0) {
			return false;
		}
		n += (size_t)r;
	}
	return true;
}

ldns_pkt *
sx_test_query(const struct sx_test_server *s, const char *name, ldns_rr_type type, int flags,
              uint16_t bufsize)
{
	ldns_pkt *q = make_query(name, type, flags, bufsize), *reply = NULL;
	uint8_t *wire = NULL, *buf = malloc(65536 + 2);
	size_t wlen = 0;
	ssize_t r = -1;
	int fd;

	cr_assert(buf && ldns_pkt2wire(&wire, q, &wlen) == LDNS_STATUS_OK);
	fd = connect_to(s, (flags & SX_Q_TCP) ? SOCK_STREAM : SOCK_DGRAM);
	if (fd >= 0 && (flags & SX_Q_TCP)) {
		uint8_t len[2] = { (uint8_t)(wlen >> 8), (uint8_t)wlen };

		if (write(fd, len, 2) == 2 && write(fd, wire, wlen) == (ssize_t)wlen &&
		    read_full(fd, buf, 2) &&
		    read_full(fd, buf + 2, (size_t)(buf[0] << 8 | buf[1]))) {
			r = buf[0] << 8 | buf[1];
			memmove(buf, buf + 2, (size_t)r);
		}
	} else if (fd >= 0 && write(fd, wire, wlen) == (ssize_t)wlen) {
		r = read(fd, buf, 65536);
	}
	if (r > 0 && ldns_wire2pkt(&reply, buf, (size_t)r) != LDNS_STATUS_OK) {
		reply = NULL;
	}
	if (reply && ldns_pkt_id(reply) != ldns_pkt_id(q)) {
		ldns_pkt_free(reply);
		reply = NULL;
	}
	if (fd >= 0) {
		close(fd);
	}
	free(wire);
	free(buf);
	ldns_pkt_free(q);
	return reply;
}

size_t
sx_test_raw_udp(const struct sx_test_server *s, const uint8_t *q, size_t qlen, uint8_t *out,
                size_t cap, int timeout_ms)
{
	int fd = connect_to(s, SOCK_DGRAM);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t r = 0;

	cr_assert(fd >= 0);
	if (send(fd, q, qlen, 0) == (ssize_t)qlen && poll(&pfd, 1, timeout_ms) == 1) {
		r = recv(fd, out, cap, 0);
	}
	close(fd);
	return r > 0 ? (size_t)r : 0;
}

char *
sx_test_section_str(const ldns_pkt *p, ldns_pkt_section sec)
{
	ldns_rr_list *list;
	ldns_buffer *b = ldns_buffer_new(1024);
	char *s;

	switch (sec) {
	case LDNS_SECTION_AUTHORITY:
		list = ldns_pkt_authority(p);
		break;
	case LDNS_SECTION_ADDITIONAL:
		list = ldns_pkt_additional(p);
		break;
	default:
		list = ldns_pkt_answer(p);
		break;
	}
	for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr2buffer_str(b, ldns_rr_list_rr(list, i));
	}
	s = ldns_buffer_export2str(b);
	ldns_buffer_free(b);
	/* ldns ends each record with a newline; drop the last one for exact comparisons. */
	if (s && *s && s[strlen(s) - 1] == '\n') {
		s[strlen(s) - 1] = 0;
	}
	return s;
}

struct body {
	char *p;
	size_t n;
};

static size_t
collect_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	char *grown = realloc(b->p, b->n + size * nmemb + 1);

	if (!grown) {
		return 0;
	}
	b->p = grown;
	memcpy(b->p + b->n, data, size * nmemb);
	b->n += size * nmemb;
	b->p[b->n] = 0;
	return size * nmemb;
}

char *
sx_test_http_get(uint16_t port, const char *path, long *status)
{
	struct body b = { calloc(1, 1), 0 };
	char url[512];
	CURL *c = curl_easy_init();

	cr_assert(c && b.p);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	*status = 0;
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	}
	curl_easy_cleanup(c);
	return b.p;
}

long
sx_test_log_number(struct sx_test_server *s, const char *needle)
{
	const char *p;

	cr_assert(sx_test_wait_log(s, needle, 30000), "no \"%s\" in:\n%s", needle, sx_test_log(s));
	p = strstr(sx_test_log(s), needle);
	return strtol(p + strlen(needle), NULL, 10);
}
