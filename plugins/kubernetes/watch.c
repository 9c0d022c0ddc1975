/* watch.c -- LIST then WATCH one kind of API object, feeding the store. */
#include "watch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <sextant/log.h>
#include <sextant/time.h>

#include "apiclient.h"
#include "jpull.h"
#include "objects.h"

#define PLUGIN "kubernetes"
/* Pods that can never again have an address are left out, as CoreDNS does. */
#define POD_FIELDS "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"
/* A watch ending sooner than this without an event counts as a failure. */
#define SHORT_WATCH_S 1.0

/*
 * EndpointSlices are served as discovery.k8s.io/v1 from Kubernetes 1.21 and
 * only as v1beta1 in 1.17 to 1.20. The two differ only in fields the plugin
 * does not read (v1beta1's topology map against v1's nodeName and zone), so
 * one decoder serves both; which one the server has is asked before each LIST.
 */
static const char *const slice_versions[] = { "v1", "v1beta1", NULL };

static const struct {
	const char *group;           /* NULL: the core group, /api/v1 */
	const char *const *versions; /* the group's versions the plugin reads, best first */
	const char *plural, *kind;
	const char *v1name; /* the kind in log lines when served as v1 */
} resources[K8S_NKINDS] = {
	[K8S_SERVICE] = { NULL, NULL, "services", "Service", "*v1.Service" },
	[K8S_SLICE] = { "discovery.k8s.io", slice_versions, "endpointslices", "EndpointSlice",
	                "*v1.EndpointSlice" },
	[K8S_NAMESPACE] = { NULL, NULL, "namespaces", "Namespace", "*v1.Namespace" },
	[K8S_POD] = { NULL, NULL, "pods", "Pod", "*v1.Pod" },
};

/* One page of a LIST, asked for and maybe ended; at most two at a time. */
struct list_page {
	struct k8s_watch *w;
	struct k8s_call *call; /* in flight */
	bool continued;        /* asked with a continue token: not the first page */
	bool ended;            /* it ended well and waits for the pages before it */
	char *next;            /* the continue token of the page after it; NULL: the last */
	char *rv;              /* ended: the list's resourceVersion */
};

struct k8s_watch {
	struct k8s_api *api;
	struct k8s_store *st;
	enum k8s_kind kind;
	struct k8s_watch_opts opts;
	const char *version;   /* of the resource's group in use: "v1", "v1beta1" */
	char path[96];         /* the collection: /apis/GROUP/VERSION/PLURAL */
	char name[48];         /* as client-go names the kind in logs: "*v1beta1.EndpointSlice" */
	char waiting[80];      /* "<name>: not listed yet" */
	char *selectors;       /* "&labelSelector=..&fieldSelector=..", escaped, or "" */
	struct k8s_call *call; /* the discovery or WATCH in flight */
	struct list_page pages[2];
	int cur;                /* the page whose items are taken in order */
	struct sx_timer *ahead; /* asks for the next page, outside libcurl */
	struct sx_timer *retry;
	bool retry_list; /* the retry timer starts a LIST (else a WATCH) */
	char *rv;        /* resourceVersion to watch from */
	size_t listed;   /* items in the LIST so far */
	bool began;      /* the store knows a relist of the kind has begun */
	double list_start;
	/* The WATCH in flight. */
	double watch_start;
	bool got_event;
	bool expired;         /* the server said our resourceVersion is too old */
	bool after_list;      /* this WATCH starts from a LIST's resourceVersion */
	char stream_err[256]; /* why the line hook ended the stream */
	/* Failures and retries. */
	double backoff, last_failure;
	bool answered;    /* the call that failed got an HTTP response */
	bool unreachable; /* the last failure got none */
	uint64_t rng;
	char last_err[512]; /* the cause of the failure last logged; "" while things work */
	char last_msg[512]; /* and its message */
	bool synced;        /* a full LIST has been applied */
	bool discovered;    /* the group's versions were asked for once */
};

static void start_list(struct k8s_watch *w);
static void list_page(struct k8s_watch *w, struct list_page *pg, const char *cont);
static void start_watch(struct k8s_watch *w);

const char *
k8s_kind_name(enum k8s_kind kind)
{
	return kind < K8S_NKINDS ? resources[kind].v1name : "?";
}

static double
now_s(void)
{
	return (double)sx_now_ns() / 1e9;
}

static double
rand01(struct k8s_watch *w)
{
	/* xorshift64: jitter only needs to differ between processes and kinds. */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return (double)(w->rng >> 11) / (double)(1ull << 53);
}

static char *
escape_dup(const char *s)
{
	size_t size = strlen(s) * 3 + 1, len = 0;
	char *buf = malloc(size);

	if (buf) {
		k8s_query_escape(buf, size, &len, s);
	}
	return buf;
}

static void
set_rv(struct k8s_watch *w, const char *rv)
{
	char *dup;

	if (rv && *rv && (dup = strdup(rv))) {
		free(w->rv);
		w->rv = dup;
	}
}

/* Apply one object (@len bytes of JSON); with @track_rv, go on from its resourceVersion. */
static void
apply(struct k8s_watch *w, enum k8s_event ev, const char *json, size_t len, bool track_rv)
{
	char err[256] = "", id[320], rv[K8S_RV_MAX + 1];

	if (k8s_store_apply(w->st, w->kind, ev, json, len, err, sizeof(err)) || track_rv) {
		k8s_obj_ident(json, len, id, sizeof(id), rv, sizeof(rv));
		if (err[0]) {
			sx_plog(SX_LOG_WARNING, PLUGIN, "%s %s skipped: %s", w->name, id, err);
		}
		if (track_rv) {
			set_rv(w, rv);
		}
	}
}

/* It works (again): say so once if it did not. */
static void
working(struct k8s_watch *w)
{
	if (w->last_err[0]) {
		sx_plog(SX_LOG_INFO, PLUGIN, "%s: watching again", w->name);
		w->last_err[0] = '\0';
		w->last_msg[0] = '\0';
	}
}

/* Use @version (static) of the kind's group: the collection's path and the kind's log name. */
static void
use_version(struct k8s_watch *w, const char *version)
{
	const char *group = resources[w->kind].group;

	w->version = version;
	if (group) {
		snprintf(w->path, sizeof(w->path), "/apis/%s/%s/%s", group, version,
		         resources[w->kind].plural);
	} else {
		snprintf(w->path, sizeof(w->path), "/api/%s/%s", version,
		         resources[w->kind].plural);
	}
	snprintf(w->name, sizeof(w->name), "*%s.%s", version, resources[w->kind].kind);
	snprintf(w->waiting, sizeof(w->waiting), "%s: not listed yet", w->name);
}

static void
retry_cb(void *arg)
{
	struct k8s_watch *w = arg;

	if (w->retry_list) {
		start_list(w);
	} else {
		start_watch(w);
	}
}

/*
 * Log @msg unless the last failure had the same @cause, then retry after a
 * backoff: a LIST if @relist, else a WATCH from the last resourceVersion.
 */
static void
failed(struct k8s_watch *w, bool relist, const char *cause, const char *msg)
{
	double now = now_s(), delay;

	/*
	 * A server that cannot be reached costs nothing to try again, and a
	 * restarted one should be seen within seconds: those retries stay close.
	 * Errors it answers with (5xx, 429, 403) back off further.
	 */
	bool unreachable = !w->answered;
	double cap = unreachable ? w->opts.backoff_unreachable_s : w->opts.backoff_max_s;

	if (strcmp(cause, w->last_err)) {
		snprintf(w->last_msg, sizeof(w->last_msg), "Failed to watch %s: %.440s", w->name,
		         msg);
		sx_plog(SX_LOG_ERROR, PLUGIN, "%s", w->last_msg);
		snprintf(w->last_err, sizeof(w->last_err), "%.500s", cause);
	}
	/* After a quiet spell, or once the server answers again, start from the shortest delay. */
	if (!w->last_failure || now - w->last_failure > 2 * w->opts.backoff_max_s ||
	    (w->unreachable && !unreachable)) {
		w->backoff = w->opts.backoff_min_s;
	}
	w->unreachable = unreachable;
	w->last_failure = now;
	if (w->backoff > cap) {
		w->backoff = cap;
	}
	delay = w->backoff * (0.75 + 0.5 * rand01(w));
	w->backoff *= 2;
	if (w->backoff > cap) {
		w->backoff = cap;
	}
	w->answered = true; /* for failures found before any call */
	w->retry_list = relist;
	sx_timer_once(w->retry, (uint64_t)(delay * 1000));
}

/* The first item of a LIST: everything not listed again will be deleted. */
static void
list_begins(struct k8s_watch *w)
{
	if (!w->began) {
		k8s_store_relist_begin(w->st, w->kind);
		w->began = true;
	}
}

static void
page_reset(struct list_page *pg)
{
	k8s_call_cancel(pg->call);
	free(pg->next);
	free(pg->rv);
	*pg = (struct list_page){ .w = pg->w };
}

/* Asked for: in flight or ended. */
static bool
page_asked(const struct list_page *pg)
{
	return pg->call || pg->ended;
}

/* Stop the LIST: its pages in flight, and the next page's start. */
static void
pages_reset(struct k8s_watch *w)
{
	page_reset(&w->pages[0]);
	page_reset(&w->pages[1]);
	w->cur = 0;
	sx_timer_cancel(w->ahead);
}

static void
list_failed(struct k8s_watch *w, const char *cause, const char *why)
{
	char msg[640], c[520]; /* room for the whole of @why and @cause: gcc -O3 checks */

	snprintf(msg, sizeof(msg), "failed to list %s: %.440s", w->name, why);
	snprintf(c, sizeof(c), "list: %.500s", cause);
	pages_reset(w);
	failed(w, true, c, msg);
}

/*
 * Each item is applied as soon as its bytes are in, and its JSON dropped: a
 * LIST is never held whole, as text or as a tree. Pages in flight together
 * hold distinct objects of one snapshot, so their items may interleave.
 */
static int
list_item(void *arg, const char *json, size_t len)
{
	struct list_page *pg = arg;
	struct k8s_watch *w = pg->w;

	list_begins(w);
	apply(w, K8S_ADDED, json, len, false);
	w->listed++;
	return 0;
}

/*
 * The continue token and (unless @rv is NULL) resourceVersion of a list
 * document (@json, @len bytes), each strdup()ed or NULL. @return 0, or an
 * error with its @cause (static) and why in @why.
 */
static int
list_meta(const char *json, size_t len, char **cont, char **rv, const char **cause, char *why,
          size_t size)
{
	json_t *list, *items, *md;
	json_error_t jerr;
	const char *c, *v;
	int r = 0;

	*cont = NULL;
	if (rv) {
		*rv = NULL;
	}
	if (!(list = json_loadb(json, len, 0, &jerr))) {
		*cause = "invalid JSON";
		snprintf(why, size, "invalid JSON at line %d: %s", jerr.line, jerr.text);
		return -EPROTO;
	}
	items = json_object_get(list, "items");
	md = json_object_get(list, "metadata");
	if (!json_is_object(list) || !(json_is_array(items) || json_is_null(items))) {
		*cause = "not a list";
		snprintf(why, size, "the reply is not a list");
		r = -EPROTO;
	} else {
		c = json_string_value(json_object_get(md, "continue"));
		v = json_string_value(json_object_get(md, "resourceVersion"));
		if ((c && *c && !(*cont = strdup(c))) || (rv && v && *v && !(*rv = strdup(v)))) {
			free(*cont);
			*cont = NULL;
			*cause = strerror(ENOMEM);
			snprintf(why, size, "%s", *cause);
			r = -ENOMEM;
		}
	}
	json_decref(list);
	return r;
}

/*
 * kube-apiserver writes a list's metadata before its items, so the next page
 * can be asked for before this one's items are read: the server builds one
 * page while the plugin decodes the other, instead of each waiting for the
 * other 200 times in a 100,000-object list. Only the current page asks
 * ahead, and only one page ahead. The items of a page usually wait in the
 * socket whole, and libcurl would hand them all over before the loop could
 * start a call, so the page pauses until the next one is asked for.
 */
static int
list_head(void *arg, const char *json, size_t len)
{
	struct list_page *pg = arg;
	struct k8s_watch *w = pg->w;
	const char *cause;
	char why[256];

	if (list_meta(json, len, &pg->next, NULL, &cause, why, sizeof(why))) {
		return 0; /* the end of the page says why, if the rest is no better */
	}
	if (pg->next && pg == &w->pages[w->cur] && !page_asked(&w->pages[!w->cur])) {
		sx_timer_once(w->ahead, 0);
		return K8S_CALL_PAUSE;
	}
	return 0;
}

/* Ask for the page after the current one if its head has told where it starts. */
static void
ask_ahead(struct k8s_watch *w)
{
	struct list_page *pg = &w->pages[w->cur], *next = &w->pages[!w->cur];

	if (pg->call && pg->next && !page_asked(next)) {
		list_page(w, next, pg->next);
	}
}

static void
ahead_cb(void *arg)
{
	struct k8s_watch *w = arg;

	ask_ahead(w);
	if (w->pages[w->cur].call) {
		k8s_call_resume(w->pages[w->cur].call);
	}
}

/* The whole LIST is in: what was not listed goes, and the WATCH begins from it. */
static void
list_complete(struct k8s_watch *w, char *rv)
{
	list_begins(w);
	free(w->rv);
	w->rv = rv; /* none: the watch cannot start, and lists again */
	pages_reset(w);
	k8s_store_relist_end(w->st, w->kind);
	w->synced = true;
	w->after_list = true;
	sx_plog(SX_LOG_DEBUG, PLUGIN, "listed %zu %s in %.0f ms", w->listed, w->name,
	        (now_s() - w->list_start) * 1000);
	working(w);
	start_watch(w);
}

/* Take the pages that ended, in order: a page ahead may end before the current one. */
static void
advance(struct k8s_watch *w)
{
	struct list_page *pg, *next;
	char *rv;

	while ((pg = &w->pages[w->cur])->ended) {
		next = &w->pages[!w->cur];
		if (!pg->next) {
			rv = pg->rv;
			pg->rv = NULL;
			list_complete(w, rv);
			return;
		}
		if (!page_asked(next)) {
			list_page(w, next, pg->next);
			if (!next->call) {
				return; /* it failed */
			}
		}
		page_reset(pg);
		w->cur = !w->cur;
		ask_ahead(w);
	}
}

static void
list_done(void *arg, const struct k8s_call_result *res)
{
	struct list_page *pg = arg;
	struct k8s_watch *w = pg->w;
	const char *cause;
	char why[256], *cont, *rv;

	pg->call = NULL;
	w->answered = res->status != 0;
	if (res->code) {
		if (res->status == 410 && pg->continued) {
			snprintf(why, sizeof(why), "continue token expired: %s", res->error);
			list_failed(w, "continue token expired", why);
		} else {
			list_failed(w, res->cause, res->error);
		}
		return;
	}
	/* The items are in the store already; what is left holds the list's metadata. */
	if (list_meta(res->body, res->len, &cont, &rv, &cause, why, sizeof(why))) {
		list_failed(w, cause, why);
		return;
	}
	list_begins(w);
	free(pg->next);
	pg->next = cont;
	pg->rv = rv;
	pg->ended = true;
	advance(w);
}

static const struct k8s_call_ops list_ops = {
	.item = list_item,
	.head = list_head,
	.done = list_done,
};

/* Ask for a LIST page into @pg: the first (@cont NULL) or the one @cont names. */
static void
list_page(struct k8s_watch *w, struct list_page *pg, const char *cont)
{
	char *path, *esc = NULL;
	int r;

	if (cont && !(esc = escape_dup(cont))) {
		list_failed(w, strerror(ENOMEM), strerror(ENOMEM));
		return;
	}
	r = asprintf(&path, "%s?limit=%d%s%s%s", w->path, w->opts.page_limit, w->selectors,
	             esc ? "&continue=" : "", esc ? esc : "");
	free(esc);
	if (r < 0) {
		list_failed(w, strerror(ENOMEM), strerror(ENOMEM));
		return;
	}
	/*
	 * A page of 500 objects takes milliseconds; whole lists served in one piece (a million
	 * objects, a gigabyte) take tens of seconds. Past the bound a stalled or endless body is
	 * cut, logged, and listed again after a backoff, while the zone keeps serving.
	 */
	r = k8s_api_get(w->api, path, K8S_CALL_ITEMS, w->opts.list_timeout_s, &list_ops, pg,
	                &pg->call);
	free(path);
	if (r) {
		list_failed(w, strerror(-r), strerror(-r));
		return;
	}
	pg->continued = cont != NULL;
}

/*
 * The best version of the kind's group that the plugin reads among those the
 * APIGroup @group lists, or NULL; @served gets them all, comma-separated.
 */
static const char *
pick_version(const struct k8s_watch *w, json_t *group, char *served, size_t size)
{
	const char *const *want = resources[w->kind].versions;
	const char *best = NULL;
	size_t i, rank = SIZE_MAX, len = 0;
	json_t *v;

	served[0] = '\0';
	json_array_foreach(json_object_get(group, "versions"), i, v)
	{
		const char *name = json_string_value(json_object_get(v, "version"));

		if (!name) {
			continue;
		}
		if (len < size) {
			len += (size_t)snprintf(served + len, size - len, "%s%s", len ? ", " : "",
			                        name);
		}
		for (size_t r = 0; want[r] && r < rank; r++) {
			if (!strcmp(want[r], name)) {
				rank = r;
				best = want[r];
			}
		}
	}
	return best;
}

static void
discovery_done(void *arg, const struct k8s_call_result *res)
{
	struct k8s_watch *w = arg;
	const char *group = resources[w->kind].group, *version;
	char served[256], why[512], cause[512];
	json_t *g = NULL;

	w->call = NULL;
	w->answered = res->status != 0;
	if (res->code && res->status == 404) {
		snprintf(why, sizeof(why),
		         "the API server does not serve the API group %s: GET /apis/%s: %s", group,
		         group, res->error);
		list_failed(w, "group not served", why);
		return;
	}
	if (res->code) {
		snprintf(why, sizeof(why), "cannot discover the versions of %s: %s", group,
		         res->error);
		snprintf(cause, sizeof(cause), "discovery: %s", res->cause);
		list_failed(w, cause, why);
		return;
	}
	if (!(g = json_loadb(res->body, res->len, 0, NULL)) ||
	    !json_is_array(json_object_get(g, "versions"))) {
		json_decref(g);
		snprintf(why, sizeof(why), "cannot discover the versions of %s: not an APIGroup",
		         group);
		list_failed(w, "discovery: not an APIGroup", why);
		return;
	}
	version = pick_version(w, g, served, sizeof(served));
	json_decref(g);
	if (!version) {
		snprintf(why, sizeof(why),
		         "the API server serves %s only as %s; the plugin reads v1 and v1beta1",
		         group, served[0] ? served : "no version");
		snprintf(cause, sizeof(cause), "no version: %s", served);
		list_failed(w, cause, why);
		return;
	}
	/* Said once at start, and again only if an upgrade changes it. */
	if (!w->discovered || version != w->version) {
		sx_plog(SX_LOG_INFO, PLUGIN, "%s from %s/%s%s (the API server serves %s)",
		        resources[w->kind].kind, group, version,
		        w->discovered ? " from now on" : "", served);
	}
	w->discovered = true;
	use_version(w, version);
	list_page(w, &w->pages[0], NULL);
}

static const struct k8s_call_ops discovery_ops = { .done = discovery_done };

/*
 * A full LIST. For a kind of a named group, first ask which versions the
 * server serves: at start, and again at every relist since the server may
 * have been upgraded meanwhile.
 */
static void
start_list(struct k8s_watch *w)
{
	char path[128];
	int r;

	pages_reset(w);
	w->list_start = now_s();
	w->listed = 0;
	w->began = false;
	if (!resources[w->kind].group) {
		list_page(w, &w->pages[0], NULL);
		return;
	}
	snprintf(path, sizeof(path), "/apis/%s", resources[w->kind].group);
	r = k8s_api_get(w->api, path, K8S_CALL_BODY, w->opts.list_timeout_s, &discovery_ops, w,
	                &w->call);
	if (r) {
		list_failed(w, strerror(-r), strerror(-r));
	}
}

/* The code and message of the Status in an ERROR event. */
static void
watch_error(const char *json, size_t len, int64_t *code, char *msg, size_t size)
{
	char key[16];
	struct k8s_jp jp;

	*code = 0;
	snprintf(msg, size, "(no message)");
	k8s_jp_init(&jp, json, len);
	for (bool in = k8s_jp_object(&jp); in && k8s_jp_key(&jp, key, sizeof(key));) {
		if (!strcmp(key, "code") && k8s_jp_peek(&jp) == K8S_JT_NUMBER) {
			k8s_jp_int(&jp, code);
		} else if (!strcmp(key, "message") && k8s_jp_peek(&jp) == K8S_JT_STRING) {
			k8s_jp_str(&jp, msg, size);
		} else {
			k8s_jp_skip(&jp, NULL, NULL);
		}
	}
}

/* One line of a watch, {"type": ..., "object": {...}}, read in place. */
static int
watch_line(void *arg, char *line, size_t len)
{
	struct k8s_watch *w = arg;
	char key[16], type[16] = "", why[128], msg[200], rv[K8S_RV_MAX + 1], id[16];
	const char *obj = NULL;
	bool has_type = false;
	size_t olen = 0;
	struct k8s_jp jp;
	int64_t code;

	k8s_jp_init(&jp, line, len);
	for (bool in = k8s_jp_object(&jp); in && k8s_jp_key(&jp, key, sizeof(key));) {
		if (!strcmp(key, "type")) {
			has_type = k8s_jp_str(&jp, type, sizeof(type)) >= 0;
		} else if (!strcmp(key, "object") && k8s_jp_peek(&jp) == K8S_JT_OBJECT) {
			k8s_jp_skip(&jp, &obj, &olen);
		} else {
			k8s_jp_skip(&jp, NULL, NULL);
		}
	}
	if (!k8s_jp_end(&jp)) {
		snprintf(w->stream_err, sizeof(w->stream_err), "invalid watch event: %s",
		         k8s_jp_error(&jp, why, sizeof(why)));
		return 1;
	}
	if (!has_type || obj == NULL) {
		snprintf(w->stream_err, sizeof(w->stream_err), "invalid watch event: %s",
		         has_type ? "no object" : "no type");
		return 1;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED") || !strcmp(type, "DELETED")) {
		apply(w,
		      type[0] == 'A'   ? K8S_ADDED
		      : type[0] == 'M' ? K8S_MODIFIED
		                       : K8S_DELETED,
		      obj, olen, true);
	} else if (!strcmp(type, "BOOKMARK")) {
		k8s_obj_ident(obj, olen, id, sizeof(id), rv, sizeof(rv));
		set_rv(w, rv);
	} else if (!strcmp(type, "ERROR")) {
		watch_error(obj, olen, &code, msg, sizeof(msg));
		if (code == 410) {
			w->expired = true;
		} else {
			snprintf(w->stream_err, sizeof(w->stream_err), "watch error %lld: %s",
			         (long long)code, msg);
		}
		return 1;
	} else {
		snprintf(w->stream_err, sizeof(w->stream_err), "unknown watch event type \"%.32s\"",
		         type);
		return 1;
	}
	if (!w->got_event) {
		/*
		 * Only an event proves the watch works: the server can accept a
		 * watch and then fail it the same way again (an event too long).
		 * A quiet watch still gets a bookmark about once a minute.
		 */
		w->got_event = true;
		working(w);
	}
	return 0;
}

static void
relist(struct k8s_watch *w, const char *why)
{
	sx_plog(SX_LOG_INFO, PLUGIN, "%s: %s, listing again", w->name, why);
	start_list(w);
}

static void
watch_done(void *arg, const struct k8s_call_result *res)
{
	struct k8s_watch *w = arg;
	char msg[512];

	w->call = NULL;
	w->answered = res->status != 0;
	if (w->expired || res->status == 410) {
		if (w->after_list && !w->got_event && now_s() - w->watch_start < SHORT_WATCH_S) {
			/*
			 * Told at once: relisting at once again could spin, so wait as
			 * after an error. A watch that stayed quiet for longer merely
			 * outlived the server's history and relists at once below.
			 */
			failed(w, true, "fresh resourceVersion too old",
			       "the resourceVersion of a fresh LIST is already too old");
			return;
		}
		/* Events were lost: only a new LIST tells what vanished meanwhile. */
		relist(w, "resourceVersion too old");
		return;
	}
	w->after_list = false;
	if (res->code == -ECANCELED && w->stream_err[0]) {
		failed(w, false, w->stream_err, w->stream_err);
		return;
	}
	if (res->code) {
		failed(w, false, res->cause, res->error);
		return;
	}
	if (!w->got_event && now_s() - w->watch_start < SHORT_WATCH_S) {
		snprintf(msg, sizeof(msg), "very short watch: the stream ended at once");
		failed(w, false, msg, msg);
		return;
	}
	/* The server ended the watch (timeoutSeconds): go on from where it stopped. */
	working(w);
	start_watch(w);
}

static const struct k8s_call_ops watch_ops = { .line = watch_line, .done = watch_done };

static void
start_watch(struct k8s_watch *w)
{
	int timeout = w->opts.watch_timeout_s;
	char *path, *rv = NULL;
	int r;

	if (!w->rv) {
		/* Nothing to watch from: only a LIST gives a resourceVersion. */
		relist(w, "no resourceVersion");
		return;
	}
	if (!timeout) {
		timeout = 300 + (int)(rand01(w) * 300);
	}
	if (!(rv = escape_dup(w->rv))) {
		failed(w, false, strerror(ENOMEM), strerror(ENOMEM));
		return;
	}
	r = asprintf(&path,
	             "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s"
	             "&timeoutSeconds=%d%s",
	             w->path, rv, timeout, w->selectors);
	free(rv);
	if (r < 0) {
		failed(w, false, strerror(ENOMEM), strerror(ENOMEM));
		return;
	}
	w->watch_start = now_s();
	w->got_event = false;
	w->expired = false;
	w->stream_err[0] = '\0';
	/* The server ends the watch after timeoutSeconds; a silent dead one, later. */
	r = k8s_api_get(w->api, path, K8S_CALL_LINES, timeout + 30, &watch_ops, w, &w->call);
	free(path);
	if (r) {
		failed(w, false, strerror(-r), strerror(-r));
	}
}

static int
build_selectors(struct k8s_watch *w, const char *labels)
{
	size_t size = 64 + (labels ? strlen(labels) * 3 : 0) + sizeof(POD_FIELDS) * 3, len = 0;

	if (!(w->selectors = malloc(size))) {
		return -ENOMEM;
	}
	w->selectors[0] = '\0';
	if (labels && *labels) {
		len += (size_t)snprintf(w->selectors, size, "&labelSelector=");
		k8s_query_escape(w->selectors, size, &len, labels);
	}
	if (w->kind == K8S_POD) {
		len += (size_t)snprintf(w->selectors + len, size - len, "&fieldSelector=");
		k8s_query_escape(w->selectors, size, &len, POD_FIELDS);
	}
	return 0;
}

int
k8s_watch_new(struct k8s_watch **out, struct k8s_api *api, struct k8s_store *st, enum k8s_kind kind,
              const char *labels, const struct k8s_watch_opts *opts)
{
	struct k8s_watch *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w) {
		return -ENOMEM;
	}
	w->api = api;
	w->st = st;
	w->kind = kind;
	use_version(w, resources[kind].versions ? resources[kind].versions[0] : "v1");
	if (opts) {
		w->opts = *opts;
	}
	if (w->opts.page_limit <= 0) {
		w->opts.page_limit = 500;
	}
	if (w->opts.list_timeout_s <= 0) {
		w->opts.list_timeout_s = 300;
	}
	if (w->opts.backoff_min_s <= 0) {
		w->opts.backoff_min_s = 0.5;
	}
	if (w->opts.backoff_max_s < w->opts.backoff_min_s) {
		w->opts.backoff_max_s = w->opts.backoff_min_s > 30 ? w->opts.backoff_min_s : 30;
	}
	if (w->opts.backoff_unreachable_s <= 0) {
		w->opts.backoff_unreachable_s = 3;
	}
	if (w->opts.backoff_unreachable_s > w->opts.backoff_max_s) {
		w->opts.backoff_unreachable_s = w->opts.backoff_max_s;
	}
	w->answered = true;
	w->backoff = w->opts.backoff_min_s;
	w->rng = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 4) ^ (uint64_t)kind ^
	         (uint64_t)(uintptr_t)w;
	w->rng |= 1;
	if (build_selectors(w, labels)) {
		goto fail;
	}
	w->pages[0].w = w->pages[1].w = w;
	if (!(w->retry = sx_timer_new(retry_cb, w)) || !(w->ahead = sx_timer_new(ahead_cb, w))) {
		goto fail;
	}
	start_list(w);
	*out = w;
	return 0;
fail:
	k8s_watch_free(w);
	return -ENOMEM;
}

const char *
k8s_watch_why(const struct k8s_watch *w)
{
	if (w->synced) {
		return NULL;
	}
	return w->last_msg[0] ? w->last_msg : w->waiting;
}

void
k8s_watch_free(struct k8s_watch *w)
{
	if (!w) {
		return;
	}
	k8s_call_cancel(w->call);
	page_reset(&w->pages[0]);
	page_reset(&w->pages[1]);
	sx_timer_free(w->ahead);
	sx_timer_free(w->retry);
	free(w->selectors);
	free(w->rv);
	free(w);
}
