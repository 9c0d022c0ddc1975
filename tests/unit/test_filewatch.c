/* test_filewatch.c -- change notices (inotify, and polling without) and file stamps. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sextant/filewatch.h>
#include <sextant/time.h>

#include "loop.h"

static struct event_base *base;
static char dir[64], path[128];
static unsigned calls;

static void
setup(void)
{
	base = event_base_new();
	cr_assert_not_null(base);
	sx_loop_bind(base);
	snprintf(dir, sizeof(dir), "/tmp/sx-fw-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/watched", dir);
	calls = 0;
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
	sx_loop_bind(NULL);
	event_base_free(base);
}

TestSuite(filewatch, .init = setup, .fini = teardown);

static void
changed(void *arg)
{
	(void)arg;
	calls++;
}

static void
put(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Run the loop until @n calls came, or for @ms at most. */
static void
run(unsigned n, uint64_t ms)
{
	uint64_t end = sx_now_ms() + ms;
	struct timeval tick = { 0, 10000 };

	while (calls < n && sx_now_ms() < end) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
}

static const struct sx_filewatch_opts quick = { .poll_ms = 50, .settle_ms = 20 };

Test(filewatch, a_file_written_or_replaced_is_noticed_and_its_neighbours_are_not)
{
	char tmp[160];
	struct sx_filewatch *fw;

	put(path, "one");
	fw = sx_filewatch_new(path, &quick, changed, NULL);
	cr_assert_not_null(fw);
	cr_assert(sx_filewatch_notified(fw));
	put(path, "two");
	run(1, 10000);
	cr_assert_eq(calls, 1);
	/* Another file of the directory: nothing, within many settle delays. */
	snprintf(tmp, sizeof(tmp), "%s/other", dir);
	put(tmp, "x");
	run(2, 500);
	cr_assert_eq(calls, 1);
	/* Replaced by a rename, as editors and ConfigMap updates do. */
	put(tmp, "three");
	cr_assert_eq(rename(tmp, path), 0);
	run(2, 10000);
	cr_assert_eq(calls, 2);
	sx_filewatch_free(fw);
}

Test(filewatch, a_missing_file_is_noticed_when_it_appears)
{
	struct sx_filewatch *fw = sx_filewatch_new(path, &quick, changed, NULL);

	cr_assert_not_null(fw);
	put(path, "here");
	run(1, 10000);
	cr_assert_eq(calls, 1);
	sx_filewatch_free(fw);
}

Test(filewatch, a_directory_reports_entries_and_polls_while_it_is_gone)
{
	char sub[96], entry[128];
	struct sx_filewatch *fw;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	fw = sx_filewatch_new(sub, &quick, changed, NULL);
	cr_assert_not_null(fw);
	snprintf(entry, sizeof(entry), "%s/a.yaml", sub);
	put(entry, "x");
	run(1, 10000);
	cr_assert_eq(calls, 1);
	cr_assert(sx_filewatch_notified(fw));
	/* Gone: polling calls every poll_ms, then inotify again once it is back. */
	cr_assert_eq(unlink(entry), 0);
	cr_assert_eq(rmdir(sub), 0);
	run(4, 10000);
	cr_assert_geq(calls, 4);
	cr_assert_not(sx_filewatch_notified(fw));
	cr_assert_eq(mkdir(sub, 0700), 0);
	run(calls + 2, 10000);
	cr_assert(sx_filewatch_notified(fw));
	sx_filewatch_free(fw);
}

Test(filewatch, poll_only_calls_every_period_and_poll_always_too)
{
	struct sx_filewatch_opts o = quick;
	struct sx_filewatch *fw;
	uint64_t t0 = sx_now_ms();

	put(path, "one");
	o.poll_only = true;
	fw = sx_filewatch_new(path, &o, changed, NULL);
	cr_assert_not_null(fw);
	cr_assert_not(sx_filewatch_notified(fw));
	run(3, 10000);
	cr_assert_eq(calls, 3);
	cr_assert_geq(sx_now_ms() - t0, 3 * 50 - 1);
	sx_filewatch_free(fw);

	o.poll_only = false;
	o.poll_always = true;
	calls = 0;
	fw = sx_filewatch_new(path, &o, changed, NULL);
	cr_assert(sx_filewatch_notified(fw));
	run(3, 10000);
	cr_assert_eq(calls, 3, "no change, yet a call every period");
	sx_filewatch_free(fw);
	sx_filewatch_free(NULL);
}

Test(filewatch, a_stamp_differs_from_a_stat_of_another_file_size_or_time)
{
	const struct stat sb = {
		.st_dev = 1,
		.st_ino = 2,
		.st_size = 3,
		.st_mtim = { 100, 4 },
		.st_ctim = { 100, 5 },
	};
	struct sx_file_stamp none = { 0 }, s;
	struct stat other;

	cr_assert(sx_file_stamp_changed(&none, &sb), "a zeroed stamp is no file read");
	sx_file_stamp_set(&s, &sb);
	cr_assert_not(sx_file_stamp_changed(&s, &sb));
	other = sb, other.st_dev++;
	cr_assert(sx_file_stamp_changed(&s, &other), "device");
	other = sb, other.st_ino++;
	cr_assert(sx_file_stamp_changed(&s, &other), "inode: replaced by a rename");
	other = sb, other.st_size++;
	cr_assert(sx_file_stamp_changed(&s, &other), "size");
	other = sb, other.st_mtim.tv_nsec++;
	cr_assert(sx_file_stamp_changed(&s, &other), "mtime");
	other = sb, other.st_ctim.tv_sec++;
	cr_assert(sx_file_stamp_changed(&s, &other), "ctime: a write whose mtime was put back");
}

/* A file changed within the last two seconds may change again unseen: its stamp is racy. */
Test(filewatch, a_stamp_of_a_file_changed_just_now_is_racy)
{
	struct timespec back[2] = { { 0, UTIME_OMIT }, { time(NULL) - 10, 0 } };
	struct sx_file_stamp s;
	struct stat sb;

	put(path, "one");
	cr_assert_eq(stat(path, &sb), 0);
	sx_file_stamp_set(&s, &sb);
	cr_assert_not(sx_file_stamp_changed(&s, &sb), "not racy until marked");
	sx_file_stamp_mark_if_racy(&s);
	cr_assert(sx_file_stamp_changed(&s, &sb), "racy: read again");

	cr_assert_eq(utimensat(AT_FDCWD, path, back, 0), 0);
	cr_assert_eq(stat(path, &sb), 0);
	sx_file_stamp_set(&s, &sb);
	sx_file_stamp_mark_if_racy(&s);
	cr_assert_not(sx_file_stamp_changed(&s, &sb), "changed 10 s ago: not racy");
}
