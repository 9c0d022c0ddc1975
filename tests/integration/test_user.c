/*
 * test_user.c -- `-user NAME`: started as root, the server drops to NAME once it listens,
 * and still answers and reloads. The suite runs as root (CI does).
 */
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* The "Uid:" or "Gid:" line of /proc/PID/status, e.g. "65534\t65534\t65534\t65534". */
static void
status_line(pid_t pid, const char *key, char *out, size_t cap)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	cr_assert(f, "%s", path);
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key))) {
			snprintf(out, cap, "%s", line + strlen(key) + 1);
			out[strcspn(out, "\n")] = 0;
		}
	}
	fclose(f);
}

static void
assert_answer(struct sx_test_server *s, const char *want)
{
	char *out = sx_test_dig(s, "+short a.test A");

	cr_assert_str_eq(out, want, "a.test: got \"%s\"\n%s", out, sx_test_log(s));
	free(out);
}

Test(user, drops_after_binding_and_reloads)
{
	static const char corefile[] = ".:0 {\n\tbind 127.0.0.1\n\thosts %s/%s\n}\n";
	struct passwd *pw = getpwnam("nobody");
	char text[512], want[64], got[128];
	struct sx_test_server *s;

	cr_assert_eq(geteuid(), 0, "-user needs the suite to run as root (CI does)");
	cr_assert(pw, "no user nobody");
	s = sx_test_prepare();
	/* nobody reads the Corefile and the hosts files again at reload. */
	cr_assert_eq(chmod(sx_test_dir(s), 0755), 0);
	sx_test_write(s, "hosts1", "192.0.2.1 a.test\n");
	sx_test_write(s, "hosts2", "192.0.2.2 a.test\n");
	sx_test_add_arg(s, "-user");
	sx_test_add_arg(s, "nobody");
	snprintf(text, sizeof(text), corefile, "%DIR%", "hosts1");
	sx_test_start(s, text);
	cr_assert(sx_test_wait_log(s, "Running as user nobody", 10000), "%s", sx_test_log(s));

	/* Real, effective, saved and filesystem IDs. */
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned)pw->pw_uid, (unsigned)pw->pw_uid,
	         (unsigned)pw->pw_uid, (unsigned)pw->pw_uid);
	status_line(sx_test_pid(s), "Uid:", got, sizeof(got));
	cr_assert_str_eq(got, want);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned)pw->pw_gid, (unsigned)pw->pw_gid,
	         (unsigned)pw->pw_gid, (unsigned)pw->pw_gid);
	status_line(sx_test_pid(s), "Gid:", got, sizeof(got));
	cr_assert_str_eq(got, want);
	/* initgroups(): nobody's groups only, none of root's (Debian: nogroup alone). */
	status_line(sx_test_pid(s), "Groups:", got, sizeof(got));
	got[strcspn(got, " ")] = 0;
	snprintf(want, sizeof(want), "%u", (unsigned)pw->pw_gid);
	cr_assert_str_eq(got, want);
	assert_answer(s, "192.0.2.1\n");

	/* A reload as nobody: the new Corefile and its hosts file are read, the socket kept. */
	snprintf(text, sizeof(text), corefile, sx_test_dir(s), "hosts2");
	sx_test_write(s, "Corefile", text);
	kill(sx_test_pid(s), SIGUSR1);
	cr_assert(sx_test_wait_log(s, "Reload completed", 10000), "%s", sx_test_log(s));
	assert_answer(s, "192.0.2.2\n");
	status_line(sx_test_pid(s), "Uid:", got, sizeof(got));
	cr_assert_eq((unsigned)atoi(got), (unsigned)pw->pw_uid);
	cr_assert_eq(sx_test_stop(s), 0);
}

Test(user, unknown_user_fails_at_start)
{
	char *out = NULL;
	int rc = sx_test_run(&out, "-user no-such-user-sx -conf /dev/null");

	cr_assert_neq(rc, 0, "%s", out);
	cr_assert(strstr(out, "-user no-such-user-sx: no such user"), "%s", out);
	free(out);
}
