/* echo.c -- the floor of the UDP benchmark: a responder that does nothing but batched socket I/O. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

/*
 * It answers every query with the same answer record (an A record pointing at
 * the question's name), after the query's header and question: the least a DNS
 * server must do per query. The I/O is Sextant's (src/udp.c): one non-blocking
 * socket in epoll, recvmmsg of up to BATCH datagrams, sendmmsg of the replies,
 * ROUNDS batches per wake-up. What a real server costs on top of this is its own
 * work: tests/bench/run compares CPU time per query against it.
 *
 * Usage: bench_echo [PORT]   (127.0.0.1; 0 or none: any free port)
 * Prints "port N" once listening; runs until killed.
 */

#define BATCH  32 /* as SX_UDP_BATCH */
#define ROUNDS 4  /* as UDP_ROUNDS */
#define QMAX   4096
#define RMAX   512

static const uint8_t answer[] = {
	0xc0, 0x0c,             /* the question's name */
	0x00, 0x01, 0x00, 0x01, /* A IN */
	0x00, 0x00, 0x00, 0x05, /* TTL 5 */
	0x00, 0x04, 10,   96,   0, 1,
};

/* Reply length for the query @q of @len bytes written into @r, or 0 to drop it. */
static size_t
reply(const uint8_t *q, size_t len, uint8_t *r)
{
	size_t off = 12;

	if (len < 12 || (q[2] & 0x80)) {
		return 0;
	}
	while (off < len && q[off] != 0) {
		if (q[off] > 63) {
			return 0;
		}
		off += (size_t)q[off] + 1;
	}
	off += 5; /* root label, type, class */
	if (off > len || off + sizeof(answer) > RMAX) {
		return 0;
	}
	memcpy(r, q, off);
	r[2] = (uint8_t)(0x84 | (q[2] & 0x79)); /* QR AA, opcode and RD kept */
	r[3] = 0;
	r[6] = 0;
	r[7] = 1;
	memset(r + 8, 0, 4);
	memcpy(r + off, answer, sizeof(answer));
	return off + sizeof(answer);
}

static struct mmsghdr in[BATCH], out[BATCH];
static struct iovec in_iov[BATCH], out_iov[BATCH];
static struct sockaddr_storage peer[BATCH];
static uint8_t in_buf[BATCH][QMAX], out_buf[BATCH][RMAX];

static void
serve(int fd)
{
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < BATCH; i++) {
			in_iov[i].iov_base = in_buf[i];
			in_iov[i].iov_len = sizeof(in_buf[i]);
			memset(&in[i].msg_hdr, 0, sizeof(in[i].msg_hdr));
			in[i].msg_hdr.msg_name = &peer[i];
			in[i].msg_hdr.msg_namelen = sizeof(peer[i]);
			in[i].msg_hdr.msg_iov = &in_iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			return;
		}
		unsigned nout = 0;
		for (int i = 0; i < n; i++) {
			size_t len = reply(in_buf[i], in[i].msg_len, out_buf[nout]);

			if (len == 0) {
				continue;
			}
			out_iov[nout].iov_base = out_buf[nout];
			out_iov[nout].iov_len = len;
			memset(&out[nout].msg_hdr, 0, sizeof(out[nout].msg_hdr));
			out[nout].msg_hdr.msg_name = &peer[i];
			out[nout].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
			out[nout].msg_hdr.msg_iov = &out_iov[nout];
			out[nout].msg_hdr.msg_iovlen = 1;
			nout++;
		}
		for (unsigned i = 0; i < nout;) {
			int sent = sendmmsg(fd, out + i, nout - i, MSG_DONTWAIT);

			if (sent <= 0) {
				break; /* full send buffer: the rest is lost, as in Sextant */
			}
			i += (unsigned)sent;
		}
		if (n < BATCH) {
			return;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, ep, rcvbuf = 4 << 20;

	sin.sin_port = htons(argc > 1 ? (uint16_t)atoi(argv[1]) : 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)); /* as Sextant */
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) < 0) {
		perror("bench_echo: socket");
		return 1;
	}
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("bench_echo: epoll");
		return 1;
	}
	printf("port %u\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (;;) {
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, -1);

		if (n < 0 && errno != EINTR) {
			perror("bench_echo: epoll_wait");
			return 1;
		}
		if (n > 0) {
			serve(fd);
		}
	}
}
