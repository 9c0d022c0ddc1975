/* test_file_integration.c -- file through the real binary: UDP, TCP, reloads, start-up errors. */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* A small zone whose serial and www address vary. */
static void
write_zone(struct sx_test_server *s, unsigned serial, const char *www)
{
	char text[1024];
	snprintf(text, sizeof(text),
	         "$ORIGIN example.org.\n"
	         "$TTL 300\n"
	         "@ IN SOA ns1 hostmaster %u 7200 3600 1209600 60\n"
	         "@ IN NS ns1\n"
	         "ns1 IN A 192.0.2.1\n"
	         "www IN A %s\n"
	         "alias IN CNAME www\n",
	         serial, www);
	sx_test_write(s, "db.example.org", text);
}

static char *
answer(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags)
{
	ldns_pkt *p = sx_test_query(s, name, type, flags, 0);
	cr_assert(p, "no reply for %s", name);
	char *str = sx_test_section_str(p, LDNS_SECTION_ANSWER);
	ldns_pkt_free(p);
	return str;
}

static void
expect_answer(struct sx_test_server *s, const char *name, ldns_rr_type type, int flags,
              const char *want)
{
	char *got = answer(s, name, type, flags);
	cr_expect_str_eq(got, want, "%s over %s", name, flags & SX_Q_TCP ? "TCP" : "UDP");
	free(got);
}

/* Poll www.example.org/A until it answers @want, for up to @ms. */
static bool
wait_www(struct sx_test_server *s, const char *want, int ms)
{
	for (int waited = 0; waited <= ms; waited += 100) {
		char *got = answer(s, "www.example.org", LDNS_RR_TYPE_A, 0);
		bool ok = strcmp(got, want) == 0;
		free(got);
		if (ok) {
			return true;
		}
		usleep(100 * 1000);
	}
	return false;
}

#define WWW(addr) "www.example.org.\t300\tIN\tA\t" addr

Test(file_integration, answers_over_udp_and_tcp)
{
	struct sx_test_server *s = sx_test_prepare();
	write_zone(s, 1, "192.0.2.80");
	sx_test_start(s, "example.org {\n\tbind 127.0.0.1\n\tfile db.example.org\n}\n");
	for (int tcp = 0; tcp <= 1; tcp++) {
		int f = tcp ? SX_Q_TCP : 0;
		expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, f, WWW("192.0.2.80"));
		expect_answer(
		        s, "alias.example.org", LDNS_RR_TYPE_A, f,
		        "alias.example.org.\t300\tIN\tCNAME\twww.example.org.\n" WWW("192.0.2.80"));
		ldns_pkt *p = sx_test_query(s, "nope.example.org", LDNS_RR_TYPE_A, f, 0);
		cr_assert(p);
		cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
		cr_expect(ldns_pkt_aa(p));
		char *auth = sx_test_section_str(p, LDNS_SECTION_AUTHORITY);
		cr_expect_str_eq(auth, "example.org.\t60\tIN\tSOA\tns1.example.org. "
		                       "hostmaster.example.org. 1 7200 3600 1209600 60");
		free(auth);
		ldns_pkt_free(p);
	}
	char *out = sx_test_dig(s, "example.org NS +tcp");
	cr_expect(strstr(out, "flags: qr aa rd;"), "%s", out);
	cr_expect(strstr(out, "ns1.example.org.\t300\tIN\tA\t192.0.2.1"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(file_integration, reload_on_serial_change_only)
{
	struct sx_test_server *s = sx_test_prepare();
	write_zone(s, 1, "192.0.2.80");
	sx_test_start(s, "example.org {\n\tbind 127.0.0.1\n\tfile db.example.org {\n"
	                 "\t\treload 1s\n\t}\n}\n");
	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, 0, WWW("192.0.2.80"));
	/* Same serial: CoreDNS keeps the zone it has. */
	write_zone(s, 1, "192.0.2.81");
	cr_expect_not(wait_www(s, WWW("192.0.2.81"), 2500));
	write_zone(s, 2, "192.0.2.82");
	cr_assert(wait_www(s, WWW("192.0.2.82"), 30000), "%s", sx_test_log(s));
	cr_expect(sx_test_wait_log(s,
	                           "[INFO] plugin/file: Successfully reloaded zone "
	                           "\"example.org.\"",
	                           30000),
	          "%s", sx_test_log(s));
	/* A broken file is logged and the zone in service kept. */
	sx_test_write(s, "db.example.org", "@ IN SOA ns1 hostmaster 3 1 1 1 1\nwww IN A 1.2.3\n");
	cr_expect(
	        sx_test_wait_log(s, "[ERROR] plugin/file: Parsing zone \"example.org.\": ", 30000),
	        "%s", sx_test_log(s));
	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, WWW("192.0.2.82"));
	sx_test_stop(s);
}

Test(file_integration, reload_by_mtime_ignores_the_serial)
{
	struct sx_test_server *s = sx_test_prepare();
	write_zone(s, 1, "192.0.2.80");
	sx_test_start(s, "example.org {\n\tbind 127.0.0.1\n\tfile db.example.org {\n"
	                 "\t\treload 1s\n\t\treload_by_mtime\n\t}\n}\n");
	write_zone(s, 1, "192.0.2.83");
	cr_expect(wait_www(s, WWW("192.0.2.83"), 30000), "%s", sx_test_log(s));
	sx_test_stop(s);
}

Test(file_integration, missing_file_is_loaded_when_it_appears)
{
	struct sx_test_server *s = sx_test_start(NULL, "example.org {\n\tbind 127.0.0.1\n"
	                                               "\tfile db.example.org {\n"
	                                               "\t\treload 1s\n\t}\n}\n");
	cr_expect(sx_test_wait_log(s, "[WARNING] plugin/file: Failed to open \"", 30000), "%s",
	          sx_test_log(s));
	ldns_pkt *p = sx_test_query(s, "www.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	write_zone(s, 5, "192.0.2.84");
	cr_expect(wait_www(s, WWW("192.0.2.84"), 30000), "%s", sx_test_log(s));
	sx_test_stop(s);
}

Test(file_integration, broken_zone_fails_the_check)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out;
	sx_test_write(s, "db.example.org",
	              "@ 300 IN SOA ns1 admin 1 2 3 4 5\n\nwww 300 IN A 1.2.3\n");
	sx_test_write(s, "Corefile", "example.org {\n\tfile db.example.org\n}\n");
	int st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s", out);
	cr_expect(strstr(out, "Corefile:2: plugin/file: "), "%s", out);
	cr_expect(strstr(out, "/db.example.org:3: Syntax error, could not parse the RR's rdata"),
	          "%s", out);
	free(out);
	sx_test_stop(s);
}

/* A directory as the zone file once spun at 100% CPU in -check, at start and on reload. */
Test(file_integration, directory_as_zone_file_fails_cleanly)
{
	struct sx_test_server *s = sx_test_prepare();
	char *out, path[512];
	sx_test_write(s, "Corefile", "example.org {\n\tfile /tmp\n}\n");
	int st = sx_test_run(&out, "-conf %s/Corefile -check", sx_test_dir(s));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s", out);
	cr_expect(strstr(out, "Corefile:2: plugin/file: /tmp: Is a directory"), "%s", out);
	free(out);

	/* Serving: the file turns into a directory; logged once, the zone in service kept. */
	write_zone(s, 1, "192.0.2.80");
	sx_test_start(s, "example.org {\n\tbind 127.0.0.1\n\tfile db.example.org {\n"
	                 "\t\treload 1s\n\t}\n}\n");
	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, 0, WWW("192.0.2.80"));
	snprintf(path, sizeof(path), "%s/db.example.org", sx_test_dir(s));
	cr_assert(unlink(path) == 0 && mkdir(path, 0700) == 0);
	cr_expect(sx_test_wait_log(s, "db.example.org: Is a directory", 5000), "%s",
	          sx_test_log(s));
	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, SX_Q_TCP, WWW("192.0.2.80"));

	/* A reload to a Corefile naming a directory fails and keeps the running one. */
	snprintf(path, sizeof(path), "%s/Corefile", sx_test_dir(s));
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("example.org {\n\tbind 127.0.0.1\n\tfile /tmp\n}\n", f);
	fclose(f);
	kill(sx_test_pid(s), SIGUSR1);
	cr_assert(sx_test_wait_log(s, "Restart failed", 5000), "%s", sx_test_log(s));
	cr_expect(strstr(sx_test_log(s), "/tmp: Is a directory"), "%s", sx_test_log(s));
	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, 0, WWW("192.0.2.80"));
	snprintf(path, sizeof(path), "%s/db.example.org", sx_test_dir(s));
	rmdir(path);
	sx_test_stop(s);
}

Test(file_integration, several_file_lines_and_fallthrough)
{
	struct sx_test_server *s = sx_test_prepare();
	write_zone(s, 1, "192.0.2.80");
	sx_test_write(s, "db.any",
	              "@ 300 IN SOA ns1 admin 9 2 3 4 5\nhost 300 IN A 198.51.100.1\n");
	sx_test_start(s, ". {\n\tbind 127.0.0.1\n\tfile db.example.org example.org\n"
	                 "\tfile db.any example.net example.com {\n\t\tfallthrough\n\t}\n}\n");
	expect_answer(s, "www.example.org", LDNS_RR_TYPE_A, 0, WWW("192.0.2.80"));
	expect_answer(s, "host.example.net", LDNS_RR_TYPE_A, 0,
	              "host.example.net.\t300\tIN\tA\t198.51.100.1");
	expect_answer(s, "host.example.com", LDNS_RR_TYPE_A, SX_Q_TCP,
	              "host.example.com.\t300\tIN\tA\t198.51.100.1");
	/* Falling through from the last plugin ends in SERVFAIL; without fallthrough, NXDOMAIN. */
	ldns_pkt *p = sx_test_query(s, "nope.example.net", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	p = sx_test_query(s, "nope.example.org", LDNS_RR_TYPE_A, 0, 0);
	cr_assert(p);
	cr_expect_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	sx_test_stop(s);
}
