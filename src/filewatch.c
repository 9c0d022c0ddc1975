/* filewatch.c -- change notices for a file or a directory (inotify, else polling); file stamps. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sextant/filewatch.h>
#include <sextant/io.h>
#include <sextant/time.h>

struct sx_filewatch {
	char *dir;  /* what inotify watches */
	char *name; /* the entry of @dir that matters, or NULL for any (a directory watched) */
	struct sx_filewatch_opts o;
	sx_filewatch_fn fn;
	void *arg;
	int ifd; /* inotify, or -1 while polling */
	struct sx_io *io;
	struct sx_timer *timer; /* settle delay after a notice, or the poll period */
};

static void
stop_inotify(struct sx_filewatch *fw)
{
	sx_io_free(fw->io);
	fw->io = NULL;
	if (fw->ifd >= 0) {
		close(fw->ifd);
		fw->ifd = -1;
	}
}

static void
on_notice(int fd, unsigned what, void *arg)
{
	struct sx_filewatch *fw = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool gone = false, hit = false;
	ssize_t n;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ie = (const struct inotify_event *)p;

			gone = gone || (ie->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF));
			hit = hit || !fw->name || (ie->len && !strcmp(ie->name, fw->name));
			p += sizeof(*ie) + ie->len;
		}
	}
	if (gone) {
		/* The directory itself went away: wait for it by polling. */
		stop_inotify(fw);
		sx_timer_once(fw->timer, fw->o.poll_ms);
	} else if (hit) {
		/* Let a burst of writes settle before the call. */
		sx_timer_once(fw->timer, fw->o.settle_ms);
	}
}

static int
start_inotify(struct sx_filewatch *fw)
{
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
	                      IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

	if ((fw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		return -errno;
	}
	if (inotify_add_watch(fw->ifd, fw->dir, mask) < 0 ||
	    !(fw->io = sx_io_new(fw->ifd, SX_IO_READ, on_notice, fw))) {
		int r = errno ? -errno : -ENOMEM;
		stop_inotify(fw);
		return r;
	}
	return 0;
}

static void
on_timer(void *arg)
{
	struct sx_filewatch *fw = arg;

	fw->fn(fw->arg);
	if (fw->ifd >= 0) {
		if (fw->o.poll_always) {
			sx_timer_once(fw->timer, fw->o.poll_ms);
		}
	} else if (!fw->o.poll_only && !start_inotify(fw)) {
		sx_timer_once(fw->timer, fw->o.settle_ms); /* what changed before inotify started */
	} else {
		sx_timer_once(fw->timer, fw->o.poll_ms);
	}
}

struct sx_filewatch *
sx_filewatch_new(const char *path, const struct sx_filewatch_opts *opts, sx_filewatch_fn fn,
                 void *arg)
{
	struct sx_filewatch *fw = calloc(1, sizeof(*fw));
	struct stat sb;

	if (!fw) {
		return NULL;
	}
	fw->ifd = -1;
	fw->fn = fn;
	fw->arg = arg;
	if (opts) {
		fw->o = *opts;
	}
	fw->o.poll_ms = fw->o.poll_ms ? fw->o.poll_ms : 1000;
	fw->o.settle_ms = fw->o.settle_ms ? fw->o.settle_ms : 100;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fw->dir = strdup(path);
	} else {
		char *a = strdup(path), *b = strdup(path);

		if (a && b) {
			fw->dir = strdup(dirname(a));
			fw->name = strdup(basename(b));
		}
		free(a);
		free(b);
		if (!fw->name) {
			free(fw->dir);
			fw->dir = NULL;
		}
	}
	if (!fw->dir || !(fw->timer = sx_timer_new(on_timer, fw))) {
		sx_filewatch_free(fw);
		return NULL;
	}
	if (fw->o.poll_only || start_inotify(fw) || fw->o.poll_always) {
		sx_timer_once(fw->timer, fw->o.poll_ms);
	}
	return fw;
}

bool
sx_filewatch_notified(const struct sx_filewatch *fw)
{
	return fw->ifd >= 0;
}

void
sx_filewatch_free(struct sx_filewatch *fw)
{
	if (fw) {
		stop_inotify(fw);
		sx_timer_free(fw->timer);
		free(fw->dir);
		free(fw->name);
		free(fw);
	}
}

void
sx_file_stamp_set(struct sx_file_stamp *s, const struct stat *sb)
{
	*s = (struct sx_file_stamp){
		.dev = sb->st_dev,
		.ino = sb->st_ino,
		.size = sb->st_size,
		.mtime = sb->st_mtim,
		.ctime = sb->st_ctim,
	};
}

void
sx_file_stamp_mark_if_racy(struct sx_file_stamp *s)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec - s->mtime.tv_sec < 2) {
		s->racy = true;
	}
}

static bool
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool
sx_file_stamp_changed(const struct sx_file_stamp *s, const struct stat *sb)
{
	return s->racy || s->dev != sb->st_dev || s->ino != sb->st_ino || s->size != sb->st_size ||
	       !same_time(&s->mtime, &sb->st_mtim) || !same_time(&s->ctime, &sb->st_ctim);
}
