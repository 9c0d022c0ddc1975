/* address.h -- server block keys and zone arguments: scheme, zones (CIDRs expanded), port. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sextant/cf.h>

/**
 * Normalise the server block key @key, "[dns://]ZONE[:PORT]". ZONE is a
 * domain name or a reverse CIDR ("10.0.0.0/8", "2001:db8::/30"); its zones
 * are appended to @zones, lower case with the final dot; a CIDR mask off an
 * octet (v4) or nibble (v6) boundary gives one zone per subnet at the next
 * boundary. *@port is PORT, else @dflt_port.
 * @return 0; SX_ENOTSUP for a scheme other than dns://, SX_EINVAL for a bad
 * key, with a message (no file:line) in @err; -ENOMEM.
 */
int sx_address_key(const char *key, uint16_t dflt_port, struct sx_zones *zones, uint16_t *port,
                   char *err, size_t errlen);

/**
 * Normalise a zone named in a plugin's arguments like a key, appending to
 * @zones. A scheme and a port are accepted and ignored, as CoreDNS does.
 */
int sx_address_zone(const char *arg, struct sx_zones *zones, char *err, size_t errlen);

/** Append a copy of the lower-case wire name @wire to @zones. @return 0 or -ENOMEM. */
int sx_zones_push(struct sx_zones *zones, const uint8_t *wire);
