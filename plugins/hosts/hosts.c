/* hosts.c -- the hosts plugin: A, AAAA and PTR answers from a hosts file and inline lines. */
#include "hosts.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sextant/dname.h>
#include <sextant/filewatch.h>

static int
set_reload(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct hosts *h = inst;
	int rc = sx_set_duration(cf, d, inst);
	if (rc == 0) {
		h->reload_set = true;
	}
	return rc;
}

/* Any other line of the block is a hosts-file line (CoreDNS "INLINE"). */
static int
set_inline(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct hosts *h = inst;
	/* CoreDNS takes unknown lines as inline only before a fallthrough line. */
	if (h->fall.n > 0) {
		return sx_cf_err(cf, "unknown property '%s'", sx_cf_arg(cf, 0));
	}
	size_t len = h->inline_len;
	for (int i = 0; i < sx_cf_nargs(cf); i++) {
		len += strlen(sx_cf_arg(cf, i)) + 1;
	}
	char *text = realloc(h->inline_text, len + 1);
	if (text == NULL) {
		return -ENOMEM;
	}
	h->inline_text = text;
	for (int i = 0; i < sx_cf_nargs(cf); i++) {
		const char *arg = sx_cf_arg(cf, i);
		size_t n = strlen(arg);
		memcpy(text + h->inline_len, arg, n);
		h->inline_len += n;
		text[h->inline_len++] = i + 1 < sx_cf_nargs(cf) ? ' ' : '\n';
	}
	text[h->inline_len] = '\0';
	return 0;
}

static const struct sx_directive hosts_directives[] = {
	SX_DIR_UINT("ttl", struct hosts, ttl, 1, 65535),
	SX_DIR_FLAG("no_reverse", struct hosts, no_reverse),
	{ "reload", 1, 1, set_reload, SX_FIELD(struct hosts, reload_ms, uint64_t) },
	SX_DIR_ZONES("fallthrough", struct hosts, fall),
	SX_DIR_FLAG("fallthrough_unsupported", struct hosts, fall_unsupported),
	{ "*", 0, -1, set_inline, .repeat = true },
	{ NULL }
};

static int
hosts_setup(struct sx_cf *cf, void *inst)
{
	struct hosts *h = inst;
	const char *file = sx_cf_nargs(cf) > 1 ? sx_cf_arg(cf, 1) : HOSTS_DEFAULT_PATH;
	int rc;
	if (file[0] == '/') {
		h->path = strdup(file);
	} else {
		rc = asprintf(&h->path, "%s/%s", sx_cf_dir(cf), file);
		if (rc < 0) {
			h->path = NULL;
		}
	}
	if (h->path == NULL) {
		return -ENOMEM;
	}
	rc = sx_cf_zones(cf, 2, sx_cf_block_zones(cf), NULL, &h->zones);
	if (rc < 0) {
		return rc;
	}
	if (h->ttl == 0) {
		h->ttl = HOSTS_DEFAULT_TTL;
	}
	if (!h->reload_set) {
		h->reload_ms = HOSTS_DEFAULT_RELOAD_MS;
	}
	if (h->fall_unsupported && h->fall.n == 0) {
		return sx_cf_err(cf, "fallthrough_unsupported requires fallthrough");
	}
	return 0;
}

/* The name without an exact entry may still match "*.PARENT" (one label only). */
static const struct hosts_entry *
find_host(const struct hosts_table *t, const struct sx_query *q)
{
	const struct hosts_entry *e = hosts_table_find(t, q->lname, q->qname_len);
	if (e != NULL && (e->n4 != 0 || e->n6 != 0)) {
		return e;
	}
	if (!t->wildcards || q->nlabels == 0) {
		return NULL;
	}
	const uint8_t *parent = sx_dname_skip(q->lname, 1);
	size_t plen = q->qname_len - (size_t)(parent - q->lname);
	uint8_t wild[SX_DNAME_MAX];
	if (plen + 2 > sizeof(wild)) {
		return NULL;
	}
	wild[0] = 1;
	wild[1] = '*';
	memcpy(wild + 2, parent, plen);
	e = hosts_table_find(t, wild, plen + 2);
	return e != NULL && (e->n4 != 0 || e->n6 != 0) ? e : NULL;
}

static bool
falls_through(const struct hosts *h, const struct sx_query *q)
{
	return h->fall.n > 0 && sx_zones_match(&h->fall, q->lname) >= 0;
}

enum sx_verdict
hosts_answer(const struct hosts *h, const struct hosts_table *t, const struct sx_query *q,
             struct sx_msg *msg)
{
	/* Reverse names need not be among the zones: PTR is tried wherever the block routes it. */
	if (q->qtype != SX_TYPE_PTR && sx_zones_match(&h->zones, q->lname) < 0) {
		return SX_NEXT;
	}
	const struct hosts_entry *e;
	if (q->qtype == SX_TYPE_PTR) {
		e = hosts_table_find(t, q->lname, q->qname_len);
		if (e == NULL || e->nptr == 0) {
			return SX_NEXT;
		}
		sx_msg_set_flags(msg, SX_FLAG_AA);
		for (uint16_t i = 0; i < e->nptr; i++) {
			if (sx_msg_put_rr(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_PTR, SX_CLASS_IN,
			                  h->ttl, e->ptr[i],
			                  (uint16_t)sx_dname_len(e->ptr[i])) < 0) {
				break;
			}
		}
		return SX_DONE;
	}
	e = find_host(t, q);
	if (e == NULL) {
		if (falls_through(h, q)) {
			return SX_NEXT;
		}
		/*
		 * CoreDNS answers SERVFAIL here rather than NXDOMAIN: with no SOA to
		 * put in the authority section a negative answer could not be cached
		 * properly.
		 */
		sx_msg_set_rcode(msg, SX_RCODE_SERVFAIL);
		return SX_DONE;
	}
	if (q->qtype != SX_TYPE_A && q->qtype != SX_TYPE_AAAA && h->fall_unsupported &&
	    falls_through(h, q)) {
		return SX_NEXT;
	}
	sx_msg_set_flags(msg, SX_FLAG_AA);
	if (q->qtype == SX_TYPE_A) {
		for (uint16_t i = 0; i < e->n4; i++) {
			if (sx_msg_put_rr(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_A, SX_CLASS_IN,
			                  h->ttl, e->v4[i], 4) < 0) {
				break;
			}
		}
	} else if (q->qtype == SX_TYPE_AAAA) {
		for (uint16_t i = 0; i < e->n6; i++) {
			if (sx_msg_put_rr(msg, SX_SEC_ANSWER, q->qname, SX_TYPE_AAAA, SX_CLASS_IN,
			                  h->ttl, e->v6[i], 16) < 0) {
				break;
			}
		}
	}
	return SX_DONE;
}

static enum sx_verdict
hosts_handle(struct sx_req *req, void *inst)
{
	struct hosts *h = inst;
	/* Workers hold the RCU read lock while they run the chain. */
	const struct hosts_table *t = rcu_dereference(h->table);
	return hosts_answer(h, t, sx_req_query(req), sx_req_msg(req));
}

/*
 * Open the hosts file for reading. A directory counts as missing.
 * @return the stream with *@st filled, or NULL with errno set.
 */
static FILE *
open_hosts(const char *path, struct stat *st)
{
	FILE *fp = fopen(path, "re");
	if (fp == NULL) {
		return NULL;
	}
	int err = 0;
	if (fstat(fileno(fp), st) < 0) {
		err = errno;
	} else if (S_ISDIR(st->st_mode)) {
		err = EISDIR;
	}
	if (err != 0) {
		fclose(fp);
		errno = err;
		return NULL;
	}
	return fp;
}

/*
 * CoreDNS's two gauges are process-wide, set by whichever hosts instance read
 * its file last; the instance that did so reports them, so a scrape has one
 * series of each. Control thread only.
 */
static struct {
	const struct hosts *owner;
	size_t entries;
	double reloaded; /* Unix time, seconds */
} gauges;

static void
gauges_set(const struct hosts *h, const struct hosts_table *t)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	gauges.owner = h;
	gauges.entries = t->naddrs;
	gauges.reloaded = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void
hosts_collect(void *inst, struct sx_metrics *m)
{
	if (gauges.owner != inst) {
		return;
	}
	sx_metrics_add(m, "coredns_hosts_entries", SX_METRIC_GAUGE,
	               "The combined number of entries in hosts and Corefile.", NULL,
	               (double)gauges.entries);
	sx_metrics_add(m, "coredns_hosts_reload_timestamp_seconds", SX_METRIC_GAUGE,
	               "The timestamp of the last reload of hosts file.", NULL, gauges.reloaded);
}

static void
free_rcu(struct rcu_head *head)
{
	hosts_table_free(caa_container_of(head, struct hosts_table, rcu));
}

/* Control thread, every `reload` and after a change: re-read the file when it changed. */
static void
hosts_tick(void *arg)
{
	struct hosts *h = arg;
	struct stat st;
	/* As CoreDNS does, a file that vanished leaves the last table in place. */
	FILE *fp = open_hosts(h->path, &st);
	if (fp == NULL) {
		return;
	}
	if (!sx_file_stamp_changed(&h->stamp, &st)) {
		fclose(fp);
		return;
	}
	struct hosts_table *t;
	int rc = hosts_table_build(h, fp, &t);
	fclose(fp);
	if (rc < 0) {
		sx_plog(SX_LOG_ERROR, "hosts", "reading %s: %s", h->path, strerror(-rc));
		return;
	}
	sx_file_stamp_set(&h->stamp, &st);
	sx_file_stamp_mark_if_racy(&h->stamp);
	struct hosts_table *old = rcu_xchg_pointer(&h->table, t);
	call_rcu(&old->rcu, free_rcu);
	gauges_set(h, t);
	sx_plog(SX_LOG_DEBUG, "hosts", "Parsed hosts file into %zu entries", t->naddrs);
}

static int
hosts_start(void *inst, struct sx_runtime *rt)
{
	struct hosts *h = inst;
	struct stat st;
	FILE *fp = open_hosts(h->path, &st);
	if (fp == NULL) {
		/* Served from the inline lines until the file shows up, as CoreDNS does. */
		if (errno == ENOENT) {
			sx_plog(SX_LOG_WARNING, "hosts", "File does not exist: %s", h->path);
		} else {
			sx_plog(SX_LOG_WARNING, "hosts", "unable to access hosts file '%s': %s",
			        h->path, strerror(errno));
		}
	} else {
		sx_file_stamp_set(&h->stamp, &st);
		sx_file_stamp_mark_if_racy(&h->stamp);
	}
	struct hosts_table *t;
	int rc = hosts_table_build(h, fp, &t);
	if (fp != NULL) {
		fclose(fp);
		if (rc < 0 && rc != -ENOMEM) {
			sx_plog(SX_LOG_WARNING, "hosts", "reading %s: %s", h->path, strerror(-rc));
			h->stamp = (struct sx_file_stamp){ 0 }; /* read again at the next tick */
			rc = hosts_table_build(h, NULL, &t);
		}
	}
	if (rc < 0) {
		return rc;
	}
	rcu_set_pointer(&h->table, t);
	gauges_set(h, t);
	if (h->reload_ms == 0) {
		return 0;
	}
	/* Checked every `reload` as CoreDNS does, and at once when inotify sees a change. */
	struct sx_filewatch_opts fo = { .poll_ms = h->reload_ms, .poll_always = true };
	h->watch = sx_filewatch_new(h->path, &fo, hosts_tick, h);
	return h->watch == NULL ? -ENOMEM : 0;
}

static void
hosts_teardown(void *inst)
{
	struct hosts *h = inst;
	if (gauges.owner == h) {
		gauges.owner = NULL;
	}
	sx_filewatch_free(h->watch);
	/* No worker can reach the instance any more, so the table goes at once. */
	hosts_table_free(h->table);
	sx_zones_fini(&h->zones);
	sx_zones_fini(&h->fall);
	free(h->path);
	free(h->inline_text);
}

const struct sx_plugin sx_plugin_hosts = {
	.name = "hosts",
	.inst_size = sizeof(struct hosts),
	.directives = hosts_directives,
	.setup = hosts_setup,
	.start = hosts_start,
	.handle = hosts_handle,
	.collect = hosts_collect,
	.teardown = hosts_teardown,
};
