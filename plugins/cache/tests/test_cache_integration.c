/* test_cache_integration.c -- the cache through the real binary; hosts and file as backends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The answer to @name/@type: rcode, first address (or "") and its TTL (or -1). */
struct ans {
	int rcode;
	char addr[64];
	long ttl;
	unsigned ancount;
	bool aa, rd;
};

static struct ans
ask(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);
	struct ans a = { .ttl = -1 };

	cr_assert(p, "no reply for %s", name);
	a.rcode = ldns_pkt_get_rcode(p);
	a.ancount = ldns_pkt_ancount(p);
	a.aa = ldns_pkt_aa(p);
	a.rd = ldns_pkt_rd(p);
	for (size_t i = 0; i < ldns_pkt_ancount(p); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
		ldns_rr_type t = ldns_rr_get_type(rr);

		if (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) {
			char *str = ldns_rdf2str(ldns_rr_rdf(rr, 0));

			snprintf(a.addr, sizeof(a.addr), "%s", str);
			free(str);
			a.ttl = (long)ldns_rr_ttl(rr);
			break;
		}
	}
	if (a.ttl < 0 && ldns_pkt_nscount(p) > 0) {
		a.ttl = (long)ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0));
	}
	ldns_pkt_free(p);
	return a;
}

/* Ask until the first address is @addr (a backend reloaded), at most @ms. */
static bool
wait_addr(struct sx_test_server *s, const char *name, int flags, const char *addr, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		if (strcmp(ask(s, name, LDNS_RR_TYPE_A, flags).addr, addr) == 0) {
			return true;
		}
		usleep(50000);
	} while (now_ms() < end);
	return false;
}

static void
sleep_until(uint64_t t_ms)
{
	uint64_t now = now_ms();

	if (now < t_ms) {
		usleep((useconds_t)(t_ms - now) * 1000);
	}
}

#define HOSTS_BLOCK "\thosts hosts {\n\t\tttl 60\n\t\treload 100ms\n\t}\n"

/*
 * The hosts file: @lines plus a sentinel name outside the cache's zones,
 * whose address tells which version of the file hosts serves.
 */
static void
write_hosts(struct sx_test_server *s, const char *lines, int version)
{
	char text[4096];

	snprintf(text, sizeof(text), "%s10.99.0.%d sentinel.probe\n", lines, version);
	sx_test_write(s, "hosts", text);
}

static void
wait_reload(struct sx_test_server *s, int version)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "10.99.0.%d", version);
	cr_assert(wait_addr(s, "sentinel.probe", 0, addr, 30000), "hosts did not reload");
}

Test(cache_integration, hit_counts_ttl_down_and_do_is_keyed_apart)
{
	struct sx_test_server *s = sx_test_prepare();
	struct ans a;
	uint64_t t1; /* after the first query, so after its entry was stored */

	write_hosts(s, "10.0.0.1 www.example.org\n", 1);
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tcache example.org\n" HOSTS_BLOCK "}\n");
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_assert_str_eq(a.addr, "10.0.0.1");
	t1 = now_ms();
	cr_expect_eq(a.ttl, 60);
	cr_expect(a.aa);
	/* The backend changes; a DO query is another key, so it sees the change ... */
	write_hosts(s, "10.0.0.222 www.example.org\n", 2);
	wait_reload(s, 2);
	cr_expect_str_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_DO).addr, "10.0.0.222");
	/* ... while the plain query is still served from the cache, its TTL counting down. */
	sleep_until(t1 + 2100);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_str_eq(a.addr, "10.0.0.1");
	cr_expect(a.ttl >= 50 && a.ttl <= 58, "ttl %ld", a.ttl);
	cr_expect(a.aa, "the cached reply keeps its flags");
	cr_expect(a.rd);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_NORD);
	cr_expect_str_eq(a.addr, "10.0.0.1");
	cr_expect(!a.rd, "RD echoes the client");
	/* Over TCP, same key: the same cached answer. */
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_TCP);
	cr_expect_str_eq(a.addr, "10.0.0.1");
	sx_test_stop(s);
}

/* A query with our own ID and mixed case, by hand, to see exactly what comes back. */
Test(cache_integration, hit_carries_the_clients_id_and_case)
{
	struct sx_test_server *s = sx_test_prepare();
	static const uint8_t q[] = {
		0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0, 0,   0,   0,   0, 3, 'W', 'w', 'W', 7,
		'E',  'x',  'A',  'm',  'P', 'l', 'e', 3, 'O', 'R', 'g', 0, 0, 1,   0,   1,
	};
	uint8_t out[512];
	ldns_pkt *p;
	char *ans;
	size_t n;

	write_hosts(s, "10.0.0.1 www.example.org\n", 1);
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tcache example.org\n" HOSTS_BLOCK "}\n");
	cr_assert_str_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_NOEDNS).addr, "10.0.0.1");
	write_hosts(s, "10.0.0.222 www.example.org\n", 2);
	wait_reload(s, 2);
	n = sx_test_raw_udp(s, q, sizeof(q), out, sizeof(out), 2000);
	cr_assert_gt(n, sizeof(q));
	cr_expect_eq(out[0], 0x12);
	cr_expect_eq(out[1], 0x34);
	cr_expect_eq(memcmp(out + 12, q + 12, sizeof(q) - 12), 0, "the question as asked");
	cr_assert_eq(ldns_wire2pkt(&p, out, n), LDNS_STATUS_OK);
	ans = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	cr_expect(strstr(ans, "WwW.ExAmPle.ORg.\t") == ans, "%s", ans);
	cr_expect(strstr(ans, "10.0.0.1"), "served from the cache: %s", ans);
	free(ans);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

#define ZONE(serial, extra)                                                                    \
	"$ORIGIN example.net.\n"                                                               \
	"@ 3600 IN SOA ns.example.net. admin.example.net. " #serial " 7200 3600 1209600 300\n" \
	"@ 3600 IN NS ns.example.net.\n"                                                       \
	"ns 3600 IN A 10.0.0.53\n"                                                             \
	"probe 3600 IN A 10.99.0." #serial "\n" extra

Test(cache_integration, denial_is_cached_capped_then_expires)
{
	struct sx_test_server *s = sx_test_prepare();
	struct ans a;
	uint64_t t0, t1; /* before and after the first query: the entry is stored in between */

	sx_test_write(s, "db.example.net", ZONE(1, ""));
	/* Only new.example.net is cached: probe.example.net tells when the zone reloaded. */
	sx_test_start(s, "example.net {\n\tbind 127.0.0.1\n\tcache new.example.net {\n"
	                 "\t\tdenial 1024 2\n\t}\n\tfile db.example.net {\n\t\treload 100ms\n"
	                 "\t}\n}\n");
	t0 = now_ms();
	a = ask(s, "new.example.net", LDNS_RR_TYPE_A, 0);
	cr_assert_eq(a.rcode, LDNS_RCODE_NXDOMAIN);
	t1 = now_ms();
	cr_expect_eq(a.ttl, 2, "the SOA's TTL (300) capped by denial's TTL: %ld", a.ttl);
	sx_test_write(s, "db.example.net", ZONE(2, "new 3600 IN A 10.1.1.1\n"));
	cr_assert(wait_addr(s, "probe.example.net", 0, "10.99.0.2", 30000));
	cr_expect_str_eq(ask(s, "new.example.net", LDNS_RR_TYPE_A, SX_Q_DO).addr, "10.1.1.1");
	if (now_ms() - t0 < 1500) {
		a = ask(s, "new.example.net", LDNS_RR_TYPE_A, 0);
		cr_expect_eq(a.rcode, LDNS_RCODE_NXDOMAIN, "the denial is served from the cache");
		cr_expect(a.ttl >= 1 && a.ttl <= 2, "ttl %ld", a.ttl);
	}
	/* Two seconds on the entry is gone. */
	sleep_until(t1 + 2100);
	a = ask(s, "new.example.net", LDNS_RR_TYPE_A, 0);
	cr_expect_eq(a.rcode, LDNS_RCODE_NOERROR);
	cr_expect_str_eq(a.addr, "10.1.1.1");
	sx_test_stop(s);
}

Test(cache_integration, kubeadm_disable_success_and_denial_for_cluster_local)
{
	struct sx_test_server *s = sx_test_prepare();
	struct ans a;

	sx_test_write(s, "hosts",
	              "10.0.0.1 web.default.svc.cluster.local\n10.0.0.1 ext.example.org\n");
	sx_test_start(s, ".:53 {\n\tbind 127.0.0.1\n\tcache 30 {\n"
	                 "\t\tdisable success cluster.local\n"
	                 "\t\tdisable denial cluster.local\n\t}\n" HOSTS_BLOCK "}\n");
	a = ask(s, "web.default.svc.cluster.local", LDNS_RR_TYPE_A, 0);
	cr_assert_str_eq(a.addr, "10.0.0.1");
	/* Not stored, but capped as CoreDNS caps every reply passing through: 60 -> 30. */
	cr_expect_eq(a.ttl, 30);
	a = ask(s, "ext.example.org", LDNS_RR_TYPE_A, 0);
	cr_assert_str_eq(a.addr, "10.0.0.1");
	cr_expect_eq(a.ttl, 30);
	sx_test_write(s, "hosts",
	              "10.0.0.222 web.default.svc.cluster.local\n10.0.0.222 ext.example.org\n");
	cr_assert(wait_addr(s, "web.default.svc.cluster.local", 0, "10.0.0.222", 30000),
	          "cluster.local is not cached");
	cr_expect_str_eq(ask(s, "ext.example.org", LDNS_RR_TYPE_A, 0).addr, "10.0.0.1",
	                 "other names are");
	sx_test_stop(s);
}

Test(cache_integration, keepttl_serves_the_original_ttl)
{
	struct sx_test_server *s = sx_test_prepare();
	uint64_t t1; /* after the first query, so after its entry was stored */

	write_hosts(s, "10.0.0.1 www.example.org\n", 1);
	sx_test_start(s,
	              ". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tkeepttl\n\t}\n" HOSTS_BLOCK
	              "}\n");
	cr_assert_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).ttl, 60);
	t1 = now_ms();
	write_hosts(s, "10.0.0.222 www.example.org\n", 2);
	wait_reload(s, 2);
	sleep_until(t1 + 2100);
	struct ans a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_str_eq(a.addr, "10.0.0.1");
	cr_expect_eq(a.ttl, 60);
	sx_test_stop(s);
}

Test(cache_integration, servfail_is_cached_for_servfail_duration)
{
	struct sx_test_server *s = sx_test_prepare();

	write_hosts(s, "10.0.0.1 other.example.org\n", 1);
	sx_test_start(
	        s,
	        ". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tservfail 30s\n\t}\n" HOSTS_BLOCK
	        "}\n");
	/* hosts answers SERVFAIL for a name it does not know. */
	cr_assert_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).rcode, LDNS_RCODE_SERVFAIL);
	write_hosts(s, "10.0.0.1 other.example.org\n10.0.0.2 www.example.org\n", 2);
	wait_reload(s, 2);
	cr_expect_str_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_DO).addr, "10.0.0.2");
	cr_expect_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).rcode, LDNS_RCODE_SERVFAIL);
	sx_test_stop(s);
}

/* Entries live 1 s (success TTL 1), the backend then fails: the stale answer is served. */
#define STALE_COREFILE(mode)                                                                 \
	". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tsuccess 1024 1\n\t\tservfail 0\n" \
	"\t\tserve_stale 1h " mode "\n\t}\n" HOSTS_BLOCK "}\n"

static void
stale_scenario(const char *corefile, bool verify)
{
	struct sx_test_server *s = sx_test_prepare();
	struct ans a;
	uint64_t t1; /* after the first query, so after its entry was stored */

	write_hosts(s, "10.0.0.1 www.example.org\n", 1);
	sx_test_start(s, corefile);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_assert_str_eq(a.addr, "10.0.0.1");
	t1 = now_ms();
	cr_expect_eq(a.ttl, 1);
	/* The name disappears from the backend (SERVFAIL from hosts from now on). */
	write_hosts(s, "", 2);
	wait_reload(s, 2);
	sleep_until(t1 + 1100);
	for (int i = 0; i < 3; i++) {
		a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
		cr_expect_eq(a.rcode, LDNS_RCODE_NOERROR, "round %d", i);
		cr_expect_str_eq(a.addr, "10.0.0.1", "round %d", i);
		cr_expect_eq(a.ttl, 0, "stale answers have TTL 0");
		usleep(100000);
	}
	/* The backend is back with a new address. */
	write_hosts(s, "10.0.0.2 www.example.org\n", 3);
	wait_reload(s, 3);
	if (verify) {
		/* verify asks the backend first: the new answer at once. */
		a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
		cr_expect_str_eq(a.addr, "10.0.0.2");
		cr_expect_eq(a.ttl, 1);
	} else {
		/* immediate serves the stale answer once more and refreshes behind it. */
		a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
		cr_expect_str_eq(a.addr, "10.0.0.1");
		cr_expect_eq(a.ttl, 0);
		/* The refresh lands (it takes a moment): the new answer, fresh from the cache. */
		for (int i = 0; i < 300 && strcmp(a.addr, "10.0.0.2") != 0; i++) {
			usleep(50000);
			a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
		}
		cr_expect_str_eq(a.addr, "10.0.0.2");
		cr_expect(a.ttl == 1 || a.ttl == 0, "ttl %ld", a.ttl);
	}
	sx_test_stop(s);
}

Test(cache_integration, serve_stale_immediate)
{
	stale_scenario(STALE_COREFILE("immediate"), false);
}

Test(cache_integration, serve_stale_verify)
{
	stale_scenario(STALE_COREFILE("verify"), true);
}

struct refreshed {
	struct sx_test_server *s;
	struct ans a;
};

/* Whether the entry is fresh again (the late answer was cached). */
static bool
fresh_again(void *arg)
{
	struct refreshed *r = arg;

	r->a = ask(r->s, "www.example.org", LDNS_RR_TYPE_A, 0);
	return r->a.ttl != 0;
}

/*
 * verify with a timeout: a silent upstream costs the client the timeout, not
 * forward's; a slow one's late answer still refreshes the entry; a quick one
 * is served fresh.
 */
Test(cache_integration, serve_stale_verify_timeout, .timeout = 60)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s;
	char corefile[512];
	struct ans a;
	uint64_t t, t1;

	snprintf(corefile, sizeof(corefile),
	         ". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tsuccess 1024 1\n"
	         "\t\tservfail 0\n\t\tserve_stale 1h verify 200ms\n\t}\n"
	         "\tforward . 127.0.0.1:%u\n}\n",
	         sx_up_port(up));
	s = sx_test_start(NULL, corefile);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	t1 = now_ms();
	cr_assert_str_eq(a.addr, "192.0.2.1");
	cr_expect_eq(a.ttl, 1);

	/* Expired; the upstream says nothing: the stale answer once the 200 ms are up. */
	sx_up_mode(up, "silent");
	sleep_until(t1 + 1100);
	t = now_ms();
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_TCP);
	cr_expect_str_eq(a.addr, "192.0.2.1");
	cr_expect_eq(a.ttl, 0, "the stale answer");
	cr_expect_geq(now_ms() - t, 190, "the upstream was given its 200 ms");
	cr_expect_lt(now_ms() - t, 1500, "not forward's 2 s read timeout");

	/* 300 ms late: stale for this client, but the late answer refreshes the entry. */
	sx_up_mode(up, "slow");
	t = now_ms();
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_eq(a.ttl, 0, "stale: the upstream takes 300 ms");
	cr_expect_lt(now_ms() - t, 1500);
	sx_up_mode(up, "silent");
	struct refreshed r = { s, a };
	if (a.ttl == 0) {
		sx_test_until(fresh_again, &r, 10000);
		a = r.a;
	}
	t1 = now_ms();
	cr_expect_eq(a.ttl, 1, "the late answer was cached");
	cr_expect_str_eq(a.addr, "192.0.2.1");

	/* Expired again, the upstream answers at once: the fresh answer, at once. */
	sx_up_mode(up, "normal");
	sleep_until(t1 + 1100);
	t = now_ms();
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_eq(a.ttl, 1, "fresh from the upstream");
	cr_expect_lt(now_ms() - t, 190, "no wait for the timer");
	cr_expect_eq(sx_test_stop(s), 0);
	sx_up_stop(up);
}

/*
 * serve_stale_policy prefer_positive: the file plugin serves example.org, the
 * cache only www.example.org (the sentinel's address tells which version of
 * the zone is loaded). Version 1 has www, version 2 drops it (NXDOMAIN with a
 * SOA, a denial the cache keeps for 60 s), version 3 keeps only a TXT at www
 * (NODATA for A), version 4 brings it back at 10.0.0.2.
 */
static void
write_zone(struct sx_test_server *s, int version, const char *www)
{
	char text[1024];

	snprintf(text, sizeof(text),
	         "$ORIGIN example.org.\n"
	         "@ 60 IN SOA ns.example.org. h.example.org. %d 7200 3600 1209600 60\n"
	         "@ 60 IN NS ns.example.org.\nns 60 IN A 10.99.9.9\n"
	         "sentinel 60 IN A 10.99.0.%d\n%s",
	         version, version, www);
	sx_test_write(s, "db.example.org", text);
}

static void
wait_zone(struct sx_test_server *s, int version)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "10.99.0.%d", version);
	cr_assert(wait_addr(s, "sentinel.example.org", 0, addr, 30000), "file did not reload");
}

/* The cache's denial entries on /metrics; @return once there are @want, false after 10 s. */
static bool
wait_denials(struct sx_test_server *s, int want)
{
	uint16_t port = (uint16_t)sx_test_log_number(s, "serving /metrics on port ");
	uint64_t end = now_ms() + 10000;
	char needle[64];

	snprintf(needle, sizeof(needle), "type=\"denial\"} %d\n", want);
	do {
		long status;
		char *m = sx_test_http_get(port, "/metrics", &status);
		char *entries = m ? strstr(m, "coredns_cache_entries{") : NULL;
		bool found = entries && strstr(entries, needle);

		free(m);
		if (found) {
			return true;
		}
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

#define POLICY_COREFILE(mode, policy)                                     \
	". {\n\tbind 127.0.0.1\n\tprometheus 127.0.0.1:0\n"               \
	"\tcache www.example.org {\n\t\tsuccess 1024 1\n\t\tservfail 0\n" \
	"\t\tserve_stale 1h " mode "\n" policy "\t}\n"                    \
	"\tfile db.example.org example.org {\n\t\treload 100ms\n\t}\n}\n"
#define PREFER "\t\tserve_stale_policy prefer_positive\n"

/* Answer www from version 1, then let its entry expire under version 2 (no www). */
static struct sx_test_server *
expire_under_nxdomain(const char *corefile)
{
	struct sx_test_server *s = sx_test_prepare();
	uint64_t t1;

	write_zone(s, 1, "www 30 IN A 10.0.0.1\n");
	sx_test_start(s, corefile);
	cr_assert_str_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).addr, "10.0.0.1");
	t1 = now_ms();
	write_zone(s, 2, "");
	wait_zone(s, 2);
	sleep_until(t1 + 1100);
	return s;
}

/*
 * immediate: the refresh behind a stale answer brings NXDOMAIN. By default the
 * next client gets it; with prefer_positive the answer is served on, stale,
 * until the name resolves again.
 */
static void
immediate_after_nxdomain(bool prefer)
{
	struct sx_test_server *s = expire_under_nxdomain(
	        prefer ? POLICY_COREFILE("immediate", PREFER) : POLICY_COREFILE("immediate", ""));
	struct ans a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);

	cr_expect_str_eq(a.addr, "10.0.0.1", "stale, refreshed behind");
	cr_expect_eq(a.ttl, 0);
	cr_assert(wait_denials(s, 1), "the refresh's NXDOMAIN was not stored");
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	if (!prefer) {
		cr_expect_eq(a.rcode, LDNS_RCODE_NXDOMAIN, "the denial replaced the answer");
		sx_test_stop(s);
		return;
	}
	cr_expect_eq(a.rcode, LDNS_RCODE_NOERROR, "the answer goes before the denial");
	cr_expect_str_eq(a.addr, "10.0.0.1");
	cr_expect_eq(a.ttl, 0);
	/* Back under a new address: the next refresh replaces the answer and drops the denial. */
	write_zone(s, 4, "www 30 IN A 10.0.0.2\n");
	wait_zone(s, 4);
	cr_expect(wait_addr(s, "www.example.org", 0, "10.0.0.2", 10000));
	cr_expect(wait_denials(s, 0), "the denial outlived the new answer");
	sx_test_stop(s);
}

Test(cache_integration, serve_stale_immediate_serves_the_denial_by_default)
{
	immediate_after_nxdomain(false);
}

Test(cache_integration, serve_stale_policy_prefer_positive_immediate)
{
	immediate_after_nxdomain(true);
}

/*
 * verify, with a timeout (the client waits on a background refresh) or without
 * (it waits on the chain): neither NXDOMAIN nor NODATA replaces the answer; a
 * new answer does, at once.
 */
static void
verify_prefers_positive(const char *corefile)
{
	struct sx_test_server *s = expire_under_nxdomain(corefile);
	struct ans a;

	for (int i = 0; i < 2; i++) {
		a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
		cr_expect_eq(a.rcode, LDNS_RCODE_NOERROR, "round %d", i);
		cr_expect_str_eq(a.addr, "10.0.0.1", "round %d: NXDOMAIN verified", i);
		cr_expect_eq(a.ttl, 0);
	}
	cr_expect(wait_denials(s, 1), "the NXDOMAIN is kept beside the answer");
	write_zone(s, 3, "www 30 IN TXT \"no address\"\n");
	wait_zone(s, 3);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_str_eq(a.addr, "10.0.0.1", "NODATA verified");
	cr_expect_eq(a.ttl, 0);
	write_zone(s, 4, "www 30 IN A 10.0.0.2\n");
	wait_zone(s, 4);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_str_eq(a.addr, "10.0.0.2", "an answer refreshes at once");
	cr_expect_eq(a.ttl, 1);
	cr_expect(wait_denials(s, 0), "the denial outlived the new answer");
	sx_test_stop(s);
}

Test(cache_integration, serve_stale_policy_prefer_positive_verify)
{
	verify_prefers_positive(POLICY_COREFILE("verify", PREFER));
}

Test(cache_integration, serve_stale_policy_prefer_positive_verify_timeout)
{
	verify_prefers_positive(POLICY_COREFILE("verify 5s", PREFER));
}

/* Without the policy, verify hands the NXDOMAIN on (RFC 8767: it is a refreshed answer). */
Test(cache_integration, serve_stale_verify_serves_nxdomain_by_default)
{
	struct sx_test_server *s = expire_under_nxdomain(POLICY_COREFILE("verify", ""));

	cr_expect_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).rcode, LDNS_RCODE_NXDOMAIN);
	sx_test_stop(s);
}

Test(cache_integration, no_serve_stale_no_stale_answers)
{
	struct sx_test_server *s = sx_test_prepare();
	uint64_t t1; /* after the first query, so after its entry was stored */

	write_hosts(s, "10.0.0.1 www.example.org\n", 1);
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tsuccess 1024 1\n"
	                 "\t\tservfail 0\n\t}\n" HOSTS_BLOCK "}\n");
	cr_assert_str_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).addr, "10.0.0.1");
	write_hosts(s, "", 2);
	t1 = now_ms();
	wait_reload(s, 2);
	sleep_until(t1 + 1100);
	cr_expect_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).rcode, LDNS_RCODE_SERVFAIL);
	sx_test_stop(s);
}

Test(cache_integration, prefetch_refreshes_a_popular_entry_before_it_expires)
{
	struct sx_test_server *s = sx_test_prepare();
	struct ans a;
	uint64_t t0, t1; /* before and after the first query: the entry is stored in between */

	write_hosts(s, "10.0.0.1 www.example.org\n", 1);
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tprefetch 1 1m 90%\n"
	                 "\t}\n\thosts hosts {\n\t\tttl 10\n\t\treload 100ms\n\t}\n}\n");
	t0 = now_ms();
	cr_assert_eq(ask(s, "www.example.org", LDNS_RR_TYPE_A, 0).ttl, 10);
	t1 = now_ms();
	write_hosts(s, "10.0.0.222 www.example.org\n", 2);
	wait_reload(s, 2);
	/*
	 * With 9 s of 10 left (90%), a hit is served from the cache and
	 * prefetches; later (a loaded machine) still from the cache, before 10 s.
	 */
	sleep_until(t1 + 1100);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_str_eq(a.addr, "10.0.0.1");
	cr_expect(a.ttl >= 1 && a.ttl <= 9, "ttl %ld", a.ttl);
	/*
	 * Before the old entry would have expired (10 s after it was stored), the
	 * refreshed one answers: prefetched, not fetched again after expiry.
	 */
	cr_expect(wait_addr(s, "www.example.org", 0, "10.0.0.222", 20000));
	cr_expect_lt(now_ms() - t0, 9900);
	sx_test_stop(s);
}

Test(cache_integration, entries_stay_within_capacity, .timeout = 120)
{
	struct sx_test_server *s = sx_test_prepare();
	char name[64];
	int cached = 0, n = 3000;

	write_hosts(s, "10.0.0.1 *.example.org\n", 1);
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tsuccess 1024\n"
	                 "\t\tservfail 0\n\t}\n" HOSTS_BLOCK "}\n");
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%d.example.org", i);
		cr_assert_str_eq(ask(s, name, LDNS_RR_TYPE_A, 0).addr, "10.0.0.1");
	}
	/* From now on the backend fails every name but the sentinel; failures are not cached. */
	write_hosts(s, "", 2);
	wait_reload(s, 2);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%d.example.org", i);
		cached += strcmp(ask(s, name, LDNS_RR_TYPE_A, 0).addr, "10.0.0.1") == 0;
	}
	/* Every name still answered is one the cache holds: at most its capacity. */
	cr_expect_leq(cached, 1024, "%d answers from the cache", cached);
	cr_expect_geq(cached, 700, "%d answers from the cache", cached);
	sx_test_stop(s);
}

/*
 * Through forward the refreshes suspend (the upstream answers later): a
 * prefetch and a stale refresh must still land, and the server must stop
 * cleanly with refreshes in flight.
 */
Test(cache_integration, refreshes_through_forward, .timeout = 60)
{
	struct sx_test_server *up = sx_test_prepare(), *s;
	char corefile[512];
	struct ans a;
	uint64_t t0, t1; /* before and after the first query: the entry is stored in between */

	write_hosts(up, "10.0.0.1 www.example.org\n", 1);
	sx_test_start(up, ". {\n\tbind 127.0.0.1\n\thosts hosts {\n\t\tttl 2\n\t\treload 100ms\n"
	                  "\t}\n}\n");
	snprintf(corefile, sizeof(corefile),
	         ". {\n\tbind 127.0.0.1\n\tcache example.org {\n\t\tprefetch 1 1m 90%%\n"
	         "\t\tserve_stale\n\t\tservfail 0\n\t}\n\tforward . 127.0.0.1:%u\n}\n",
	         sx_test_port(up));
	s = sx_test_start(NULL, corefile);
	t0 = now_ms();
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_assert_str_eq(a.addr, "10.0.0.1");
	t1 = now_ms();
	cr_expect_eq(a.ttl, 5, "hosts' 2 s raised to the minimum TTL");
	write_hosts(up, "10.0.0.222 www.example.org\n", 2);
	wait_reload(s, 2);
	/* 4 s of 5 left, under 90%: served from the cache, prefetched behind the answer. */
	sleep_until(t1 + 1100);
	a = ask(s, "www.example.org", LDNS_RR_TYPE_A, 0);
	cr_expect_str_eq(a.addr, "10.0.0.1");
	/* Before the entry expires (5 s after t1), or it would be a miss, not a prefetch. */
	cr_expect(wait_addr(s, "www.example.org", 0, "10.0.0.222",
	                    (int)((int64_t)t1 + 4900 - (int64_t)now_ms())),
	          "prefetched");
	t0 = now_ms();
	/* The upstream goes away; once the entry expires, the stale answer comes at once. */
	sx_test_stop(up);
	sleep_until(t0 + 5100);
	for (int i = 0; i < 3; i++) {
		uint64_t t = now_ms();

		a = ask(s, "www.example.org", LDNS_RR_TYPE_A, i == 1 ? SX_Q_TCP : 0);
		cr_expect_str_eq(a.addr, "10.0.0.222");
		cr_expect_eq(a.ttl, 0);
		cr_expect_lt(now_ms() - t, 500, "not delayed by the refresh");
	}
	cr_expect_eq(sx_test_stop(s), 0, "a clean exit with refreshes in flight");
}

/* A cached reply bigger than a later client's buffer is cut to fit, with TC, like a fresh one. */
Test(cache_integration, big_cached_reply_truncated_for_small_buffers)
{
	struct sx_test_server *s = sx_test_prepare();
	char hosts[4096] = "";
	ldns_pkt *p;

	for (int i = 1; i <= 40; i++) {
		char line[64];

		snprintf(line, sizeof(line), "10.0.1.%d big.example.org\n", i);
		strcat(hosts, line);
	}
	write_hosts(s, hosts, 1);
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tcache example.org\n" HOSTS_BLOCK "}\n");
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, 0);
	cr_assert(p);
	cr_assert_eq(ldns_pkt_ancount(p), 40);
	ldns_pkt_free(p);
	write_hosts(s, "", 2);
	wait_reload(s, 2);
	/* No EDNS: 512 bytes, so some of the 40 records, and TC. */
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, SX_Q_NOEDNS, 0);
	cr_assert(p);
	cr_expect(ldns_pkt_tc(p));
	cr_expect(ldns_pkt_ancount(p) > 0 && ldns_pkt_ancount(p) < 40, "%u", ldns_pkt_ancount(p));
	ldns_pkt_free(p);
	/* A 1232-byte buffer takes them all, from the cache (hosts no longer has the name). */
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, 0, 1232);
	cr_assert(p);
	cr_expect(!ldns_pkt_tc(p));
	cr_expect_eq(ldns_pkt_ancount(p), 40);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	sx_test_stop(s);
}
