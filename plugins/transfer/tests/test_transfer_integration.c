/* test_transfer_integration.c -- zone transfers through the binary: dig, kdig and Knot as a secondary. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

extern char **environ;

static const char corefile[] = "example.org:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\ttransfer {\n"
                               "\t\tto 127.0.0.1 10.0.0.0/8\n"
                               "\t\tto [::1]:5300\n"
                               "\t}\n"
                               "\tfile %DIR%/db.example.org\n"
                               "}\n"
                               "closed.test:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\tfile %DIR%/db.closed.test\n"
                               "}\n";

/*
 * A zone of the SOA, NS and ns1, then @hosts names each with an A record and a
 * 200-byte TXT record (so that a thousand fill several 64 KB messages).
 */
static void
write_zone(struct sx_test_server *s, const char *name, unsigned serial, unsigned hosts)
{
	size_t cap = 256 + (size_t)hosts * 300, len;
	char *text = malloc(cap), file[64];

	cr_assert(text);
	len = (size_t)snprintf(text, cap,
	                       "$ORIGIN %s.\n$TTL 300\n"
	                       "@ IN SOA ns1 hostmaster %u 7200 3600 1209600 60\n"
	                       "@ IN NS ns1\nns1 IN A 192.0.2.1\n",
	                       name, serial);
	for (unsigned i = 0; i < hosts; i++) {
		len += (size_t)snprintf(text + len, cap - len,
		                        "host%u IN A 10.%u.%u.%u\nhost%u IN TXT \"%0200u\"\n", i,
		                        (i >> 16) & 255, (i >> 8) & 255, i & 255, i, i);
	}
	snprintf(file, sizeof(file), "db.%s", name);
	sx_test_write(s, file, text);
	free(text);
}

static unsigned
count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
		n++;
	}
	return n;
}

static struct sx_test_server *
start(unsigned hosts)
{
	struct sx_test_server *s = sx_test_prepare();

	write_zone(s, "example.org", 2024010101, hosts);
	write_zone(s, "closed.test", 7, 2);
	return sx_test_start(s, corefile);
}

Test(transfer_integration, axfr_with_dig)
{
	struct sx_test_server *s = start(3);
	char *out = sx_test_dig(s, "+nocmd +nostats AXFR example.org");

	/* SOA first and last, every record once in between. */
	cr_expect_eq(count(out, "\tSOA\t"), 2, "%s", out);
	const char *first = "example.org.\t\t300\tIN\tSOA\tns1.example.org. ";
	cr_expect(strncmp(out, first, strlen(first)) == 0, "%s", out);
	cr_expect(strstr(out, "host2.example.org.\t300\tIN\tA\t10.0.0.2"), "%s", out);
	cr_expect(strstr(out, "example.org.\t\t300\tIN\tNS\tns1.example.org."), "%s", out);
	cr_expect_eq(count(out, "\tIN\t"), 10, "%s", out);
	cr_expect(!strstr(out, "failed"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(transfer_integration, refused)
{
	struct sx_test_server *s = start(3);
	char *out;

	/* A source outside `to`. */
	out = sx_test_dig(s, "-b 127.0.0.2 AXFR example.org");
	cr_expect(strstr(out, "Transfer failed") || strstr(out, "REFUSED"), "%s", out);
	cr_expect(!strstr(out, "\tSOA\t"), "%s", out);
	free(out);
	/* A zone without transfer: REFUSED, not an empty NOERROR. */
	out = sx_test_dig(s, "AXFR closed.test");
	cr_expect(strstr(out, "Transfer failed") || strstr(out, "REFUSED"), "%s", out);
	cr_expect(!strstr(out, "\tSOA\t"), "%s", out);
	free(out);
	out = sx_test_kdig(s, "IXFR=1 closed.test");
	cr_expect(!strstr(out, "\tSOA\t"), "%s", out);
	free(out);
	/* Ordinary queries still answered. */
	out = sx_test_dig(s, "+short A host1.example.org");
	cr_expect_str_eq(out, "10.0.0.1\n");
	free(out);
	/* Not the apex: the zone is not transferred from there. */
	out = sx_test_dig(s, "AXFR host1.example.org");
	cr_expect(!strstr(out, "\tSOA\t"), "%s", out);
	free(out);
	sx_test_stop(s);
}

Test(transfer_integration, udp_asks_for_tcp)
{
	struct sx_test_server *s = start(3);
	ldns_pkt *p = sx_test_query(s, "example.org", LDNS_RR_TYPE_IXFR, 0, 0);

	cr_assert(p);
	cr_expect(ldns_pkt_tc(p));
	cr_expect_eq(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
	sx_test_stop(s);
}

/* 2000 records of 200 bytes and more take several TCP messages; kdig checks the framing. */
Test(transfer_integration, large_zone_kdig_axfr_and_ixfr)
{
	struct sx_test_server *s = start(1000);
	char *out = sx_test_kdig(s, "+nocomments AXFR example.org");

	cr_expect_eq(count(out, "\tSOA\t"), 2);
	cr_expect_eq(count(out, "\tA\t"), 1001);
	cr_expect(strstr(out, "host999.example.org."));
	const char *msgs = strstr(out, ";; Received ");
	cr_assert(msgs, "%s", out + (strlen(out) > 400 ? strlen(out) - 400 : 0));
	unsigned bytes = 0, nmsg = 0, nrec = 0;
	cr_expect_eq(
	        sscanf(msgs, ";; Received %u B (%u messages, %u records)", &bytes, &nmsg, &nrec), 3,
	        "%.200s", msgs);
	cr_expect_eq(nrec, 2004);
	cr_expect_gt(nmsg, 2);
	free(out);
	/* IXFR from an old serial: the whole zone, in AXFR form (RFC 1995 4). */
	out = sx_test_kdig(s, "+nocomments IXFR=1 example.org");
	cr_expect_eq(count(out, "\tA\t"), 1001, "%.300s", out);
	free(out);
	sx_test_stop(s);
}

/* Knot DNS as a secondary: it transfers the zone and then answers from its copy. */
Test(transfer_integration, knot_secondary, .timeout = 120)
{
	struct sx_test_server *s = start(50);
	char conf[2048], path[512], logpath[512];
	unsigned kport = sx_up_free_port();
	pid_t pid;

	snprintf(logpath, sizeof(logpath), "%s/knot.log", sx_test_dir(s));
	snprintf(conf, sizeof(conf),
	         "server:\n  rundir: \"%s\"\n  listen: 127.0.0.1@%u\n"
	         "database:\n  storage: \"%s\"\n"
	         "log:\n  - target: \"%s\"\n    any: info\n"
	         "remote:\n  - id: primary\n    address: 127.0.0.1@%u\n"
	         "acl:\n  - id: notify\n    address: 127.0.0.1\n    action: notify\n"
	         "zone:\n  - domain: example.org\n    master: primary\n    acl: notify\n"
	         "    file: \"%s/secondary.zone\"\n",
	         sx_test_dir(s), kport, sx_test_dir(s), logpath, sx_test_port(s), sx_test_dir(s));
	sx_test_write(s, "knot.conf", conf);
	snprintf(path, sizeof(path), "%s/knot.conf", sx_test_dir(s));
	char *argv[] = { "knotd", "-c", path, NULL };
	cr_assert_eq(posix_spawnp(&pid, "knotd", NULL, NULL, argv, environ), 0);

	/* Knot logs the end of its first transfer; only then is its copy worth asking. */
	char *log = NULL;
	bool done = false, got = false;
	for (int waited = 0; waited < 60000 && !done; waited += 50) {
		free(log);
		log = sx_test_read_file(logpath);
		done = strstr(log, "AXFR, incoming") && strstr(log, "finished");
		if (!done) {
			usleep(50 * 1000);
		}
	}
	for (int i = 0; done && i < 5 && !got; i++) {
		char cmd[256], line[128] = "";
		snprintf(cmd, sizeof(cmd),
		         "kdig @127.0.0.1 -p %u +short +retry=0 +time=2 A host49.example.org 2>&1",
		         kport);
		FILE *f = popen(cmd, "r");
		cr_assert(f);
		if (fgets(line, sizeof(line), f)) {
			got = strcmp(line, "10.0.0.49\n") == 0;
		}
		pclose(f);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(log);
	log = sx_test_read_file(logpath);
	cr_expect(done, "Knot never finished a transfer; its log:\n%s\nour log:\n%s", log,
	          sx_test_log(s));
	cr_expect(got, "Knot never answered from its transferred copy; its log:\n%s", log);
	free(log);
	sx_test_stop(s);
}

Test(transfer_integration, check_errors)
{
	char *out;

	cr_expect_eq(sx_test_check(". {\n\ttransfer\n\twhoami\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:2: plugin/transfer: 'to' is required"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\ttransfer {\n\t\tto 10.0.0.1 nonsense\n\t}\n}\n", &out),
	             1);
	cr_expect(strstr(out, "Corefile:3: plugin/transfer: 'nonsense' is not an IP address"), "%s",
	          out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\ttransfer {\n\t\tto 10.0.0.1/33\n\t}\n}\n", &out), 1);
	cr_expect(strstr(out, "Corefile:3:"), "%s", out);
	free(out);
	cr_expect_eq(sx_test_check(". {\n\ttransfer {\n\t\tto * 10.0.0.0/8 [::1]:53 1.2.3.4:5300\n"
	                           "\t}\n\twhoami\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
}
