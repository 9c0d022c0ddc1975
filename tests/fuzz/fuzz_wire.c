/* fuzz_wire.c -- libFuzzer target: query parsing, reply building, set_wire and reading back. */
#include <stdlib.h>
#include <string.h>

#include <sextant/dname.h>
#include <sextant/error.h>
#include <sextant/msg.h>

#include "msg_reader.h"
#include "msg_writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[65535 + 64];

static void
check(bool ok)
{
	if (!ok) {
		abort();
	}
}

/* Everything we write must read back: every record, every owner name, the counts. */
static void
check_readable(const uint8_t *w, size_t len)
{
	struct sx_rr_walk it;
	int rc;
	unsigned n = 0;
	struct sx_rr rr;
	uint8_t name[SX_DNAME_MAX];
	sx_rr_walk_start(&it, w, len, SX_WALK_CHECKED);
	while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		check(sx_wire_name(w, len, rr.owner_off, name) > 0);
		n++;
	}
	check(rc == 0);
	check(n == (unsigned)(w[6] << 8 | w[7]) + (w[8] << 8 | w[9]) + (w[10] << 8 | w[11]));
}

/* The presentation form of a name parses back to the same bytes. */
static void
check_round_trip(const uint8_t *name)
{
	char s[SX_DNAME_STRMAX];
	uint8_t back[SX_DNAME_MAX];
	check(sx_dname_to_str(s, sizeof(s), name) > 0);
	int n = sx_dname_from_str(back, s);
	check(n > 0 && (size_t)n == sx_dname_len(name) && memcmp(back, name, (size_t)n) == 0);
}

static void
fuzz_query(const uint8_t *data, size_t size)
{
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX];
	enum sx_parse r = sx_wire_parse_query(data, size, &q, lname);
	if (r == SX_PARSE_DROP) {
		return;
	}
	q.proto = (size & 1) ? SX_PROTO_TCP : SX_PROTO_UDP;
	if (r == SX_PARSE_FORMERR || r == SX_PARSE_NOTIMP) {
		sx_msg_init_error(&m, out, sizeof(out), &q,
		                  r == SX_PARSE_NOTIMP ? SX_RCODE_NOTIMP : SX_RCODE_FORMERR);
		size_t n = sx_msg_finish(&m, &q);
		check_readable(out, n);
		/* The question, when it was read, is echoed as received. */
		check(q.qname == NULL ||
		      (out[5] == 1 && memcmp(out + 12, q.qname, q.qname_len) == 0));
		check(n <= sx_wire_reply_limit(&q));
		return;
	}
	check(q.qname_len == sx_dname_len(q.qname) && sx_dname_eq(q.qname, q.lname));
	check(q.nlabels == sx_dname_labels(q.qname));
	check_round_trip(q.qname);
	size_t limit = sx_wire_reply_limit(&q);
	sx_msg_init(&m, out, sizeof(out), limit, &q);
	if (r == SX_PARSE_BADVERS) {
		sx_msg_set_rcode(&m, SX_RCODE_BADVERS);
	}
	/* A few records named after the question, compressed against it and each other. */
	static const uint8_t a[4] = { 192, 0, 2, 1 };
	uint8_t rd[2 * SX_DNAME_MAX + 20];
	const uint8_t *parent = sx_dname_skip(q.lname, 1);
	size_t pl = sx_dname_len(parent);
	sx_msg_put_rr(&m, SX_SEC_ANSWER, q.lname, SX_TYPE_A, SX_CLASS_IN, 5, a, 4);
	sx_msg_put_rr(&m, SX_SEC_ANSWER, q.qname, SX_TYPE_CNAME, SX_CLASS_IN, 5, parent,
	              (uint16_t)pl);
	memcpy(rd, parent, pl);
	memcpy(rd + pl, q.qname, q.qname_len);
	memset(rd + pl + q.qname_len, 7, 20);
	sx_msg_put_rr(&m, SX_SEC_AUTHORITY, parent, SX_TYPE_SOA, SX_CLASS_IN, 5, rd,
	              (uint16_t)(pl + q.qname_len + 20));
	rd[0] = 0;
	rd[1] = 10;
	memcpy(rd + 2, parent, pl);
	sx_msg_put_rr(&m, SX_SEC_ADDITIONAL, q.qname, SX_TYPE_MX, SX_CLASS_IN, 5, rd,
	              (uint16_t)(pl + 2));
	size_t n = sx_msg_finish(&m, &q);
	check(n <= limit);
	check_readable(out, n);
}

/* A fixed query whose reply takes the input as an upstream message. */
static void
fuzz_set_wire(const uint8_t *data, size_t size)
{
	static const uint8_t query[] = {
		0x12, 0x34, 0x01, 0x00, 0,    1,    0,   0,   0,   0,   0, 1, 3, 'W',
		'e',  'b',  7,    'e',  'x',  'a',  'm', 'p', 'l', 'e', 0, 0, 1, 0,
		1,    0,    0,    41,   0x04, 0xD0, 0,   0,   0,   0,   0, 0,
	};
	struct sx_query q;
	struct sx_msg m;
	uint8_t lname[SX_DNAME_MAX];
	check(sx_wire_parse_query(query, sizeof(query), &q, lname) == SX_PARSE_OK);
	q.proto = (size & 1) ? SX_PROTO_TCP : SX_PROTO_UDP;
	size_t limit = sx_wire_reply_limit(&q);
	sx_msg_init(&m, out, sizeof(out), limit, &q);
	size_t before = m.len;
	if (sx_msg_set_wire(&m, data, size) != 0) {
		check(m.len == before);
		return;
	}
	size_t n = sx_msg_finish(&m, &q);
	check(n <= limit);
	check(memcmp(out + 12, query + 12, 17) == 0);
	check_readable(out, n);
}

/* Reading arbitrary messages back never goes out of bounds and always ends. */
static void
fuzz_read(const uint8_t *data, size_t size)
{
	struct sx_rr_walk it;
	struct sx_rr rr;
	uint8_t name[SX_DNAME_MAX], rd[SX_RDATA_EXPANDED];
	const uint8_t *rdata;
	sx_rr_walk_start(&it, data, size, SX_WALK_CHECKED);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		check(rr.end <= size);
		int n = sx_wire_name(data, size, rr.owner_off, name);
		check(n > 0 && (size_t)n == sx_dname_len(name));
		n = sx_wire_rdata(data, size, &rr, rd, &rdata);
		check(n < 0 || (size_t)n <= sizeof(rd) || rdata == data + rr.rdata_off);
	}
	/* Names skipped, not followed: bounds all the same. */
	sx_rr_walk_start(&it, data, size, 0);
	while (sx_rr_walk_next(&it, &rr) == 1) {
		check(rr.owner_off < rr.rdata_off && rr.end <= size);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_query(data, size);
	fuzz_set_wire(data, size);
	fuzz_read(data, size);
	return 0;
}
