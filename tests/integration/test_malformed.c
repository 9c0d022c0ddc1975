/* test_malformed.c -- garbage in gets FORMERR or nothing, and the server keeps answering. */
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static struct sx_test_server *srv;

static void
start(void)
{
	srv = sx_test_start(NULL, ". {\n\tbind 127.0.0.1\n\twhoami\n}\n");
}

static void
stop(void)
{
	sx_test_stop(srv);
}

/* After each bad packet the server must still answer a good query. */
static void
still_alive(void)
{
	ldns_pkt *p = sx_test_query(srv, "alive.example", LDNS_RR_TYPE_A, 0, 0);

	cr_assert(p, "no answer after a malformed packet");
	cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
}

static unsigned
rcode_of(const uint8_t *r, size_t n)
{
	cr_assert(n >= 12, "expected a reply, got %zu bytes", n);
	return r[3] & 0xf;
}

TestSuite(malformed, .init = start, .fini = stop);

Test(malformed, short_header_is_dropped)
{
	static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0x00 };
	uint8_t r[512];

	cr_assert_eq(sx_test_raw_udp(srv, q, sizeof(q), r, sizeof(r), 300), 0);
	still_alive();
}

Test(malformed, garbage_after_header_is_formerr)
{
	uint8_t q[100], r[512];
	size_t n;

	memset(q, 0xff, sizeof(q));
	q[0] = 0xab;
	q[1] = 0xcd;
	q[2] = 0x01; /* QR clear, opcode QUERY, RD */
	q[3] = 0x00;
	n = sx_test_raw_udp(srv, q, sizeof(q), r, sizeof(r), 2000);
	cr_assert_eq(rcode_of(r, n), 1);
	cr_assert(r[0] == 0xab && r[1] == 0xcd, "ID echoed");
	still_alive();
}

Test(malformed, compression_loop_in_question_is_formerr)
{
	/* The question name is a pointer to itself. */
	static const uint8_t q[] = { 0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	uint8_t r[512];

	cr_assert_eq(rcode_of(r, sx_test_raw_udp(srv, q, sizeof(q), r, sizeof(r), 2000)), 1);
	still_alive();
}

Test(malformed, no_question_is_formerr)
{
	static const uint8_t q[] = { 0, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t r[512];

	cr_assert_eq(rcode_of(r, sx_test_raw_udp(srv, q, sizeof(q), r, sizeof(r), 2000)), 1);
	still_alive();
}

Test(malformed, two_questions_is_formerr)
{
	static const uint8_t q[] = {
		0, 9, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1, 1, 'b', 0, 0, 1, 0, 1,
	};
	uint8_t r[512];

	cr_assert_eq(rcode_of(r, sx_test_raw_udp(srv, q, sizeof(q), r, sizeof(r), 2000)), 1);
	still_alive();
}

Test(malformed, truncated_question_is_formerr)
{
	static const uint8_t q[] = { 0, 10, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a' };
	uint8_t r[512];

	cr_assert_eq(rcode_of(r, sx_test_raw_udp(srv, q, sizeof(q), r, sizeof(r), 2000)), 1);
	still_alive();
}

Test(malformed, response_packets_are_dropped)
{
	/* QR set: never answer an answer (reflection loops). */
	static const uint8_t q[] = { 0, 11, 0x81, 0x80, 0, 1, 0, 0, 0, 0,
		                     0, 0,  1,    'a',  0, 0, 1, 0, 1 };
	uint8_t r[512];

	cr_assert_eq(sx_test_raw_udp(srv, q, sizeof(q), r, sizeof(r), 300), 0);
	still_alive();
}
