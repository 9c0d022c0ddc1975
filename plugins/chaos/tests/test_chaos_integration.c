/* test_chaos_integration.c -- CH TXT queries through the binary: the five names, defaults, setup. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static const char corefile[] = ".:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\tchaos Sextant-001 carol alice bob alice\n"
                               "}\n"
                               "hostname.bind:0 version.bind:0 {\n"
                               "\tbind 127.0.0.2\n"
                               "\tchaos\n"
                               "}\n"
                               "example.org:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\twhoami\n"
                               "}\n";

/* The answer section's lines of `dig +noall +answer ARGS`, malloc'ed. */
static char *
answer(struct sx_test_server *s, const char *args)
{
	char *out = sx_test_dig(s, "+noall +answer +comments %s", args);

	return out;
}

Test(chaos_integration, version_and_authors)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	char *out;
	int orders = 0;
	char first[512] = "";

	out = answer(s, "CH TXT VERSION.bind");
	cr_expect(strstr(out, "VERSION.bind.\t\t0\tCH\tTXT\t\"Sextant-001\""), "%s", out);
	cr_expect(strstr(out, "flags: qr rd;"), "no AA: %s", out);
	free(out);
	out = answer(s, "CH TXT version.server");
	cr_expect(strstr(out, "\"Sextant-001\""), "%s", out);
	free(out);
	/* Sorted, distinct, and shuffled anew for every query. */
	for (int i = 0; i < 20; i++) {
		char *a, *b, *c;

		out = sx_test_dig(s, "+short CH TXT authors.bind");
		a = strstr(out, "\"alice\"");
		b = strstr(out, "\"bob\"");
		c = strstr(out, "\"carol\"");
		cr_assert(a && b && c, "%s", out);
		cr_assert(!strstr(a + 1, "\"alice\""), "alice twice: %s", out);
		if (!*first) {
			snprintf(first, sizeof(first), "%s", out);
		} else {
			orders += strcmp(first, out) != 0;
		}
		free(out);
	}
	cr_expect_gt(orders, 0, "always the same order: %s", first);
	sx_test_stop(s);
}

Test(chaos_integration, hostname_and_defaults)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	char host[256], want[300], *out, *ver;

	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "\"%s\"", host);
	out = sx_test_dig(s, "+short CH TXT hostname.bind");
	cr_expect(strstr(out, want), "want %s in %s", want, out);
	free(out);
	out = sx_test_dig(s, "+short CH TXT id.server");
	cr_expect(strstr(out, want), "want %s in %s", want, out);
	free(out);
	/* The second block, with chaos's defaults: its version is what -version prints. */
	sx_test_set_addr(s, "127.0.0.2");
	cr_assert_eq(sx_test_run(&ver, "-version"), 0);
	*strchr(ver, '\n') = '\0';
	snprintf(want, sizeof(want), "\"%s\"", ver);
	out = sx_test_dig(s, "+short CH TXT version.bind");
	cr_expect(strstr(out, want), "want %s in %s", want, out);
	free(out);
	free(ver);
	out = sx_test_dig(s, "+short CH TXT hostname.bind");
	snprintf(want, sizeof(want), "\"%s\"", host);
	cr_expect(strstr(out, want), "want %s in %s", want, out);
	free(out);
	sx_test_stop(s);
}

Test(chaos_integration, other_queries_go_on)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	char *out;

	/* No plugin after chaos in its block: the chain ends, SERVFAIL as in CoreDNS. */
	out = answer(s, "CH TXT foo.bind");
	cr_expect(strstr(out, "status: SERVFAIL"), "%s", out);
	free(out);
	out = answer(s, "CH A version.bind");
	cr_expect(strstr(out, "status: SERVFAIL"), "%s", out);
	free(out);
	/* A block without chaos refuses the CH class. */
	out = answer(s, "CH TXT version.example.org");
	cr_expect(strstr(out, "status: REFUSED"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(chaos_integration, setup)
{
	char corefile2[4096] = ". {\n\tchaos v1", *out;

	cr_expect_eq(sx_test_check(". {\n\tchaos\n}\n", &out), 0, "%s", out);
	free(out);
	for (int i = 0; i < 257; i++) {
		snprintf(corefile2 + strlen(corefile2), 20, " a%d", i);
	}
	strcat(corefile2, "\n}\n");
	cr_expect_eq(sx_test_check(corefile2, &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/chaos: at most 256 AUTHORS"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tchaos\n\tchaos\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3: plugin/chaos: this plugin can only be used once"), "%s",
	          out);
	free(out);
}
