/* runtime.c -- what running plugins ask of the core: scrapes, readiness, lameduck. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <urcu.h>

#include <sextant/plugin.h>

#include "config.h"
#include "metrics_writer.h"
#include "server.h"
#include "version.h"

void
sx_rt_set_lameduck(struct sx_runtime *rt, const char *who, uint64_t ms)
{
	if (ms > rt->lameduck_ms) {
		rt->lameduck_ms = ms;
		rt->lameduck_by = who;
	}
}

void *
sx_rt_peer(struct sx_runtime *rt, const void *inst, const struct sx_plugin *p)
{
	return rt->starting ? sx_config_peer(rt->starting, inst, p) : NULL;
}

bool
sx_rt_shutting_down(struct sx_runtime *rt)
{
	return rt->shutting_down;
}

static bool
block_has(const struct sx_block *b, unsigned flag)
{
	size_t i;

	for (i = 0; i < b->nchain; i++) {
		if (b->chain[i].plugin->flags & flag) {
			return true;
		}
	}
	return false;
}

/*
 * Plugins never call one another: a zone plugin announces a new version here
 * and the core hands it to the block's other instances, as CoreDNS's file
 * plugin calls the transfer plugin it found in its server block.
 */
void
sx_rt_zone_changed(struct sx_runtime *rt, const void *inst, const struct sx_zone_version *v)
{
	const struct sx_block *b = sx_server_block_of(inst);

	(void)rt;
	for (size_t i = 0; b && i < b->nchain; i++) {
		const struct sx_instance *in = &b->chain[i];

		if (in->inst != inst && in->plugin->zone_changed) {
			in->plugin->zone_changed(in->inst, v);
		}
	}
}

struct not_ready {
	const char *name;
	char why[512];
};

static int
by_name(const void *a, const void *b)
{
	const struct not_ready *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->why, y->why);
}

/* Append to @buf (of @cap, @len used so far) without writing past its end. */
static void
append(char *buf, size_t cap, size_t *len, const char *a, const char *b, const char *c)
{
	if (*len < cap) {
		*len += (size_t)snprintf(buf + *len, cap - *len, "%s%s%s", a, b, c);
	}
}

int
sx_rt_not_ready(struct sx_runtime *rt, char *buf, size_t cap)
{
	static struct not_ready nr[64]; /* control thread only */
	size_t bi, i, n = 0, len = 0;
	struct sx_gen *gen;

	(void)rt;
	buf[0] = 0;
	rcu_read_lock();
	gen = sx_gen_current();
	for (bi = 0; gen && bi < gen->cfg->nblocks; bi++) {
		const struct sx_block *b = &gen->cfg->blocks[bi];

		if (!block_has(b, SX_PLUGIN_READINESS)) {
			continue;
		}
		for (i = 0; i < b->nchain && n < 64; i++) {
			const struct sx_instance *in = &b->chain[i];

			nr[n].why[0] = '\0';
			if (in->plugin->ready &&
			    !in->plugin->ready(in->inst, nr[n].why, sizeof(nr[n].why))) {
				nr[n++].name = in->plugin->name;
			}
		}
	}
	rcu_read_unlock();
	qsort(nr, n, sizeof(nr[0]), by_name);
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(nr[i].name, nr[i - 1].name)) {
			append(buf, cap, &len, len ? "," : "", nr[i].name, "");
		}
	}
	for (i = 0; i < n; i++) {
		if (nr[i].why[0] && (i == 0 || by_name(&nr[i], &nr[i - 1]))) {
			append(buf, cap, &len, "\n", nr[i].name, ": ");
			append(buf, cap, &len, nr[i].why, "", "");
		}
	}
	return (int)n;
}

/* Whether the plugin of instance @i of block @bi has an instance before it. */
static bool
seen_before(const struct sx_config *cfg, size_t bi, size_t i)
{
	const struct sx_plugin *p = cfg->blocks[bi].chain[i].plugin;

	for (size_t b = 0; b <= bi; b++) {
		for (size_t j = 0; j < (b == bi ? i : cfg->blocks[b].nchain); j++) {
			if (cfg->blocks[b].chain[j].plugin == p) {
				return true;
			}
		}
	}
	return false;
}

/* The collect_all hook of each plugin that has one, once, with its instances in @gen. */
static void
collect_all(const struct sx_gen *gen, struct sx_metrics *m)
{
	const struct sx_config *cfg = gen->cfg;
	size_t bi, i, n, cap = 0;
	void **insts = NULL;

	for (bi = 0; bi < cfg->nblocks; bi++) {
		for (i = 0; i < cfg->blocks[bi].nchain; i++) {
			const struct sx_plugin *p = cfg->blocks[bi].chain[i].plugin;

			if (!p->collect_all || seen_before(cfg, bi, i)) {
				continue;
			}
			n = 0;
			for (size_t b = bi; b < cfg->nblocks; b++) {
				for (size_t j = b == bi ? i : 0; j < cfg->blocks[b].nchain; j++) {
					if (cfg->blocks[b].chain[j].plugin != p) {
						continue;
					}
					if (n == cap) {
						size_t ncap = cap ? cap * 2 : 8;
						void **v = realloc(insts, ncap * sizeof(*v));

						if (!v) {
							free(insts);
							return;
						}
						insts = v;
						cap = ncap;
					}
					insts[n++] = cfg->blocks[b].chain[j].inst;
				}
			}
			p->collect_all(insts, n, m);
		}
	}
	free(insts);
}

/* process_* as Prometheus's Go process collector names them, which dashboards expect. */
static void
process_metrics(struct sx_runtime *rt, struct sx_metrics *m)
{
	long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
	unsigned long vsize = 0, utime = 0, stime = 0;
	long rss = 0;
	struct rlimit rl;
	struct dirent *d;
	double fds = 0;
	FILE *f;
	DIR *dir;

	f = fopen("/proc/self/stat", "r");
	if (f) {
		/* Fields 14, 15 (utime, stime), 23 (vsize), 24 (rss), after "pid (comm) state". */
		if (fscanf(f,
		           "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d "
		           "%*d %*d %*d %*u %lu %ld",
		           &utime, &stime, &vsize, &rss) != 4) {
			utime = stime = vsize = 0;
			rss = 0;
		}
		fclose(f);
	}
	dir = opendir("/proc/self/fd");
	while (dir && (d = readdir(dir))) {
		fds += d->d_name[0] != '.';
	}
	if (dir) {
		closedir(dir);
		fds--; /* the directory stream itself */
	}
	sx_metrics_add(m, "process_cpu_seconds_total", SX_METRIC_COUNTER,
	               "Total user and system CPU time spent in seconds.", NULL,
	               (double)(utime + stime) / (double)ticks);
	sx_metrics_add(m, "process_resident_memory_bytes", SX_METRIC_GAUGE,
	               "Resident memory size in bytes.", NULL, (double)rss * (double)page);
	sx_metrics_add(m, "process_virtual_memory_bytes", SX_METRIC_GAUGE,
	               "Virtual memory size in bytes.", NULL, (double)vsize);
	sx_metrics_add(m, "process_open_fds", SX_METRIC_GAUGE, "Number of open file descriptors.",
	               NULL, fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		sx_metrics_add(m, "process_max_fds", SX_METRIC_GAUGE,
		               "Maximum number of open file descriptors.", NULL,
		               (double)rl.rlim_cur);
	}
	sx_metrics_add(m, "process_start_time_seconds", SX_METRIC_GAUGE,
	               "Start time of the process since unix epoch in seconds.", NULL,
	               rt->start_time);
}

char *
sx_rt_scrape(struct sx_runtime *rt, size_t *len)
{
	struct sx_metrics *m = sx_metrics_new();
	struct sx_gen *gen;
	size_t bi, i, zi;
	char *out;

	if (!m) {
		return NULL;
	}
	sx_metrics_add(
	        m, "coredns_build_info", SX_METRIC_GAUGE,
	        "A metric with a constant '1' value labeled by version, revision, and goversion "
	        "from which CoreDNS was built.",
	        "version=\"" SX_VERSION "\",revision=\"\",goversion=\"sextant\"", 1);
	rcu_read_lock();
	gen = sx_gen_current();
	for (bi = 0; gen && bi < gen->cfg->nblocks; bi++) {
		const struct sx_block *b = &gen->cfg->blocks[bi];

		for (i = 0; i < b->nchain; i++) {
			const struct sx_instance *in = &b->chain[i];

			if (in->plugin->collect) {
				in->plugin->collect(in->inst, m);
			}
			if (!block_has(b, SX_PLUGIN_EXPORTS_METRICS)) {
				continue;
			}
			for (zi = 0; zi < b->zones.n; zi++) {
				char labels[512];

				snprintf(labels, sizeof(labels),
				         "server=\"dns://:%u\",zone=\"%s\",view=\"\",name=\"%s\"",
				         sx_rt_port(rt, b->ports[zi]), b->zones.z[zi].name,
				         in->plugin->name);
				sx_metrics_add(
				        m, "coredns_plugin_enabled", SX_METRIC_GAUGE,
				        "A metric that indicates whether a plugin is enabled on per "
				        "server and zone basis.",
				        labels, 1);
			}
		}
	}
	if (gen) {
		collect_all(gen, m);
	}
	rcu_read_unlock();
	process_metrics(rt, m);
	out = sx_metrics_render(m, len);
	sx_metrics_free(m);
	return out;
}
