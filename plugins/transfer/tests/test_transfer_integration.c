/* test_transfer_integration.c -- zone transfers through the binary: dig, kdig and Knot as a secondary. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

extern char **environ;

/* The block of example.org lets 127.0.0.1 transfer and notifies [::1]:5300 and @notify_to. */
static const char corefile[] = "example.org:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\ttransfer {\n"
                               "\t\tto 10.0.0.0/8 %s\n"
                               "\t\tto [::1]:5300\n"
                               "\t}\n"
                               "\tfile %%DIR%%/db.example.org\n"
                               "}\n"
                               "closed.test:0 {\n"
                               "\tbind 127.0.0.1\n"
                               "\tfile %%DIR%%/db.closed.test\n"
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

/* @notify_to: the `to` entry for 127.0.0.1 (with a port: where NOTIFY goes). */
static struct sx_test_server *
start_to(unsigned hosts, const char *notify_to)
{
	struct sx_test_server *s = sx_test_prepare();
	char text[sizeof(corefile) + 64];

	write_zone(s, "example.org", 2024010101, hosts);
	write_zone(s, "closed.test", 7, 2);
	snprintf(text, sizeof(text), corefile, notify_to);
	return sx_test_start(s, text);
}

static struct sx_test_server *
start(unsigned hosts)
{
	return start_to(hosts, "127.0.0.1");
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

/* Knot's answer to @name A on @port, first line ("" when none). */
static void
knot_answer(unsigned port, const char *name, char *line, size_t cap)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "kdig @127.0.0.1 -p %u +short +retry=0 +time=2 A %s 2>&1", port,
	         name);
	FILE *f = popen(cmd, "r");
	cr_assert(f);
	line[0] = '\0';
	if (!fgets(line, (int)cap, f)) {
		line[0] = '\0';
	}
	pclose(f);
}

struct knot_question {
	unsigned port;
	const char *name, *want;
};

static bool
knot_answers(void *arg)
{
	const struct knot_question *q = arg;
	char line[128];

	knot_answer(q->port, q->name, line, sizeof(line));
	return strcmp(line, q->want) == 0;
}

/* Wait up to @ms for Knot's answer to @name to be @want. */
static bool
knot_wait_answer(unsigned port, const char *name, const char *want, int ms)
{
	struct knot_question q = { port, name, want };

	return sx_test_until(knot_answers, &q, ms);
}

/*
 * Run knotd from @s's directory (its own config, storage and rundir) on 127.0.0.1@@kport as a
 * secondary of @zone from @s, taking NOTIFY from 127.0.0.1; its log goes to @logpath (512
 * bytes). @return its PID, for the caller to stop.
 */
static pid_t
knot_start(struct sx_test_server *s, const char *zone, unsigned kport, char *logpath)
{
	char conf[2048], path[512];
	pid_t pid;

	snprintf(logpath, 512, "%s/knot.log", sx_test_dir(s));
	snprintf(conf, sizeof(conf),
	         "server:\n  rundir: \"%s\"\n  listen: 127.0.0.1@%u\n"
	         "database:\n  storage: \"%s\"\n"
	         "log:\n  - target: \"%s\"\n    any: info\n"
	         "remote:\n  - id: primary\n    address: 127.0.0.1@%u\n"
	         "acl:\n  - id: notify\n    address: 127.0.0.1\n    action: notify\n"
	         "zone:\n  - domain: %s\n    master: primary\n    acl: notify\n"
	         "    file: \"%s/secondary.zone\"\n",
	         sx_test_dir(s), kport, sx_test_dir(s), logpath, sx_test_port(s), zone,
	         sx_test_dir(s));
	sx_test_write(s, "knot.conf", conf);
	snprintf(path, sizeof(path), "%s/knot.conf", sx_test_dir(s));
	char *argv[] = { "knotd", "-c", path, NULL };
	cr_assert_eq(posix_spawnp(&pid, "knotd", NULL, NULL, argv, environ), 0);
	return pid;
}

/*
 * Knot DNS as a secondary: it transfers the zone and answers from its copy; when the
 * zone file's serial changes, Sextant's NOTIFY makes it fetch the new version at once
 * (its SOA refresh, 7200 s, would take two hours).
 */
Test(transfer_integration, knot_secondary, .timeout = 180)
{
	unsigned kport = sx_up_free_port();
	char logpath[512], to[64];

	snprintf(to, sizeof(to), "127.0.0.1:%u", kport);
	struct sx_test_server *s = start_to(50, to);
	pid_t pid = knot_start(s, "example.org", kport, logpath);

	/* Knot logs the end of its first transfer; only then is its copy worth asking. */
	bool done = sx_test_wait_file(logpath, "AXFR, incoming", 60000) &&
	            sx_test_wait_file(logpath, "finished", 60000);
	bool got = done && knot_wait_answer(kport, "host49.example.org", "10.0.0.49\n", 20000);

	/* A new serial and a new name: Knot has it only if it was told. */
	bool notified = false, updated = false;
	if (got) {
		write_zone(s, "example.org", 2024010102, 51);
		notified = sx_test_wait_file(logpath, "notify, incoming", 60000);
		updated = knot_wait_answer(kport, "host50.example.org", "10.0.0.50\n", 60000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	char *log = sx_test_read_file(logpath);
	cr_expect(done, "Knot never finished a transfer; its log:\n%s\nour log:\n%s", log,
	          sx_test_log(s));
	cr_expect(got, "Knot never answered from its transferred copy; its log:\n%s", log);
	cr_expect(notified, "Knot never got a NOTIFY; its log:\n%s\nour log:\n%s", log,
	          sx_test_log(s));
	cr_expect(updated, "Knot never fetched the new serial; its log:\n%s\nour log:\n%s", log,
	          sx_test_log(s));
	cr_expect(strstr(log, "2024010102"), "%s", log);
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
	/* A port is where NOTIFY goes: 1..65535, and never on a network. */
	static const char *const bad_ports[] = { "1.2.3.4:0", "1.2.3.4:x",     "[::1]:65536",
		                                 "[::1]:",    "10.0.0.0/8:53", "1.2.3.4:53:53" };
	for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++) {
		char text[128], want[128];

		snprintf(text, sizeof(text), ". {\n\ttransfer {\n\t\tto %s\n\t}\n}\n",
		         bad_ports[i]);
		snprintf(want, sizeof(want),
		         "Corefile:3: plugin/transfer: '%s' is not an IP address", bad_ports[i]);
		cr_expect_eq(sx_test_check(text, &out), 1, "%s", bad_ports[i]);
		cr_expect(strstr(out, want), "%s: %s", bad_ports[i], out);
		free(out);
	}
	cr_expect_eq(sx_test_check(". {\n\ttransfer {\n\t\tto * 10.0.0.0/8 [::1]:53 1.2.3.4:5300\n"
	                           "\t}\n\twhoami\n}\n",
	                           &out),
	             0, "%s", out);
	free(out);
}

/* Knot DNS as a secondary of the kubernetes zone: it takes the copy and answers from it. */
Test(transfer_integration, knot_secondary_of_the_cluster_zone, .timeout = 120)
{
	const char *root = getenv("SX_SOURCE_ROOT");
	char path[1024], logpath[512];
	struct sx_test_server *s = sx_test_prepare();
	unsigned kport = sx_up_free_port();

	snprintf(path, sizeof(path), "%s/m", sx_test_dir(s));
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/plugins/kubernetes/tests/data/cluster.json",
	         root ? root : ".");
	char *text = sx_test_read_file(path);
	cr_assert(text[0], "cannot read %s", path);
	sx_test_write(s, "m/cluster.json", text);
	free(text);
	sx_test_start(s, "cluster.local:0 {\n\tbind 127.0.0.1\n"
	                 "\tkubernetes {\n\t\tmanifests m\n\t}\n"
	                 "\ttransfer {\n\t\tto 127.0.0.1\n\t}\n}\n");
	cr_assert(sx_test_wait_log(s, "[INFO] plugin/kubernetes: synced", 30000), "%s",
	          sx_test_log(s));
	pid_t pid = knot_start(s, "cluster.local", kport, logpath);

	bool updated = sx_test_wait_file(logpath, "zone updated", 60000);
	bool svc = updated &&
	           knot_wait_answer(kport, "svc1.testns.svc.cluster.local", "10.96.1.1\n", 20000);
	bool ep = updated && knot_wait_answer(kport, "hdls1-0.hdls1.testns.svc.cluster.local",
	                                      "10.244.1.30\n", 20000);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	char *log = sx_test_read_file(logpath);
	cr_expect(updated, "Knot never took the zone; its log:\n%s\nour log:\n%s", log,
	          sx_test_log(s));
	cr_expect(svc && ep, "Knot does not answer from its copy; its log:\n%s", log);
	free(log);
	sx_test_stop(s);
}
