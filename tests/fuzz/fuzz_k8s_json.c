/*
 * fuzz_k8s_json.c -- libFuzzer target: LIST and watch-event JSON into the kubernetes zone.
 * The first input byte picks the kind and how the body is cut; the rest is used twice on the
 * store: as a LIST body (the splitter, each item applied inside a relist), then line by
 * line as watch events ({"type": ..., "object": {...}}, applied as the watch applies them).
 * Then the zone is read for the names the objects most likely made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <urcu.h>

#include "jpull.h"
#include "listsplit.h"
#include "zone.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One store for the whole run, emptied after each input (by empty relists, as a source would). */
static struct k8s_store *st;

struct run {
	struct k8s_store *st;
	enum k8s_kind kind;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct k8s_store_opts o = { .endpoint_pod_names = true };

	(void)argc;
	(void)argv;
	rcu_register_thread();
	for (int k = 0; k < K8S_NKINDS; k++) {
		o.need[k] = true;
	}
	if (k8s_store_new(&st, &o) != 0) {
		abort();
	}
	return 0;
}

static int
list_item(void *arg, const char *json, size_t len)
{
	struct run *r = arg;
	char err[256];

	k8s_store_apply(r->st, r->kind, K8S_ADDED, json, len, err, sizeof(err));
	return 0;
}

/* The head is @len bytes then a NUL, whatever the input (which may hold NULs of its own). */
static int
list_head(void *arg, const char *json, size_t len)
{
	(void)arg;
	if (json[len] != '\0') {
		abort();
	}
	json_decref(json_loadb(json, len, 0, NULL)); /* as the watch reads it */
	return 0;
}

static void
watch_event(struct run *r, const char *line, size_t len)
{
	char key[16], type[16] = "", err[256];
	const char *obj = NULL;
	size_t olen = 0;
	struct k8s_jp jp;

	k8s_jp_init(&jp, line, len);
	for (bool in = k8s_jp_object(&jp); in && k8s_jp_key(&jp, key, sizeof(key));) {
		if (!strcmp(key, "type")) {
			k8s_jp_str(&jp, type, sizeof(type));
		} else if (!strcmp(key, "object") && k8s_jp_peek(&jp) == K8S_JT_OBJECT) {
			k8s_jp_skip(&jp, &obj, &olen);
		} else {
			k8s_jp_skip(&jp, NULL, NULL);
		}
	}
	if (!k8s_jp_end(&jp) || !obj) {
		return;
	}
	enum k8s_event ev = !strcmp(type, "ADDED")      ? K8S_ADDED
	                    : !strcmp(type, "MODIFIED") ? K8S_MODIFIED
	                                                : K8S_DELETED;
	k8s_store_apply(r->st, r->kind, ev, obj, olen, err, sizeof(err));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r;
	struct k8s_split *sp;
	const char *text = (const char *)data + 1;
	size_t len = size - 1, cut;
	char *rest;
	size_t rlen;

	if (size < 1) {
		return 0;
	}
	r.kind = (enum k8s_kind)(data[0] % K8S_NKINDS);
	cut = (size_t)(data[0] / K8S_NKINDS) + 1;
	r.st = st;
	if (k8s_split_new(&sp, 1 << 20, list_item, list_head, &r) == 0) {
		k8s_store_relist_begin(r.st, r.kind);
		int rc = 0;
		for (size_t off = 0; off < len && rc == 0; off += cut) {
			rc = k8s_split_feed(sp, text + off, len - off < cut ? len - off : cut);
		}
		if (rc == 0 && k8s_split_end(sp, &rest, &rlen) == 0) {
			k8s_store_relist_end(r.st, r.kind);
		}
		k8s_split_free(sp);
	}
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;

		watch_event(&r, text + off, n);
		off += n + 1;
	}
	rcu_read_lock();
	k8s_zone_ns(r.st, "default", 7);
	k8s_zone_view(r.st, "default", 7, "kubernetes", 10);
	k8s_zone_view(r.st, "ns", 2, "svc", 3);
	k8s_zone_serial(r.st);
	rcu_read_unlock();
	/* Empty lists of every kind: the store is empty again for the next input. */
	for (int k = 0; k < K8S_NKINDS; k++) {
		k8s_store_relist_begin(st, (enum k8s_kind)k);
		k8s_store_relist_end(st, (enum k8s_kind)k);
	}
	return 0;
}
