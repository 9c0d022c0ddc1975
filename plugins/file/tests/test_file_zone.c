/* test_file_zone.c -- reading zone files into snapshots: directives, TTLs, nodes, cuts, errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/dname.h>
#include <sextant/error.h>

#include "../file.h"

static char dir[] = "/tmp/sx-file-zone-XXXXXX";
static char written[16][64];
static size_t nwritten;

static void
write_file(const char *name, const char *text)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	cr_assert(fp, "%s", path);
	fputs(text, fp);
	fclose(fp);
	snprintf(written[nwritten++], sizeof(written[0]), "%s", name);
}

static void
make_dir(void)
{
	cr_assert(mkdtemp(dir));
}

static void
remove_dir(void)
{
	char path[1200];
	for (size_t i = 0; i < nwritten; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, written[i]);
		unlink(path);
	}
	rmdir(dir);
}

TestSuite(file_zone, .init = make_dir, .fini = remove_dir);

static char err[1024];

static int
load(const char *name, const char *origin, struct fz_zone **z)
{
	char path[1200];
	uint8_t o[SX_DNAME_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_gt(sx_dname_from_str(o, origin), 0);
	err[0] = '\0';
	return fz_zone_load(path, o, z, err, sizeof(err));
}

static const struct fz_node *
node(const struct fz_zone *z, const char *name)
{
	uint8_t w[SX_DNAME_MAX];
	int len = sx_dname_from_str(w, name);
	cr_assert_gt(len, 0);
	return fz_zone_find(z, w, (size_t)len);
}

/* TTL of record @i of @name/@type. */
static uint32_t
ttl_of(const struct fz_zone *z, const char *name, uint16_t type, unsigned i)
{
	const struct fz_node *n = node(z, name);
	cr_assert(n, "no node %s", name);
	const struct fz_rrset *rs = fz_node_rrset(n, type);
	cr_assert(rs, "no type %u at %s", type, name);
	cr_assert_lt(i, rs->count);
	const uint8_t *p = rs->data;
	for (unsigned k = 0; k < i; k++) {
		uint16_t rdlen;
		memcpy(&rdlen, p + 4, 2);
		p += 6 + rdlen;
	}
	uint32_t ttl;
	memcpy(&ttl, p, 4);
	return ttl;
}

static char *
expand(const char *s)
{
	char *out = malloc(strlen(s) + 4 * sizeof(dir) + 1);
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

static void
expect_error(const char *name, const char *origin, const char *want)
{
	struct fz_zone *z = NULL;
	cr_expect_lt(load(name, origin, &z), 0, "%s loaded", name);
	char *w = expand(want);
	cr_expect_str_eq(err, w);
	free(w);
}

Test(file_zone, ttl_rules)
{
	write_file("db.ttl", "@ IN SOA ns1 admin 1 2 3 4 5\n" /* no TTL seen yet: 3600 */
	                     "a 60 IN A 192.0.2.1\n"
	                     "b IN A 192.0.2.2\n" /* the last TTL written */
	                     "$TTL 120\n"
	                     "c IN A 192.0.2.3\n"
	                     "d 30 IN A 192.0.2.4\n"
	                     "e IN A 192.0.2.5\n"); /* $TTL, not the last one */
	struct fz_zone *z;
	cr_assert_eq(load("db.ttl", "example.org", &z), 0, "%s", err);
	cr_expect_eq(ttl_of(z, "example.org", 6, 0), 3600);
	cr_expect_eq(ttl_of(z, "a.example.org", 1, 0), 60);
	cr_expect_eq(ttl_of(z, "b.example.org", 1, 0), 60);
	cr_expect_eq(ttl_of(z, "c.example.org", 1, 0), 120);
	cr_expect_eq(ttl_of(z, "d.example.org", 1, 0), 30);
	cr_expect_eq(ttl_of(z, "e.example.org", 1, 0), 120);
	fz_zone_free(z);
}

Test(file_zone, soa_serial_and_negative_ttl)
{
	write_file("db.soa", "$TTL 600\n@ IN SOA ns1 admin ( 2024010199 7200 3600\n 1209600 300 )\n"
	                     "@ IN SOA ns1 admin 5 1 1 1 1\n"); /* a second SOA is dropped */
	struct fz_zone *z;
	cr_assert_eq(load("db.soa", "example.org", &z), 0, "%s", err);
	cr_expect_eq(z->serial, 2024010199u);
	cr_expect_eq(z->neg_ttl, 300);
	cr_expect_eq(z->soa->count, 1);
	cr_expect_null(z->ns);
	fz_zone_free(z);
	/* The SOA's own TTL caps the negative TTL too. */
	write_file("db.soa2", "@ 60 IN SOA ns1 admin 1 7200 3600 1209600 3600\n");
	cr_assert_eq(load("db.soa2", "example.org", &z), 0, "%s", err);
	cr_expect_eq(z->neg_ttl, 60);
	fz_zone_free(z);
}

Test(file_zone, origin_and_relative_names)
{
	write_file("db.origin", "$ORIGIN example.org.\n@ 300 IN SOA ns1 admin 1 2 3 4 5\n"
	                        "$ORIGIN sub.example.org.\nwww 300 IN A 192.0.2.1\n"
	                        "     300 IN AAAA 2001:db8::1\n" /* owner of the line before */
	                        "Upper.Case.example.org. 300 IN A 192.0.2.2\n");
	struct fz_zone *z;
	cr_assert_eq(load("db.origin", "example.org", &z), 0, "%s", err);
	const struct fz_node *n = node(z, "www.sub.example.org");
	cr_assert(n);
	cr_expect(fz_node_rrset(n, 1));
	cr_expect(fz_node_rrset(n, 28));
	/* Names are kept lower-case for lookups. */
	cr_expect(node(z, "upper.case.example.org"));
	cr_expect_null(node(z, "www.example.org"));
	fz_zone_free(z);
}

Test(file_zone, empty_nonterminals_and_cuts)
{
	write_file("db.tree", "@ 300 IN SOA ns1 admin 1 2 3 4 5\n@ 300 IN NS ns1\n"
	                      "ns1 300 IN A 192.0.2.1\n"
	                      "a.b.c 300 IN TXT \"deep\"\n"
	                      "sub 300 IN NS ns.sub\n"
	                      "sub 300 IN DS 12345 8 2 "
	                      "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE6D8D48D0E7C83A39E3C5F2E8\n"
	                      "ns.sub 300 IN A 192.0.2.53\n"
	                      "x.y.sub 300 IN A 192.0.2.54\n");
	struct fz_zone *z;
	cr_assert_eq(load("db.tree", "example.org", &z), 0, "%s", err);
	const struct fz_node *c = node(z, "c.example.org");
	const struct fz_node *bc = node(z, "b.c.example.org");
	cr_assert(c && bc, "empty non-terminals missing");
	cr_expect_eq(c->nrrsets, 0);
	cr_expect_eq(bc->nrrsets, 0);
	cr_expect_eq(node(z, "a.b.c.example.org")->nrrsets, 1);
	const struct fz_node *sub = node(z, "sub.example.org");
	cr_assert(sub);
	cr_expect_eq(sub->cut, sub);
	cr_expect_eq(node(z, "ns.sub.example.org")->cut, sub);
	cr_expect_eq(node(z, "y.sub.example.org")->cut, sub);
	cr_expect_eq(node(z, "x.y.sub.example.org")->cut, sub);
	/* The apex NS is no cut. */
	cr_expect_null(z->apex->cut);
	cr_expect_null(node(z, "ns1.example.org")->cut);
	cr_expect_eq(z->nnodes, 9);
	fz_zone_free(z);
}

Test(file_zone, duplicates_dropped)
{
	write_file("db.dup", "@ 300 IN SOA ns1 admin 1 2 3 4 5\n"
	                     "www 300 IN A 192.0.2.1\nwww 300 IN A 192.0.2.2\n"
	                     "www 300 IN A 192.0.2.1\n");
	struct fz_zone *z;
	cr_assert_eq(load("db.dup", "example.org", &z), 0, "%s", err);
	cr_expect_eq(fz_node_rrset(node(z, "www.example.org"), 1)->count, 2);
	cr_expect_eq(z->nrecords, 3);
	fz_zone_free(z);
}

Test(file_zone, include_relative_with_origin)
{
	write_file("db.main", "$ORIGIN example.org.\n@ 300 IN SOA ns1 admin 1 2 3 4 5\n"
	                      "$INCLUDE db.part lab ; the lab hosts\n"
	                      "after 300 IN A 192.0.2.9\n");
	write_file("db.part", "host1 300 IN A 192.0.2.10\n$INCLUDE \"db.leaf\"\n");
	write_file("db.leaf", "leaf 300 IN A 192.0.2.11\n");
	struct fz_zone *z;
	cr_assert_eq(load("db.main", "example.org", &z), 0, "%s", err);
	cr_expect(node(z, "host1.lab.example.org"));
	cr_expect(node(z, "leaf.lab.example.org"));
	/* The including file's origin is back after the $INCLUDE. */
	cr_expect(node(z, "after.example.org"));
	fz_zone_free(z);
}

Test(file_zone, include_errors)
{
	write_file("db.inc-missing", "@ 300 IN SOA ns1 admin 1 2 3 4 5\n$INCLUDE nowhere.db\n");
	expect_error("db.inc-missing", "example.org", "%D/nowhere.db: No such file or directory");
	write_file("db.inc-self", "$INCLUDE db.inc-self\n");
	expect_error("db.inc-self", "example.org", "%D/db.inc-self:1: $INCLUDE nested too deeply");
	write_file("db.inc-bad", "@ 300 IN SOA ns1 admin 1 2 3 4 5\n$INCLUDE db.inc-bad2\n");
	write_file("db.inc-bad2", "ok 300 IN A 192.0.2.1\nbroken 300 IN A 300.1.1.1\n");
	expect_error("db.inc-bad", "example.org",
	             "%D/db.inc-bad2:2: Syntax error, could not parse the RR's rdata");
}

Test(file_zone, errors)
{
	struct fz_zone *z = NULL;
	cr_expect_eq(load("db.none", "example.org", &z), -ENOENT);
	char *want = expand("%D/db.none: No such file or directory");
	cr_expect_str_eq(err, want);
	free(want);
	write_file("db.soa-deep", "@ 300 IN SOA ns1 admin 1 2 3 4 5\n"
	                          "www 300 IN SOA ns1 admin 1 2 3 4 5\n");
	expect_error("db.soa-deep", "example.org",
	             "%D/db.soa-deep:2: SOA record not at the zone apex");
	write_file("db.chaos", "@ 300 IN SOA ns1 admin 1 2 3 4 5\nwww 300 CH TXT \"x\"\n");
	expect_error("db.chaos", "example.org", "%D/db.chaos:2: only class IN is supported");
	write_file("db.empty", "; nothing\n");
	expect_error("db.empty", "example.org",
	             "file \"%D/db.empty\" has no SOA record for origin example.org.");
	/* The same file read for another origin has its owners outside it. */
	write_file("db.abs", "example.org. 300 IN SOA ns1 admin 1 2 3 4 5\n");
	expect_error("db.abs", "example.net", "%D/db.abs:1: out of zone data: example.org.");
}
