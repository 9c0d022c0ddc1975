/* test_transfer_notify.c -- NOTIFY to secondaries when a file zone changes, through the binary. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sextant/testing.h>

/* A secondary stand-in: a UDP socket on 127.0.0.1, its port in *@port. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

struct got {
	uint8_t wire[1024];
	size_t len;
	struct sockaddr_storage from;
	socklen_t fromlen;
	ldns_pkt *pkt;
};

/* The next datagram within @ms, parsed; false when none came. */
static bool
receive(int fd, struct got *g, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1) {
		return false;
	}
	g->fromlen = sizeof(g->from);
	ssize_t n = recvfrom(fd, g->wire, sizeof(g->wire), 0, (struct sockaddr *)&g->from,
	                     &g->fromlen);
	cr_assert_gt(n, 0);
	g->len = (size_t)n;
	cr_assert_eq(ldns_wire2pkt(&g->pkt, g->wire, g->len), LDNS_STATUS_OK);
	return true;
}

/* Answer @g as a secondary does: the same message back with QR and @rcode. */
static void
reply(int fd, const struct got *g, uint8_t rcode)
{
	uint8_t out[1024];

	memcpy(out, g->wire, g->len);
	out[2] |= 0x80;
	out[3] = (uint8_t)((out[3] & 0xF0) | rcode);
	cr_assert_eq(sendto(fd, out, g->len, 0, (const struct sockaddr *)&g->from, g->fromlen),
	             (ssize_t)g->len);
}

/* A NOTIFY for example.org carrying the SOA of @serial (RFC 1996 3.7). */
static void
expect_notify(const struct got *g, uint32_t serial)
{
	ldns_pkt *p = g->pkt;

	cr_expect_eq(ldns_pkt_get_opcode(p), LDNS_PACKET_NOTIFY);
	cr_expect(ldns_pkt_aa(p));
	cr_expect_not(ldns_pkt_qr(p));
	cr_assert_eq(ldns_pkt_qdcount(p), 1);
	ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	char *qname = ldns_rdf2str(ldns_rr_owner(q));
	cr_expect_str_eq(qname, "example.org.");
	free(qname);
	cr_expect_eq(ldns_rr_get_type(q), LDNS_RR_TYPE_SOA);
	cr_assert_eq(ldns_pkt_ancount(p), 1);
	ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	cr_assert_eq(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	cr_expect_eq(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), serial);
	cr_expect_eq(ldns_rr_ttl(soa), 300);
}

static void
write_zone(struct sx_test_server *s, unsigned serial)
{
	char text[256];

	snprintf(text, sizeof(text),
	         "$ORIGIN example.org.\n$TTL 300\n"
	         "@ IN SOA ns1 hostmaster %u 7200 3600 1209600 60\n"
	         "@ IN NS ns1\nns1 IN A 192.0.2.1\n",
	         serial);
	sx_test_write(s, "db.example.org", text);
}

/* The NOTIFY of the zone as loaded at start (serial 1), answered. */
static void
expect_startup_notify(struct sx_test_server *s, int fd)
{
	struct got g = { 0 };

	cr_assert(receive(fd, &g, 30000), "no NOTIFY at start; log:\n%s", sx_test_log(s));
	expect_notify(&g, 1);
	reply(fd, &g, LDNS_RCODE_NOERROR);
	ldns_pkt_free(g.pkt);
}

static struct sx_test_server *
start(const char *to)
{
	struct sx_test_server *s = sx_test_prepare();
	char corefile[512];

	write_zone(s, 1);
	snprintf(corefile, sizeof(corefile),
	         "example.org:0 {\n\tbind 127.0.0.1\n\ttransfer {\n\t\tto %s\n\t}\n"
	         "\tfile %%DIR%%/db.example.org {\n\t\treload 1s\n\t}\n}\n",
	         to);
	return sx_test_start(s, corefile);
}

/* A server whose only secondary is the test's listener (*@fd, on *@port), notified at start. */
static struct sx_test_server *
start_with_listener(int *fd, uint16_t *port)
{
	char to[64];

	*fd = listener(port);
	snprintf(to, sizeof(to), "127.0.0.1:%u", *port);
	struct sx_test_server *s = start(to);
	expect_startup_notify(s, *fd);
	return s;
}

/*
 * The zone is notified at start, as CoreDNS does; then a changed serial sends a NOTIFY with
 * the new SOA; one not answered is sent again, the same message, until the secondary
 * answers. `*` and networks get none.
 */
Test(transfer_notify, sent_on_change_and_retried, .timeout = 90)
{
	uint16_t port;
	int fd = listener(&port);
	char to[128];
	struct got g1 = { 0 }, g2 = { 0 };

	snprintf(to, sizeof(to), "* 127.0.0.0/8 127.0.0.1:%u", port);
	struct sx_test_server *s = start(to);

	expect_startup_notify(s, fd);
	write_zone(s, 2);
	cr_assert(receive(fd, &g1, 30000), "no NOTIFY; log:\n%s", sx_test_log(s));
	expect_notify(&g1, 2);
	/* Unanswered: the same NOTIFY again, about 2 s later. */
	cr_assert(receive(fd, &g2, 10000), "no second try; log:\n%s", sx_test_log(s));
	cr_expect_eq(g2.len, g1.len);
	cr_expect(memcmp(g1.wire, g2.wire, g1.len) == 0);
	reply(fd, &g2, LDNS_RCODE_NOERROR);
	ldns_pkt_free(g1.pkt);
	ldns_pkt_free(g2.pkt);

	/* The next change, answered at once. */
	write_zone(s, 3);
	cr_assert(receive(fd, &g1, 30000), "no NOTIFY; log:\n%s", sx_test_log(s));
	expect_notify(&g1, 3);
	reply(fd, &g1, LDNS_RCODE_NOERROR);
	ldns_pkt_free(g1.pkt);
	cr_expect(!strstr(sx_test_log(s), "was not accepted"), "%s", sx_test_log(s));
	close(fd);
	sx_test_stop(s);
}

/* A refusal ends the tries at once, and is logged in CoreDNS's words. */
Test(transfer_notify, refusal_logged, .timeout = 60)
{
	uint16_t port;
	int fd;
	char line[128];
	struct got g = { 0 };
	struct sx_test_server *s = start_with_listener(&fd, &port);

	write_zone(s, 5);
	cr_assert(receive(fd, &g, 30000), "no NOTIFY; log:\n%s", sx_test_log(s));
	expect_notify(&g, 5);
	reply(fd, &g, LDNS_RCODE_REFUSED);
	snprintf(line, sizeof(line),
	         "[WARNING] plugin/transfer: notify for zone \"example.org.\" was not accepted by "
	         "\"127.0.0.1:%u\": rcode was \"REFUSED\"",
	         port);
	cr_expect(sx_test_wait_log(s, line, 10000), "%s", sx_test_log(s));
	ldns_pkt_free(g.pkt);
	close(fd);
	sx_test_stop(s);
}

/* Nobody answers: three tries, then a warning; datagrams from elsewhere do not count. */
Test(transfer_notify, no_reply_logged_after_three_tries, .timeout = 60)
{
	uint16_t port;
	int fd;
	char line[160];
	struct got g = { 0 };
	unsigned tries = 0;
	struct sx_test_server *s = start_with_listener(&fd, &port);

	write_zone(s, 9);
	snprintf(line, sizeof(line),
	         "[WARNING] plugin/transfer: notify for zone \"example.org.\" was not accepted by "
	         "\"127.0.0.1:%u\": no reply after 3 tries",
	         port);
	while (receive(fd, &g, 30000)) {
		expect_notify(&g, 9);
		ldns_pkt_free(g.pkt);
		tries++;
		if (tries == 1) {
			/* An answer from another socket is not the secondary's: still unanswered. */
			uint16_t other;
			int fd2 = listener(&other);

			g.wire[2] |= 0x80;
			cr_assert_gt(sendto(fd2, g.wire, g.len, 0, (struct sockaddr *)&g.from,
			                    g.fromlen),
			             0);
			close(fd2);
		}
		if (tries == 3) {
			break;
		}
	}
	cr_expect_eq(tries, 3, "%s", sx_test_log(s));
	cr_expect(sx_test_wait_log(s, line, 10000), "%s", sx_test_log(s));
	close(fd);
	sx_test_stop(s);
}

/* A Corefile reload starts a new configuration: it notifies too, as CoreDNS does at start. */
Test(transfer_notify, sent_after_a_corefile_reload, .timeout = 60)
{
	uint16_t port;
	int fd;
	struct sx_test_server *s = start_with_listener(&fd, &port);

	kill(sx_test_pid(s), SIGUSR1);
	cr_assert(sx_test_wait_log(s, "SIGUSR1: Reloading", 10000), "%s", sx_test_log(s));
	expect_startup_notify(s, fd);
	close(fd);
	cr_expect_eq(sx_test_stop(s), 0);
}
