/* main.c -- command line, start-up, signals (stop, reload) and shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <urcu.h>

#include <sextant/log.h>
#include <sextant/plugin.h>
#include <sextant/time.h>

#include "config.h"
#include "loop.h"
#include "metrics_writer.h"
#include "process.h"
#include "server.h"
#include "version.h"

/* CoreDNS's built-in configuration when there is no Corefile. */
#define DEFAULT_COREFILE ". {\n\twhoami\n\tlog\n}\n"

struct flags {
	const char *conf;
	const char *pidfile;
	const char *user;
	long port;
	long workers;
	bool plugins, version, quiet, check;
};

static struct flags flags = { .port = 53 };
static struct sx_config_opts cfg_opts;

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: sextant [-conf FILE] [-dns.port PORT] [-workers N] [-pidfile FILE]\n"
	        "               [-user NAME] [-quiet] [-check] [-plugins] [-version]\n"
	        "  -conf FILE       Corefile to load (\"stdin\" reads standard input); default:\n"
	        "                   ./Corefile, else a built-in `. { whoami log }`\n"
	        "  -dns.port PORT   port for server block keys without one (default 53), also -p\n"
	        "  -workers N       worker threads (default: one per usable core)\n"
	        "  -pidfile FILE    write the process ID to FILE\n"
	        "  -user NAME       once listening, run as user NAME (and its groups); needs root\n"
	        "  -quiet           do not print the zones served and the version at start\n"
	        "  -check           check the Corefile (every plugin's options too) and exit\n"
	        "  -plugins         list the compiled plugins, in execution order, and exit\n"
	        "  -version         print the version and exit\n");
}

static int
parse_long(const char *name, const char *v, long lo, long hi, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < lo || n > hi) {
		fprintf(stderr, "invalid value \"%s\" for flag -%s\n", v, name);
		return -1;
	}
	*out = n;
	return 0;
}

/* Go's flag syntax, as CoreDNS has it: -flag, --flag, -flag=value, -flag value. */
static int
parse_flags(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		char name[64];
		size_t n;

		if (a[0] != '-' || a[1] == 0) {
			fprintf(stderr, "extra command line arguments\n");
			return -1;
		}
		a += a[1] == '-' ? 2 : 1;
		n = strcspn(a, "=");
		if (n >= sizeof(name)) {
			n = sizeof(name) - 1;
		}
		memcpy(name, a, n);
		name[n] = 0;
		if (a[n] == '=') {
			val = a + n + 1;
		}
		bool *flag = !strcmp(name, "plugins")   ? &flags.plugins
		             : !strcmp(name, "version") ? &flags.version
		             : !strcmp(name, "quiet")   ? &flags.quiet
		             : !strcmp(name, "check")   ? &flags.check
		                                        : NULL;
		if (flag) {
			*flag = !val || !strcmp(val, "true") || !strcmp(val, "1");
			continue;
		}
		if (!strcmp(name, "h") || !strcmp(name, "help")) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(name, "conf") && strcmp(name, "pidfile") && strcmp(name, "dns.port") &&
		    strcmp(name, "p") && strcmp(name, "workers") && strcmp(name, "user")) {
			fprintf(stderr, "flag provided but not defined: -%s\n", name);
			usage(stderr);
			return -1;
		}
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "flag needs an argument: -%s\n", name);
				return -1;
			}
			val = argv[++i];
		}
		if (!strcmp(name, "conf")) {
			flags.conf = val;
		} else if (!strcmp(name, "pidfile")) {
			flags.pidfile = val;
		} else if (!strcmp(name, "user")) {
			flags.user = val;
		} else if (!strcmp(name, "workers")) {
			if (parse_long(name, val, 1, 1024, &flags.workers) < 0) {
				return -1;
			}
		} else if (parse_long(name, val, 0, 65535, &flags.port) < 0) {
			return -1;
		}
	}
	return 0;
}

/* One worker per usable core: the CPU affinity mask, capped by a cgroup v2 CPU quota. */
static unsigned
default_workers(void)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	FILE *f;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		n = CPU_COUNT(&set);
	}
	f = fopen("/sys/fs/cgroup/cpu.max", "r");
	if (f) {
		long quota, period;

		if (fscanf(f, "%ld %ld", &quota, &period) == 2 && period > 0) {
			long q = (quota + period - 1) / period;

			if (q > 0 && q < n) {
				n = q;
			}
		}
		fclose(f);
	}
	return n > 0 ? (unsigned)n : 1;
}

static int
load_config(struct sx_config **cfg, char *err, size_t errlen)
{
	if (!flags.conf && access("Corefile", F_OK) != 0) {
		return sx_config_parse("Corefile", DEFAULT_COREFILE, ".", &cfg_opts, cfg, err,
		                       errlen);
	}
	return sx_config_load(flags.conf ? flags.conf : "Corefile", &cfg_opts, cfg, err, errlen);
}

/*
 * The lameduck's end. Queries still arriving mean some node has not yet stopped
 * routing to us (kube-proxy can take seconds to drop an endpoint on a loaded node),
 * so the drain goes on until a whole tick passes without one, for at most one more
 * lameduck period; on an idle server this stops exactly at the lameduck's end.
 */
struct drain {
	struct event_base *base;
	struct event *tick;
	uint64_t tick_ms, seen;
	unsigned ticks, end_ticks, limit_ticks;
	bool extended;
};

static struct drain drain;

static void
drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;
	uint64_t n = sx_server_received();
	bool quiet = n == d->seen;

	(void)fd;
	(void)what;
	d->seen = n;
	/*
	 * Counted in ticks, not read from the clock: a tick firing a hair before
	 * the lameduck's end must not push the check past the limit in one step.
	 */
	if (++d->ticks < d->end_ticks) {
		return;
	}
	if (!quiet && d->ticks < d->limit_ticks) {
		if (!d->extended) {
			sx_plog(SX_LOG_INFO, sx_server_runtime()->lameduck_by,
			        "Queries still arrive after lameduck; serving until %gs pass without one "
			        "(at most %gs more)",
			        (double)d->tick_ms / 1000.0,
			        (double)((d->limit_ticks - d->ticks) * d->tick_ms) / 1000.0);
			d->extended = true;
		}
		return;
	}
	event_del(d->tick);
	event_base_loopbreak(d->base);
}

static int
drain_start(struct event_base *base, uint64_t ms)
{
	/* Ticks of at most a second that divide the lameduck period evenly. */
	uint64_t n = (ms + 999) / 1000;

	drain.base = base;
	drain.end_ticks = (unsigned)(n ? n : 1);
	drain.tick_ms = ms / drain.end_ticks;
	drain.limit_ticks = 2 * drain.end_ticks;
	drain.seen = sx_server_received();
	struct timeval tv = sx_tv_ms(drain.tick_ms);
	drain.tick = event_new(base, -1, EV_PERSIST, drain_tick, &drain);
	return drain.tick ? event_add(drain.tick, &tv) : -1;
}

/*
 * The first SIGTERM/SIGINT starts the shutdown: with a lameduck period (health's
 * `lameduck`), DNS and /health keep answering while /ready says "Shutting down",
 * so the Service drains before the sockets close. A second signal stops at once.
 */
static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct sx_runtime *rt = sx_server_runtime();
	uint64_t ms = rt->lameduck_ms;

	(void)what;
	if (rt->shutting_down || ms == 0) {
		if (!rt->shutting_down) {
			sx_log(SX_LOG_INFO, "%s: Shutting down servers then terminating",
			       sig == SIGTERM ? "SIGTERM" : "SIGINT");
		}
		rt->shutting_down = true;
		event_base_loopbreak(arg);
		return;
	}
	rt->shutting_down = true;
	sx_log(SX_LOG_INFO, "%s: Shutting down servers then terminating",
	       sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sx_plog(SX_LOG_INFO, rt->lameduck_by, "Going into lameduck mode for %gs",
	        (double)ms / 1000.0);
	if (drain_start(arg, ms) < 0) {
		event_base_loopbreak(arg);
	}
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	sx_log(SX_LOG_INFO, "SIGUSR1: Reloading");
	if (sx_server_reload_now() == 0) {
		sx_log(SX_LOG_INFO, "Reload completed");
	}
}

/*
 * Become user @name for good once every socket is open: groups first (they need root), then the group
 * and the user IDs (real, effective and saved; glibc applies them to every thread). Reloads then
 * reuse the open sockets; a new privileged port or a file only root can read fails the reload.
 */
static int
drop_privileges(const char *name, uid_t uid, gid_t gid)
{
	if (initgroups(name, gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		return -errno;
	}
	/* Make sure it cannot be undone. */
	if (uid != 0 && setuid(0) == 0) {
		return -EPERM;
	}
	return 0;
}

static int
write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		return -errno;
	}
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0 ? 0 : -errno;
}

/* Load the Corefile, then check it (-check) or serve it until stopped. @return the exit status. */
static int
serve(uid_t uid, gid_t gid)
{
	static const int stop_signals[] = { SIGTERM, SIGINT };
	struct event *sigev[3] = { NULL };
	struct sx_server_opts sopts;
	struct event_base *base;
	struct sx_config *cfg;
	char err[1024];
	size_t i;
	int rc;

	cfg_opts.default_port = (uint16_t)flags.port;
	cfg_opts.workers = flags.workers ? (unsigned)flags.workers : default_workers();

	if (load_config(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (flags.check) {
		sx_config_free(cfg);
		printf("%s: configuration is valid\n", flags.conf ? flags.conf : "Corefile");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (evthread_use_pthreads() < 0) {
		fprintf(stderr, "libevent has no thread support\n");
		return 1;
	}
	rcu_register_thread();
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "cannot create the event loop\n");
		return 1;
	}
	sx_loop_bind(base);
	sopts.workers = cfg_opts.workers;
	{
		struct sx_runtime *rt = sx_server_runtime();
		const char *path = flags.conf ? flags.conf : "Corefile";

		rt->load = load_config;
		if (flags.conf || access("Corefile", F_OK) == 0) {
			rt->conf_path = path;
			if (strcmp(path, "stdin") == 0) {
				rt->conf_path = NULL; /* cannot be read again: no reloads */
				rt->load = NULL;
			} else if (sx_config_digest(path, rt->digest, err, sizeof(err)) < 0) {
				rt->conf_path = NULL;
			}
			memcpy(rt->tried, rt->digest, sizeof(rt->tried));
		}
	}
	sopts.quiet = flags.quiet;
	/* Before the banner: whoever reads it may signal at once. */
	for (i = 0; i < 2; i++) {
		sigev[i] = evsignal_new(base, stop_signals[i], on_stop, base);
		event_add(sigev[i], NULL);
	}
	sigev[2] = evsignal_new(base, SIGUSR1, on_reload, NULL);
	event_add(sigev[2], NULL);
	rc = sx_server_start(base, cfg, &sopts, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		sx_server_stop();
		sx_series_free_all();
		for (i = 0; i < 3; i++) {
			event_free(sigev[i]);
		}
		event_base_free(base);
		return 1;
	}
	if (flags.pidfile && (rc = write_pidfile(flags.pidfile)) < 0) {
		sx_log(SX_LOG_ERROR, "cannot write pidfile %s: %s", flags.pidfile, sx_strerror(rc));
	}
	if (flags.user) {
		if ((rc = drop_privileges(flags.user, uid, gid)) < 0) {
			fprintf(stderr, "-user %s: %s\n", flags.user, sx_strerror(rc));
			sx_server_stop();
			for (i = 0; i < 3; i++) {
				event_free(sigev[i]);
			}
			event_base_free(base);
			return 1;
		}
		sx_log(SX_LOG_INFO, "Running as user %s (uid %u, gid %u)", flags.user,
		       (unsigned)uid, (unsigned)gid);
	}

	event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);

	if (drain.tick) {
		event_free(drain.tick);
	}
	sx_server_stop();
	sx_series_free_all();
	for (i = 0; i < 3; i++) {
		event_free(sigev[i]);
	}
	if (flags.pidfile) {
		unlink(flags.pidfile);
	}
	event_base_free(base);
	rcu_unregister_thread();
	return 0;
}

int
main(int argc, char **argv)
{
	uid_t uid = 0;
	gid_t gid = 0;
	char err[1024];
	size_t i;
	int rc;

	if (parse_flags(argc, argv) < 0) {
		return 2;
	}
	if (flags.version) {
		printf("sextant-%s\nlinux/%s, gcc %d.%d.%d\n", SX_VERSION, SX_ARCH, __GNUC__,
		       __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
		return 0;
	}
	if (flags.plugins) {
		printf("DNS plugins, in execution order:\n");
		for (i = 0; sx_plugins[i]; i++) {
			printf("  dns.%s\n", sx_plugins[i]->name);
		}
		return 0;
	}
	if (flags.user) {
		struct passwd *pw;

		errno = 0;
		if (!(pw = getpwnam(flags.user))) {
			fprintf(stderr, "-user %s: %s\n", flags.user,
			        errno ? strerror(errno) : "no such user");
			return 1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		if (geteuid() != 0) {
			fprintf(stderr, "-user %s: only root can change user\n", flags.user);
			return 1;
		}
	}
	if (sx_process_init(sx_plugins, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = serve(uid, gid);
	sx_process_fini(sx_plugins);
	return rc;
}
