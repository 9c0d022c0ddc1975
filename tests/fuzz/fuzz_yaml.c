/*
 * fuzz_yaml.c -- libFuzzer target: YAML as a manifests directory and a kubeconfig read it.
 * Each input is written to a file, then loaded three ways: k8s_yaml_parse(); a manifests
 * directory holding it as its one file, loaded into a new store; a kubeconfig.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <urcu.h>

#include "kubeconfig.h"
#include "loop.h"
#include "manifests.h"
#include "yaml2json.h"
#include "zone.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_yaml.XXXXXX";
static char path[64];
static struct event_base *base;

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rcu_register_thread();
	if (!mkdtemp(dir) || !(base = event_base_new())) {
		abort();
	}
	/* The manifests source's timers and watches go on this thread's loop (never run). */
	sx_loop_bind(base);
	snprintf(path, sizeof(path), "%s/objects.yaml", dir);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_store_opts so = { .need = { true, true, true, true } };
	struct k8s_source_conf conf = { .manifests = dir, .watch = { true, true, true, true } };
	const struct k8s_manifests_opts mo = { .poll = true, .poll_ms = 3600 * 1000 };
	struct k8s_manifests *m;
	struct k8s_store *st;
	struct k8s_conn *c;
	json_t *docs;
	char err[512];
	int fd;

	if (k8s_yaml_parse(&docs, (const char *)data, size, err, sizeof(err)) == 0) {
		json_decref(docs);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) != 0) {
		abort();
	}
	if (k8s_store_new(&st, &so) == 0) {
		if (k8s_manifests_new(&m, &conf, st, &mo, err, sizeof(err)) == 0) {
			k8s_manifests_free(m);
		}
		k8s_store_free(st);
	}
	if (k8s_conn_kubeconfig(&c, path, NULL, err, sizeof(err)) == 0) {
		k8s_conn_free(c);
	}
	return 0;
}
