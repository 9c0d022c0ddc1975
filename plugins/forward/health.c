/* health.c -- health checks: NS probes from the control thread while an upstream fails. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/uatomic.h>

#include <sextant/time.h>
#include <sextant/wire.h>

#include "fwd.h"

/*
 * As CoreDNS: an exchange that fails kicks the check of its upstream; the
 * check probes every health_check interval until one probe gets any reply
 * (SERVFAIL and REFUSED included), counting failed probes in fails. An
 * upstream is down while fails > max_fails. Workers only read fails.
 */

void
fwd_probe_query(struct fwd_x *x, uint16_t id)
{
	const struct fwd *f = x->f;
	const struct sx_wire_query q = { .id = id,
		                         .flags = f->hc_no_rec ? 0 : SX_FLAG_RD,
		                         .qname = f->hc_domain,
		                         .qname_len = sx_dname_len(f->hc_domain),
		                         .qtype = SX_TYPE_NS,
		                         .qclass = SX_CLASS_IN };

	x->qlen = (size_t)sx_wire_query(x->q + 2, sizeof(x->q) - 2, &q);
}

/* A failed probe counts, and the next one goes out after the interval. */
static void
probe_failed(struct fwd_up *up)
{
	uatomic_inc(&up->fails);
	fwd_metrics_hc_fail(up);
	sx_timer_once(up->hc_timer, up->f->hc_ms);
}

static void
probe_done(struct fwd_x *x, int err, const uint8_t *wire, size_t len)
{
	struct fwd_up *up = x->up;

	(void)wire;
	(void)len;
	fwd_x_fini(x);
	free(x);
	up->probe = NULL;
	if (err == 0) {
		uatomic_set(&up->fails, 0);
		uatomic_set(&up->checking, 0);
		return;
	}
	probe_failed(up);
}

static void
probe_send(struct fwd_up *up)
{
	struct fwd *f = up->f;
	struct fwd_x *x = calloc(1, sizeof(*x));
	enum fwd_proto proto = up->tls ? FWD_TLS : f->force_tcp ? FWD_TCP : FWD_UDP;

	if (x && fwd_x_init(x) == 0) {
		x->f = f;
		x->done = probe_done;
		x->up = up;
		fwd_probe_query(x, (uint16_t)fwd_rand(f->hc_rng));
		if (fwd_x_start(x, up, proto, FWD_HC_TIMEOUT_MS) == 0) {
			up->probe = x;
			return;
		}
	}
	if (x) {
		fwd_x_fini(x);
	}
	free(x);
	probe_failed(up);
}

static void
on_kick(void *arg)
{
	probe_send(arg);
}

void
fwd_health_kick(struct fwd_up *up)
{
	if (up->f->max_fails == 0 || !up->hc_timer) {
		return;
	}
	/* Not checking, so the timer is idle: arming it from this worker races with nothing. */
	if (uatomic_cmpxchg(&up->checking, 0, 1) == 0) {
		sx_timer_once(up->hc_timer, 0);
	}
}

int
fwd_health_start(struct fwd *f)
{
	unsigned i;

	for (i = 0; i < f->nup; i++) {
		struct fwd_up *up = &f->up[i];

		up->hc_timer = sx_timer_new(on_kick, up);
		if (!up->hc_timer) {
			return -ENOMEM;
		}
	}
	return 0;
}

void
fwd_health_stop(struct fwd *f)
{
	unsigned i;

	for (i = 0; i < f->nup; i++) {
		struct fwd_up *up = &f->up[i];

		if (up->probe) {
			fwd_x_fini(up->probe);
			free(up->probe);
			up->probe = NULL;
		}
		sx_timer_free(up->hc_timer);
		up->hc_timer = NULL;
	}
}
