/* upstream.c -- start real (knotd) and fake (fakeup.py) upstream DNS servers on loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing/upstream.h>

struct sx_upstream {
	char dir[256];
	pid_t pid;
	int stdin_fd; /* closing it tells the fake to exit */
	uint16_t port, tls_port;
	char ca[300];
	char log[300];
	char control[300];
	char errlog[300]; /* the fake's stderr, shown when it fails to start */
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static struct sx_upstream *
up_new(void)
{
	struct sx_upstream *u = calloc(1, sizeof(*u));

	cr_assert(u);
	snprintf(u->dir, sizeof(u->dir), "/tmp/sx-up-XXXXXX");
	cr_assert(mkdtemp(u->dir), "mkdtemp: %s", strerror(errno));
	u->stdin_fd = -1;
	return u;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void
make_certs(struct sx_upstream *u)
{
	char cmd[2048], ext[300];

	snprintf(ext, sizeof(ext), "%s/san.cnf", u->dir);
	write_file(ext, "subjectAltName=DNS:dns.test,IP:127.0.0.1\n");
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout ca.key -out ca.pem -days 2 -subj /CN=sx-test-ca && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout srv.key -out srv.csr -subj /CN=dns.test && "
	         "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	         "-out srv.pem -days 2 -extfile san.cnf",
	         u->dir);
	strcat(cmd, " >/dev/null 2>&1");
	cr_assert(system(cmd) == 0, "openssl failed: %s", cmd);
	snprintf(u->ca, sizeof(u->ca), "%s/ca.pem", u->dir);
}

/* The last bytes of @path (a traceback ends with its reason), or "" when unreadable. */
static const char *
tail(const char *path)
{
	static char buf[1024];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		if (fseek(f, -(long)(sizeof(buf) - 1), SEEK_END) != 0) {
			rewind(f);
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static struct sx_upstream *
fake_start(unsigned id, bool tls, const char *ip, uint16_t port)
{
	struct sx_upstream *u = up_new();
	const char *root = getenv("SX_SOURCE_ROOT");
	char script[512], idarg[16], cert[300], key[300], line[64], portarg[16];
	int in[2], out[2];
	ssize_t n;
	size_t got = 0;

	snprintf(script, sizeof(script), "%s/tests/upstream/fakeup.py", root ? root : ".");
	snprintf(u->log, sizeof(u->log), "%s/queries.log", u->dir);
	snprintf(u->control, sizeof(u->control), "%s/mode", u->dir);
	snprintf(u->errlog, sizeof(u->errlog), "%s/stderr", u->dir);
	snprintf(idarg, sizeof(idarg), "%u", id);
	snprintf(portarg, sizeof(portarg), "%u", port);
	snprintf(cert, sizeof(cert), "%s/srv.pem", u->dir);
	snprintf(key, sizeof(key), "%s/srv.key", u->dir);
	if (tls) {
		make_certs(u);
	}
	cr_assert(pipe(in) == 0 && pipe(out) == 0);
	u->pid = fork();
	cr_assert(u->pid >= 0);
	if (u->pid == 0) {
		int err = open(u->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (err >= 0) {
			dup2(err, 2);
		}
		close(in[1]);
		close(out[0]);
		if (tls) {
			execl("/usr/bin/python3", "python3", script, "--id", idarg, "--log", u->log,
			      "--control", u->control, "--addr", ip, "--port", portarg, "--tls",
			      cert, key, (char *)NULL);
		} else {
			execl("/usr/bin/python3", "python3", script, "--id", idarg, "--log", u->log,
			      "--control", u->control, "--addr", ip, "--port", portarg,
			      (char *)NULL);
		}
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	u->stdin_fd = in[1];
	/* The first line has the port(s); python and dnspython take a moment to load. */
	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };

		cr_assert(poll(&pfd, 1, 10000) == 1, "fakeup.py did not start: %s",
		          tail(u->errlog));
		n = read(out[0], line + got, sizeof(line) - 1 - got);
		cr_assert(n > 0, "fakeup.py exited at start: %s", tail(u->errlog));
		got += (size_t)n;
		line[got] = '\0';
	}
	close(out[0]);
	u->port = (uint16_t)atoi(line);
	if (tls) {
		u->tls_port = (uint16_t)atoi(strchr(line, ' ') + 1);
	}
	cr_assert(u->port > 0, "bad port line from fakeup.py: %s", line);
	return u;
}

struct sx_upstream *
sx_up_fake(unsigned id, bool tls)
{
	return fake_start(id, tls, "127.0.0.1", 0);
}

struct sx_upstream *
sx_up_fake_on(unsigned id, const char *ip, uint16_t port)
{
	return fake_start(id, false, ip, port);
}

/* Whether something answers a SOA query for @origin on 127.0.0.1:@port within @ms. */
static bool
answers(uint16_t port, const char *origin, int ms)
{
	uint8_t q[300] = { 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, r[512];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	size_t n = 12;
	const char *p = origin;
	bool ok = false;
	int fd;

	while (*p && strcmp(p, ".") != 0) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = 6; /* SOA */
	q[n++] = 0;
	q[n++] = 1;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(fd >= 0);
	connect(fd, (struct sockaddr *)&to, sizeof(to));
	for (; ms > 0 && !ok; ms -= 100) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (send(fd, q, n, 0) == (ssize_t)n && poll(&pfd, 1, 100) == 1) {
			ok = recv(fd, r, sizeof(r), 0) >= 12 && r[0] == 0x12 && r[1] == 0x34 &&
			     (r[3] & 0xF) == 0;
		}
		if (!ok) {
			sleep_ms(50); /* not up yet (refused at once), or its zone not loaded */
		}
	}
	close(fd);
	return ok;
}

struct sx_upstream *
sx_up_knot(const char *origin, const char *zone_text)
{
	struct sx_upstream *u = up_new();
	char conf[300], zone[300], text[2048], logpath[300];

	u->port = sx_up_free_port();
	snprintf(zone, sizeof(zone), "%s/zone", u->dir);
	write_file(zone, zone_text);
	snprintf(conf, sizeof(conf), "%s/knot.conf", u->dir);
	snprintf(text, sizeof(text),
	         "server:\n"
	         "    rundir: \"%s\"\n"
	         "    listen: 127.0.0.1@%u\n"
	         "    udp-workers: 1\n"
	         "    tcp-workers: 1\n"
	         "    background-workers: 1\n"
	         "database:\n"
	         "    storage: \"%s\"\n"
	         "log:\n"
	         "  - target: stderr\n"
	         "    any: warning\n"
	         "zone:\n"
	         "  - domain: %s\n"
	         "    file: \"%s\"\n"
	         "    journal-content: none\n"
	         "    zonefile-sync: -1\n",
	         u->dir, u->port, u->dir, origin, zone);
	write_file(conf, text);
	snprintf(logpath, sizeof(logpath), "%s/knotd.log", u->dir);
	u->pid = fork();
	cr_assert(u->pid >= 0);
	if (u->pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/usr/sbin/knotd", "knotd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	cr_assert(answers(u->port, origin, 10000), "knotd did not answer on port %u", u->port);
	return u;
}

uint16_t
sx_up_port(const struct sx_upstream *u)
{
	return u->port;
}

uint16_t
sx_up_tls_port(const struct sx_upstream *u)
{
	return u->tls_port;
}

const char *
sx_up_ca(const struct sx_upstream *u)
{
	return u->ca;
}

const char *
sx_up_dir(const struct sx_upstream *u)
{
	return u->dir;
}

void
sx_up_mode(struct sx_upstream *u, const char *mode)
{
	char tmp[320];

	/* Written then renamed: the fake never reads half a word. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", u->control);
	write_file(tmp, mode);
	cr_assert(rename(tmp, u->control) == 0);
}

int
sx_up_count(const struct sx_upstream *u, const char *needle)
{
	FILE *f = fopen(u->log, "r");
	char line[1024];
	int n = 0;

	if (!f) {
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, needle)) {
			n++;
		}
	}
	fclose(f);
	return n;
}

int
sx_up_ports(const struct sx_upstream *u, const char *needle)
{
	FILE *f = fopen(u->log, "r");
	bool seen[65536] = { false };
	char line[1024];
	int n = 0;

	if (!f) {
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *sp = strrchr(line, ' ');
		long port = sp ? strtol(sp + 1, NULL, 10) : -1;

		if (strstr(line, needle) && port > 0 && port < 65536 && !seen[port]) {
			seen[port] = true;
			n++;
		}
	}
	fclose(f);
	return n;
}

void
sx_up_clear(struct sx_upstream *u)
{
	cr_assert(truncate(u->log, 0) == 0 || errno == ENOENT);
}

void
sx_up_stop(struct sx_upstream *u)
{
	char cmd[300];
	int status;

	if (u->stdin_fd >= 0) {
		close(u->stdin_fd);
	}
	if (u->pid > 0) {
		kill(u->pid, SIGTERM);
		for (int waited = 0; waited < 3000; waited += 10) {
			if (waitpid(u->pid, &status, WNOHANG) == u->pid) {
				u->pid = 0;
				break;
			}
			sleep_ms(10);
		}
		if (u->pid > 0) {
			kill(u->pid, SIGKILL);
			waitpid(u->pid, &status, 0);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", u->dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot remove %s\n", u->dir);
	}
	free(u);
}

/* The lowest port the kernel hands out as a connection's source port (ip_local_port_range). */
static unsigned
ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned low = 32768;

	if (f) {
		if (fscanf(f, "%u", &low) != 1) {
			low = 32768;
		}
		fclose(f);
	}
	return low;
}

/*
 * A port below the ephemeral range: a test that names its port now and binds it later
 * (a reload, an upstream started afterwards) loses a port of that range to the first
 * outgoing connection that picks it as its source port, which on a busy machine running
 * other tests happened (a kube-apiserver's connection kept one for a minute). Below it, only
 * another explicit bind can take the port; the draws are random so that concurrent tests
 * rarely try the same one.
 */
uint16_t
sx_up_free_port(void)
{
	unsigned low = ephemeral_low(), first = 10000;

	cr_assert(low > first + 1000, "ip_local_port_range starts at %u: no room below it", low);
	for (int tries = 0; tries < 200; tries++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		uint16_t port = (uint16_t)(first + arc4random_uniform(low - first));
		bool ok;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons(port);
		cr_assert(u >= 0 && t >= 0);
		ok = bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		     bind(t, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(u);
		close(t);
		if (ok) {
			return port;
		}
	}
	cr_assert_fail("no free port");
	return 0;
}
