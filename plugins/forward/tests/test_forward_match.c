/* test_forward_match.c -- which upstream datagrams count as the answer to the query sent. */
#include <string.h>

#include <criterion/criterion.h>

#include "../fwd.h"

/* "Www.Example.org. A IN", ID 0x1234, RD, with our OPT. */
static const uint8_t query[] = {
	0x12, 0x34, 0x01, 0x00, 0,   1,   0,    0,    0,   0, 0,   1,   3,   'W', 'w',
	'w',  7,    'E',  'x',  'a', 'm', 'p',  'l',  'e', 3, 'o', 'r', 'g', 0,   0,
	1,    0,    1,    0,    0,   41,  0x04, 0xd0, 0,   0, 0,   0,   0,   0,
};

/* The matching answer header and question: flags QR RD RA, one question, one answer. */
static size_t
reply(uint8_t *r)
{
	static const uint8_t base[] = {
		0x12, 0x34, 0x81, 0x80, 0,   1,   0,   1,    0,   0,   0,   0, 3,
		'w',  'W',  'W',  7,    'e', 'x', 'A', 'M',  'P', 'L', 'E', 3, 'O',
		'R',  'G',  0,    0,    1,   0,   1,   0xc0, 12,  0,   1,   0, 1,
		0,    0,    0,    30,   0,   4,   192, 0,    2,   1,
	};

	memcpy(r, base, sizeof(base));
	return sizeof(base);
}

Test(forward_match, the_answer_matches_in_any_case)
{
	uint8_t r[128];
	size_t n = reply(r);

	cr_assert(fwd_reply_matches(query, sizeof(query), r, n));
}

Test(forward_match, anything_else_does_not)
{
	uint8_t r[128];
	size_t n;

	n = reply(r);
	r[1] ^= 1; /* another ID */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	r[2] &= 0x7f; /* a query, not a reply */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	r[2] |= 0x28; /* another opcode */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	r[5] = 0; /* no question */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	r[5] = 2; /* two questions */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	r[14] = 'x'; /* another name */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	r[30] = 28; /* another type */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	r[32] = 3; /* another class */
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	n = reply(r);
	/* The question name compressed: not the question we sent, byte for byte. */
	r[12] = 0xc0;
	r[13] = 12;
	cr_assert_not(fwd_reply_matches(query, sizeof(query), r, n));
	/* Cut anywhere inside the header or question. */
	n = reply(r);
	for (size_t cut = 0; cut < 33; cut++) {
		cr_assert_not(fwd_reply_matches(query, sizeof(query), r, cut), "cut at %zu", cut);
	}
	cr_assert(fwd_reply_matches(query, sizeof(query), r, 33));
}

Test(forward_match, random_numbers_differ)
{
	uint64_t a[2], b[2];
	uint16_t ids[64];
	int same = 0;

	fwd_rand_seed(a);
	fwd_rand_seed(b);
	cr_assert(a[0] != b[0] || a[1] != b[1], "two seeds from getrandom() were equal");
	for (int i = 0; i < 64; i++) {
		ids[i] = (uint16_t)fwd_rand(a);
		same += i > 0 && ids[i] == ids[i - 1];
	}
	cr_assert_lt(same, 3);
}
