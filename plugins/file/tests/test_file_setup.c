/* test_file_setup.c -- the file directive: Corefile snippets that set up, and exact errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

#include "../file.h"

extern const struct sx_plugin sx_plugin_file;

static char dir[] = "/tmp/sx-file-setup-XXXXXX";

static void
write_file(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	cr_assert(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
make_dir(void)
{
	cr_assert(mkdtemp(dir));
	write_file("db.example.org", "$ORIGIN example.org.\n"
	                             "@ 3600 IN SOA ns1 admin 1 7200 3600 1209600 300\n"
	                             "@ 3600 IN NS ns1\n"
	                             "ns1 IN A 192.0.2.1\n");
	write_file("db.bad", "$ORIGIN example.org.\n"
	                     "@ 3600 IN SOA ns1 admin 1 7200 3600 1209600 300\n"
	                     "\n"
	                     "www IN A 192.0.2\n");
	write_file("db.nosoa", "www.example.org. 300 IN A 192.0.2.1\n");
	write_file("db.outside", "@ 3600 IN SOA ns1 admin 1 7200 3600 1209600 300\n"
	                         "www.example.net. 300 IN A 192.0.2.1\n");
	/* Relative names: the same file serves any origin. */
	write_file("db.any", "@ 3600 IN SOA ns1 admin 7 7200 3600 1209600 300\n"
	                     "www IN A 192.0.2.80\n");
	/* Names that open but never read to an end: a directory (reads fail), a FIFO (blocks). */
	char path[512];
	snprintf(path, sizeof(path), "%s/zones.d", dir);
	cr_assert(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/db.fifo", dir);
	cr_assert(mkfifo(path, 0600) == 0);
	write_file("db.incdir", "$ORIGIN example.org.\n"
	                        "@ 3600 IN SOA ns1 admin 1 7200 3600 1209600 300\n"
	                        "$INCLUDE zones.d\n");
}

static void
remove_dir(void)
{
	static const char *files[] = { "db.example.org", "db.bad",  "db.nosoa", "db.outside",
		                       "db.any",         "db.fifo", "db.incdir" };
	char path[512];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/zones.d", dir);
	rmdir(path);
	rmdir(dir);
}

TestSuite(file_setup, .init = make_dir, .fini = remove_dir);

struct setup_case {
	const char *corefile;
	const char *err; /* NULL: sets up; "%D" stands for the Corefile's directory */
};

static const struct setup_case cases[] = {
	{ "example.org {\n file db.example.org\n}\n", NULL },
	{ "example.org {\n file db.example.org {\n  reload 0\n }\n}\n", NULL },
	{ "example.org {\n file db.example.org {\n  reload 10s\n  reload_by_mtime\n }\n}\n", NULL },
	{ "example.org {\n file db.example.org {\n  fallthrough\n }\n}\n", NULL },
	{ ". {\n file db.example.org example.org {\n  fallthrough in-addr.arpa example.org\n }\n}\n",
	  NULL },
	/* Several file lines per block are fine, as in CoreDNS. */
	{ ". {\n file db.example.org example.org\n file db.any example.net\n}\n", NULL },
	/* A missing file is tried again later, unless reloading is off. */
	{ "example.org {\n file db.missing\n}\n", NULL },
	{ "example.org {\n file\n}\n",
	  "Corefile:2: plugin/file: Wrong argument count or unexpected line ending after 'file'" },
	{ "example.org {\n file db.missing {\n  reload 0\n }\n}\n",
	  "Corefile:2: plugin/file: %D/db.missing: No such file or directory" },
	{ "example.org {\n file db.bad\n}\n",
	  "Corefile:2: plugin/file: %D/db.bad:4: Syntax error, could not parse the RR's rdata" },
	{ "example.org {\n file db.nosoa\n}\n",
	  "Corefile:2: plugin/file: file \"%D/db.nosoa\" has no SOA record for origin example.org." },
	{ "example.org {\n file db.outside\n}\n",
	  "Corefile:2: plugin/file: %D/db.outside:2: out of zone data: www.example.net." },
	{ "example.org {\n file db.example.org {\n  transfer to *\n }\n}\n",
	  "Corefile:3: plugin/file: unknown property 'transfer'" },
	{ "example.org {\n file db.example.org {\n  reload\n }\n}\n",
	  "Corefile:3: plugin/file: wrong argument count for 'reload' (expects 1)" },
	{ "example.org {\n file db.example.org {\n  reload often\n }\n}\n",
	  "Corefile:3: plugin/file: reload: invalid duration 'often' "
	  "(examples: 500ms, 30s, 5m, 1h30m)" },
	{ "example.org {\n file db.example.org example..org\n}\n", "" /* any error */ },
	/* Once spun forever: a directory opens, then every read fails and EOF never comes. */
	{ "example.org {\n file zones.d\n}\n",
	  "Corefile:2: plugin/file: %D/zones.d: Is a directory" },
	{ "example.org {\n file db.fifo\n}\n",
	  "Corefile:2: plugin/file: %D/db.fifo: not a regular file" },
	{ "example.org {\n file db.incdir\n}\n",
	  "Corefile:2: plugin/file: %D/zones.d: Is a directory" },
};

static char *
expand(const char *s)
{
	char *out = malloc(strlen(s) + 64 * 4 + 1);
	char *o = out;
	for (; *s; s++) {
		if (s[0] == '%' && s[1] == 'D') {
			o = stpcpy(o, dir);
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static struct sx_config *
parse(const char *corefile, char *err, size_t errlen, int *rc)
{
	struct sx_config *cfg = NULL;
	err[0] = '\0';
	*rc = sx_test_config(corefile, dir, NULL, &cfg, err, errlen);
	return cfg;
}

static struct fz *
instance(struct sx_config *cfg, size_t nth)
{
	void *inst = sx_test_instance(cfg, 0, &sx_plugin_file, nth);

	cr_assert(inst, "no file instance");
	return inst;
}

Test(file_setup, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[1024];
		int rc;
		struct sx_config *cfg = parse(cases[i].corefile, err, sizeof(err), &rc);
		if (cases[i].err == NULL) {
			cr_expect_eq(rc, 0, "case %zu: %s", i, err);
		} else {
			cr_expect_lt(rc, 0, "case %zu set up", i);
			if (cases[i].err[0] != '\0') {
				char *want = expand(cases[i].err);
				cr_expect_str_eq(err, want, "case %zu", i);
				free(want);
			} else {
				cr_expect_eq(strncmp(err, "Corefile:2: ", 12), 0, "case %zu: %s", i,
				             err);
			}
		}
		sx_test_config_free(cfg);
	}
}

Test(file_setup, defaults_and_loaded_zone)
{
	char err[1024];
	int rc;
	struct sx_config *cfg = parse("example.org {\n file db.example.org\n}\n", err, sizeof(err),
	                              &rc);
	cr_assert_eq(rc, 0, "%s", err);
	struct fz *f = instance(cfg, 0);
	char *want = expand("%D/db.example.org");
	cr_assert_str_eq(f->path, want);
	free(want);
	cr_assert_eq(f->reload_ms, 60000);
	cr_assert_not(f->reload_by_mtime);
	cr_assert_eq(f->fall.n, 0);
	cr_assert_eq(f->zones.n, 1);
	cr_assert_str_eq(f->zones.z[0].name, "example.org.");
	/* The zone is read at setup, so that a broken file is a configuration error. */
	cr_assert(f->origins[0].zone);
	cr_assert_eq(f->origins[0].zone->serial, 1);
	sx_test_config_free(cfg);
}

Test(file_setup, one_file_for_several_origins)
{
	char err[1024];
	int rc;
	struct sx_config *cfg = parse(". {\n file db.any example.org Example.NET {\n  reload 2s\n"
	                              "  reload_by_mtime\n  fallthrough\n }\n}\n",
	                              err, sizeof(err), &rc);
	cr_assert_eq(rc, 0, "%s", err);
	struct fz *f = instance(cfg, 0);
	cr_assert_eq(f->zones.n, 2);
	cr_assert_str_eq(f->zones.z[1].name, "example.net.");
	cr_assert_eq(f->reload_ms, 2000);
	cr_assert(f->reload_by_mtime);
	cr_assert_eq(f->fall.n, 1);
	cr_assert_str_eq(f->fall.z[0].name, ".");
	for (size_t i = 0; i < 2; i++) {
		const struct fz_zone *z = f->origins[i].zone;
		cr_assert(z);
		cr_assert(fz_node_rrset(z->apex, 6), "origin %zu has no SOA", i);
		cr_assert(z->apex->len == f->zones.z[i].len &&
		          memcmp(z->apex->name, f->zones.z[i].wire, z->apex->len) == 0);
	}
	sx_test_config_free(cfg);
}

Test(file_setup, missing_file_waits_for_reload)
{
	char err[1024];
	int rc;
	struct sx_config *cfg = parse("example.org {\n file db.missing\n}\n", err, sizeof(err),
	                              &rc);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_null(instance(cfg, 0)->origins[0].zone);
	sx_test_config_free(cfg);
}

Test(file_setup, two_file_lines_are_two_instances)
{
	char err[1024];
	int rc;
	struct sx_config *cfg = parse(". {\n file db.example.org example.org\n"
	                              " file db.any example.net\n}\n",
	                              err, sizeof(err), &rc);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(instance(cfg, 0)->zones.z[0].name, "example.org.");
	cr_assert_str_eq(instance(cfg, 1)->zones.z[0].name, "example.net.");
	sx_test_config_free(cfg);
}
