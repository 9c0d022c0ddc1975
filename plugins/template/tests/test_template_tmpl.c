/* test_template_tmpl.c -- template's Go template subset and its zone-file record parser. */
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/error.h>
#include <sextant/msg.h>

#include "../rr.h"
#include "../tmpl.h"

/* Match @re against @subject and expand @src with the query facts below. */
static int
expand(const char *re_src, const char *subject, const char *src, char *out, size_t cap)
{
	struct tmpl t;
	char err[256] = "";
	int e, rc;
	PCRE2_SIZE at;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)re_src, PCRE2_ZERO_TERMINATED, 0, &e, &at, NULL);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);

	cr_assert(re);
	rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
	cr_assert_gt(rc, 0, "%s does not match %s", re_src, subject);
	struct tmpl_data d = { .name = subject,
		               .zone = "example.",
		               .class = "IN",
		               .type = "A",
		               .remote = "192.0.2.9",
		               .subject = subject,
		               .ov = pcre2_get_ovector_pointer(md),
		               .ngroups = (uint32_t)rc,
		               .re = re };

	cr_assert_eq(tmpl_compile(&t, src, err, sizeof(err)), 0, "%s: %s", src, err);
	rc = tmpl_expand(&t, &d, out, cap);
	tmpl_fini(&t);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc;
}

Test(template_tmpl, fields_groups_and_matches)
{
	const char *re =
	        "^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-(?P<c>[0-9]+)-(?P<d>[0-9]+)[.](ex)ample[.]$";
	char out[256];

	cr_assert_gt(expand(re, "ip-10-1-2-3.example.",
	                    "{{ .Name }} 60 {{.Class}} {{ .Type }} "
	                    "{{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}",
	                    out, sizeof(out)),
	             0);
	cr_expect_str_eq(out, "ip-10-1-2-3.example. 60 IN A 10.1.2.3");
	cr_assert_gt(expand(re, "ip-10-1-2-3.example.",
	                    "{{ index .Match 5 }}|{{ index .Match 0 }}|{{ .Zone }}|{{ .Remote }}",
	                    out, sizeof(out)),
	             0);
	cr_expect_str_eq(out, "ex|ip-10-1-2-3.example.|example.|192.0.2.9");
	/* A group no regex names prints as Go prints a missing key; trim markers eat spaces. */
	cr_assert_gt(
	        expand(re, "ip-10-1-2-3.example.", "a  {{- .Group.zz -}}  b", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "a<no value>b");
	/* An index past the groups is an error, as in Go. */
	cr_expect_eq(expand(re, "ip-10-1-2-3.example.", "{{ index .Match 6 }}", out, sizeof(out)),
	             SX_EINVAL);
	cr_expect_eq(expand(re, "ip-10-1-2-3.example.", "{{ .Name }}", out, 5), SX_ETRUNC);
}

Test(template_tmpl, parse_int)
{
	const char *re = "^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-z0-9]{2})[.]";
	char out[256];

	cr_assert_gt(expand(re, "ip0a7b0cff.example.",
	                    "10.{{ parseInt .Group.b 16 8 }}.{{ parseInt (index .Match 2) 16 8 }}."
	                    "{{ parseInt .Group.d 16 8 }}",
	                    out, sizeof(out)),
	             0);
	cr_expect_str_eq(out, "10.123.12.255");
	/* Not a number in that base, or too big for the bits: the template fails. */
	cr_expect_eq(
	        expand(re, "ip0a7b0czz.example.", "{{ parseInt .Group.d 16 8 }}", out, sizeof(out)),
	        SX_EINVAL);
	cr_expect_eq(
	        expand(re, "ip0a7b0cff.example.", "{{ parseInt .Group.d 16 4 }}", out, sizeof(out)),
	        SX_EINVAL);
}

Test(template_tmpl, refused_at_setup)
{
	const char *bad[] = { "{{ .Meta \"kubernetes/client-namespace\" }}",
		              "{{ .Name ",
		              "{{ $x }}",
		              "{{ index .Match }}",
		              "{{ parseInt .Name 16 8 }}",
		              "{{ parseInt .Group.a 99 8 }}",
		              "{{ .Group.9a }}" };
	struct tmpl t;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(tmpl_compile(&t, bad[i], err, sizeof(err)), SX_EINVAL, "%s", bad[i]);
		tmpl_fini(&t);
	}
	cr_assert_eq(tmpl_compile(&t, "example. 60 IN A 192.0.2.1", err, sizeof(err)), 0);
	cr_expect(t.fixed);
	tmpl_fini(&t);
}

Test(template_tmpl, records)
{
	struct rr_wire rr;

	cr_assert_eq(rr_parse("a.example. 60 IN A 192.0.2.1", &rr), 0);
	cr_expect_eq(rr.type, SX_TYPE_A);
	cr_expect_eq(rr.ttl, 60);
	cr_expect_eq(rr.rdlen, 4);
	cr_expect_eq(memcmp(rr.rdata, "\xc0\x00\x02\x01", 4), 0);
	cr_expect_eq(memcmp(rr.owner, "\1a\7example", 11), 0);
	/* Class before TTL, no TTL (3600), relative names taken as absolute. */
	cr_assert_eq(rr_parse("foogle.com IN CNAME google.com", &rr), 0);
	cr_expect_eq(rr.ttl, 3600);
	cr_expect_eq(rr.rdlen, 12);
	cr_expect_eq(memcmp(rr.rdata, "\6google\3com", 12), 0);
	cr_assert_eq(rr_parse("x. CH 0 TXT \"hello world\"", &rr), 0);
	cr_expect_eq(rr.rclass, SX_CLASS_CH);
	cr_expect_eq(rr.rdlen, 12);
	/* ldns for the rest: SOA with parentheses, MX. */
	cr_assert_eq(
	        rr_parse("invalid. 60 IN SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)", &rr),
	        0);
	cr_expect_eq(rr.type, SX_TYPE_SOA);
	cr_expect_eq(rr.rdlen, 12 + 20 + 20);
	cr_assert_eq(rr_parse("a.example. 60 IN MX 10 a.example.", &rr), 0);
	cr_expect_eq(rr.rdlen, 2 + 11);
	cr_expect_eq(rr_parse("a.example. 60 IN A 300.1.1.1", &rr), SX_EINVAL);
	cr_expect_eq(rr_parse("a.example. 60 IN", &rr), SX_EINVAL);
	cr_expect_eq(rr_parse("a.example. 60 IN BOGUS 1", &rr), SX_EINVAL);
	cr_expect_eq(rr_parse("", &rr), SX_EINVAL);
}
