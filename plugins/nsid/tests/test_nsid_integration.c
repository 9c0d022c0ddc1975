/* test_nsid_integration.c -- dig +nsid through the binary, on local, forwarded and error replies. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

static const char corefile[] = "example.org:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\tnsid dns  eu-1\n"
                               "\thosts {\n"
                               "\t\t192.0.2.1 www.example.org\n"
                               "\t}\n"
                               "}\n"
                               "example.net:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\tnsid\n"
                               "\twhoami\n"
                               "}\n";

Test(nsid_integration, asked_for_it_gets_it)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	char *out;

	out = sx_test_dig(s, "+nsid www.example.org A");
	cr_expect(strstr(out, "; NSID: 64 6e 73 20 65 75 2d 31 (\"dns eu-1\")"), "%s", out);
	cr_expect(strstr(out, "192.0.2.1"), "%s", out);
	free(out);
	out = sx_test_dig(s, "+nsid +tcp nosuch.example.org A"); /* an error, over TCP */
	cr_expect(strstr(out, "status: SERVFAIL"), "%s", out);   /* hosts has no SOA */
	cr_expect(strstr(out, "(\"dns eu-1\")"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(nsid_integration, not_asked_no_nsid)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	char *out;

	out = sx_test_dig(s, "www.example.org A");
	cr_expect(!strstr(out, "NSID"), "%s", out);
	cr_expect(strstr(out, "192.0.2.1"), "%s", out);
	free(out);
	out = sx_test_dig(s, "+nsid +noedns www.example.org A");
	cr_expect(!strstr(out, "NSID"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(nsid_integration, host_name_by_default)
{
	struct sx_test_server *s = sx_test_start(NULL, corefile);
	char host[256], want[300], *out;

	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "(\"%s\")", host);
	out = sx_test_dig(s, "+nsid whoami.example.net A");
	cr_expect(strstr(out, want), "want %s in %s", want, out);
	free(out);
	sx_test_stop(s);
}

Test(nsid_integration, setup)
{
	char *out, corefile2[700] = ". {\n\tnsid ";

	cr_expect_eq(sx_test_check(". {\n\tnsid\n\twhoami\n}\n", &out), 0, "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tnsid a\n\tnsid b\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3: plugin/nsid: this plugin can only be used once"), "%s",
	          out);
	free(out);
	memset(corefile2 + strlen(corefile2), 'x', 513);
	strcat(corefile2, "\n}\n");
	cr_expect_eq(sx_test_check(corefile2, &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/nsid: DATA is 513 bytes, more than 512"), "%s",
	          out);
	free(out);
}
