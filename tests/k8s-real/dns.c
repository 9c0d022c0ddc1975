/* dns.c -- answers of running sextants as canonical text, and waiting for an answer to change. */
#include "dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

double
dns_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
dns_log_count(struct sx_test_server *s, const char *needle)
{
	int n = 0;

	for (const char *p = sx_test_log(s); (p = strstr(p, needle)); p += strlen(needle)) {
		n++;
	}
	return n;
}

int
dns_by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The records of @sec of @p, each line "PREFIX: rr", sorted, appended to @out. */
static void
section(FILE *out, const ldns_pkt *p, ldns_pkt_section sec, const char *prefix)
{
	ldns_rr_list *l = ldns_pkt_get_section_clone(p, sec);
	size_t n = l ? ldns_rr_list_rr_count(l) : 0;
	char **lines = calloc(n + 1, sizeof(*lines));

	cr_assert_not_null(lines);
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			/* The serial moves with every change: leave it out. */
			ldns_rdf_deep_free(ldns_rr_set_rdf(
			        rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, 0), 2));
		}
		lines[i] = ldns_rr2str(rr);
		lines[i][strcspn(lines[i], "\n")] = '\0';
	}
	qsort(lines, n, sizeof(*lines), dns_by_str);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "\n%s: %s", prefix, lines[i]);
		free(lines[i]);
	}
	free(lines);
	ldns_rr_list_deep_free(l);
}

char *
dns_text(const struct sx_test_server *s, const char *name, ldns_rr_type type, int flags)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);
	char *rcode, *text = NULL;
	size_t len = 0;
	FILE *out;

	if (!p) {
		return strdup("TIMEOUT");
	}
	out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	rcode = ldns_pkt_rcode2str(ldns_pkt_get_rcode(p));
	fprintf(out, "%s%s%s%s%s%s", rcode, ldns_pkt_qr(p) ? " qr" : "",
	        ldns_pkt_aa(p) ? " aa" : "", ldns_pkt_tc(p) ? " tc" : "",
	        ldns_pkt_rd(p) ? " rd" : "", ldns_pkt_ra(p) ? " ra" : "");
	free(rcode);
	section(out, p, LDNS_SECTION_ANSWER, "an");
	section(out, p, LDNS_SECTION_AUTHORITY, "au");
	section(out, p, LDNS_SECTION_ADDITIONAL, "ad");
	fclose(out);
	ldns_pkt_free(p);
	return text;
}

char *
dns_short(const char *text)
{
	size_t n = strcspn(text, " \n"), len = 0;
	char *out = malloc(strlen(text) + 16);
	const char *l;

	cr_assert_not_null(out);
	if (n != 7 || strncmp(text, "NOERROR", 7)) {
		snprintf(out, strlen(text) + 16, "%.*s", (int)n, text);
		return out;
	}
	out[0] = '\0';
	for (l = strstr(text, "\nan: "); l; l = strstr(l + 1, "\nan: ")) {
		size_t m = strcspn(l + 5, "\n");
		len += (size_t)sprintf(out + len, "%s%.*s", len ? "\n" : "", (int)m, l + 5);
	}
	if (!len) {
		strcpy(out, "NODATA");
	}
	return out;
}

char *
dns_ask(const struct sx_test_server *s, const char *name, ldns_rr_type type)
{
	char *text = dns_text(s, name, type, 0), *out = dns_short(text);

	free(text);
	return out;
}

double
dns_wait_for(struct sx_test_server *const *servers, const char *name, ldns_rr_type type,
             void (*want)(char *out, size_t size, void *arg), void *arg, double t0_ms,
             double limit_ms)
{
	char w[2048];

	for (;;) {
		bool all = true;

		want(w, sizeof(w), arg);
		for (int i = 0; servers[i] && all; i++) {
			char *got = dns_ask(servers[i], name, type);
			all = strcmp(got, w) == 0;
			free(got);
		}
		if (all) {
			return dns_now_ms() - t0_ms;
		}
		if (dns_now_ms() - t0_ms > limit_ms) {
			break;
		}
		/* Queries are cheap on loopback: poll every 2 ms to measure the latency. */
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	for (int i = 0; servers[i]; i++) {
		char *got = dns_ask(servers[i], name, type);

		cr_expect_str_eq(
		        got, w, "server %d: %s type %d after %.0f ms:\n%s\nwanted\n%s\nlog:\n%s", i,
		        name, (int)type, dns_now_ms() - t0_ms, got, w, sx_test_log(servers[i]));
		free(got);
	}
	cr_assert_fail("%s never answered as wanted within %.0f ms", name, limit_ms);
	return -1;
}

static void
constant(char *out, size_t size, void *arg)
{
	snprintf(out, size, "%s", (const char *)arg);
}

double
dns_wait(struct sx_test_server *const *servers, const char *name, ldns_rr_type type,
         const char *want, double t0_ms, double limit_ms)
{
	return dns_wait_for(servers, name, type, constant, (void *)want, t0_ms, limit_ms);
}
