/* test_dname.c -- wire names: presentation round trips, escapes, limits, case and comparison. */
#include <criterion/criterion.h>
#include <ldns/ldns.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>

static int
from(uint8_t out[SX_DNAME_MAX], const char *s)
{
	memset(out, 0xAA, SX_DNAME_MAX);
	return sx_dname_from_str(out, s);
}

/* A name of @labels labels of @each bytes ("aaa.aaa...."), written into @s. */
static void
long_name(char *s, unsigned labels, unsigned each)
{
	size_t n = 0;
	for (unsigned i = 0; i < labels; i++) {
		memset(s + n, 'a', each);
		n += each;
		s[n++] = '.';
	}
	s[n] = '\0';
}

Test(dname, from_str_plain_and_trailing_dot)
{
	uint8_t w[SX_DNAME_MAX];
	static const uint8_t want[] = "\x07"
	                              "Example"
	                              "\x03"
	                              "org";
	cr_assert_eq(from(w, "Example.org"), 13);
	cr_assert_arr_eq(w, want, 13);
	cr_assert_eq(from(w, "Example.org."), 13);
	cr_assert_arr_eq(w, want, 13);
}

Test(dname, from_str_root)
{
	uint8_t w[SX_DNAME_MAX];
	cr_assert_eq(from(w, "."), 1);
	cr_assert_eq(w[0], 0);
	cr_assert_eq(from(w, ""), 1);
	cr_assert_eq(w[0], 0);
}

Test(dname, from_str_escapes)
{
	uint8_t w[SX_DNAME_MAX];
	static const uint8_t dot[] = "\x03"
	                             "a.b"
	                             "\x01"
	                             "c";
	cr_assert_eq(from(w, "a\\.b.c"), 7);
	cr_assert_arr_eq(w, dot, 7);
	static const uint8_t dec[] = "\x03"
	                             "A\x00z";
	cr_assert_eq(from(w, "\\065\\000z"), 5);
	cr_assert_arr_eq(w, dec, 5);
	static const uint8_t bs[] = "\x02"
	                            "\\x";
	cr_assert_eq(from(w, "\\\\x."), 4);
	cr_assert_arr_eq(w, bs, 4);
}

Test(dname, from_str_bad_escapes)
{
	uint8_t w[SX_DNAME_MAX];
	cr_assert_eq(from(w, "a\\"), SX_EINVAL);
	cr_assert_eq(from(w, "\\256.org"), SX_EINVAL);
	cr_assert_eq(from(w, "\\12x.org"), SX_EINVAL);
}

Test(dname, from_str_empty_labels)
{
	uint8_t w[SX_DNAME_MAX];
	cr_assert_eq(from(w, "a..b"), SX_EINVAL);
	cr_assert_eq(from(w, ".a"), SX_EINVAL);
	cr_assert_eq(from(w, ".."), SX_EINVAL);
	cr_assert_eq(from(w, "a.."), SX_EINVAL);
}

Test(dname, from_str_label_limit)
{
	uint8_t w[SX_DNAME_MAX];
	char s[128];
	long_name(s, 1, 63);
	cr_assert_eq(from(w, s), 65);
	cr_assert_eq(w[0], 63);
	long_name(s, 1, 64);
	cr_assert_eq(from(w, s), SX_EINVAL);
}

Test(dname, from_str_name_limit)
{
	uint8_t w[SX_DNAME_MAX];
	char s[400];
	/* 3 * 64 + 62 + 1 = 255 bytes: the longest name there is. */
	long_name(s, 3, 63);
	strcat(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	cr_assert_eq(strlen(s), 3 * 64 + 61);
	cr_assert_eq(from(w, s), 255);
	cr_assert_eq(sx_dname_len(w), 255);
	strcat(s, "a");
	cr_assert_eq(from(w, s), SX_EINVAL);
	long_name(s, 128, 1);
	cr_assert_eq(from(w, s), SX_EINVAL);
	long_name(s, 127, 1);
	cr_assert_eq(from(w, s), 255);
	cr_assert_eq(sx_dname_labels(w), 127);
}

Test(dname, from_str_matches_ldns)
{
	static const char *names[] = {
		"example.org.",    "A.b.C.d.E.",      "x\\.y.example.", "\\000\\255.z.",
		"_http._tcp.svc.", "*.wild.example.", "\\@\\$\\(.q.",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t w[SX_DNAME_MAX];
		ldns_rdf *rdf = NULL;
		cr_assert_eq(ldns_str2rdf_dname(&rdf, names[i]), LDNS_STATUS_OK);
		int n = from(w, names[i]);
		cr_assert_eq((size_t)n, ldns_rdf_size(rdf), "%s", names[i]);
		cr_assert_arr_eq(w, ldns_rdf_data(rdf), (size_t)n, "%s", names[i]);
		ldns_rdf_deep_free(rdf);
	}
}

Test(dname, to_str_round_trip)
{
	static const char *names[] = {
		"example.org.",   "Mixed.Case.",     "a\\.b.c.",    "\\000\\007x\\127\\255.",
		"back\\\\slash.", "q\\\"\\(\\)\\;.", "sp\\032ace.",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint8_t w[SX_DNAME_MAX], w2[SX_DNAME_MAX];
		char s[SX_DNAME_STRMAX];
		int n = from(w, names[i]);
		cr_assert_gt(n, 0, "%s", names[i]);
		int l = sx_dname_to_str(s, sizeof(s), w);
		cr_assert_str_eq(s, names[i]);
		cr_assert_eq((size_t)l, strlen(names[i]));
		cr_assert_eq(from(w2, s), n);
		cr_assert_arr_eq(w, w2, (size_t)n);
	}
}

Test(dname, to_str_root_and_capacity)
{
	uint8_t w[SX_DNAME_MAX];
	char s[16];
	from(w, ".");
	cr_assert_eq(sx_dname_to_str(s, sizeof(s), w), 1);
	cr_assert_str_eq(s, ".");
	cr_assert_eq(sx_dname_to_str(s, 1, w), SX_ETRUNC);
	from(w, "abc.de");
	cr_assert_eq(sx_dname_to_str(s, 7, w), SX_ETRUNC);
	cr_assert_eq(sx_dname_to_str(s, 8, w), 7);
	cr_assert_str_eq(s, "abc.de.");
	from(w, "\\001");
	cr_assert_eq(sx_dname_to_str(s, 5, w), SX_ETRUNC);
	cr_assert_eq(sx_dname_to_str(s, 6, w), 5);
	cr_assert_str_eq(s, "\\001.");
}

Test(dname, to_str_longest_name_fits)
{
	uint8_t w[SX_DNAME_MAX];
	char s[SX_DNAME_STRMAX];
	memset(w, 0xFF, sizeof(w));
	for (unsigned i = 0; i < 3; i++) {
		w[i * 64] = 63;
	}
	w[192] = 61;
	w[254] = 0;
	cr_assert_eq(sx_dname_len(w), 255);
	/* 250 bytes as \255 plus four dots: under the documented maximum. */
	cr_assert_eq(sx_dname_to_str(s, sizeof(s), w), 250 * 4 + 4);
}

Test(dname, len_labels)
{
	uint8_t w[SX_DNAME_MAX];
	from(w, "a.bb.ccc");
	cr_assert_eq(sx_dname_len(w), 10);
	cr_assert_eq(sx_dname_labels(w), 3);
	from(w, ".");
	cr_assert_eq(sx_dname_len(w), 1);
	cr_assert_eq(sx_dname_labels(w), 0);
}

Test(dname, lower_copy_and_in_place)
{
	uint8_t w[SX_DNAME_MAX], l[SX_DNAME_MAX], want[SX_DNAME_MAX];
	int n = from(w, "WwW.ExAmPlE.oRg\\@Z[");
	from(want, "www.example.org\\@z[");
	cr_assert_eq(sx_dname_lower(l, w), (size_t)n);
	cr_assert_arr_eq(l, want, (size_t)n);
	cr_assert_eq(sx_dname_lower(w, w), (size_t)n);
	cr_assert_arr_eq(w, want, (size_t)n);
}

Test(dname, lower_folds_ascii_only_at_every_position)
{
	/* Every byte value, in labels of every length, checked against a byte-wise fold. */
	uint8_t w[SX_DNAME_MAX], l[SX_DNAME_MAX];
	for (unsigned start = 0; start < 256; start += 50) {
		for (unsigned ll = 1; ll <= 63; ll += 7) {
			size_t n = 0;
			unsigned v = start;
			while (n + ll + 2 <= SX_DNAME_MAX) {
				w[n++] = (uint8_t)ll;
				for (unsigned i = 0; i < ll; i++) {
					w[n++] = (uint8_t)(v++ & 0xFF);
				}
			}
			w[n++] = 0;
			memset(l, 0x55, sizeof(l));
			cr_assert_eq(sx_dname_lower(l, w), n);
			for (size_t i = 0; i < n; i++) {
				uint8_t c = w[i];
				uint8_t want = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
				cr_assert_eq(l[i], want, "byte %zu of %zu: %#x", i, n, c);
			}
		}
	}
}

Test(dname, eq_is_case_insensitive_and_exact)
{
	uint8_t a[SX_DNAME_MAX], b[SX_DNAME_MAX];
	from(a, "Web.Default.SVC");
	from(b, "web.default.svc.");
	cr_assert(sx_dname_eq(a, b));
	from(b, "web.default.svd");
	cr_assert_not(sx_dname_eq(a, b));
	from(b, "web.default");
	cr_assert_not(sx_dname_eq(a, b));
	from(b, "webdefault.svc");
	cr_assert_not(sx_dname_eq(a, b));
	/* '@' and '`' differ from 'A'/'a' only in the case bit's neighbour: not folded. */
	from(a, "@");
	from(b, "`");
	cr_assert_not(sx_dname_eq(a, b));
	from(a, "[");
	from(b, "{");
	cr_assert_not(sx_dname_eq(a, b));
}

Test(dname, is_sub_on_label_boundaries)
{
	uint8_t n[SX_DNAME_MAX], z[SX_DNAME_MAX];
	from(z, "Example.org");
	from(n, "foo.example.ORG");
	cr_assert(sx_dname_is_sub(n, z));
	from(n, "example.org");
	cr_assert(sx_dname_is_sub(n, z));
	from(n, "fooexample.org");
	cr_assert_not(sx_dname_is_sub(n, z));
	from(n, "org");
	cr_assert_not(sx_dname_is_sub(n, z));
	from(n, "a.b.example.net");
	cr_assert_not(sx_dname_is_sub(n, z));
	from(z, ".");
	cr_assert(sx_dname_is_sub(n, z));
}

Test(dname, skip_labels)
{
	uint8_t w[SX_DNAME_MAX], want[SX_DNAME_MAX];
	from(w, "a.bb.ccc");
	int n = from(want, "ccc");
	cr_assert_arr_eq(sx_dname_skip(w, 2), want, (size_t)n);
	cr_assert_eq(sx_dname_skip(w, 0), w);
	cr_assert_eq(*sx_dname_skip(w, 3), 0);
	cr_assert_eq(sx_dname_skip(w, 9), w + 9);
}
