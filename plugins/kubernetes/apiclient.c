/* apiclient.c -- asynchronous GETs to the API server: libcurl multi on a libevent loop. */
#include "apiclient.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include <sextant/error.h>
#include <sextant/io.h>
#include <sextant/log.h>
#include <sextant/plugin.h>
#include <sextant/time.h>

#include "kubeconfig.h"
#include "listsplit.h"

/*
 * The hiperfifo pattern: libcurl says which sockets it waits on and when its
 * next timeout is (socket and timer callbacks); libevent tells libcurl when a
 * socket is ready or the timer fires (curl_multi_socket_action); finished
 * transfers are then collected with curl_multi_info_read. Nothing blocks: name
 * resolution runs on libcurl's resolver thread.
 */

#define DEFAULT_MAX_LINE (16u << 20) /* one watch event or list item; API objects are < 1.5 MB */
/* One LIST response. Streamed, it costs time, not memory: a million objects as the API
 * server writes them take about a gigabyte. */
#define DEFAULT_MAX_BODY ((size_t)4 << 30)
#define MAX_ERROR_BODY   (64u << 10) /* an error reply, kept for its Status message */

struct sock {
	struct k8s_api *api;
	struct sx_io *io;
	struct sock *prev, *next;
};

/* The head hook's pause goes straight through the splitter. */
_Static_assert(K8S_CALL_PAUSE == K8S_SPLIT_PAUSE, "one pause value");

struct k8s_call {
	struct k8s_api *api;
	struct k8s_call *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	enum k8s_call_mode mode;
	const struct k8s_call_ops *ops;
	void *arg;
	char *buf; /* the body, the unfinished line, or the error reply */
	size_t len, cap;
	struct k8s_split *split; /* ITEMS mode */
	size_t received;         /* ITEMS mode: bytes of the body so far */
	size_t skip;             /* ITEMS mode: bytes the split took before it paused */
	bool paused;             /* by the head hook, until k8s_call_resume() */
	bool status_known, status_ok;
	bool counted;   /* in the stats already */
	uint64_t t0_ns; /* start, for the stats */
	int stop;       /* set by the write callback to end the transfer */
	bool waiting;   /* held back by a limit of k8s_api_set_rate(), not started yet */
	bool inflight;  /* counts in k8s_api.inflight */
	char curl_err[CURL_ERROR_SIZE];
	char msg[512];
};

struct k8s_api {
	struct k8s_conn *conn;
	CURLM *multi;
	struct sx_timer *timer;
	struct k8s_call *calls;
	struct sock *socks;
	size_t max_line, max_body;
	char token_err[256]; /* the last token-file error logged, to log each once */
	struct k8s_rest_stats *stats;
	enum k8s_http http;
	long http_seen; /* CURL_HTTP_VERSION_* of the last response, to log each change once */
	/* k8s_api_set_rate(): a token bucket and a cap on LISTs in flight; 0: none. */
	double qps, tokens;
	unsigned burst, max_inflight, inflight, nwaiting;
	uint64_t refilled_ns;
	struct sx_timer *admit; /* starts waiting calls when a token or a slot frees up */
};

const double k8s_rest_bounds[K8S_REST_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* Count @c under HTTP status @status (0: none), once. */
static void
count(struct k8s_call *c, long status)
{
	struct k8s_rest_stats *st = c->api->stats;
	unsigned i;

	if (!st || c->counted) {
		return;
	}
	c->counted = true;
	for (i = 0; i < st->ncodes && st->codes[i].code != (int)status; i++) {
	}
	if (i == K8S_REST_CODES) {
		return;
	}
	if (i == st->ncodes) {
		st->codes[st->ncodes++].code = (int)status;
	}
	st->codes[i].n++;
}

static void
call_free(struct k8s_call *c)
{
	struct k8s_api *api = c->api;

	if (c->prev) {
		c->prev->next = c->next;
	} else {
		api->calls = c->next;
	}
	if (c->next) {
		c->next->prev = c->prev;
	}
	api->nwaiting -= c->waiting;
	if (c->inflight) {
		api->inflight--;
		/* Not from here: this may run inside libcurl, which must not be re-entered. */
		sx_timer_once(api->admit, 0);
	}
	curl_multi_remove_handle(api->multi, c->easy); /* fine for one never added */
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	k8s_split_free(c->split);
	free(c->buf);
	free(c);
}

static int
reserve(struct k8s_call *c, size_t more)
{
	size_t cap = c->cap ? c->cap : 4096;
	char *nb;

	if (c->len + more + 1 <= c->cap) {
		return 0;
	}
	while (cap < c->len + more + 1) {
		cap *= 2;
	}
	if (!(nb = realloc(c->buf, cap))) {
		return -ENOMEM;
	}
	c->buf = nb;
	c->cap = cap;
	return 0;
}

/* Deliver the complete lines in the buffer; keep the unfinished tail. */
static int
split_lines(struct k8s_call *c)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(c->buf + start, '\n', c->len - start))) {
		size_t end = (size_t)(nl - c->buf), n = end - start;
		*nl = '\0';
		if (n && c->buf[end - 1] == '\r') {
			c->buf[end - 1] = '\0';
			n--;
		}
		if (n > c->api->max_line) {
			return -EMSGSIZE;
		}
		if (n && c->ops->line(c->arg, c->buf + start, n)) {
			return -ECANCELED;
		}
		start = end + 1;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len > c->api->max_line) {
		return -EMSGSIZE;
	}
	return 0;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct k8s_call *c = userdata;
	size_t n = size * nmemb;
	long status = 0;

	if (!c->status_known) {
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
		c->status_known = true;
		c->status_ok = status >= 200 && status < 300;
	}
	if (!c->status_ok) {
		/* Keep the start of an error reply: its Status says why. */
		size_t keep = c->len < MAX_ERROR_BODY ? MAX_ERROR_BODY - c->len : 0;
		keep = keep < n ? keep : n;
		if (keep && !reserve(c, keep)) {
			memcpy(c->buf + c->len, ptr, keep);
			c->len += keep;
		}
		return n;
	}
	if (c->mode == K8S_CALL_ITEMS) {
		size_t skip = c->skip < n ? c->skip : n;
		int r;

		/* After a pause libcurl hands the same bytes over again: skip those taken. */
		c->skip -= skip;
		if (skip == n) {
			return n;
		}
		if (!skip) {
			if (c->received + n > c->api->max_body) {
				c->stop = -EMSGSIZE;
				return 0;
			}
			c->received += n;
		}
		if ((r = k8s_split_feed(c->split, ptr + skip, n - skip)) == K8S_SPLIT_PAUSE) {
			size_t taken = k8s_split_taken(c->split);
			long version = 0;

			curl_easy_getinfo(c->easy, CURLINFO_HTTP_VERSION, &version);
			if (version < CURL_HTTP_VERSION_2_0) {
				c->skip = skip + taken;
				c->paused = true;
				return CURL_WRITEFUNC_PAUSE;
			}
			/*
			 * HTTP/2: pausing a stream is where libcurl 7.88 (Debian
			 * 12's) is weakest. A resumed stream may not get what it
			 * had buffered until more bytes come on the connection
			 * (curl #10988, fixed in 8.1). The call goes on instead,
			 * and the loop asks for the next page after this callback.
			 */
			r = k8s_split_feed(c->split, ptr + skip + taken, n - skip - taken);
		}
		if (r) {
			/* The item hook's own reason to stop, or the splitter's. */
			c->stop = -ECANCELED;
			if (r == -EMSGSIZE || r == -EPROTO || r == -ENOMEM) {
				c->stop = r;
				snprintf(c->msg, sizeof(c->msg), "invalid JSON: %s",
				         k8s_split_error(c->split));
			}
			return 0;
		}
		return n;
	}
	if (c->mode == K8S_CALL_BODY && c->len + n > c->api->max_body) {
		c->stop = -EMSGSIZE;
		return 0;
	}
	if (reserve(c, n)) {
		c->stop = -ENOMEM;
		return 0;
	}
	memcpy(c->buf + c->len, ptr, n);
	c->len += n;
	if (c->mode == K8S_CALL_LINES && (c->stop = split_lines(c))) {
		return 0;
	}
	return n;
}

/* Say which HTTP version the API server speaks: once, and again when it changes. */
static void
protocol_seen(struct k8s_api *api, CURL *easy)
{
	long v = 0;

	curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &v);
	if (v && v != api->http_seen) {
		api->http_seen = v;
		sx_plog(SX_LOG_INFO, "kubernetes", "the API server answers over %s",
		        v == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
		        : v == CURL_HTTP_VERSION_1_1 ? "HTTP/1.1"
		        : v == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
		                                     : "HTTP/3");
	}
}

/* At the end of the response's headers the call counts: a watch may send nothing for minutes. */
static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct k8s_call *c = userdata;
	size_t n = size * nmemb;
	long status = 0;

	if (n == 0 || ptr[0] == '\r' || ptr[0] == '\n') {
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200) {
			count(c, status); /* not an interim 1xx */
			protocol_seen(c->api, c->easy);
		}
	}
	return n;
}

static int
curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* The message of an error reply: its Status message when it is one. */
static void
error_reply(struct k8s_call *c, long status, struct k8s_call_result *res)
{
	json_t *st = NULL, *m, *reason;

	if (c->len) {
		c->buf[c->len] = '\0';
		st = json_loadb(c->buf, c->len, 0, NULL);
	}
	m = json_object_get(st, "message");
	reason = json_object_get(st, "reason");
	if (json_is_string(m) && *json_string_value(m)) {
		/* client-go's words, then the status: 401 and 403 tell different stories. */
		snprintf(c->msg, sizeof(c->msg), "%.400s (HTTP %ld%s%.40s)", json_string_value(m),
		         status, json_is_string(reason) ? " " : "",
		         json_is_string(reason) ? json_string_value(reason) : "");
	} else if (c->len) {
		/* Not a Status (a proxy's page?): its first line says enough. */
		size_t n = strcspn(c->buf, "\r\n");
		snprintf(c->msg, sizeof(c->msg), "HTTP %ld: %.*s", status, (int)(n < 200 ? n : 200),
		         c->buf);
	} else {
		snprintf(c->msg, sizeof(c->msg), "HTTP %ld", status);
	}
	if (json_is_string(reason)) {
		/* The reason is copied after the message, in the same buffer. */
		size_t used = strlen(c->msg) + 1;
		snprintf(c->msg + used, sizeof(c->msg) - used, "%s", json_string_value(reason));
		res->reason = c->msg + used;
	}
	json_decref(st);
	res->code = -EPROTO;
	res->error = c->msg;
	res->cause = c->msg;
}

static void
finish(struct k8s_call *c, CURLcode rc)
{
	struct k8s_call_result res = { .reason = "" };

	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.status);
	count(c, res.status);
	if (c->api->stats && c->mode != K8S_CALL_LINES) {
		struct k8s_rest_stats *st = c->api->stats;
		double s = (double)(sx_now_ns() - c->t0_ns) / 1e9;
		unsigned b = 0;

		while (b < K8S_REST_BUCKETS && s > k8s_rest_bounds[b]) {
			b++;
		}
		st->lat[b]++;
		st->lat_sum += s;
	}
	if (c->stop) {
		res.code = c->stop;
		/* A list the splitter refused has its message already. */
		if (!c->msg[0] && c->stop == -EMSGSIZE) {
			snprintf(c->msg, sizeof(c->msg), "%s longer than %zu bytes",
			         c->mode == K8S_CALL_LINES ? "a watch event is" : "the reply is",
			         c->mode == K8S_CALL_LINES ? c->api->max_line : c->api->max_body);
		} else if (!c->msg[0]) {
			snprintf(c->msg, sizeof(c->msg), "%s", strerror(-c->stop));
		}
		res.error = c->msg;
		res.cause = c->msg;
	} else if (rc != CURLE_OK) {
		res.code = curl_errno(rc);
		res.error = c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc);
		res.cause = curl_easy_strerror(rc);
	} else if (res.status < 200 || res.status >= 300) {
		error_reply(c, res.status, &res);
	} else if (c->mode == K8S_CALL_LINES) {
		/* A last event without its newline still counts. */
		if (c->len) {
			c->buf[c->len] = '\0';
			if (c->ops->line(c->arg, c->buf, c->len)) {
				res.code = -ECANCELED;
				res.error = res.cause = strerror(ECANCELED);
			}
		}
	} else if (c->mode == K8S_CALL_ITEMS) {
		if (k8s_split_end(c->split, &res.body, &res.len)) {
			snprintf(c->msg, sizeof(c->msg), "invalid JSON: %s",
			         k8s_split_error(c->split));
			res.code = -EPROTO;
			res.error = res.cause = c->msg;
		}
	} else {
		if (reserve(c, 0)) {
			res.code = -ENOMEM;
			res.error = res.cause = strerror(ENOMEM);
		} else {
			c->buf[c->len] = '\0';
			res.body = c->buf;
			res.len = c->len;
		}
	}
	c->ops->done(c->arg, &res);
	call_free(c);
}

static void
check_done(struct k8s_api *api)
{
	CURLMsg *m;
	char *priv;
	int left;

	/* A done hook may add or cancel calls: read one message at a time. */
	while ((m = curl_multi_info_read(api->multi, &left))) {
		if (m->msg != CURLMSG_DONE) {
			continue;
		}
		CURLcode rc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		finish((struct k8s_call *)(void *)priv, rc);
	}
}

static void
event_cb(int fd, unsigned what, void *arg)
{
	struct k8s_api *api = arg;
	int running;
	int action = (what & SX_IO_READ ? CURL_CSELECT_IN : 0) |
	             (what & SX_IO_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(api->multi, fd, action, &running);
	check_done(api);
}

static void
timer_cb(void *arg)
{
	struct k8s_api *api = arg;
	int running;

	curl_multi_socket_action(api->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(api);
}

static int
multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct k8s_api *api = userp;

	if (timeout_ms < 0) {
		sx_timer_cancel(api->timer);
		return 0;
	}
	return sx_timer_once(api->timer, (uint64_t)timeout_ms);
}

static void
sock_free(struct sock *sk)
{
	struct k8s_api *api = sk->api;

	if (sk->prev) {
		sk->prev->next = sk->next;
	} else {
		api->socks = sk->next;
	}
	if (sk->next) {
		sk->next->prev = sk->prev;
	}
	sx_io_free(sk->io);
	free(sk);
}

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct k8s_api *api = userp;
	struct sock *sk = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			sock_free(sk);
			curl_multi_assign(api->multi, s, NULL);
		}
		return 0;
	}
	if (!sk) {
		if (!(sk = calloc(1, sizeof(*sk)))) {
			return -1;
		}
		sk->api = api;
		if (!(sk->io = sx_io_new(s, 0, event_cb, api))) {
			free(sk);
			return -1;
		}
		sk->next = api->socks;
		if (sk->next) {
			sk->next->prev = sk;
		}
		api->socks = sk;
		curl_multi_assign(api->multi, s, sk);
	}
	return sx_io_set(sk->io, (what & CURL_POLL_IN ? SX_IO_READ : 0) |
	                                 (what & CURL_POLL_OUT ? SX_IO_WRITE : 0)) < 0
	               ? -1
	               : 0;
}

int
k8s_api_global_init(char *err, size_t errlen)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return SX_EINVAL;
	}
	return 0;
}

void
k8s_api_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Refill the bucket for the time gone by: whether it holds a token, else in how long it will. */
static bool
token_ready(struct k8s_api *api, uint64_t *wait_ms)
{
	uint64_t now = sx_now_ns();

	if (api->qps <= 0) {
		return true;
	}
	api->tokens += (double)(now - api->refilled_ns) / 1e9 * api->qps;
	if (api->tokens > api->burst) {
		api->tokens = api->burst;
	}
	api->refilled_ns = now;
	if (api->tokens >= 1) {
		return true;
	}
	*wait_ms = (uint64_t)((1 - api->tokens) / api->qps * 1000) + 1;
	return false;
}

/*
 * Start waiting call @c if the limits allow. @return 1 when started, 0 when it
 * must wait (with @wait_ms set when for a token), or -ENOMEM.
 */
static int
try_start(struct k8s_api *api, struct k8s_call *c, uint64_t *wait_ms)
{
	bool counted = c->mode != K8S_CALL_LINES;

	if (counted && api->max_inflight && api->inflight >= api->max_inflight) {
		return 0; /* call_free() of one in flight looks again */
	}
	if (!token_ready(api, wait_ms)) {
		return 0;
	}
	if (curl_multi_add_handle(api->multi, c->easy) != CURLM_OK) {
		return -ENOMEM;
	}
	api->tokens -= api->qps > 0;
	api->nwaiting--;
	c->waiting = false;
	c->inflight = counted;
	api->inflight += counted;
	c->t0_ns = sx_now_ns(); /* the latency metric times the request, not its wait */
	return 1;
}

/* Start the waiting calls, oldest first, as far as the limits allow. */
static void
admit_cb(void *arg)
{
	struct k8s_api *api = arg;
	struct k8s_call *c = api->calls;
	uint64_t wait_ms = 0;

	while (c && c->next) {
		c = c->next;
	}
	for (; c && api->nwaiting > 0; c = c->prev) {
		int r = c->waiting ? try_start(api, c, &wait_ms) : 1;

		if (r < 0) {
			/* Its done hook may start or cancel calls: go on from a fresh walk. */
			finish(c, CURLE_OUT_OF_MEMORY);
			sx_timer_once(api->admit, 0);
			return;
		}
		if (wait_ms) {
			break; /* no token: the later ones wait behind it */
		}
	}
	if (wait_ms) {
		sx_timer_once(api->admit, wait_ms);
	}
}

void
k8s_api_set_rate(struct k8s_api *api, double qps, unsigned burst, unsigned max_inflight)
{
	api->qps = qps;
	api->burst = burst > 0 ? burst : 1;
	api->tokens = api->burst;
	api->refilled_ns = sx_now_ns();
	api->max_inflight = max_inflight;
}

int
k8s_api_new(struct k8s_api **out, struct k8s_conn *conn, char *err, size_t errlen)
{
	struct k8s_api *api;

	*out = NULL;
	if (!(api = calloc(1, sizeof(*api)))) {
		goto fail;
	}
	api->conn = conn;
	api->max_line = DEFAULT_MAX_LINE;
	api->max_body = DEFAULT_MAX_BODY;
	if (!(api->multi = curl_multi_init())) {
		goto fail_api;
	}
	if (!(api->timer = sx_timer_new(timer_cb, api))) {
		goto fail_multi;
	}
	if (!(api->admit = sx_timer_new(admit_cb, api))) {
		goto fail_timer;
	}
	curl_multi_setopt(api->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(api->multi, CURLMOPT_SOCKETDATA, api);
	curl_multi_setopt(api->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	curl_multi_setopt(api->multi, CURLMOPT_TIMERDATA, api);
	/* All watches share one HTTP/2 connection when the server speaks it. */
	curl_multi_setopt(api->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	*out = api;
	return 0;
fail_timer:
	sx_timer_free(api->timer);
fail_multi:
	curl_multi_cleanup(api->multi);
fail_api:
	free(api);
fail:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void
k8s_api_free(struct k8s_api *api)
{
	if (!api) {
		return;
	}
	while (api->calls) {
		call_free(api->calls);
	}
	curl_multi_cleanup(api->multi);
	while (api->socks) {
		sock_free(api->socks);
	}
	sx_timer_free(api->timer);
	sx_timer_free(api->admit);
	free(api);
}

void
k8s_api_set_stats(struct k8s_api *api, struct k8s_rest_stats *stats)
{
	const char *h = strstr(api->conn->server, "://");

	api->stats = stats;
	if (stats) {
		h = h ? h + 3 : api->conn->server;
		snprintf(stats->host, sizeof(stats->host), "%.*s", (int)strcspn(h, "/?#"), h);
	}
}

void
k8s_api_set_http(struct k8s_api *api, enum k8s_http http)
{
	api->http = http;
}

void
k8s_api_set_limits(struct k8s_api *api, size_t max_line, size_t max_body)
{
	api->max_line = max_line;
	api->max_body = max_body;
}

static void
set_tls(CURL *e, const struct k8s_conn *conn)
{
	if (conn->ca.data) {
		struct curl_blob b = { conn->ca.data, conn->ca.len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	} else if (conn->ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, conn->ca_file);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (conn->cert.data) {
		struct curl_blob b = { conn->cert.data, conn->cert.len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (conn->cert_file) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, conn->cert_file);
	}
	if (conn->key.data) {
		struct curl_blob b = { conn->key.data, conn->key.len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (conn->key_file) {
		curl_easy_setopt(e, CURLOPT_SSLKEY, conn->key_file);
	}
	if (conn->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* The Authorization header, with a token re-read now if it comes from a file. */
static struct curl_slist *
auth_header(struct k8s_api *api, struct curl_slist *h)
{
	char why[256], *line;
	const char *tok;
	struct curl_slist *nh;

	if (k8s_conn_token(api->conn, &tok, why, sizeof(why))) {
		if (strcmp(why, api->token_err)) {
			sx_plog(SX_LOG_WARNING, "kubernetes", "token file %s: %s%s",
			        api->conn->token_file, why,
			        tok ? " (using the last token read)" : "");
			snprintf(api->token_err, sizeof(api->token_err), "%s", why);
		}
	} else {
		api->token_err[0] = '\0';
	}
	if (!tok) {
		return h;
	}
	if (asprintf(&line, "Authorization: Bearer %s", tok) < 0) {
		return NULL;
	}
	nh = curl_slist_append(h, line);
	explicit_bzero(line, strlen(line));
	free(line);
	return nh;
}

int
k8s_api_get(struct k8s_api *api, const char *path, enum k8s_call_mode mode, long timeout_s,
            const struct k8s_call_ops *ops, void *arg, struct k8s_call **out)
{
	struct k8s_call *c = calloc(1, sizeof(*c));
	struct curl_slist *h;
	char *url = NULL;
	char agent[64];
	uint64_t wait_ms = 0;
	CURL *e;
	int r;

	if (out) {
		*out = NULL;
	}
	if (!c) {
		return -ENOMEM;
	}
	c->api = api;
	c->mode = mode;
	c->ops = ops;
	c->arg = arg;
	c->t0_ns = sx_now_ns();
	if (mode == K8S_CALL_ITEMS &&
	    k8s_split_new(&c->split, api->max_line, ops->item, ops->head, arg)) {
		goto fail_call;
	}
	if (!(c->easy = e = curl_easy_init())) {
		goto fail_call;
	}
	if (!(c->headers = curl_slist_append(NULL, "Accept: application/json"))) {
		goto fail_easy;
	}
	if (!(h = auth_header(api, c->headers))) {
		goto fail_easy;
	}
	c->headers = h;
	if (asprintf(&url, "%s%s", api->conn->server, path) < 0) {
		goto fail_easy;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	snprintf(agent, sizeof(agent), "sextant/%s", sx_version());
	curl_easy_setopt(e, CURLOPT_USERAGENT, agent); /* curl keeps a copy */
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	if (api->http != K8S_HTTP_ANY) {
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		                 api->http == K8S_HTTP_2 ? (long)CURL_HTTP_VERSION_2_0
		                                         : (long)CURL_HTTP_VERSION_1_1);
	}
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* A dead peer behind a silent watch is found by TCP keepalive. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	if (timeout_s > 0) {
		curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	}
	if (mode != K8S_CALL_LINES) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	set_tls(e, api->conn);
	c->next = api->calls;
	if (c->next) {
		c->next->prev = c;
	}
	api->calls = c;
	c->waiting = true;
	/* Behind calls already waiting, it waits its turn; else it may start at once. */
	r = ++api->nwaiting == 1 ? try_start(api, c, &wait_ms) : 0;
	if (r < 0) {
		call_free(c);
		return r;
	}
	if (r == 0) {
		sx_timer_once(api->admit, wait_ms);
	}
	if (out) {
		*out = c;
	}
	return 0;
fail_easy:
	curl_slist_free_all(c->headers);
	curl_easy_cleanup(e);
fail_call:
	k8s_split_free(c->split);
	free(c);
	return -ENOMEM;
}

void
k8s_call_resume(struct k8s_call *call)
{
	if (call->paused) {
		call->paused = false;
		curl_easy_pause(call->easy, CURLPAUSE_CONT);
	}
}

void
k8s_call_cancel(struct k8s_call *call)
{
	if (call) {
		call_free(call);
	}
}

void
k8s_query_escape(char *buf, size_t size, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
		             ch == '~';
		if (*len + (plain ? 1 : 3) >= size) {
			break;
		}
		if (plain) {
			buf[(*len)++] = (char)ch;
		} else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[ch >> 4];
			buf[(*len)++] = hex[ch & 15];
		}
	}
	if (*len < size) {
		buf[*len] = '\0';
	}
}
