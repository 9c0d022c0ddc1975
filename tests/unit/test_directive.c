/* test_directive.c -- directive.c called directly: option tables walked over a block's lines,
 * the typed setters, and their FILE:LINE errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>

#include "address.h"
#include "cf_internal.h"

struct opts {
	bool flag;
	char *str;
	unsigned num, big;
	uint64_t dur, min;
	struct sx_zones fall;
	int tags;
};

/* A hand-written setter: counts its lines, so repeats can be seen. */
static int
set_tag(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	((struct opts *)inst)->tags++;
	return 0;
}

static const struct sx_directive rows[] = {
	SX_DIR_FLAG("flag", struct opts, flag),
	SX_DIR_STR("str", struct opts, str),
	SX_DIR_UINT("num", struct opts, num, 1, 3600),
	SX_DIR_UINT("big", struct opts, big, 0, 0),
	SX_DIR_DURATION("dur", struct opts, dur, 1000, 3600000),
	SX_DIR_DURATION("min", struct opts, min, 1000, 0),
	SX_DIR_ZONES("fall", struct opts, fall),
	{ "tag", 1, 2, set_tag, .repeat = true },
	{ "many", 1, -1 },
	{ NULL },
};

static const struct sx_plugin plugin = { .name = "fake", .directives = rows };

/*
 * Run the table over the block of "fake { BODY }" in server block "example.org",
 * into @o; @err gets the message. @return what sx_directives_run() does.
 */
static int
run(const char *body, struct opts *o, char *err, size_t errlen)
{
	char text[1024], msg[256];
	struct sx_corefile *corefile;
	struct sx_block block = { 0 };
	struct sx_cf cf = { .block = &block, .err = err, .errlen = errlen };
	snprintf(text, sizeof(text), "example.org {\nfake {\n%s}\n}\n", body);
	cr_assert_eq(sx_corefile_parse("Corefile", text, "/", &corefile, msg, sizeof(msg)), 0, "%s",
	             msg);
	cr_assert_eq(sx_address_zone("example.org", &block.zones, msg, sizeof(msg)), 0);
	const struct sx_cf_block *b = &corefile->blocks[0];
	cr_assert_eq(sx_cf_set_directive(&cf, b, &b->dirs[0], "fake"), 0, "%s", err);
	err[0] = '\0';
	int rc = sx_directives_run(&cf, &plugin, o);
	sx_cf_fini(&cf);
	sx_zones_fini(&block.zones);
	sx_corefile_free(corefile);
	return rc;
}

static void
opts_fini(struct opts *o)
{
	free(o->str);
	sx_zones_fini(&o->fall);
}

Test(directive, rows_set_their_fields)
{
	struct opts o = { 0 };
	char err[256];
	cr_assert_eq(run("flag\nstr one\nstr two\n", &o, err, sizeof(err)), SX_EINVAL);
	cr_assert_str_eq(err, "Corefile:5: plugin/fake: 'str' is given twice");
	opts_fini(&o);

	memset(&o, 0, sizeof(o));
	cr_assert_eq(run("flag\nstr hello\nnum 3600\nbig 4294967295\ndur 1m30s\nmin 2h\n"
	                 "fall in-addr.arpa\ntag a b\ntag c\nmany 1 2 3 4\n",
	                 &o, err, sizeof(err)),
	             0, "%s", err);
	cr_assert(o.flag);
	cr_assert_str_eq(o.str, "hello");
	cr_assert_eq(o.num, 3600);
	cr_assert_eq(o.big, 4294967295u, "hi 0: the field's type bounds it");
	cr_assert_eq(o.dur, 90000);
	cr_assert_eq(o.min, 7200000);
	cr_assert_eq(o.fall.n, 1);
	cr_assert_str_eq(o.fall.z[0].name, "in-addr.arpa.");
	cr_assert_eq(o.tags, 2, "a repeat row runs on every line");
	opts_fini(&o);

	/* A zones row with no arguments takes the server block's. */
	memset(&o, 0, sizeof(o));
	cr_assert_eq(run("fall\n", &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.fall.n, 1);
	cr_assert_str_eq(o.fall.z[0].name, "example.org.");
	opts_fini(&o);
}

Test(directive, errors_name_the_file_and_line)
{
	static const struct {
		const char *body, *err;
	} cases[] = {
		{ "flag\nfoo 1\n", "Corefile:4: plugin/fake: unknown property 'foo'" },
		{ "num\n", "Corefile:3: plugin/fake: wrong argument count for 'num' (expects 1)" },
		{ "flag on\n",
		  "Corefile:3: plugin/fake: wrong argument count for 'flag' (expects 0)" },
		{ "tag a b c\n",
		  "Corefile:3: plugin/fake: wrong argument count for 'tag' (expects 1 to 2)" },
		{ "many\n",
		  "Corefile:3: plugin/fake: wrong argument count for 'many' (expects at least 1)" },
		{ "flag\nflag\n", "Corefile:4: plugin/fake: 'flag' is given twice" },
		{ "num 0\n", "Corefile:3: plugin/fake: num must be in range [1, 3600], not '0'" },
		{ "num 3601\n",
		  "Corefile:3: plugin/fake: num must be in range [1, 3600], not '3601'" },
		{ "num -1\n", "Corefile:3: plugin/fake: num must be in range [1, 3600], not '-1'" },
		{ "num 12abc\n",
		  "Corefile:3: plugin/fake: num must be in range [1, 3600], not '12abc'" },
		{ "big 4294967296\n",
		  "Corefile:3: plugin/fake: big must be in range [0, 4294967295], not '4294967296'" },
		{ "dur 1h0m1s\n",
		  "Corefile:3: plugin/fake: dur must be in range [1s, 1h], not '1h0m1s'" },
		{ "dur 999ms\n",
		  "Corefile:3: plugin/fake: dur must be in range [1s, 1h], not '999ms'" },
		{ "min 10ms\n", "Corefile:3: plugin/fake: min must be at least 1s, not '10ms'" },
		{ "dur soon\n", "Corefile:3: plugin/fake: dur: invalid duration 'soon' (examples: "
		                "500ms, 30s, 5m, 1h30m)" },
		{ "fall a..b\n",
		  "Corefile:3: plugin/fake: zone 'a..b' is not a valid domain name" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct opts o = { 0 };
		char err[256];
		cr_assert_eq(run(cases[i].body, &o, err, sizeof(err)), SX_EINVAL, "%s",
		             cases[i].body);
		cr_assert_str_eq(err, cases[i].err);
		opts_fini(&o);
	}
}

Test(directive, bounds_are_inclusive)
{
	struct opts o = { 0 };
	char err[256];
	cr_assert_eq(run("num 1\ndur 1s\n", &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.num, 1);
	cr_assert_eq(o.dur, 1000);
	cr_assert_eq(run("dur 1h\n", &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.dur, 3600000);
	opts_fini(&o);
}
