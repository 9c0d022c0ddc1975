/* test_resolv.c -- the search list of a resolv.conf-style file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/error.h>
#include <sextant/resolv.h>

/* Write @text to a temporary file; its path goes into @path. */
static void
file_with(char path[64], const char *text)
{
	int fd;

	strcpy(path, "/tmp/sx-resolv-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
search(const char *text, uint8_t (*out)[SX_DNAME_MAX], int max, char *err)
{
	char path[64];
	int n;

	file_with(path, text);
	n = sx_resolv_search(path, out, max, err, 256);
	unlink(path);
	return n;
}

static void
expect_name(const uint8_t *wire, const char *want)
{
	char got[SX_DNAME_STRMAX];

	cr_assert_geq(sx_dname_to_str(got, sizeof(got), wire), 0);
	cr_expect_str_eq(got, want);
}

Test(resolv, the_last_search_line_wins)
{
	uint8_t out[4][SX_DNAME_MAX];
	char err[256];

	cr_assert_eq(search("# kubelet's\nnameserver 10.96.0.10\nsearch a.example b\n"
	                    "; a comment\nsearch NS1.svc.Cluster.Local svc.cluster.local.\n"
	                    "options ndots:5\n",
	                    out, 4, err),
	             2, "%s", err);
	expect_name(out[0], "ns1.svc.cluster.local.");
	expect_name(out[1], "svc.cluster.local.");
	cr_assert_eq(search("search a b\ndomain c.example\n", out, 4, err), 1);
	expect_name(out[0], "c.example.");
	cr_assert_eq(search("nameserver 10.0.0.1\n", out, 4, err), 0);
	/* Past @max, domains are left out. */
	cr_assert_eq(search("search a b c d e f\n", out, 2, err), 2);
	expect_name(out[1], "b.");
}

Test(resolv, errors_say_the_file)
{
	uint8_t out[4][SX_DNAME_MAX];
	char err[256];

	cr_assert_eq(sx_resolv_search("/nonexistent/resolv.conf", out, 4, err, sizeof(err)),
	             -ENOENT);
	cr_expect_str_eq(err,
	                 "failed to parse \"/nonexistent/resolv.conf\": No such file or directory");
	cr_assert_eq(search("search a..b\n", out, 4, err), SX_EINVAL);
	cr_expect(strstr(err, ": line 1: bad domain \"a..b\""), "%s", err);
}
