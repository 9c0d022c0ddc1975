/* test_config.c -- configuration set-up: keys, plugins, option tables, chain order, cursor. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sextant/plugin.h>

#include "config.h"
#include "corefile.h"

/* ---- plugins made for these tests ---- */

struct fake {
	bool flag;
	char *str;
	unsigned num;
	uint64_t dur;
	struct sx_zones zones; /* from the directive line */
	struct sx_zones fall;
	int tags, lines;
	char *arg;
	unsigned workers;
	char dir[64];
	uint16_t port0;
	const struct sx_block *blk;
	const void *first;
};

static int teardowns;

static void
fake_teardown(void *inst)
{
	struct fake *f = inst;

	free(f->str);
	free(f->arg);
	sx_zones_fini(&f->zones);
	sx_zones_fini(&f->fall);
	teardowns++;
}

static int
count_tag(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	((struct fake *)inst)->tags += sx_cf_nargs(cf) - 1;
	return 0;
}

static int
count_line(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	((struct fake *)inst)->lines++;
	return 0;
}

static const struct sx_directive alpha_rows[] = {
	SX_DIR_FLAG("flag", struct fake, flag),
	SX_DIR_STR("str", struct fake, str),
	SX_DIR_UINT("num", struct fake, num, 0, 3600),
	SX_DIR_UINT("big", struct fake, num, 0, 0),
	SX_DIR_DURATION("dur", struct fake, dur, 1000, 3600000),
	SX_DIR_DURATION("min", struct fake, dur, 1000, 0),
	SX_DIR_ZONES("fall", struct fake, fall),
	{ "tag", 1, 2, count_tag, .repeat = true },
	{ "many", 1, -1, count_tag },
	{ NULL },
};

/* alpha ZONES...: zones within the block's, defaulting to them. */
static int
alpha_setup(struct sx_cf *cf, void *inst)
{
	struct fake *f = inst;

	return sx_cf_zones(cf, 1, sx_cf_block_zones(cf), sx_cf_block_zones(cf), &f->zones);
}

/* beta ARG: repeatable, no table. */
static int
beta_setup(struct sx_cf *cf, void *inst)
{
	struct fake *f = inst;

	if (sx_cf_nargs(cf) != 2) {
		return sx_cf_err(cf, "beta takes one argument");
	}
	f->arg = strdup(sx_cf_arg(cf, 1));
	f->blk = sx_cf_block(cf);
	f->first = sx_cf_first_instance(cf);
	return 0;
}

/* reader: no table, reads its block itself. */
static int
reader_setup(struct sx_cf *cf, void *inst)
{
	struct fake *f = inst;

	f->flag = sx_cf_has_block(cf);
	while (sx_cf_next_line(cf)) {
		f->lines++;
		f->tags += sx_cf_nargs(cf);
		f->num = (unsigned)sx_cf_line(cf);
		snprintf(f->dir, sizeof(f->dir), "%s", sx_cf_file(cf));
	}
	/* Past the end, args read as absent. */
	f->arg = sx_cf_arg(cf, 99) || sx_cf_arg(cf, -1) ? strdup("bad") : NULL;
	return 0;
}

/* failer: allocates, then fails. */
static int
failer_setup(struct sx_cf *cf, void *inst)
{
	struct fake *f = inst;

	f->str = strdup("half set up");
	return sx_cf_err(cf, "no good: %s", sx_cf_arg(cf, 1) ? sx_cf_arg(cf, 1) : "-");
}

static int
nomsg_setup(struct sx_cf *cf, void *inst)
{
	return SX_EINVAL;
}

/* asker: what sx_cf_block_has() says of the other directives of its block, one bit each. */
static int
asker_setup(struct sx_cf *cf, void *inst)
{
	struct fake *f = inst;

	f->num = (unsigned)sx_cf_block_has(cf, "reader", NULL) |
	         (unsigned)sx_cf_block_has(cf, "reader", "last") << 1 |
	         (unsigned)sx_cf_block_has(cf, "reader", "x") << 2 |
	         (unsigned)sx_cf_block_has(cf, "reader", "{") << 3 |
	         (unsigned)sx_cf_block_has(cf, "gamma", NULL) << 4 |
	         (unsigned)sx_cf_block_has(cf, "asker", NULL) << 5;
	return 0;
}

/* lister ADDR...: listens on each address; records what the cursor offers. */
static int
lister_setup(struct sx_cf *cf, void *inst)
{
	struct fake *f = inst;

	for (int i = 1; i < sx_cf_nargs(cf); i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
		int rc;

		if (inet_pton(AF_INET, sx_cf_arg(cf, i), &sin.sin_addr) == 1) {
			rc = sx_cf_add_listen(cf, (struct sockaddr *)&sin, sizeof(sin));
		} else if (inet_pton(AF_INET6, sx_cf_arg(cf, i), &sin6.sin6_addr) == 1) {
			rc = sx_cf_add_listen(cf, (struct sockaddr *)&sin6, sizeof(sin6));
		} else {
			return sx_cf_err(cf, "not an address: %s", sx_cf_arg(cf, i));
		}
		if (rc < 0) {
			return sx_cf_err(cf, "cannot listen");
		}
	}
	f->workers = sx_cf_workers(cf);
	snprintf(f->dir, sizeof(f->dir), "%s", sx_cf_dir(cf));
	f->port0 = sx_cf_block_port(cf, 0);
	return 0;
}

static const struct sx_directive delta_rows[] = {
	SX_DIR_FLAG("named", struct fake, flag),
	{ "*", 1, 1, count_line },
	{ NULL },
};

static const struct sx_directive epsilon_rows[] = {
	{ "*", 0, -1, count_line, .repeat = true },
	{ NULL },
};

/* Notes whether its block has gamma, wherever gamma is written. */
static int
seeker_setup(struct sx_cf *cf, void *inst)
{
	((struct fake *)inst)->flag = sx_cf_block_has(cf, "gamma", NULL);
	return 0;
}

#define FAKE(n, ...)                                                          \
	static const struct sx_plugin n = { .name = #n,                       \
		                            .inst_size = sizeof(struct fake), \
		                            .teardown = fake_teardown,        \
		                            __VA_ARGS__ }
FAKE(gamma);
FAKE(beta, .setup = beta_setup, .repeat = true);
FAKE(alpha, .directives = alpha_rows, .setup = alpha_setup);
FAKE(delta, .directives = delta_rows);
FAKE(epsilon, .directives = epsilon_rows);
FAKE(reader, .setup = reader_setup);
FAKE(failer, .setup = failer_setup);
FAKE(nomsg, .setup = nomsg_setup);
FAKE(lister, .setup = lister_setup);
FAKE(seeker, .setup = seeker_setup);
FAKE(asker, .setup = asker_setup);
/* No teardown at all: nothing to free, and none must be called. */
static const struct sx_plugin bare = { .name = "bare" };

static const struct sx_plugin *const fakes[] = {
	&gamma, &beta,   &alpha, &delta, &epsilon, &reader, &failer,
	&nomsg, &lister, &asker, &bare,  &seeker,  NULL,
};

/* ---- helpers ---- */

static const struct sx_config_opts opts53 = { .default_port = 53, .workers = 4 };

static struct sx_config *
fake_ok(const char *text)
{
	struct sx_config *cfg;
	char err[512];
	int rc = sx_config_parse_with(fakes, "Corefile", text, "/etc/sextant", &opts53, &cfg, err,
	                              sizeof(err));

	cr_assert_eq(rc, 0, "<%s>: %s", text, err);
	return cfg;
}

static void
fake_err(const char *text, const char *want)
{
	struct sx_config *cfg = (void *)1;
	char err[512] = "";
	int rc = sx_config_parse_with(fakes, "Corefile", text, NULL, &opts53, &cfg, err,
	                              sizeof(err));

	cr_assert_lt(rc, 0, "<%s> should fail with %s", text, want);
	cr_assert_null(cfg);
	cr_assert_str_eq(err, want, "<%s>", text);
}

static struct sx_config *
real_ok(const char *text, const struct sx_config_opts *opts)
{
	struct sx_config *cfg;
	char err[512];
	int rc = sx_config_parse("Corefile", text, NULL, opts, &cfg, err, sizeof(err));

	cr_assert_eq(rc, 0, "<%s>: %s", text, err);
	return cfg;
}

static void
real_err(const char *text, const char *want)
{
	struct sx_config *cfg = (void *)1;
	char err[512] = "";
	int rc = sx_config_parse("Corefile", text, NULL, &opts53, &cfg, err, sizeof(err));

	cr_assert_lt(rc, 0, "<%s> should fail with %s", text, want);
	cr_assert_null(cfg);
	cr_assert_str_eq(err, want, "<%s>", text);
}

/* "zone:port zone:port" of a block. */
static char *
zones_of(const struct sx_block *b)
{
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; i < b->zones.n; i++) {
		fprintf(f, "%s%s:%u", i ? " " : "", b->zones.z[i].name, b->ports[i]);
	}
	fclose(f);
	return buf;
}

static void
expect_zones(const struct sx_block *b, const char *want)
{
	char *got = zones_of(b);

	cr_assert_str_eq(got, want);
	free(got);
}

/* Plugin names of a block's chain, joined by spaces. */
static char *
chain_of(const struct sx_block *b)
{
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; i < b->nchain; i++) {
		fprintf(f, "%s%s", i ? " " : "", b->chain[i].plugin->name);
	}
	fclose(f);
	return buf;
}

static void
expect_chain(const struct sx_block *b, const char *want)
{
	char *got = chain_of(b);

	cr_assert_str_eq(got, want);
	free(got);
}

/* ---- keys and zones (real plugins) ---- */

Test(config, whoami_block)
{
	struct sx_config *cfg = real_ok("example.org {\n whoami\n}\n", &opts53);

	cr_assert_eq(cfg->nblocks, 1);
	cr_assert_eq(cfg->workers, 4);
	cr_assert_not_null(cfg->corefile);
	expect_zones(&cfg->blocks[0], "example.org.:53");
	expect_chain(&cfg->blocks[0], "whoami");
	cr_assert_str_eq(cfg->blocks[0].file, "Corefile");
	cr_assert_eq(cfg->blocks[0].line, 1);
	cr_assert_eq(cfg->blocks[0].nlisten, 0);
	sx_config_free(cfg);
}

Test(config, default_port_and_per_key_ports)
{
	const struct sx_config_opts opts = { .default_port = 1053 };
	struct sx_config *cfg = real_ok("example.org example.com:5300 .:53 {\n whoami\n}", &opts);

	expect_zones(&cfg->blocks[0], "example.org.:1053 example.com.:5300 .:53");
	cr_assert_eq(cfg->workers, 1);
	sx_config_free(cfg);

	cfg = real_ok("example.org {\n whoami\n}", NULL);
	expect_zones(&cfg->blocks[0], "example.org.:53");
	sx_config_free(cfg);

	const struct sx_config_opts zero = { .default_port = 0 };
	cfg = real_ok(". {\n whoami\n}", &zero);
	expect_zones(&cfg->blocks[0], ".:0");
	sx_config_free(cfg);
}

Test(config, cidr_keys)
{
	struct sx_config *cfg = real_ok("10.0.0.0/15 example.org 2001:db8::/32:1053 {\n whoami\n}",
	                                &opts53);

	expect_zones(&cfg->blocks[0], "0.10.in-addr.arpa.:53 1.10.in-addr.arpa.:53 "
	                              "example.org.:53 8.b.d.0.1.0.0.2.ip6.arpa.:1053");
	sx_config_free(cfg);
}

Test(config, several_blocks)
{
	struct sx_config *cfg = real_ok("a {\n whoami\n}\n\nb:1053 {\n}\n", &opts53);

	cr_assert_eq(cfg->nblocks, 2);
	expect_zones(&cfg->blocks[1], "b.:1053");
	cr_assert_eq(cfg->blocks[1].nchain, 0);
	cr_assert_eq(cfg->blocks[1].line, 5);
	sx_config_free(cfg);
}

Test(config, key_errors)
{
	real_err("tls://. {\n whoami\n}",
	         "Corefile:1: scheme tls:// is not supported (only dns://)");
	real_err("a b:x {\n}", "Corefile:1: invalid zone or port in 'b:x'");
	real_err("a,\nb..c {\n}", "Corefile:2: zone 'b..c' is not a valid domain name");
	real_err("10.0.0.0/40 {\n}", "Corefile:1: invalid CIDR '10.0.0.0/40'");
}

Test(config, zone_served_twice)
{
	real_err("a {\n whoami\n}\nA. {\n whoami\n}",
	         "Corefile:4: cannot serve dns://a.:53 - it is already defined");
	real_err("a a {\n}", "Corefile:1: cannot serve dns://a.:53 - it is already defined");
	real_err("a:53 {\n}\n\na {\n}",
	         "Corefile:4: cannot serve dns://a.:53 - it is already defined");
	real_err("10.0.0.0/15 {\n}\n1.10.in-addr.arpa {\n}",
	         "Corefile:3: cannot serve dns://1.10.in-addr.arpa.:53 - it is already defined");
	/* The first repeat in file order is the one reported. */
	real_err("z {\n}\na {\n}\nz {\n}\na {\n}",
	         "Corefile:5: cannot serve dns://z.:53 - it is already defined");
	/* Other port, other zone: fine. */
	struct sx_config *cfg = real_ok("a {\n}\na:1053 {\n}\nb {\n}", &opts53);
	cr_assert_eq(cfg->nblocks, 3);
	sx_config_free(cfg);
}

/* ---- directives (real plugins) ---- */

Test(config, unknown_directive)
{
	real_err(". {\n whoami\n foo bar\n}", "Corefile:3: Unknown directive 'foo'");
	real_err(". {\n \"\"\n}", "Corefile:2: Unknown directive ''");
	/* A long token is cut to 64 bytes; control bytes cannot forge another log line. */
	char text[8192], want[256];
	memcpy(text, ". {\n ", 5);
	memset(text + 5, 'x', 5000);
	strcpy(text + 5005, "\n}");
	snprintf(want, sizeof(want), "Corefile:2: Unknown directive '%.64s...'", text + 5);
	real_err(text, want);
	real_err(". {\n \"a\nb\tc\"\n}", "Corefile:2: Unknown directive 'a?b?c'");
	memset(text + 5, 'y', 64);
	strcpy(text + 69, "\n}");
	snprintf(want, sizeof(want), "Corefile:2: Unknown directive '%.64s'", text + 5);
	real_err(text, want);
}

Test(config, plugin_used_once_per_block)
{
	real_err(". {\n whoami\n log\n whoami\n}",
	         "Corefile:4: plugin/whoami: this plugin can only be used once per Server Block");
	/* Once per block: another block may have its own. */
	struct sx_config *cfg = real_ok("a {\n whoami\n}\nb {\n whoami\n}", &opts53);
	sx_config_free(cfg);
}

Test(config, plugin_without_setup_takes_no_args_or_block)
{
	real_err(". {\n whoami foo\n}",
	         "Corefile:2: plugin/whoami: wrong argument count: whoami takes no arguments");
	real_err(". {\n whoami {\n }\n}",
	         "Corefile:2: plugin/whoami: unexpected block: whoami takes no options");
	real_err(". {\n whoami {\n  x\n }\n}",
	         "Corefile:2: plugin/whoami: unexpected block: whoami takes no options");
}

Test(config, chain_in_plugin_order)
{
	struct sx_config *cfg = real_ok(". {\n whoami\n log\n errors\n}", &opts53);

	expect_chain(&cfg->blocks[0], "errors log whoami");
	sx_config_free(cfg);
	cfg = real_ok(". {\n errors\n whoami\n log\n}", &opts53);
	expect_chain(&cfg->blocks[0], "errors log whoami");
	sx_config_free(cfg);
}

Test(config, env_in_keys_and_directives)
{
	setenv("SX_T_ZONE", "Example.org", 1);
	setenv("SX_T_PORT", "1053", 1);
	setenv("SX_T_PLUGIN", "whoami", 1);
	struct sx_config *cfg = real_ok("{$SX_T_ZONE}:{$SX_T_PORT} {\n {%SX_T_PLUGIN%}\n}",
	                                &opts53);

	expect_zones(&cfg->blocks[0], "example.org.:1053");
	expect_chain(&cfg->blocks[0], "whoami");
	sx_config_free(cfg);
}

static char tmpdir[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
mktmp(void)
{
	strcpy(tmpdir, "/tmp/sx_test_config_XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(config, imports_and_load, .init = mktmp, .fini = rmtmp)
{
	struct sx_config *cfg;
	char err[512], path[256], want[600];

	put("Corefile", "(base) {\n errors\n}\nimport zones/*.conf\n");
	mkdir(strcat(strcpy(path, tmpdir), "/zones"), 0755);
	put("zones/a.conf", "a.org {\n import base\n whoami\n}\n");
	put("zones/b.conf", "b.org:1053 {\n log\n}\n");
	snprintf(path, sizeof(path), "%s/Corefile", tmpdir);
	cr_assert_eq(sx_config_load(path, &opts53, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg->nblocks, 2);
	expect_zones(&cfg->blocks[0], "a.org.:53");
	expect_chain(&cfg->blocks[0], "errors whoami");
	expect_zones(&cfg->blocks[1], "b.org.:1053");
	cr_assert_eq(cfg->corefile->nfiles, 3);
	snprintf(want, sizeof(want), "%s/zones/b.conf", tmpdir);
	cr_assert_str_eq(cfg->blocks[1].file, want);
	sx_config_free(cfg);

	put("zones/b.conf", "b.org:1053 {\n nope\n}\n");
	cr_assert_eq(sx_config_load(path, &opts53, &cfg, err, sizeof(err)), SX_EINVAL);
	snprintf(want, sizeof(want), "%s/zones/b.conf:2: Unknown directive 'nope'", tmpdir);
	cr_assert_str_eq(err, want);
	cr_assert_null(cfg);
}

Test(config, load_errors, .init = mktmp, .fini = rmtmp)
{
	struct sx_config *cfg;
	char err[512], path[256], want[600];

	snprintf(path, sizeof(path), "%s/none", tmpdir);
	cr_assert_eq(sx_config_load(path, &opts53, &cfg, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	cr_assert_str_eq(err, want);
	cr_assert_null(cfg);
}

/* ---- directive tables (test plugins) ---- */

Test(config, table_sets_fields)
{
	struct sx_config *cfg = fake_ok(
	        "example.org {\n alpha sub.example.org {\n  flag\n  str hello\n"
	        "  num 3600\n  dur 1m30s\n  fall in-addr.arpa\n  tag a b\n"
	        "  tag c\n }\n}");
	struct fake *f = cfg->blocks[0].chain[0].inst;

	cr_assert(f->flag);
	cr_assert_str_eq(f->str, "hello");
	cr_assert_eq(f->num, 3600);
	cr_assert_eq(f->dur, 90000);
	cr_assert_eq(f->fall.n, 1);
	cr_assert_str_eq(f->fall.z[0].name, "in-addr.arpa.");
	cr_assert_eq(f->tags, 3);
	cr_assert_eq(f->zones.n, 1);
	cr_assert_str_eq(f->zones.z[0].name, "sub.example.org.");
	teardowns = 0;
	sx_config_free(cfg);
	cr_assert_eq(teardowns, 1);
}

Test(config, table_defaults)
{
	struct sx_config *cfg = fake_ok("a b {\n alpha {\n  fall\n }\n}");
	struct fake *f = cfg->blocks[0].chain[0].inst;

	cr_assert_not(f->flag);
	cr_assert_null(f->str);
	/* No zones given: the block's. */
	cr_assert_eq(f->zones.n, 2);
	cr_assert_eq(f->fall.n, 2);
	cr_assert_str_eq(f->fall.z[1].name, "b.");
	sx_config_free(cfg);

	cfg = fake_ok(". {\n alpha\n}");
	f = cfg->blocks[0].chain[0].inst;
	cr_assert_eq(f->zones.n, 1);
	cr_assert_eq(f->fall.n, 0);
	sx_config_free(cfg);
}

Test(config, table_errors)
{
	fake_err(". {\n alpha {\n  foo 1\n }\n}",
	         "Corefile:3: plugin/alpha: unknown property 'foo'");
	fake_err(". {\n alpha {\n  num\n }\n}",
	         "Corefile:3: plugin/alpha: wrong argument count for 'num' (expects 1)");
	fake_err(". {\n alpha {\n  flag on\n }\n}",
	         "Corefile:3: plugin/alpha: wrong argument count for 'flag' (expects 0)");
	fake_err(". {\n alpha {\n  tag a b c\n }\n}",
	         "Corefile:3: plugin/alpha: wrong argument count for 'tag' (expects 1 to 2)");
	fake_err(". {\n alpha {\n  many\n }\n}",
	         "Corefile:3: plugin/alpha: wrong argument count for 'many' (expects at least 1)");
	fake_err(". {\n alpha {\n  num 1\n  str x\n  num 2\n }\n}",
	         "Corefile:5: plugin/alpha: 'num' is given twice");
	fake_err(". {\n alpha {\n  num 3601\n }\n}",
	         "Corefile:3: plugin/alpha: num must be in range [0, 3600], not '3601'");
	fake_err(". {\n alpha {\n  num -1\n }\n}",
	         "Corefile:3: plugin/alpha: num must be in range [0, 3600], not '-1'");
	fake_err(". {\n alpha {\n  num 12abc\n }\n}",
	         "Corefile:3: plugin/alpha: num must be in range [0, 3600], not '12abc'");
	fake_err(". {\n alpha {\n  big 99999999999999999999999\n }\n}",
	         "Corefile:3: plugin/alpha: big must be in range [0, 4294967295], not "
	         "'99999999999999999999999'");
	fake_err(". {\n alpha {\n  dur 2h\n }\n}",
	         "Corefile:3: plugin/alpha: dur must be in range [1s, 1h], not '2h'");
	fake_err(". {\n alpha {\n  dur 500ms\n }\n}",
	         "Corefile:3: plugin/alpha: dur must be in range [1s, 1h], not '500ms'");
	fake_err(". {\n alpha {\n  min 10ms\n }\n}",
	         "Corefile:3: plugin/alpha: min must be at least 1s, not '10ms'");
	fake_err(
	        ". {\n alpha {\n  dur soon\n }\n}",
	        "Corefile:3: plugin/alpha: dur: invalid duration 'soon' (examples: 500ms, 30s, 5m, "
	        "1h30m)");
	fake_err(". {\n alpha {\n  fall a..b\n }\n}",
	         "Corefile:3: plugin/alpha: zone 'a..b' is not a valid domain name");
}

Test(config, zones_within_the_block)
{
	fake_err(
	        "example.org {\n alpha example.net\n}",
	        "Corefile:2: plugin/alpha: zone example.net. is not within the server block zones");
	fake_err("example.org {\n alpha sub.example.org org\n}",
	         "Corefile:2: plugin/alpha: zone org. is not within the server block zones");
	struct sx_config *cfg = fake_ok(
	        "example.org 10.0.0.0/8 {\n alpha 10.1.0.0/16 Example.ORG\n}");
	struct fake *f = cfg->blocks[0].chain[0].inst;
	cr_assert_eq(f->zones.n, 2);
	cr_assert_str_eq(f->zones.z[0].name, "1.10.in-addr.arpa.");
	cr_assert_str_eq(f->zones.z[1].name, "example.org.");
	sx_config_free(cfg);
}

Test(config, star_rows)
{
	struct sx_config *cfg = fake_ok(
	        ". {\n delta {\n  10.0.0.1 a\n  named\n  10.0.0.2 b\n }\n}");
	struct fake *f = cfg->blocks[0].chain[0].inst;

	cr_assert_eq(f->lines, 2);
	cr_assert(f->flag);
	sx_config_free(cfg);
	fake_err(". {\n delta {\n  x 1\n  y 2\n  x 3\n }\n}",
	         "Corefile:5: plugin/delta: 'x' is given twice");
	fake_err(". {\n delta {\n  x\n }\n}",
	         "Corefile:3: plugin/delta: wrong argument count for 'x' (expects 1)");
	cfg = fake_ok(". {\n epsilon {\n  x\n  x 1 2\n  y\n }\n}");
	f = cfg->blocks[0].chain[0].inst;
	cr_assert_eq(f->lines, 3);
	sx_config_free(cfg);
}

Test(config, block_shape_errors)
{
	fake_err(". {\n alpha {\n  str {\n  }\n }\n}",
	         "Corefile:3: plugin/alpha: unexpected nested block");
	fake_err(". {\n alpha {\n  {\n  }\n }\n}",
	         "Corefile:3: plugin/alpha: unexpected nested block");
	fake_err(". {\n alpha {\n } extra\n}",
	         "Corefile:3: plugin/alpha: unexpected 'extra' after '}'");
}

Test(config, block_lines_on_the_brace_lines)
{
	struct sx_config *cfg = fake_ok(". {\n alpha { num 7\n  str x }\n}");
	struct fake *f = cfg->blocks[0].chain[0].inst;

	cr_assert_eq(f->num, 7);
	cr_assert_str_eq(f->str, "x");
	sx_config_free(cfg);
}

Test(config, setup_reading_its_own_block)
{
	struct sx_config *cfg = fake_ok(". {\n reader {\n  a b\n  c\n }\n}");
	struct fake *f = cfg->blocks[0].chain[0].inst;

	cr_assert_eq(f->lines, 2);
	cr_assert_eq(f->tags, 3);
	cr_assert(f->flag);
	cr_assert_eq(f->num, 4);
	cr_assert_str_eq(f->dir, "Corefile");
	cr_assert_null(f->arg);
	sx_config_free(cfg);
	cfg = fake_ok(". {\n reader\n}");
	f = cfg->blocks[0].chain[0].inst;
	cr_assert_not(f->flag);
	cr_assert_eq(f->lines, 0);
	sx_config_free(cfg);
	fake_err(". {\n beta x {\n  y\n }\n}",
	         "Corefile:2: plugin/beta: unexpected block: beta takes no options");
	fake_err(". {\n gamma {\n }\n}",
	         "Corefile:2: plugin/gamma: unexpected block: gamma takes no options");
}

Test(config, setup_sees_the_other_directives_of_its_block)
{
	/* Set up before the directive it asks about: the Corefile's text is what counts. */
	struct sx_config *cfg = fake_ok(". {\n asker\n reader x last {\n  a b\n }\n}\n"
	                                "example.org {\n gamma\n}");
	struct fake *f = cfg->blocks[0].chain[1].inst;

	cr_assert_eq(f->num, 1 | 2 | 32, "%u", f->num);
	sx_config_free(cfg);
	cfg = fake_ok(". {\n reader x\n asker\n gamma\n}");
	f = cfg->blocks[0].chain[2].inst;
	cr_assert_eq(f->num, 1 | 4 | 16 | 32, "%u", f->num);
	sx_config_free(cfg);
}

Test(config, setup_errors)
{
	fake_err(". {\n beta\n}", "Corefile:2: plugin/beta: beta takes one argument");
	fake_err(". {\n failer now\n}", "Corefile:2: plugin/failer: no good: now");
	fake_err(". {\n nomsg\n}", "Corefile:2: plugin/nomsg: setup failed: invalid argument");
	fake_err(". {\n bare x\n}",
	         "Corefile:2: plugin/bare: wrong argument count: bare takes no arguments");
}

Test(config, failure_tears_down_everything_built)
{
	struct sx_config *cfg = (void *)1;
	char err[256];

	teardowns = 0;
	cr_assert_lt(sx_config_parse_with(fakes, "C",
	                                  "a {\n alpha {\n  str x\n }\n beta 1\n}\n"
	                                  "b {\n beta 2\n alpha {\n  str y\n  bogus\n }\n}",
	                                  NULL, NULL, &cfg, err, sizeof(err)),
	             0);
	cr_assert_str_eq(err, "C:11: plugin/alpha: unknown property 'bogus'");
	cr_assert_null(cfg);
	cr_assert_eq(teardowns, 4);

	teardowns = 0;
	cr_assert_lt(sx_config_parse_with(fakes, "C", "a {\n failer\n beta 1\n bare\n}", NULL, NULL,
	                                  &cfg, err, sizeof(err)),
	             0);
	cr_assert_eq(teardowns, 1);
}

Test(config, chain_order_with_repeats)
{
	struct sx_config *cfg = fake_ok(". {\n beta 1\n alpha\n beta 2\n gamma\n beta 3\n}");
	const struct sx_block *b = &cfg->blocks[0];

	expect_chain(b, "gamma beta beta beta alpha");
	cr_assert_str_eq(((struct fake *)b->chain[1].inst)->arg, "1");
	cr_assert_str_eq(((struct fake *)b->chain[2].inst)->arg, "2");
	cr_assert_str_eq(((struct fake *)b->chain[3].inst)->arg, "3");
	teardowns = 0;
	sx_config_free(cfg);
	cr_assert_eq(teardowns, 5);
}

/* Repeats of a plugin find the first of their block, never one of another block. */
Test(config, first_instance_of_a_repeated_plugin)
{
	struct sx_config *cfg = fake_ok(
	        "a. {\n beta 1\n gamma\n beta 2\n beta 3\n}\nb. {\n beta 4\n beta 5\n}");
	const struct sx_block *a = &cfg->blocks[0], *b = &cfg->blocks[1];

	expect_chain(a, "gamma beta beta beta");
	cr_assert_null(((struct fake *)a->chain[1].inst)->first);
	cr_assert_eq(((struct fake *)a->chain[2].inst)->first, a->chain[1].inst);
	cr_assert_eq(((struct fake *)a->chain[3].inst)->first, a->chain[1].inst);
	cr_assert_str_eq(((struct fake *)b->chain[0].inst)->arg, "4");
	cr_assert_null(((struct fake *)b->chain[0].inst)->first);
	cr_assert_eq(((struct fake *)b->chain[1].inst)->first, b->chain[0].inst);
	sx_config_free(cfg);
}

Test(config, once_per_block_for_table_plugins)
{
	fake_err(". {\n alpha\n gamma\n alpha\n}",
	         "Corefile:4: plugin/alpha: this plugin can only be used once per Server Block");
}

Test(config, listen_workers_dir_ports)
{
	struct sx_config *cfg = fake_ok("example.org:1053 b {\n lister 127.0.0.1 ::1 127.0.0.1\n}");
	const struct sx_block *b = &cfg->blocks[0];
	struct fake *f = b->chain[0].inst;

	cr_assert_eq(b->nlisten, 2);
	cr_assert_eq(b->listen[0].ss_family, AF_INET);
	cr_assert_eq(b->listen[1].ss_family, AF_INET6);
	cr_assert_eq(f->workers, 4);
	cr_assert_str_eq(f->dir, "/etc/sextant");
	cr_assert_eq(f->port0, 1053);
	sx_config_free(cfg);
	fake_err(". {\n lister nope\n}", "Corefile:2: plugin/lister: not an address: nope");
}

Test(config, block_listen_is_complete_once_every_block_is_set_up)
{
	/* beta, set up before lister, keeps the block and reads it afterwards. */
	struct sx_config *cfg = fake_ok(". {\n beta x\n lister 127.0.0.9 ::1\n}\n"
	                                "example.org {\n beta y\n}\n");
	const struct sx_block *bound = ((struct fake *)cfg->blocks[0].chain[0].inst)->blk;
	const struct sx_block *wild = ((struct fake *)cfg->blocks[1].chain[0].inst)->blk;
	struct sockaddr_storage ss;
	char text[INET6_ADDRSTRLEN];

	cr_assert_eq(cfg->blocks[0].chain[0].plugin, &beta);
	cr_assert(sx_block_listen(bound, 0, &ss));
	cr_assert_eq(ss.ss_family, AF_INET);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof(text));
	cr_expect_str_eq(text, "127.0.0.9");
	cr_expect_eq(((struct sockaddr_in *)&ss)->sin_port, 0);
	cr_assert(sx_block_listen(bound, 1, &ss));
	cr_expect_eq(ss.ss_family, AF_INET6);
	cr_expect_not(sx_block_listen(bound, 2, &ss));
	cr_expect_not(sx_block_listen(wild, 0, &ss), "the wildcard address: none");
	sx_config_free(cfg);
}

Test(config, free_null)
{
	sx_config_free(NULL);
}

/* ---- peers: one instance finding another of its block ---- */

Test(config, block_has_and_peer)
{
	struct sx_config *cfg = fake_ok("a.example {\n seeker\n gamma\n}\n"
	                                "b.example {\n seeker\n beta x\n beta y\n}\n");
	struct sx_block *a = &cfg->blocks[0], *b = &cfg->blocks[1];
	/* Chains are in table order: gamma, beta... before seeker. */
	struct fake *sa = a->chain[1].inst, *sb = b->chain[2].inst;

	cr_assert_eq(a->chain[1].plugin, &seeker);
	cr_assert_eq(b->chain[2].plugin, &seeker);
	cr_expect(sa->flag, "gamma comes after seeker in block a: still found");
	cr_expect(!sb->flag);
	cr_expect_eq(sx_config_peer(cfg, sa, &gamma), a->chain[0].inst);
	cr_expect_null(sx_config_peer(cfg, sb, &gamma), "gamma of another block");
	cr_expect_eq(sx_config_peer(cfg, sb, &beta), b->chain[0].inst, "the first of repeats");
	cr_expect_eq(sx_config_peer(cfg, sa, &seeker), sa);
	cr_expect_null(sx_config_peer(cfg, &cfg, &gamma), "not an instance of @cfg");
	sx_config_free(cfg);
}
