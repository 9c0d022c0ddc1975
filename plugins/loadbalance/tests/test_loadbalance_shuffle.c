/* test_loadbalance_shuffle.c -- record orders after lb_shuffle, on replies written by the core. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <ldns/ldns.h>

#include <sextant/testing.h>

#include "../lb.h"

static uint8_t buf[65535];
static uint8_t qwire[512];
static struct lb_worker *w;

static void
setup(void)
{
	w = aligned_alloc(64, sizeof(*w));
	cr_assert(w);
	w->rng = 0x9e3779b97f4a7c15ull;
}

static void
teardown(void)
{
	free(w);
}

TestSuite(lb_shuffle, .init = setup, .fini = teardown);

/* Start a NOERROR reply to @qname/@qtype, as the core does for a TCP query. */
static void
start(struct sx_msg *msg, const char *qname, uint16_t qtype)
{
	static struct sx_query q;
	static uint8_t lname[SX_DNAME_MAX];
	size_t n = 12;
	int len;

	memset(qwire, 0, 12);
	qwire[1] = 1;
	qwire[2] = 1;
	qwire[5] = 1;
	len = sx_dname_from_str(qwire + n, qname);
	cr_assert_gt(len, 0);
	n += (size_t)len;
	qwire[n++] = (uint8_t)(qtype >> 8);
	qwire[n++] = (uint8_t)qtype;
	qwire[n++] = 0;
	qwire[n++] = 1;
	cr_assert_eq(sx_test_parse_query(qwire, n, &q, lname), 0);
	q.proto = SX_PROTO_TCP;
	sx_test_msg_init(msg, buf, sizeof(buf), 65535, &q);
	sx_msg_set_flags(msg, SX_FLAG_AA);
}

static void
put(struct sx_msg *msg, enum sx_section sec, const char *text)
{
	ldns_rr *rr;
	ldns_buffer *b = ldns_buffer_new(512);

	cr_assert_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK, "%s", text);
	cr_assert_eq(ldns_rr_rdata2buffer_wire(b, rr), LDNS_STATUS_OK);
	cr_assert_eq(sx_msg_put_rr(msg, sec, ldns_rdf_data(ldns_rr_owner(rr)),
	                           (uint16_t)ldns_rr_get_type(rr), SX_CLASS_IN, ldns_rr_ttl(rr),
	                           ldns_buffer_begin(b), (uint16_t)ldns_buffer_position(b)),
	             0, "%s", text);
	ldns_buffer_free(b);
	ldns_rr_free(rr);
}

/* The records of @sec of the message, one presentation line each, in order. */
static char *
section(const struct sx_msg *msg, ldns_pkt_section sec)
{
	ldns_rr_list *list;
	ldns_pkt *p;
	char *s;

	cr_assert_eq(ldns_wire2pkt(&p, msg->wire, msg->len), LDNS_STATUS_OK, "a valid message");
	list = ldns_pkt_get_section_clone(p, sec);
	s = ldns_rr_list2str(list);
	ldns_rr_list_deep_free(list);
	ldns_pkt_free(p);
	return s;
}

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* @text's lines sorted, to compare record sets. */
static char *
sorted(const char *text)
{
	char *copy = strdup(text), *lines[64], *out = calloc(1, strlen(text) + 2), *save;
	size_t n = 0;

	for (char *l = strtok_r(copy, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save)) {
		lines[n++] = l;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_line);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(copy);
	return out;
}

Test(lb_shuffle, addresses_of_one_name_take_every_order)
{
	struct sx_msg msg;
	char *before, *seen[24] = { 0 };
	unsigned nseen = 0;

	start(&msg, "lb.example.", SX_TYPE_A);
	for (int i = 1; i <= 4; i++) {
		char rr[64];

		snprintf(rr, sizeof(rr), "lb.example. 30 IN A 10.0.0.%d", i);
		put(&msg, SX_SEC_ANSWER, rr);
	}
	{
		char *first = section(&msg, LDNS_SECTION_ANSWER);

		before = sorted(first);
		free(first);
	}
	for (int round = 0; round < 2000; round++) {
		size_t len = msg.len;
		char *now, *s;

		lb_shuffle(&msg, w);
		cr_assert_eq(msg.len, len, "swapped in place");
		now = section(&msg, LDNS_SECTION_ANSWER);
		s = sorted(now);
		cr_assert_str_eq(s, before, "the same records");
		free(s);
		bool known = false;
		for (unsigned i = 0; i < nseen && !known; i++) {
			known = strcmp(seen[i], now) == 0;
		}
		if (!known && nseen < 24) {
			seen[nseen++] = now;
		} else {
			free(now);
		}
	}
	cr_expect_eq(nseen, 24, "all 4! orders show up");
	for (unsigned i = 0; i < nseen; i++) {
		free(seen[i]);
	}
	free(before);
	cr_expect(sx_msg_flags(&msg) & SX_FLAG_AA);
}

Test(lb_shuffle, cname_stays_in_front)
{
	struct sx_msg msg;
	bool moved = false;
	char *first;

	start(&msg, "www.example.", SX_TYPE_A);
	put(&msg, SX_SEC_ANSWER, "www.example. 30 IN CNAME lb.example.");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN A 10.0.0.1");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN A 10.0.0.2");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN A 10.0.0.3");
	first = section(&msg, LDNS_SECTION_ANSWER);
	for (int round = 0; round < 50; round++) {
		char *now;

		lb_shuffle(&msg, w);
		now = section(&msg, LDNS_SECTION_ANSWER);
		cr_assert(strncmp(now, "www.example.\t30\tIN\tCNAME\tlb.example.\n", 36) == 0, "%s",
		          now);
		moved |= strcmp(now, first) != 0;
		free(now);
	}
	cr_expect(moved);
	free(first);
}

/* Mixed sections go through the slow path: written again, names compressed anew. */
Test(lb_shuffle, mixed_sections_keep_records_whole)
{
	struct sx_msg msg;
	char *ans0, *add0;
	bool moved = false;

	start(&msg, "svc.example.", SX_TYPE_ANY);
	put(&msg, SX_SEC_ANSWER, "svc.example. 30 IN A 10.0.0.1");
	put(&msg, SX_SEC_ANSWER, "svc.example. 30 IN AAAA 2001:db8::1");
	put(&msg, SX_SEC_ANSWER, "svc.example. 30 IN TXT \"hello\"");
	put(&msg, SX_SEC_ANSWER, "svc.example. 30 IN MX 10 mx1.example.");
	put(&msg, SX_SEC_ANSWER, "svc.example. 30 IN MX 20 mx2.example.");
	put(&msg, SX_SEC_ANSWER, "svc.example. 30 IN CNAME other.example.");
	put(&msg, SX_SEC_AUTHORITY, "example. 30 IN SOA ns.example. h.example. 1 2 3 4 5");
	put(&msg, SX_SEC_ADDITIONAL, "mx1.example. 30 IN A 10.1.0.1");
	put(&msg, SX_SEC_ADDITIONAL, "mx2.example. 30 IN A 10.1.0.2");
	put(&msg, SX_SEC_ADDITIONAL, "ns.example. 30 IN A 10.1.0.3");
	sx_msg_set_flags(&msg, SX_FLAG_TC);
	ans0 = section(&msg, LDNS_SECTION_ANSWER);
	add0 = section(&msg, LDNS_SECTION_ADDITIONAL);
	{
		char *a = sorted(ans0), *d = sorted(add0);

		free(ans0);
		free(add0);
		ans0 = a;
		add0 = d;
	}
	for (int round = 0; round < 50; round++) {
		char *ans, *add, *s, *line2, *line3;

		lb_shuffle(&msg, w);
		ans = section(&msg, LDNS_SECTION_ANSWER);
		add = section(&msg, LDNS_SECTION_ADDITIONAL);
		s = sorted(ans);
		cr_assert_str_eq(s, ans0);
		free(s);
		s = sorted(add);
		cr_assert_str_eq(s, add0, "owners keep their addresses");
		free(s);
		/* CNAME, then the rest (TXT), then addresses, then MX, as CoreDNS orders them. */
		cr_assert(strncmp(ans, "svc.example.\t30\tIN\tCNAME", 24) == 0, "%s", ans);
		line2 = strchr(ans, '\n') + 1;
		cr_assert(strncmp(line2, "svc.example.\t30\tIN\tTXT", 22) == 0, "%s", ans);
		line3 = strchr(line2, '\n') + 1;
		cr_assert(strstr(line3, "\tMX\t") > strstr(line3, "\tAAAA\t"), "%s", ans);
		cr_assert(strstr(line3, "\tMX\t") > strstr(line3, "\tA\t"), "%s", ans);
		s = section(&msg, LDNS_SECTION_AUTHORITY);
		cr_assert(strstr(s, "SOA\tns.example. h.example. 1 2 3 4 5"), "%s", s);
		free(s);
		moved |= strcmp(add, add0) != 0;
		free(ans);
		free(add);
		cr_assert(sx_msg_flags(&msg) & SX_FLAG_AA);
		cr_assert(sx_msg_flags(&msg) & SX_FLAG_TC);
		cr_assert_eq(sx_msg_rcode(&msg), SX_RCODE_NOERROR);
	}
	cr_expect(moved, "the additional addresses move too");
	free(ans0);
	free(add0);
}

Test(lb_shuffle, single_records_and_other_types_stay)
{
	struct sx_msg msg;
	char *before, *after;
	uint8_t copy[512];
	size_t len;

	start(&msg, "one.example.", SX_TYPE_SRV);
	put(&msg, SX_SEC_ANSWER, "one.example. 30 IN SRV 0 50 80 a.example.");
	put(&msg, SX_SEC_ANSWER, "one.example. 30 IN SRV 0 50 80 b.example.");
	put(&msg, SX_SEC_ADDITIONAL, "a.example. 30 IN A 10.0.0.1");
	before = section(&msg, LDNS_SECTION_ANSWER);
	len = msg.len;
	memcpy(copy, msg.wire, len);
	lb_shuffle(&msg, w);
	after = section(&msg, LDNS_SECTION_ANSWER);
	cr_expect_str_eq(after, before);
	cr_expect_eq(msg.len, len);
	cr_expect_eq(memcmp(copy, msg.wire, len), 0, "untouched");
	free(before);
	free(after);
}

/* prefer: the first subnet's addresses, the second's, then the rest in their order; CNAME first. */
Test(lb_shuffle, prefer_puts_preferred_subnets_first)
{
	struct lb_net nets[2] = { { .type = SX_TYPE_A, .addr = { 192, 0, 2, 0 }, .bits = 24 },
		                  { .type = SX_TYPE_A, .addr = { 10, 1, 0, 0 }, .bits = 17 } };
	struct sx_msg msg;
	char *ans, *add;

	start(&msg, "www.example.", SX_TYPE_A);
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN A 10.0.0.1");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN A 10.1.127.2");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN A 10.1.128.3");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN A 192.0.2.4");
	put(&msg, SX_SEC_ANSWER, "www.example. 30 IN CNAME lb.example.");
	put(&msg, SX_SEC_ADDITIONAL, "ns.example. 30 IN TXT \"other\"");
	put(&msg, SX_SEC_ADDITIONAL, "ns.example. 30 IN A 10.0.0.9");
	put(&msg, SX_SEC_ADDITIONAL, "ns.example. 30 IN A 192.0.2.9");
	lb_prefer(&msg, w, nets, 2);
	ans = section(&msg, LDNS_SECTION_ANSWER);
	cr_expect_str_eq(ans, "www.example.\t30\tIN\tCNAME\tlb.example.\n"
	                      "lb.example.\t30\tIN\tA\t192.0.2.4\n"
	                      "lb.example.\t30\tIN\tA\t10.1.127.2\n"
	                      "lb.example.\t30\tIN\tA\t10.0.0.1\n"
	                      "lb.example.\t30\tIN\tA\t10.1.128.3\n");
	add = section(&msg, LDNS_SECTION_ADDITIONAL);
	cr_expect_str_eq(add,
	                 "ns.example.\t30\tIN\tA\t192.0.2.9\n"
	                 "ns.example.\t30\tIN\tA\t10.0.0.9\n"
	                 "ns.example.\t30\tIN\tTXT\t\"other\"\n",
	                 "other types go last");
	free(ans);
	free(add);
}

Test(lb_shuffle, prefer_matches_ipv6_prefixes_and_not_the_other_family)
{
	struct lb_net nets[2] = { { .type = SX_TYPE_A, .addr = { 0 }, .bits = 0 },
		                  { .type = SX_TYPE_AAAA, .addr = { 0xfd, 0 }, .bits = 8 } };
	struct sx_msg msg;
	char *ans;

	start(&msg, "lb.example.", SX_TYPE_AAAA);
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN AAAA 2001:db8::1");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN AAAA fe00::2");
	put(&msg, SX_SEC_ANSWER, "lb.example. 30 IN AAAA fd12::3");
	lb_prefer(&msg, w, nets, 2);
	ans = section(&msg, LDNS_SECTION_ANSWER);
	cr_expect_str_eq(ans,
	                 "lb.example.\t30\tIN\tAAAA\tfd12::3\n"
	                 "lb.example.\t30\tIN\tAAAA\t2001:db8::1\n"
	                 "lb.example.\t30\tIN\tAAAA\tfe00::2\n",
	                 "0.0.0.0/0 holds no AAAA");
	free(ans);
}
