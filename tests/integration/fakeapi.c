/* fakeapi.c -- run the fake Kubernetes API server (tests/fakeapi/fakeapi.py) for tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <curl/curl.h>

#include <sextant/testing/fakeapi.h>

struct sx_fakeapi {
	char dir[256];
	char url[64];
	pid_t pid;
	uint16_t port;
	int hold; /* a socket bound to the port while no fake listens on it, or -1 */
	bool tls, client_cert;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Keep @f's port while no fake listens on it (before a launch, after a kill).
 * A free port is one the kernel also hands out for the ephemeral end of any
 * outgoing connection on the machine; one that takes it, or leaves it in
 * TIME_WAIT, makes the fake's own bind fail ("Address already in use"). The
 * kernel never picks a port that a socket was bound to; bound without
 * listening, it refuses connections as a free port does, and with
 * SO_REUSEADDR on both sides the fake can still bind it.
 */
static void
hold_port(struct sx_fakeapi *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(f->port) };
	int one = 1, fd;

	if (f->hold >= 0 || f->port == 0 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd); /* taken already: the launch will say so */
		return;
	}
	f->hold = fd;
}

static void
release_port(struct sx_fakeapi *f)
{
	if (f->hold >= 0) {
		close(f->hold);
		f->hold = -1;
	}
}

static const char *
source_root(void)
{
	const char *root = getenv("SX_SOURCE_ROOT");

	return root ? root : ".";
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	if (!f) {
		return strdup("");
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	cr_assert(text);
	if (n > 0 && fread(text, 1, (size_t)n, f) != (size_t)n) {
		text[0] = '\0';
	}
	fclose(f);
	return text;
}

static void
launch(struct sx_fakeapi *f, const struct sx_fakeapi_opts *o)
{
	char portfile[300], logpath[300], port[16], rv[16], load[512];
	char crt[300], key[300], ca[300], script[512];
	const char *argv[48];
	int n = 0;

	snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
	snprintf(logpath, sizeof(logpath), "%s/fakeapi.log", f->dir);
	snprintf(crt, sizeof(crt), "%s/certs/server.crt", f->dir);
	snprintf(key, sizeof(key), "%s/certs/server.key", f->dir);
	snprintf(ca, sizeof(ca), "%s/certs/ca.crt", f->dir);
	snprintf(port, sizeof(port), "%u", f->port);
	snprintf(script, sizeof(script), "%s/tests/fakeapi/fakeapi.py", source_root());
	unlink(portfile);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = script;
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--port";
	argv[n++] = port;
	/* Bookmarks only on demand: a test decides when the stream carries one. */
	argv[n++] = "--bookmark-interval";
	argv[n++] = "0";
	if (f->tls) {
		argv[n++] = "--tls-cert";
		argv[n++] = crt;
		argv[n++] = "--tls-key";
		argv[n++] = key;
	}
	if (o->client_ca || o->require_client_cert) {
		argv[n++] = "--client-ca";
		argv[n++] = ca;
	}
	if (o->require_client_cert) {
		argv[n++] = "--require-client-cert";
	}
	if (o->token) {
		argv[n++] = "--token";
		argv[n++] = o->token;
	}
	if (o->token_file) {
		argv[n++] = "--token-file";
		argv[n++] = o->token_file;
	}
	if (o->load) {
		if (strcmp(o->load, "basic") == 0) {
			snprintf(load, sizeof(load), "%s/tests/fakeapi/data/basic.json",
			         source_root());
		} else {
			snprintf(load, sizeof(load), "%s", o->load);
		}
		argv[n++] = "--load";
		argv[n++] = load;
	}
	if (o->initial_rv) {
		snprintf(rv, sizeof(rv), "%d", o->initial_rv);
		argv[n++] = "--initial-rv";
		argv[n++] = rv;
	}
	for (int i = 0; i < 8 && o->extra[i]; i++) {
		argv[n++] = o->extra[i];
	}
	argv[n] = NULL;
	f->pid = fork();
	cr_assert(f->pid >= 0);
	if (f->pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	/* Python takes over a second to start on a loaded machine. */
	for (int waited = 0; waited < 20000; waited += 20) {
		FILE *pf = fopen(portfile, "r");
		int status, p = 0;

		if (pf) {
			int ok = fscanf(pf, "%d", &p);

			fclose(pf);
			if (ok == 1 && p > 0) {
				release_port(f); /* the fake listens on it now */
				f->port = (uint16_t)p;
				snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%u",
				         f->tls ? "https" : "http", f->port);
				return;
			}
		}
		if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
			char *log = slurp(logpath);

			f->pid = 0;
			cr_assert_fail("fakeapi exited at start (status %d):\n%s", status, log);
		}
		sleep_ms(20);
	}
	cr_assert_fail("fakeapi did not start within 20 s");
}

struct sx_fakeapi *
sx_fakeapi_new(const struct sx_fakeapi_opts *o)
{
	struct sx_fakeapi *f = calloc(1, sizeof(*f));
	char cmd[1024];

	cr_assert(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sx-fakeapi-XXXXXX");
	cr_assert(mkdtemp(f->dir), "mkdtemp: %s", strerror(errno));
	f->tls = o->tls;
	f->client_cert = o->tls;
	if (o->tls) {
		snprintf(cmd, sizeof(cmd),
		         "sh '%s/tests/fakeapi/gen-certs.sh' '%s/certs' >/dev/null 2>&1",
		         source_root(), f->dir);
		cr_assert(system(cmd) == 0, "gen-certs.sh failed: %s", cmd);
	}
	f->port = o->port;
	f->hold = -1;
	hold_port(f);
	snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%u", f->tls ? "https" : "http", f->port);
	return f;
}

void
sx_fakeapi_launch(struct sx_fakeapi *f, const struct sx_fakeapi_opts *o)
{
	sx_fakeapi_kill(f);
	launch(f, o);
}

struct sx_fakeapi *
sx_fakeapi_start(const struct sx_fakeapi_opts *o)
{
	struct sx_fakeapi *f = sx_fakeapi_new(o);

	launch(f, o);
	return f;
}

void
sx_fakeapi_kill(struct sx_fakeapi *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
		hold_port(f);
	}
}

void
sx_fakeapi_stop(struct sx_fakeapi *f)
{
	char cmd[300];

	if (!f) {
		return;
	}
	sx_fakeapi_kill(f);
	release_port(f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot remove %s\n", f->dir);
	}
	free(f);
}

uint16_t
sx_fakeapi_port(const struct sx_fakeapi *f)
{
	return f->port;
}

const char *
sx_fakeapi_url(const struct sx_fakeapi *f)
{
	return f->url;
}

const char *
sx_fakeapi_dir(const struct sx_fakeapi *f)
{
	return f->dir;
}

const char *
sx_fakeapi_cert(const struct sx_fakeapi *f, const char *name)
{
	static char path[400];

	snprintf(path, sizeof(path), "%s/certs/%s", f->dir, name);
	return path;
}

char *
sx_fakeapi_log(const struct sx_fakeapi *f)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/fakeapi.log", f->dir);
	return slurp(path);
}

struct body {
	char *p;
	size_t n, cap;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;

	/* Doubling: megabytes come in 4 KiB chunks, and a copy per chunk is slow under ASan. */
	if (b->n + size * nmemb + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *grown;

		while (cap < b->n + size * nmemb + 1) {
			cap *= 2;
		}
		if (!(grown = realloc(b->p, cap))) {
			return 0;
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, size * nmemb);
	b->n += size * nmemb;
	b->p[b->n] = 0;
	return size * nmemb;
}

long
sx_fakeapi_ctl(struct sx_fakeapi *f, const char *method, const char *path, const char *body,
               char **reply)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct body b = { calloc(1, 1), 0 };
	CURL *c = curl_easy_init();
	char url[1024], ca[300], crt[300], key[300];
	long status = 0;
	CURLcode rc;

	cr_assert(c && h && b.p);
	snprintf(url, sizeof(url), "%s%s", f->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	if (strcmp(method, "GET") == 0 && !body) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	if (f->tls) {
		snprintf(ca, sizeof(ca), "%s/certs/ca.crt", f->dir);
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	}
	if (f->client_cert) {
		snprintf(crt, sizeof(crt), "%s/certs/client.crt", f->dir);
		snprintf(key, sizeof(key), "%s/certs/client.key", f->dir);
		curl_easy_setopt(c, CURLOPT_SSLCERT, crt);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	/* A 10 MB object through a loaded fake (and watchers) can take tens of seconds. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	cr_assert(rc == CURLE_OK, "fakeapi %s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (reply) {
		*reply = b.p;
	} else {
		free(b.p);
	}
	return status;
}

void
sx_fakeapi_do(struct sx_fakeapi *f, const char *method, const char *path, const char *body)
{
	char *reply = NULL;
	long status = sx_fakeapi_ctl(f, method, path, body, &reply);

	cr_assert(status == 200 || status == 201, "fakeapi %s %s: HTTP %ld: %s", method, path,
	          status, reply);
	free(reply);
}

bool
sx_fakeapi_wait_watches(struct sx_fakeapi *f, const char *path, int n, bool caught_up, int secs)
{
	char q[512];

	snprintf(q, sizeof(q), "/_fake/watches?path=%s&min=%d&timeout=%d%s", path, n, secs,
	         caught_up ? "&caughtup=1" : "");
	return sx_fakeapi_ctl(f, "GET", q, NULL, NULL) == 200;
}
