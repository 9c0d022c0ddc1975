/*
 * fuzz_forward.c -- libFuzzer target: an upstream's reply through forward in the real server.
 * The target is the upstream: each input becomes its reply to the query forward sends.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sextant/dname.h>

#include "fuzz_server.h"
#include "msg_reader.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int client, upstream;

static void
check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_forward: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char corefile[512];
	uint16_t up = fz_free_port();

	(void)argc;
	(void)argv;
	upstream = fz_udp_socket(up, 0);
	/* Quick retries keep replies that forward ignores from costing seconds each. */
	snprintf(corefile, sizeof(corefile),
	         ".:%%PORT%% {\n"
	         "	bind 127.0.0.1\n"
	         "	forward . 127.0.0.1:%u {\n"
	         "		max_fails 0\n"
	         "		read_timeout 20ms\n"
	         "		prefer_udp\n"
	         "	}\n"
	         "}\n",
	         up);
	client = fz_udp_socket(0, fz_server_start(corefile));
	return 0;
}

/*
 * The reply to forward's query @fq: the input with the query's ID; when the first input byte
 * is odd, the query's question is put after the input's header (QDCOUNT 1) so that the
 * records that follow are read, not refused for a wrong question.
 */
static size_t
make_reply(uint8_t *out, const uint8_t *fq, size_t fqlen, const uint8_t *data, size_t size)
{
	size_t n = 0, qend = 12;
	uint8_t name[SX_DNAME_MAX];

	if (size == 0 || fqlen < 12) {
		return 0;
	}
	if ((data[0] & 1) && size >= 13) {
		int nl = sx_wire_name(fq, fqlen, 12, name);

		if (nl > 0 && 12 + (size_t)nl + 4 <= fqlen) {
			qend = 12 + (size_t)nl + 4;
		}
		memcpy(out, data + 1, 12);
		out[4] = 0;
		out[5] = 1;
		memcpy(out + 12, fq + 12, qend - 12);
		n = qend;
		memcpy(out + n, data + 13, size - 13);
		n += size - 13;
	} else {
		memcpy(out, data + 1, size - 1);
		n = size - 1;
	}
	if (n >= 2) {
		out[0] = fq[0];
		out[1] = fq[1];
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint16_t id;
	static uint8_t q[512], fq[4096], reply[65536 + 512], r[65536];
	struct sockaddr_in from;
	size_t rlen = 0;
	int qn;

	if (size > 65000) {
		return 0;
	}
	/* A new name every time: q<ID>.example. A */
	id++;
	qn = snprintf((char *)q + 13, 20, "q%u", id);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01;
	q[3] = 0;
	memset(q + 4, 0, 8);
	q[5] = 1;
	q[12] = (uint8_t)qn;
	memcpy(q + 13 + qn,
	       "\x07"
	       "example"
	       "\x00\x00\x01\x00\x01",
	       13);
	check(send(client, q, (size_t)(13 + qn + 13), 0) > 0, "send");
	/* Answer every query forward sends with the input until the client has its reply. */
	for (int waited = 0; waited < 10000; waited += 10) {
		struct pollfd p[2] = { { .fd = client, .events = POLLIN },
			               { .fd = upstream, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 10) <= 0) {
			continue;
		}
		if (p[1].revents) {
			n = recvfrom(upstream, fq, sizeof(fq), 0, (struct sockaddr *)&from,
			             &(socklen_t){ sizeof(from) });
			rlen = n > 0 ? make_reply(reply, fq, (size_t)n, data, size) : 0;
			if (rlen > 0) {
				sendto(upstream, reply, rlen, 0, (struct sockaddr *)&from,
				       sizeof(from));
			}
		}
		if (!p[0].revents || (n = recv(client, r, sizeof(r), 0)) < 12 || r[0] != q[0] ||
		    r[1] != q[1]) {
			continue; /* nothing, or the reply to an earlier query forward gave up on */
		}
		struct sx_rr_walk it;
		int rc;
		struct sx_rr rr;

		sx_rr_walk_start(&it, r, (size_t)n, SX_WALK_CHECKED);
		while ((rc = sx_rr_walk_next(&it, &rr)) == 1) {
		}
		check(rc == 0, "the client's reply does not parse");
		check(memcmp(r + 12, q + 12, (size_t)(qn + 14)) == 0,
		      "the client's reply lost its question");
		return 0;
	}
	check(false, "no reply to the client within 10 s");
	return 0;
}
