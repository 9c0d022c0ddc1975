/* apiclient.h -- asynchronous GETs to the API server: libcurl multi on the calling thread's loop. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct k8s_conn;

/** One API server: its connection settings and a libcurl multi handle. */
struct k8s_api;
/** One GET in flight. */
struct k8s_call;

enum k8s_call_mode {
	K8S_CALL_BODY, /* hand over the whole body when done */
	K8S_CALL_ITEMS, /* hand over each element of "items" as it arrives, the rest when done (LIST) */
	K8S_CALL_LINES, /* hand over each newline-terminated line as it arrives (WATCH) */
};

/** How a call ended. */
struct k8s_call_result {
	int code;           /* 0: a response with a 2xx status; otherwise negative */
	long status;        /* HTTP status, 0 when none arrived */
	const char *error;  /* code != 0: why (the API's Status message, or libcurl's) */
	const char *cause;  /* code != 0: the same without details that change between
	                       attempts (ports, timings), to tell one failure from another */
	const char *reason; /* the API's Status reason ("Expired", "Forbidden"), or "" */
	char *body;         /* code 0: BODY mode: the body, NUL-terminated; may be edited.
	                       ITEMS mode: the document with "items" emptied, likewise */
	size_t len;
};

struct k8s_call_ops {
	/**
	 * LINES mode: one line, without its '\n', NUL-terminated; may be edited.
	 * Empty lines are skipped. @return 0 to go on, non-zero to end the call
	 * (done then reports -ECANCELED). Runs inside libcurl: must not start
	 * or cancel calls.
	 */
	int (*line)(void *arg, char *line, size_t len);
	/**
	 * ITEMS mode: one element of the body's top-level "items" array, a JSON
	 * object of @len bytes, not NUL-terminated, valid until this returns.
	 * @return 0 to go on, non-zero to end the call (done then reports
	 * -ECANCELED). Runs inside libcurl, like line.
	 */
	int (*item)(void *arg, const char *json, size_t len);
	/**
	 * ITEMS mode, optional: the body before its items, once, as a JSON
	 * document with "items" empty (see k8s_split_head_fn); on a LIST whose
	 * metadata comes first, it holds the continue token while the page's
	 * items are still on their way. Returns and runs like item; or
	 * K8S_CALL_PAUSE: the call takes nothing more until k8s_call_resume(),
	 * so that the loop can start another call first. Over HTTP/1.x only:
	 * over HTTP/2 the call goes on (k8s_call_resume() is then a no-op).
	 */
	int (*head)(void *arg, const char *json, size_t len);
	/** The call ended; it is freed when this returns. Runs from the event loop. */
	void (*done)(void *arg, const struct k8s_call_result *res);
};

/**
 * libcurl's process-wide state (OpenSSL's with it), set up once for every
 * client the process will have: the plugin's init and fini hooks.
 * @return 0, or SX_EINVAL with a reason in @err.
 */
int k8s_api_global_init(char *err, size_t errlen);
void k8s_api_global_cleanup(void);

/**
 * @param conn borrowed; must outlive the client. k8s_api_global_init() ran.
 * @return 0 and a new client in *@out, or -ENOMEM / SX_EINVAL with a message.
 */
int k8s_api_new(struct k8s_api **out, struct k8s_conn *conn, char *err, size_t errlen);

/** Cancels every call still in flight, without calling their done hooks. */
void k8s_api_free(struct k8s_api *api);

#define K8S_REST_CODES   16 /* distinct HTTP statuses counted; more are not */
#define K8S_REST_BUCKETS 11 /* Prometheus's default buckets, 0.005 s to 10 s */

/*
 * What CoreDNS's client-go metrics count: every call by its HTTP status (0 when
 * no response came, "<error>" in the metric), and the duration of LISTs (client-go
 * times requests, not watches). Written by the client on the control thread.
 */
struct k8s_rest_stats {
	char host[256]; /* host[:port] of the server URL */
	struct {
		int code;
		uint64_t n;
	} codes[K8S_REST_CODES];
	unsigned ncodes;
	uint64_t lat[K8S_REST_BUCKETS + 1]; /* per bucket, then above the last bound */
	double lat_sum;
};

/** The bucket bounds of k8s_rest_stats.lat, in seconds. */
extern const double k8s_rest_bounds[K8S_REST_BUCKETS];

/** Count every later call of @api into @stats (borrowed; NULL stops counting). */
void k8s_api_set_stats(struct k8s_api *api, struct k8s_rest_stats *stats);

enum k8s_http {
	K8S_HTTP_ANY, /* libcurl's choice: HTTP/2 when TLS's ALPN agrees, else HTTP/1.1 */
	K8S_HTTP_1_1,
	K8S_HTTP_2,
};

/** The HTTP version of later calls. */
void k8s_api_set_http(struct k8s_api *api, enum k8s_http http);

/**
 * Client-side limits on the requests to the API server (`apiserver_qps`,
 * `apiserver_burst`, `apiserver_max_inflight`): a token bucket of @burst
 * tokens refilled at @qps per second, one token per request started (LIST
 * pages, discovery, WATCH starts); and at most @max_inflight LIST or discovery
 * requests at a time (watches are long-lived streams, not counted, as the API
 * server's own max-in-flight leaves them out). A request over a limit waits, in
 * order, until it is under. @qps 0: no rate limit; @max_inflight 0: no cap.
 */
void k8s_api_set_rate(struct k8s_api *api, double qps, unsigned burst, unsigned max_inflight);

/**
 * Calls fail with -EMSGSIZE when a line (LINES) or an item (ITEMS) grows past
 * @max_line, or the body (BODY and ITEMS) past @max_body.
 */
void k8s_api_set_limits(struct k8s_api *api, size_t max_line, size_t max_body);

/**
 * Start GET @path (absolute path and query, already escaped) with the current
 * bearer token (re-read from its file). Never blocks; @ops->done always runs
 * later unless the call is cancelled first, never from inside this function.
 * @param timeout_s whole-call time limit in seconds, 0 for none (a stalled
 *        transfer still fails after a minute without a byte in BODY mode).
 * @param out set to the call (for k8s_call_cancel), may be NULL.
 * @return 0, or -ENOMEM.
 */
int k8s_api_get(struct k8s_api *api, const char *path, enum k8s_call_mode mode, long timeout_s,
                const struct k8s_call_ops *ops, void *arg, struct k8s_call **out);

/* From the head hook: see k8s_call_ops. */
#define K8S_CALL_PAUSE 1

/** Let a call paused by its head hook go on. Not from inside libcurl's hooks. */
void k8s_call_resume(struct k8s_call *call);

/**
 * Stop and free @call without calling its done hook. Not from inside one of
 * the call's own hooks (return non-zero from line instead).
 */
void k8s_call_cancel(struct k8s_call *call);

/** Append @s to @buf (of @size, holding @*len bytes) percent-encoded for a query value. */
void k8s_query_escape(char *buf, size_t size, size_t *len, const char *s);
