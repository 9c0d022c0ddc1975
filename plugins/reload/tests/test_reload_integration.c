/* test_reload_integration.c -- reload on change under load without losing a query. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include <sextant/testing.h>

#define CF(name)                                                                       \
	". {\n\tbind 127.0.0.1\n\treload 2s 1s\n\tprometheus 127.0.0.1:0\n\thosts {\n" \
	"\t\t10.9.9.9 " name "\n\t\tfallthrough\n\t}\n\twhoami\n}\n"

struct load {
	struct sx_test_server *s;
	atomic_bool stop;
	atomic_uint sent;
	unsigned answered, failed;
	int flags;
};

/* Wait until @l has sent @n more queries (60 s at most). */
static void
wait_sent(struct load *l, unsigned n)
{
	unsigned want = atomic_load(&l->sent) + n;

	for (int i = 0; i < 6000 && atomic_load(&l->sent) < want; i++) {
		usleep(10000);
	}
	cr_assert_geq(atomic_load(&l->sent), want, "the load stalled");
}

/* One query at a time, each waiting for its answer (2 s): any loss shows. */
static void *
run_load(void *arg)
{
	struct load *l = arg;

	while (!atomic_load(&l->stop)) {
		ldns_pkt *p = sx_test_query(l->s, "steady.example", LDNS_RR_TYPE_A, l->flags, 0);

		l->sent++;
		if (p) {
			l->answered++;
			l->failed += ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR;
			ldns_pkt_free(p);
		}
	}
	return NULL;
}

Test(reload, changed_corefile_swaps_in_without_losing_queries)
{
	struct sx_test_server *s = sx_test_start(NULL, CF("old.example"));
	struct load udp = { .s = s }, tcp = { .s = s, .flags = SX_Q_TCP };
	pthread_t tu, tt;
	ldns_pkt *p;
	char *m;
	long status;

	cr_assert(sx_test_wait_log(s, "plugin/reload: Running configuration SHA512 = ", 30000),
	          "%s", sx_test_log(s));
	pthread_create(&tu, NULL, run_load, &udp);
	pthread_create(&tt, NULL, run_load, &tcp);
	wait_sent(&udp, 50);
	wait_sent(&tcp, 50);
	sx_test_write(s, "Corefile", CF("new.example"));
	cr_assert(sx_test_wait_log(s, "Corefile changed, reloading", 30000), "%s", sx_test_log(s));
	for (int i = 0; i < 300; i++) {
		p = sx_test_query(s, "new.example", LDNS_RR_TYPE_A, 0, 0);
		bool swapped = p && ldns_pkt_ancount(p) == 1;
		ldns_pkt_free(p);
		if (swapped) {
			break;
		}
		usleep(100000);
	}
	/* The load goes on through the new configuration for a while too. */
	wait_sent(&udp, 50);
	wait_sent(&tcp, 50);
	atomic_store(&udp.stop, true);
	atomic_store(&tcp.stop, true);
	pthread_join(tu, NULL);
	pthread_join(tt, NULL);
	fprintf(stderr,
	        "reload under load: udp %u sent, %u answered, %u failed; "
	        "tcp %u sent, %u answered, %u failed\n",
	        udp.sent, udp.answered, udp.failed, tcp.sent, tcp.answered, tcp.failed);
	cr_assert_geq(udp.sent, 100);
	cr_assert_eq(udp.answered, udp.sent, "lost UDP answers");
	cr_assert_eq(tcp.answered, tcp.sent, "lost TCP answers");
	cr_assert_eq(udp.failed + tcp.failed, 0);

	p = sx_test_query(s, "new.example", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_ancount(p) == 1, "the new configuration answers");
	ldns_pkt_free(p);
	m = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                     "/metrics", &status);
	cr_assert(strstr(m, "coredns_reload_failed_total 0"), "%s", m);
	cr_assert(strstr(m, "coredns_reload_version_info{hash=\"sha512\",value=\""), "%s", m);
	free(m);
	sx_test_stop(s);
}

/* SHA512 of @text in hex, as the reload plugin reports a one-file Corefile. */
static void
sha512_hex(const char *text, char hex[129])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	cr_assert(EVP_Digest(text, strlen(text), md, &n, EVP_sha512(), NULL) && n == 64);
	for (i = 0; i < n; i++) {
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
}

/* The line and the metric after a reload name the new Corefile, not the one before. */
Test(reload, digest_names_the_reloaded_corefile)
{
	const char *before = CF("old.example"), *after = CF("new.example");
	struct sx_test_server *s = sx_test_start(NULL, before);
	char old_hex[129], new_hex[129], line[256], label[256];
	long status;
	char *m;

	sha512_hex(before, old_hex);
	sha512_hex(after, new_hex);
	snprintf(line, sizeof(line), "plugin/reload: Running configuration SHA512 = %s", old_hex);
	cr_assert(sx_test_wait_log(s, line, 30000), "%s", sx_test_log(s));
	sx_test_write(s, "Corefile", after);
	snprintf(line, sizeof(line), "plugin/reload: Running configuration SHA512 = %s", new_hex);
	cr_assert(sx_test_wait_log(s, line, 30000), "%s", sx_test_log(s));
	m = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                     "/metrics", &status);
	snprintf(label, sizeof(label),
	         "coredns_reload_version_info{hash=\"sha512\",value=\"%s\"} 1", new_hex);
	cr_assert(strstr(m, label), "%s", m);
	free(m);
	sx_test_stop(s);
}

Test(reload, bad_corefile_is_counted_and_old_one_keeps_serving)
{
	struct sx_test_server *s = sx_test_start(NULL, CF("old.example"));
	ldns_pkt *p;
	long status;
	char *m;

	sx_test_write(s, "Corefile", ". {\n\treload 2s 1s\n\tnosuchplugin\n}\n");
	cr_assert(sx_test_wait_log(s, "Restart failed:", 30000), "%s", sx_test_log(s));
	cr_assert(strstr(sx_test_log(s), "Unknown directive 'nosuchplugin'"), "%s", sx_test_log(s));
	p = sx_test_query(s, "old.example", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p && ldns_pkt_ancount(p) == 1, "the old configuration still answers");
	ldns_pkt_free(p);
	m = sx_test_http_get((uint16_t)sx_test_log_number(s, "serving /metrics on port "),
	                     "/metrics", &status);
	/* One failure at least: the check repeats every 2 s (+-1) and fails each time. */
	cr_assert(strstr(m, "\ncoredns_reload_failed_total ") &&
	                  atoi(strstr(m, "\ncoredns_reload_failed_total ") + 29) >= 1,
	          "%s", m);
	free(m);
	sx_test_stop(s);
}

Test(reload, arguments_are_checked)
{
	static const char *const bad[] = {
		". {\n\treload 1s\n}\n",
		". {\n\treload 10s 500ms\n}\n",
		". {\n\treload soon\n}\n",
		". {\n\treload 10s 2s 3s\n}\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sx_test_server *s = sx_test_prepare();
		char *out;
		int st;

		sx_test_write(s, "Corefile", bad[i]);
		st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "case %zu: %s", i, out);
		cr_assert(strstr(out, "Corefile:2: plugin/reload: "), "case %zu: %s", i, out);
		free(out);
		sx_test_stop(s);
	}
}
