/* test_loadbalance_integration.c -- shuffled answers via the binary, fresh and from the cache. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The answer's lines sorted (with TTLs blanked), to compare record sets across queries. */
static char *
record_set(const char *answer)
{
	char *copy = strdup(answer), *lines[32], *out = calloc(1, strlen(answer) + 2), *save;
	size_t n = 0;

	for (char *l = strtok_r(copy, "\n", &save); l && n < 32; l = strtok_r(NULL, "\n", &save)) {
		char *ttl = strchr(l, '\t');

		for (char *p = ttl ? ttl + 1 : NULL; p && *p >= '0' && *p <= '9'; p++) {
			*p = '0';
		}
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

/* Ask @rounds times; the record set must stay, the order must change. @return the first answer. */
static char *
expect_shuffled(struct sx_test_server *s, const char *name, int rounds, const char *first_line)
{
	char *first = NULL, *set0 = NULL;
	int orders = 0;

	for (int i = 0; i < rounds; i++) {
		ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_A, i % 2 ? SX_Q_TCP : 0, 0);
		char *ans, *set;

		cr_assert(p);
		cr_assert_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		ans = sx_test_section_str(p, LDNS_SECTION_ANSWER);
		ldns_pkt_free(p);
		if (first_line) {
			cr_assert(strncmp(ans, first_line, strlen(first_line)) == 0, "%s", ans);
		}
		set = record_set(ans);
		if (!first) {
			first = ans;
			set0 = set;
			continue;
		}
		cr_assert_str_eq(set, set0);
		orders += strcmp(ans, first) != 0;
		free(set);
		free(ans);
	}
	cr_expect_gt(orders, 0, "the order never changed in %d answers", rounds);
	free(set0);
	return first;
}

Test(loadbalance_integration, hosts_addresses_fresh_and_cached)
{
	struct sx_test_server *s = sx_test_prepare();

	sx_test_write(s, "hosts",
	              "10.0.0.1 lb.example.org\n10.0.0.2 lb.example.org\n"
	              "10.0.0.3 lb.example.org\n10.0.0.4 lb.example.org\n"
	              "10.0.0.1 lb.a.example.org\n10.0.0.2 lb.a.example.org\n"
	              "10.0.0.3 lb.a.example.org\n");
	sx_test_start(s, "a.example.org {\n\tbind 127.0.0.1\n\tloadbalance\n\thosts hosts\n}\n"
	                 "example.org {\n\tbind 127.0.0.1\n\tloadbalance round_robin\n\tcache\n"
	                 "\thosts hosts\n}\n");
	/* Without a cache every answer is fresh from hosts ... */
	free(expect_shuffled(s, "lb.a.example.org", 40, NULL));
	/* ... and with one, answers come from the cache, shuffled all the same. */
	free(expect_shuffled(s, "lb.example.org", 40, NULL));
	sx_test_stop(s);
}

Test(loadbalance_integration, cname_first_from_a_zone)
{
	struct sx_test_server *s = sx_test_prepare();

	sx_test_write(s, "db.example.net",
	              "$ORIGIN example.net.\n"
	              "@ 3600 IN SOA ns.example.net. admin.example.net. 1 7200 3600 1209600 300\n"
	              "@ 3600 IN NS ns.example.net.\n"
	              "ns 3600 IN A 10.0.0.53\n"
	              "www 300 IN CNAME lb\n"
	              "lb 300 IN A 10.0.1.1\nlb 300 IN A 10.0.1.2\nlb 300 IN A 10.0.1.3\n");
	sx_test_start(s, "example.net {\n\tbind 127.0.0.1\n\tloadbalance\n\tcache\n"
	                 "\tfile db.example.net\n}\n");
	free(expect_shuffled(s, "www.example.net", 40, "www.example.net.\t"));
	sx_test_stop(s);
}

/* prefer through the binary: shuffled, yet the preferred subnet's address always comes first. */
Test(loadbalance_integration, prefer_subnet_first)
{
	struct sx_test_server *s = sx_test_prepare();

	sx_test_write(s, "hosts",
	              "10.0.0.1 lb.example.org\n10.0.0.2 lb.example.org\n"
	              "192.0.2.7 lb.example.org\n10.0.0.3 lb.example.org\n"
	              "10.0.0.4 lb.example.org\n");
	sx_test_start(s, "example.org {\n\tbind 127.0.0.1\n\tloadbalance round_robin {\n"
	                 "\t\tprefer 192.0.2.0/24\n\t}\n\thosts hosts\n}\n");
	free(expect_shuffled(s, "lb.example.org", 40, "lb.example.org.\t3600\tIN\tA\t192.0.2.7\n"));
	sx_test_stop(s);
}

/* Ask @name @n times; count in @first[0..2] the answers led by 10.0.0.1, .2, .3. */
static void
count_first(struct sx_test_server *s, const char *name, int n, int first[3])
{
	static const char *const addrs[] = { "\tA\t10.0.0.1", "\tA\t10.0.0.2", "\tA\t10.0.0.3" };

	memset(first, 0, 3 * sizeof(first[0]));
	for (int i = 0; i < n; i++) {
		ldns_pkt *p = sx_test_query(s, name, LDNS_RR_TYPE_A, 0, 0);
		char *ans, *nl;

		cr_assert(p);
		ans = sx_test_section_str(p, LDNS_SECTION_ANSWER);
		ldns_pkt_free(p);
		for (int a = 0; a < 3; a++) {
			cr_assert(strstr(ans, addrs[a]), "%s missing: %s", addrs[a] + 3, ans);
		}
		if ((nl = strchr(ans, '\n'))) {
			*nl = '\0';
		}
		for (int a = 0; a < 3; a++) {
			first[a] += strstr(ans, addrs[a]) != NULL;
		}
		free(ans);
	}
}

/*
 * weighted: 10.0.0.2 has weight 3, 10.0.0.1 weight 1, 10.0.0.3 none (1): over 2000
 * answers they lead 20/60/20 % of the time (bounds of 10 standard deviations and more);
 * after the file changes (10.0.0.3: 255), 10.0.0.3 leads nearly always.
 */
Test(loadbalance_integration, weighted_first_address_by_weight_and_reload)
{
	struct sx_test_server *s = sx_test_prepare();
	int first[3];

	sx_test_write(
	        s, "hosts",
	        "10.0.0.1 lb.example.org\n10.0.0.2 lb.example.org\n10.0.0.3 lb.example.org\n");
	sx_test_write(s, "weights",
	              "# weights\nlb.example.org\n10.0.0.1 1\n10.0.0.2 3\n\nother.example.org\n"
	              "10.0.0.3 200\n");
	sx_test_start(s, "example.org {\n\tbind 127.0.0.1\n\tloadbalance weighted weights {\n"
	                 "\t\treload 1s\n\t}\n\thosts hosts\n}\n");
	count_first(s, "lb.example.org", 2000, first);
	cr_log_info("weights 1:3:1 (unlisted): first %d / %d / %d of 2000", first[0], first[1],
	            first[2]);
	cr_expect(first[0] + first[1] + first[2] == 2000);
	cr_expect(first[1] >= 900 && first[1] <= 1500, "weight 3 led %d of 2000", first[1]);
	cr_expect(first[0] >= 200 && first[0] <= 600, "weight 1 led %d of 2000", first[0]);
	cr_expect(first[2] >= 200 && first[2] <= 600, "unlisted led %d of 2000", first[2]);

	sx_test_write(s, "weights", "lb.example.org\n10.0.0.1 1\n10.0.0.2 1\n10.0.0.3 255\n");
	cr_assert(sx_test_wait_log(
	                  s, "[INFO] plugin/loadbalance: Successfully reloaded weight file", 20000),
	          "%s", sx_test_log(s));
	count_first(s, "lb.example.org", 500, first);
	cr_log_info("weights 1:1:255: first %d / %d / %d of 500", first[0], first[1], first[2]);
	cr_expect(first[2] >= 450, "weight 255 led %d of 500", first[2]);
	sx_test_stop(s);
}
