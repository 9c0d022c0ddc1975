/* file.c -- the file plugin: authoritative answers from RFC 1035 zone files, reloaded on change. */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sextant/dname.h>
#include <sextant/filewatch.h>
#include <sextant/time.h>

static int
set_reload(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	struct fz *f = inst;
	int rc = sx_set_duration(cf, d, inst);
	if (rc == 0) {
		f->reload_set = true;
	}
	return rc;
}

static const struct sx_directive fz_directives[] = {
	{ "reload", 1, 1, set_reload, SX_FIELD(struct fz, reload_ms, uint64_t) },
	SX_DIR_FLAG("reload_by_mtime", struct fz, reload_by_mtime),
	SX_DIR_ZONES("fallthrough", struct fz, fall),
	{ NULL }
};

static void
format_interval(char *out, size_t cap, uint64_t ms)
{
	if (ms % 1000 != 0) {
		snprintf(out, cap, "%llums", (unsigned long long)ms);
	} else {
		snprintf(out, cap, "%llus", (unsigned long long)(ms / 1000));
	}
}

/*
 * The zone is read here, not at start, so that a broken zone file is a
 * configuration error with its file and line (and `-check` finds it), as in
 * CoreDNS. Only a file that cannot be opened is tolerated, and only when it
 * will be tried again.
 */
static int
fz_setup(struct sx_cf *cf, void *inst)
{
	struct fz *f = inst;
	if (sx_cf_nargs(cf) < 2) {
		return sx_cf_err(cf, "Wrong argument count or unexpected line ending after 'file'");
	}
	const char *file = sx_cf_arg(cf, 1);
	if (file[0] == '/') {
		f->path = strdup(file);
	} else if (asprintf(&f->path, "%s/%s", sx_cf_dir(cf), file) < 0) {
		f->path = NULL;
	}
	if (f->path == NULL) {
		return -ENOMEM;
	}
	int rc = sx_cf_zones(cf, 2, sx_cf_block_zones(cf), NULL, &f->zones);
	if (rc < 0) {
		return rc;
	}
	if (!f->reload_set) {
		f->reload_ms = FZ_DEFAULT_RELOAD_MS;
	}
	f->origins = calloc(f->zones.n, sizeof(*f->origins));
	if (f->origins == NULL) {
		return -ENOMEM;
	}
	struct stat st;
	if (stat(f->path, &st) == 0) {
		sx_file_stamp_set(&f->stamp, &st);
		sx_file_stamp_mark_if_racy(&f->stamp);
	}
	for (size_t i = 0; i < f->zones.n; i++) {
		char err[512];
		rc = fz_zone_load(f->path, f->zones.z[i].wire, &f->origins[i].zone, err,
		                  sizeof(err));
		if (rc == -ENOMEM) {
			return rc;
		}
		/* -errno: the file could not be opened; SX_E*: it could, and is broken. */
		if (rc < 0 && (rc <= SX_EINVAL || f->reload_ms == 0)) {
			return sx_cf_err(cf, "%s", err);
		}
	}
	return 0;
}

static enum sx_verdict
fz_handle(struct sx_req *req, void *inst)
{
	struct fz *f = inst;
	const struct sx_query *q = sx_req_query(req);
	int i = sx_zones_match(&f->zones, q->lname);
	if (i < 0) {
		return SX_NEXT;
	}
	/* Workers hold the RCU read lock while they run the chain. */
	const struct fz_zone *z = rcu_dereference(f->origins[i].zone);
	struct sx_msg *msg = sx_req_msg(req);
	if (z == NULL) {
		/* The file has not loaded yet: CoreDNS answers SERVFAIL for a zone without SOA. */
		sx_msg_set_rcode(msg, SX_RCODE_SERVFAIL);
		return SX_DONE;
	}
	if (q->qtype == SX_TYPE_AXFR || q->qtype == SX_TYPE_IXFR) {
		return fz_transfer(req, z);
	}
	return fz_answer(z, &f->fall, q, msg);
}

/* Tell the block (transfer, which notifies secondaries) that @z is served now. */
static void
announce(struct fz *f, const struct fz_zone *z)
{
	const uint8_t *rr = z->soa->data;
	uint32_t ttl;
	uint16_t rdlen;

	memcpy(&ttl, rr, 4);
	memcpy(&rdlen, rr + 4, 2);
	struct sx_zone_version v = {
		.zone = z->apex->name,
		.soa = rr + 6,
		.soa_len = rdlen,
		.soa_ttl = ttl,
	};
	sx_rt_zone_changed(f->rt, f, &v);
}

/*
 * Once the configuration serves (the control loop's next turn after start), every zone
 * loaded is announced, as CoreDNS notifies at start: a secondary learns of a zone file
 * that changed while the server was down or before a Corefile reload.
 */
static void
announce_all(void *arg)
{
	struct fz *f = arg;

	for (size_t i = 0; i < f->zones.n; i++) {
		if (f->origins[i].zone != NULL) {
			announce(f, f->origins[i].zone);
		}
	}
}

static void
free_rcu(struct rcu_head *head)
{
	fz_zone_free(caa_container_of(head, struct fz_zone, rcu));
}

/*
 * Control thread, every `reload` and after a change. An unchanged file cannot hold a new serial,
 * so it is not parsed again; a changed one replaces the zone only when the
 * SOA serial differs (any change, as CoreDNS), or always with reload_by_mtime.
 */
static void
fz_tick(void *arg)
{
	struct fz *f = arg;
	struct stat st;
	if (stat(f->path, &st) < 0) {
		for (size_t i = 0; i < f->zones.n; i++) {
			sx_plog(SX_LOG_ERROR, "file", "Failed to open zone \"%s\" in \"%s\": %s",
			        f->zones.z[i].name, f->path, strerror(errno));
		}
		return;
	}
	if (!sx_file_stamp_changed(&f->stamp, &st)) {
		return;
	}
	sx_file_stamp_set(&f->stamp, &st);
	bool failed = false;
	for (size_t i = 0; i < f->zones.n; i++) {
		char err[512];
		struct fz_zone *z;
		if (fz_zone_load(f->path, f->zones.z[i].wire, &z, err, sizeof(err)) < 0) {
			sx_plog(SX_LOG_ERROR, "file", "Parsing zone \"%s\": %s", f->zones.z[i].name,
			        err);
			failed = true;
			continue;
		}
		struct fz_zone *old = f->origins[i].zone;
		if (old != NULL && old->serial == z->serial && !f->reload_by_mtime) {
			fz_zone_free(z);
			continue;
		}
		bool changed = old == NULL || old->serial != z->serial;
		old = rcu_xchg_pointer(&f->origins[i].zone, z);
		if (old != NULL) {
			call_rcu(&old->rcu, free_rcu);
		}
		sx_plog(SX_LOG_INFO, "file",
		        "Successfully reloaded zone \"%s\" in \"%s\" with %u SOA serial",
		        f->zones.z[i].name, f->path, z->serial);
		if (changed) {
			announce(f, z);
		}
	}
	/* A broken file is reported once; writing it again changes its size or time. */
	if (!failed) {
		sx_file_stamp_mark_if_racy(&f->stamp);
	}
}

static int
fz_start(void *inst, struct sx_runtime *rt)
{
	struct fz *f = inst;
	char interval[32];

	f->rt = rt;
	f->started = sx_timer_new(announce_all, f);
	if (f->started == NULL || sx_timer_once(f->started, 0) < 0) {
		return -ENOMEM;
	}
	format_interval(interval, sizeof(interval), f->reload_ms);
	for (size_t i = 0; i < f->zones.n; i++) {
		if (f->origins[i].zone == NULL) {
			sx_plog(SX_LOG_WARNING, "file", "Failed to open \"%s\": trying again in %s",
			        f->path, interval);
		}
	}
	if (f->reload_ms == 0) {
		return 0;
	}
	/* Checked every `reload` as CoreDNS does, and at once when inotify sees a change. */
	struct sx_filewatch_opts fo = { .poll_ms = f->reload_ms, .poll_always = true };
	f->watch = sx_filewatch_new(f->path, &fo, fz_tick, f);
	return f->watch == NULL ? -ENOMEM : 0;
}

static void
fz_teardown(void *inst)
{
	struct fz *f = inst;
	sx_filewatch_free(f->watch);
	sx_timer_free(f->started);
	/* No worker can reach the instance any more, so the zones go at once. */
	for (size_t i = 0; f->origins != NULL && i < f->zones.n; i++) {
		fz_zone_free(f->origins[i].zone);
	}
	free(f->origins);
	sx_zones_fini(&f->zones);
	sx_zones_fini(&f->fall);
	free(f->path);
}

const struct sx_plugin sx_plugin_file = {
	.name = "file",
	.inst_size = sizeof(struct fz),
	.directives = fz_directives,
	.repeat = true, /* CoreDNS takes several `file` lines in one block */
	.setup = fz_setup,
	.start = fz_start,
	.handle = fz_handle,
	.teardown = fz_teardown,
};
