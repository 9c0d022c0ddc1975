/* udp.c -- UDP queries in batches: recvmmsg, run each, sendmmsg the replies. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <urcu.h>

#include "chain.h"
#include "server.h"
#include "worker.h"

#define UDP_ROUNDS 4 /* batches per readiness event, so other sockets get their turn */

/* Remember where a query on a wildcard socket was sent to, to answer from there. */
static void
take_pktinfo(struct sx_req *req, const struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			struct sockaddr_in *sin = (struct sockaddr_in *)&req->local;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			sin->sin_family = AF_INET;
			sin->sin_addr = pi.ipi_addr;
			req->ifindex = pi.ipi_ifindex;
			req->has_local = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&req->local;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = pi.ipi6_addr;
			req->ifindex = (int)pi.ipi6_ifindex;
			req->has_local = true;
		}
	}
}

/* Fill @mh to send @len bytes of @req's reply, with the source address it was asked on. */
static void
fill_reply(struct msghdr *mh, struct iovec *iov, uint8_t *control, size_t ctlcap,
           struct sx_req *req, size_t len)
{
	memset(mh, 0, sizeof(*mh));
	iov->iov_base = req->out;
	iov->iov_len = len;
	mh->msg_name = &req->q.client;
	mh->msg_namelen = req->q.client_len;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	if (!req->has_local) {
		return;
	}
	mh->msg_control = control;
	mh->msg_controllen = ctlcap;
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	if (req->local.ss_family == AF_INET) {
		struct in_pktinfo pi = { 0 };

		pi.ipi_spec_dst = ((struct sockaddr_in *)&req->local)->sin_addr;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		pi.ipi6_addr = ((struct sockaddr_in6 *)&req->local)->sin6_addr;
		pi.ipi6_ifindex = (unsigned)req->ifindex;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
	}
}

void
sx_udp_queue(struct sx_req *req, size_t len)
{
	struct sx_worker *w = req->w;
	unsigned k = w->nout++;

	fill_reply(&w->out[k].msg_hdr, &w->out_slot[k].iov, w->out_slot[k].control,
	           sizeof(w->out_slot[k].control), req, len);
	/* The request goes back to the pool before sendmmsg(): keep the address in the slot. */
	memcpy(&w->out_slot[k].peer, &req->q.client, req->q.client_len);
	w->out[k].msg_hdr.msg_name = &w->out_slot[k].peer;
}

void
sx_udp_send_one(struct sx_req *req, size_t len)
{
	struct msghdr mh;
	struct iovec iov;
	uint8_t control[64];

	fill_reply(&mh, &iov, control, sizeof(control), req, len);
	/* A full socket buffer loses this reply; the client retries, as with any UDP loss. */
	(void)sendmsg(req->udp_fd, &mh, MSG_DONTWAIT);
}

/*
 * Replies of resumed requests wait in the worker's late slots: every callback
 * that was ready in this turn of the loop (each upstream reply resumes one
 * request) runs first, then sx_udp_flush_late() sends them all with as few
 * sendmmsg calls as there are sockets among them.
 */
void
sx_udp_send_late(struct sx_req *req, size_t len)
{
	struct sx_worker *w = req->w;
	unsigned k;

	if (len > SX_LATE_MAX) {
		sx_udp_send_one(req, len);
		return;
	}
	if (w->nlate == SX_UDP_BATCH) {
		sx_udp_flush_late(-1, 0, w);
	}
	k = w->nlate++;
	memcpy(w->late_buf[k], req->out, len);
	fill_reply(&w->late[k].msg_hdr, &w->late_slot[k].iov, w->late_slot[k].control,
	           sizeof(w->late_slot[k].control), req, len);
	w->late_slot[k].iov.iov_base = w->late_buf[k];
	memcpy(&w->late_slot[k].peer, &req->q.client, req->q.client_len);
	w->late[k].msg_hdr.msg_name = &w->late_slot[k].peer;
	w->late_fd[k] = req->udp_fd;
	if (k == 0) {
		event_active(w->late_ev, EV_TIMEOUT, 0);
	}
}

/*
 * sendmmsg() stops at the first reply it cannot send. A full send buffer loses
 * the rest, like any UDP drop; but an error of that one reply's own (EACCES
 * towards a broadcast source address, EPERM from a firewall rule) must not take
 * the replies behind it along: it is skipped.
 */
static void
send_batch(int fd, struct mmsghdr *m, unsigned n)
{
	unsigned i = 0;

	while (i < n) {
		int sent = sendmmsg(fd, m + i, n - i, MSG_DONTWAIT);

		if (sent > 0) {
			i += (unsigned)sent;
		} else if (sent == 0 || errno == EAGAIN || errno == EWOULDBLOCK ||
		           errno == ENOBUFS) {
			return;
		} else if (errno != EINTR) {
			i++;
		}
	}
}

void
sx_udp_flush_late(int fd, short what, void *arg)
{
	struct sx_worker *w = arg;
	unsigned i = 0;

	(void)fd;
	(void)what;
	while (i < w->nlate) {
		unsigned end = i + 1;

		while (end < w->nlate && w->late_fd[end] == w->late_fd[i]) {
			end++;
		}
		send_batch(w->late_fd[i], w->late + i, end - i);
		i = end;
	}
	w->nlate = 0;
}

static void
one_datagram(struct sx_worker *w, struct sx_wsock *s, unsigned i, uint64_t now, struct sx_gen *gen)
{
	struct mmsghdr *m = &w->in[i];
	struct sx_req *req;
	enum sx_parse pr;
	size_t len = m->msg_len;

	req = sx_req_get(w);
	if (!req) {
		return;
	}
	memcpy(req->qwire, w->in_buf[i], len);
	pr = sx_wire_parse_query(req->qwire, len, &req->q, req->lname);
	if ((m->msg_hdr.msg_flags & MSG_TRUNC) && pr == SX_PARSE_OK) {
		pr = SX_PARSE_FORMERR; /* bigger than any query we accept */
	}
	if (pr == SX_PARSE_DROP) {
		sx_req_put(req);
		return;
	}
	req->q.proto = SX_PROTO_UDP;
	memcpy(&req->q.client, &w->in_slot[i].peer, m->msg_hdr.msg_namelen);
	req->q.client_len = m->msg_hdr.msg_namelen;
	req->q.local_port = ntohs(((struct sockaddr_in *)&s->l->addr)->sin_port);
	req->start_ns = now;
	req->udp_fd = s->fd;
	if (s->l->wildcard) {
		take_pktinfo(req, &m->msg_hdr);
	} else {
		/* For sx_req_local(); the reply needs no source address on a bound socket. */
		memcpy(&req->local, &s->l->addr,
		       s->l->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                        : sizeof(struct sockaddr_in));
	}
	req->out = w->out_buf[w->nout];
	req->out_cap = sizeof(w->out_buf[0]);
	if (pr != SX_PARSE_OK) {
		sx_worker_reject(req, pr);
		return;
	}
	sx_chain_process(req, gen, s->l->id);
}

void
sx_udp_readable(int fd, short what, void *arg)
{
	struct sx_wsock *s = arg;
	struct sx_worker *w = s->w;
	unsigned round, i;
	int n;

	(void)what;
	for (round = 0; round < UDP_ROUNDS; round++) {
		for (i = 0; i < SX_UDP_BATCH; i++) {
			struct msghdr *mh = &w->in[i].msg_hdr;

			w->in_slot[i].iov.iov_base = w->in_buf[i];
			w->in_slot[i].iov.iov_len = sizeof(w->in_buf[i]);
			mh->msg_name = &w->in_slot[i].peer;
			mh->msg_namelen = sizeof(w->in_slot[i].peer);
			mh->msg_iov = &w->in_slot[i].iov;
			mh->msg_iovlen = 1;
			mh->msg_control = w->in_slot[i].control;
			mh->msg_controllen = sizeof(w->in_slot[i].control);
			mh->msg_flags = 0;
		}
		n = recvmmsg(fd, w->in, SX_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			return;
		}
		__atomic_store_n(&w->received, w->received + (unsigned)n, __ATOMIC_RELAXED);
		uint64_t now = sx_now_ns();
		w->nout = 0;
		w->batching = true;
		rcu_read_lock();
		struct sx_gen *gen = sx_gen_current();
		for (i = 0; i < (unsigned)n; i++) {
			one_datagram(w, s, i, now, gen);
		}
		rcu_read_unlock();
		w->batching = false;
		send_batch(fd, w->out, w->nout);
		if (n < SX_UDP_BATCH) {
			return;
		}
	}
}
