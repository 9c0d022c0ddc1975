/* test_bufsize_integration.c -- bufsize through the binary: truncation, the upstream's view, setup. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* 40 addresses for one name: about 700 bytes of answer. */
static void
write_big_hosts(struct sx_test_server *s)
{
	char text[2048] = "";

	for (int i = 1; i <= 40; i++) {
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "10.0.0.%d big.example.org\n", i);
	}
	sx_test_write(s, "hosts", text);
}

Test(bufsize_integration, large_answers_are_truncated_to_the_size_over_udp)
{
	struct sx_test_server *s = sx_test_prepare();
	ldns_pkt *p;

	write_big_hosts(s);
	sx_test_start(s,
	              "example.org:0 {\n\tbind 127.0.0.1\n\tbufsize 512\n\thosts %DIR%/hosts\n}\n");
	/* The client offers 4096; bufsize holds the reply to 512: TC, the client goes to TCP. */
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, 0, 4096);
	cr_assert(p);
	cr_expect(ldns_pkt_tc(p));
	cr_expect_leq(ldns_pkt_size(p), 512);
	ldns_pkt_free(p);
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, 4096);
	cr_assert(p);
	cr_expect(!ldns_pkt_tc(p));
	cr_expect_eq(ldns_pkt_ancount(p), 40);
	ldns_pkt_free(p);
	/* Without EDNS a client has 512 already: unchanged. */
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, SX_Q_NOEDNS, 0);
	cr_assert(p);
	cr_expect(ldns_pkt_tc(p));
	ldns_pkt_free(p);
	sx_test_stop(s);
}

Test(bufsize_integration, a_block_without_it_answers_in_full)
{
	struct sx_test_server *s = sx_test_prepare();
	ldns_pkt *p;

	write_big_hosts(s);
	sx_test_start(s, "example.org:0 {\n\tbind 127.0.0.1\n\thosts %DIR%/hosts\n}\n");
	p = sx_test_query(s, "big.example.org", LDNS_RR_TYPE_A, 0, 4096);
	cr_assert(p);
	cr_expect(!ldns_pkt_tc(p));
	cr_expect_eq(ldns_pkt_ancount(p), 40);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

static char *
echo(struct sx_test_server *s, uint16_t bufsize)
{
	ldns_pkt *p = sx_test_query(s, "echo.example.org", LDNS_RR_TYPE_TXT, 0, bufsize);
	char *an;

	cr_assert(p);
	an = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	ldns_pkt_free(p);
	return an;
}

Test(bufsize_integration, forward_asks_the_upstream_with_the_lowered_size)
{
	struct sx_upstream *up = sx_up_fake(1, false);
	struct sx_test_server *s;
	char corefile[256], *an;

	snprintf(corefile, sizeof(corefile),
	         ".:0 {\n\tbind 127.0.0.1\n\tbufsize 700\n\tforward . 127.0.0.1:%u\n}\n",
	         sx_up_port(up));
	s = sx_test_start(NULL, corefile);
	an = echo(s, 4096);
	cr_expect(strstr(an, " size=700 "), "%s", an);
	free(an);
	an = echo(s, 600); /* a client asking for less keeps its size */
	cr_expect(strstr(an, " size=600 "), "%s", an);
	free(an);
	sx_test_stop(s);
	sx_up_stop(up);
}

Test(bufsize_integration, setup)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\tbufsize\n\twhoami\n}\n", &out), 0, "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tbufsize 4096\n}\n", &out), 0, "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tbufsize 511\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/bufsize: SIZE must be a number from 512 to 4096, "
	                      "not '511'"),
	          "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tbufsize 1k\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/bufsize: SIZE must be"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tbufsize 512 1232\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/bufsize: wrong argument count"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\tbufsize 512\n\tbufsize 1232\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3: plugin/bufsize: this plugin can only be used once"),
	          "%s", out);
	free(out);
}
