/* xfr.h -- private declarations of the transfer plugin: who may copy a zone, whom to notify. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sextant/plugin.h>

/* One `to` entry: a network (an address is a /32 or /128), or every address. */
struct xfr_net {
	uint8_t fam; /* 4 or 6; 0: `*` */
	uint8_t bits;
	uint16_t port; /* where NOTIFY goes; 0: nowhere (`*`, a network) */
	uint8_t addr[16];
};

struct xfr_notify;

struct xfr {
	struct sx_zones zones;
	struct xfr_net *to;
	size_t nto;
	struct xfr_notify *notifies; /* in flight, control thread */
};

/**
 * Send a NOTIFY for @v (one of @t's zones, else nothing is sent) to each `to`
 * address that has a port, over UDP, and try again until each answers; a
 * NOTIFY still in flight for the same zone and address is dropped for it.
 * Control thread. Failures are logged.
 */
void xfr_notify(struct xfr *t, const struct sx_zone_version *v);

/** Drop every NOTIFY in flight. */
void xfr_notify_stop(struct xfr *t);
