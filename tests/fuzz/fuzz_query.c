/*
 * fuzz_query.c -- libFuzzer target: a query through the whole chain of the real server:
 * kubernetes (from the manifests in plugins/kubernetes/tests/data), hosts, file and cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sextant/dname.h>

#include "fuzz_server.h"
#include "msg_reader.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ID     0x0001
#define SENTINEL_ID 0x0002

static int sock;

/* kube-dns.kube-system.svc.cluster.local. A, recursion desired. */
static const uint8_t sentinel[] = {
	0x00, 0x02, 0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,   0,   8,   'k',
	'u',  'b',  'e',  '-',  'd', 'n', 's', 11,  'k', 'u', 'b', 'e', '-', 's',
	'y',  's',  't',  'e',  'm', 3,   's', 'v', 'c', 7,   'c', 'l', 'u', 's',
	't',  'e',  'r',  5,    'l', 'o', 'c', 'a', 'l', 0,   0,   1,   0,   1,
};

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_query: %s\n", what);
		abort();
	}
}

/* A reply reads back: every record, every owner name, the header counts. */
static void
check_reply(const uint8_t *w, size_t len)
{
	struct sx_rr_walk it;
	int rc;
	unsigned n = 0;
	struct sx_rr rr;
	uint8_t name[SX_DNAME_MAX];

	check(len >= 12 && (w[2] & 0x80), "reply too short or not a response");
	sx_rr_walk_start(&it, w, len, SX_WALK_CHECKED);
	while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		check(sx_wire_name(w, len, rr.owner_off, name) > 0, "bad owner name");
		n++;
	}
	check(rc == 0, "reply does not parse");
	check(n == (unsigned)(w[6] << 8 | w[7]) + (w[8] << 8 | w[9]) + (w[10] << 8 | w[11]),
	      "record count");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char corefile[] = ".:%PORT% {\n"
	                               "	bind 127.0.0.1\n"
	                               "	kubernetes cluster.local in-addr.arpa ip6.arpa {\n"
	                               "		manifests " FUZZ_SRC
	                               "/plugins/kubernetes/tests/data\n"
	                               "		pods verified\n"
	                               "		endpoint_pod_names\n"
	                               "		fallthrough in-addr.arpa ip6.arpa\n"
	                               "	}\n"
	                               "	hosts " FUZZ_SRC "/tests/fuzz/data/hosts {\n"
	                               "		fallthrough\n"
	                               "	}\n"
	                               "	file " FUZZ_SRC
	                               "/tests/fuzz/data/db.example.org example.org\n"
	                               "	cache 30\n"
	                               "}\n";

	(void)argc;
	(void)argv;
	sock = fz_udp_socket(0, fz_server_start(corefile));
	return 0;
}

/*
 * The input is a query (its ID replaced), sent over UDP, then a good query: the replies come
 * in order from the one worker, so the fuzzed one is whatever comes before the good one's
 * (nothing when the server drops it). The good one must be answered right every time.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t q[65536], r[65536];
	bool got_fuzz = false;

	if (size < 2 || size > 4096) {
		return 0;
	}
	memcpy(q, data, size);
	q[0] = FUZZ_ID >> 8;
	q[1] = FUZZ_ID & 0xff;
	check(send(sock, q, size, 0) == (ssize_t)size, "send");
	check(send(sock, sentinel, sizeof(sentinel), 0) == sizeof(sentinel), "send");
	for (;;) {
		/* A hang: the good query is not answered within 10 s. */
		ssize_t n = fz_recv(sock, r, sizeof(r), 10000, NULL);

		check(n >= 0, "no reply to the good query within 10 s");
		check_reply(r, (size_t)n);
		if ((r[0] << 8 | r[1]) == SENTINEL_ID) {
			check((r[3] & 0xf) == 0 && r[6] == 0 && r[7] == 1,
			      "the good query is not answered with its one A record");
			return 0;
		}
		check((r[0] << 8 | r[1]) == FUZZ_ID && !got_fuzz, "a reply nobody asked for");
		got_fuzz = true;
	}
}
