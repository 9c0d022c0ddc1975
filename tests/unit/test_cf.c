/* test_cf.c -- the setup-time cursor of cf.c called directly: lines and arguments, errors
 * with FILE:LINE, the block's other directives, zone arguments, zone matching, durations. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sextant/error.h>

#include "address.h"
#include "cf_internal.h"

/* One server block "example.org { TEXT }" read by the real parser, and a cursor on it. */
struct fx {
	struct sx_corefile *corefile;
	struct sx_block block;
	struct sx_cf cf;
	char err[256];
};

static void
fx_open(struct fx *f, const char *body)
{
	char text[1024], msg[256];
	memset(f, 0, sizeof(*f));
	snprintf(text, sizeof(text), "example.org {\n%s}\n", body);
	cr_assert_eq(
	        sx_corefile_parse("Corefile", text, "/etc/coredns", &f->corefile, msg, sizeof(msg)),
	        0, "%s", msg);
	cr_assert_eq(sx_address_zone("example.org", &f->block.zones, msg, sizeof(msg)), 0);
	f->cf.block = &f->block;
	f->cf.dir = "/etc/coredns";
	f->cf.err = f->err;
	f->cf.errlen = sizeof(f->err);
}

/* Point the cursor at directive @d of the block, named @plugin in messages. */
static int
fx_dir(struct fx *f, size_t d, const char *plugin)
{
	const struct sx_cf_block *b = &f->corefile->blocks[0];
	cr_assert_lt(d, b->ndirs);
	return sx_cf_set_directive(&f->cf, b, &b->dirs[d], plugin);
}

static void
fx_close(struct fx *f)
{
	sx_cf_fini(&f->cf);
	sx_zones_fini(&f->block.zones);
	sx_corefile_free(f->corefile);
}

Test(cf, lines_and_arguments_of_a_block)
{
	struct fx f;
	fx_open(&f, "fake a b {\n  one x\n  two \"y z\" w\n}\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), 0);
	cr_assert(sx_cf_has_block(&f.cf));
	cr_assert_eq(sx_cf_nargs(&f.cf), 3);
	cr_assert_str_eq(sx_cf_arg(&f.cf, 0), "fake");
	cr_assert_str_eq(sx_cf_arg(&f.cf, 2), "b");
	cr_assert_null(sx_cf_arg(&f.cf, 3), "the brace is not an argument");
	cr_assert_null(sx_cf_arg(&f.cf, -1));
	cr_assert_str_eq(sx_cf_file(&f.cf), "Corefile");
	cr_assert_eq(sx_cf_line(&f.cf), 2);
	cr_assert_str_eq(sx_cf_dir(&f.cf), "/etc/coredns");

	cr_assert(sx_cf_next_line(&f.cf));
	cr_assert_eq(sx_cf_nargs(&f.cf), 2);
	cr_assert_str_eq(sx_cf_arg(&f.cf, 0), "one");
	cr_assert_eq(sx_cf_line(&f.cf), 3);
	cr_assert(sx_cf_next_line(&f.cf));
	cr_assert_eq(sx_cf_nargs(&f.cf), 3);
	cr_assert_str_eq(sx_cf_arg(&f.cf, 1), "y z");
	cr_assert_str_eq(sx_cf_arg(&f.cf, 2), "w");
	cr_assert_not(sx_cf_next_line(&f.cf), "the closing brace is not a line");
	cr_assert_not(sx_cf_next_line(&f.cf));
	cr_assert(f.cf.visited);

	sx_cf_rewind(&f.cf);
	cr_assert_str_eq(sx_cf_arg(&f.cf, 0), "fake");
	fx_close(&f);
}

Test(cf, a_directive_without_a_block_has_one_line)
{
	struct fx f;
	fx_open(&f, "fake a\nother\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), 0);
	cr_assert_not(sx_cf_has_block(&f.cf));
	cr_assert_eq(sx_cf_nargs(&f.cf), 2);
	cr_assert_not(sx_cf_next_line(&f.cf), "the next directive is not this one's line");
	/* The cursor is reused for the next directive, which starts afresh. */
	cr_assert_eq(fx_dir(&f, 1, "other"), 0);
	cr_assert_eq(sx_cf_nargs(&f.cf), 1);
	cr_assert_eq(sx_cf_line(&f.cf), 3);
	cr_assert_not(f.cf.visited);
	fx_close(&f);
}

Test(cf, block_shape_errors_name_the_file_and_line)
{
	struct fx f;
	fx_open(&f, "fake {\n  one {\n    x\n  }\n}\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), SX_EINVAL);
	cr_assert_str_eq(f.err, "Corefile:3: plugin/fake: unexpected nested block");
	fx_close(&f);

	fx_open(&f, "fake {\n  one\n  {\n  }\n}\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), SX_EINVAL);
	cr_assert_str_eq(f.err, "Corefile:3: plugin/fake: unexpected nested block",
	                 "a brace on the next line still opens a block for \"one\"");
	fx_close(&f);
}

Test(cf, err_names_the_current_line_and_truncates)
{
	struct fx f;
	fx_open(&f, "fake a {\n  one\n\n  two\n}\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), 0);
	cr_assert_eq(sx_cf_err(&f.cf, "bad %s %d", "thing", 7), SX_EINVAL);
	cr_assert_str_eq(f.err, "Corefile:2: plugin/fake: bad thing 7");
	sx_cf_next_line(&f.cf);
	sx_cf_next_line(&f.cf);
	sx_cf_err(&f.cf, "no");
	cr_assert_str_eq(f.err, "Corefile:5: plugin/fake: no");
	/* A short buffer gets the start of the message, terminated. */
	f.cf.errlen = 12;
	sx_cf_err(&f.cf, "a long message");
	cr_assert_str_eq(f.err, "Corefile:5:");
	fx_close(&f);
}

Test(cf, other_directives_of_the_block)
{
	struct fx f;
	fx_open(&f, "fake a\nother x y\nlast p {\n  q r\n}\nfake b\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), 0);
	cr_assert(sx_cf_repeated_after(&f.cf));
	cr_assert(sx_cf_block_has(&f.cf, "other", NULL));
	cr_assert(sx_cf_block_has(&f.cf, "other", "y"));
	cr_assert_not(sx_cf_block_has(&f.cf, "other", "x"), "only the last argument counts");
	cr_assert(sx_cf_block_has(&f.cf, "last", "p"), "the brace is not an argument");
	cr_assert_not(sx_cf_block_has(&f.cf, "last", "r"), "nor are the block's lines");
	cr_assert_not(sx_cf_block_has(&f.cf, "q", NULL));
	cr_assert_not(sx_cf_block_has(&f.cf, "fak", NULL));
	cr_assert(sx_cf_block_has(&f.cf, "fake", "b"));
	cr_assert_eq(fx_dir(&f, 3, "fake"), 0);
	cr_assert_not(sx_cf_repeated_after(&f.cf), "the last one");
	cr_assert_eq(fx_dir(&f, 1, "other"), 0);
	cr_assert_not(sx_cf_repeated_after(&f.cf));
	fx_close(&f);
}

Test(cf, zones_are_normalised_bounded_and_checked)
{
	struct fx f;
	struct sx_zones z = { 0 }, dflt = { 0 };
	char msg[128];
	fx_open(&f, "fake A.Example.ORG b.example.org. stop\nbad out.example.net\nnone\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), 0);
	cr_assert_eq(sx_cf_zones_until(&f.cf, 1, 3, NULL, sx_cf_block_zones(&f.cf), &z), 0);
	cr_assert_eq(z.n, 2);
	cr_assert_str_eq(z.z[0].name, "a.example.org.");
	cr_assert_str_eq(z.z[1].name, "b.example.org.");
	sx_zones_fini(&z);
	/* An end past the line is the line's end: "stop" is read as a zone too. */
	cr_assert_eq(sx_cf_zones_until(&f.cf, 2, 99, NULL, NULL, &z), 0);
	cr_assert_eq(z.n, 2);
	cr_assert_str_eq(z.z[1].name, "stop.");
	sx_zones_fini(&z);

	cr_assert_eq(fx_dir(&f, 1, "bad"), 0);
	cr_assert_eq(sx_cf_zones(&f.cf, 1, NULL, sx_cf_block_zones(&f.cf), &z), SX_EINVAL);
	cr_assert_str_eq(f.err, "Corefile:3: plugin/bad: zone out.example.net. is not within the "
	                        "server block zones");
	cr_assert_eq(z.n, 0, "nothing is kept on error");
	cr_assert_eq(sx_address_zone("example.com", &dflt, msg, sizeof(msg)), 0);
	cr_assert_eq(sx_cf_zones(&f.cf, 1, NULL, &dflt, &z), SX_EINVAL);
	cr_assert_str_eq(f.err, "Corefile:3: plugin/bad: zone out.example.net. is not within the "
	                        "allowed zones");

	/* No arguments: the default set, still checked. */
	cr_assert_eq(fx_dir(&f, 2, "none"), 0);
	cr_assert_eq(sx_cf_zones(&f.cf, 1, &dflt, NULL, &z), 0);
	cr_assert_eq(z.n, 1);
	cr_assert_str_eq(z.z[0].name, "example.com.");
	sx_zones_fini(&z);
	cr_assert_eq(sx_cf_zones(&f.cf, 1, &dflt, sx_cf_block_zones(&f.cf), &z), SX_EINVAL);
	cr_assert_eq(z.n, 0);
	cr_assert_eq(sx_cf_zones(&f.cf, 1, NULL, NULL, &z), 0);
	cr_assert_eq(z.n, 0, "no arguments and no default: no zones");
	sx_zones_fini(&dflt);
	fx_close(&f);
}

Test(cf, a_bad_zone_argument_names_the_line)
{
	struct fx f;
	struct sx_zones z = { 0 };
	fx_open(&f, "fake ok.example.org a..b\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), 0);
	cr_assert_eq(sx_cf_zones(&f.cf, 1, NULL, NULL, &z), SX_EINVAL);
	cr_assert(strncmp(f.err, "Corefile:2: plugin/fake: ", 25) == 0, "%s", f.err);
	cr_assert_gt(strlen(f.err), 25, "and says why");
	cr_assert_eq(z.n, 0, "the good zone before it is dropped too");
	fx_close(&f);
}

/* The index sx_zones_match() gives for @name among zones @names, set up in that order. */
static int
match(const char *const *names, size_t n, const char *name)
{
	struct sx_zones z = { 0 };
	uint8_t wire[SX_DNAME_MAX];
	char msg[128];
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(sx_address_zone(names[i], &z, msg, sizeof(msg)), 0, "%s", msg);
	}
	cr_assert_gt(sx_dname_from_str(wire, name), 0);
	int r = sx_zones_match(&z, wire);
	sx_zones_fini(&z);
	return r;
}

Test(cf, zones_match_longest_on_a_label_boundary_in_any_case)
{
	static const char *const zs[] = { "org", "example.org", "a.b.example.org", "." };
	static const char *const bc[] = { "b.c" };
	static const char *const rev[] = { "a.b.example.org", "example.org", "org" };
	cr_assert_eq(match(zs, 4, "www.example.org"), 1);
	cr_assert_eq(match(zs, 4, "example.org"), 1, "the zone itself");
	cr_assert_eq(match(zs, 4, "WWW.EXAMPLE.ORG"), 1);
	cr_assert_eq(match(zs, 4, "x.A.b.Example.org"), 2);
	cr_assert_eq(match(zs, 4, "b.example.org"), 1, "a.b.example.org is not a parent");
	cr_assert_eq(match(zs, 4, "fooexample.org"), 0, "label boundary");
	cr_assert_eq(match(zs, 4, "net"), 3, "the root holds everything");
	cr_assert_eq(match(zs, 4, "."), 3);
	cr_assert_eq(match(bc, 1, "ab.c"), -1);
	/* The label "a\001b" ends in the bytes of "b.c" as written on the wire. */
	cr_assert_eq(match(bc, 1, "a\\001b.c"), -1, "a zone starts where a label does");
	cr_assert_eq(match(bc, 1, "a.b.c"), 0);
	cr_assert_eq(match(bc, 1, "c"), -1, "a zone longer than the name");
	cr_assert_eq(match(rev, 3, "x.a.b.example.org"), 0, "longest first in the set");
	cr_assert_eq(match(rev, 3, "x.example.org"), 1);
	cr_assert_eq(match(rev, 3, "example.net"), -1);
	cr_assert_eq(match(NULL, 0, "."), -1, "no zones");
}

Test(cf, parse_duration)
{
	static const struct {
		const char *in;
		uint64_t ms;
	} good[] = {
		{ "0", 0 },        { "5", 5000 },         { "30s", 30000 },
		{ "1m", 60000 },   { "2h", 7200000 },     { "1h2m3s", 3723000 },
		{ "500ms", 500 },  { "1.5s", 1500 },      { "1.5h", 5400000 },
		{ ".5s", 500 },    { "1500000us", 1500 }, { "2000000000ns", 2000 },
		{ "0s", 0 },       { "1m30s", 90000 },    { "3\xc2\xb5s", 0 },
		{ "1s1ms", 1001 }, { "0.0001s", 0 },
	};
	static const char *bad[] = {
		"",
		"-1s",
		"-5",
		"s",
		"1x",
		"1.s.",
		"1 s",
		"1sm",
		"ms",
		"1.5",
		"+",
		"h1",
		"99999999999999999999",
		"9999999999h",
		"2562048h",
		"1e3s",
		".s",
	};
	uint64_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(sx_parse_duration(good[i].in, &ms), 0, "%s", good[i].in);
		cr_assert_eq(ms, good[i].ms, "%s: %llu", good[i].in, (unsigned long long)ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(sx_parse_duration(bad[i], &ms), SX_EINVAL, "%s", bad[i]);
	}
	/* Just under Go's limit. */
	cr_assert_eq(sx_parse_duration("2562047h", &ms), 0);
	cr_assert_eq(ms, 2562047ull * 3600000);
}

Test(cf, listen_addresses_ports_and_timeouts)
{
	struct fx f;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6, .sin6_port = htons(53) };
	struct sockaddr_storage out;
	uint16_t ports[1] = { 1053 };
	fx_open(&f, "fake\n");
	cr_assert_eq(fx_dir(&f, 0, "fake"), 0);
	f.block.ports = ports;
	cr_assert_eq(sx_cf_block_port(&f.cf, 0), 1053);
	cr_assert_eq(sx_cf_block_port(&f.cf, 1), 0, "past the zones");

	cr_assert_not(sx_block_listen(sx_cf_block(&f.cf), 0, &out), "the wildcard: none");
	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	cr_assert_eq(sx_cf_add_listen(&f.cf, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(sx_cf_add_listen(&f.cf, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(f.block.nlisten, 1, "the same address once");
	cr_assert_eq(sx_cf_add_listen(&f.cf, (struct sockaddr *)&b, sizeof(b)), 0);
	cr_assert_eq(sx_cf_add_listen(&f.cf, (struct sockaddr *)&b, sizeof(a)), SX_EINVAL,
	             "too short for its family");
	cr_assert_eq(sx_cf_add_listen(&f.cf, NULL, 0), SX_EINVAL);
	struct sockaddr unix_sa = { .sa_family = AF_UNIX };
	cr_assert_eq(sx_cf_add_listen(&f.cf, &unix_sa, sizeof(unix_sa)), SX_EINVAL);
	cr_assert(sx_block_listen(sx_cf_block(&f.cf), 0, &out));
	cr_assert_eq(((struct sockaddr_in *)&out)->sin_port, 0, "the block's port, not bind's");
	cr_assert_eq(((struct sockaddr_in *)&out)->sin_addr.s_addr, a.sin_addr.s_addr);
	cr_assert(sx_block_listen(sx_cf_block(&f.cf), 1, &out));
	cr_assert_eq(out.ss_family, AF_INET6);
	cr_assert_eq(((struct sockaddr_in6 *)&out)->sin6_port, 0);
	cr_assert_not(sx_block_listen(sx_cf_block(&f.cf), 2, &out));

	sx_cf_set_tcp_timeouts(&f.cf, 1, 2, 3);
	cr_assert_eq(f.block.tcp_read_ms, 1);
	cr_assert_eq(f.block.tcp_write_ms, 2);
	cr_assert_eq(f.block.tcp_idle_ms, 3);
	free(f.block.listen);
	fx_close(&f);
}
