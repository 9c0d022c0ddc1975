/* resolv.h -- the search list of a resolv.conf-style file. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sextant/dname.h>

/**
 * Read the search domains of resolv.conf file @path into @out (at most @max
 * uncompressed lower-case wire names, each SX_DNAME_MAX bytes), as glibc and
 * CoreDNS read it: the last `search` or `domain` line wins; lines starting
 * with '#' or ';' are comments. Domains past @max are left out.
 * @return how many, or a negative SX_E* / -errno with a reason in @err.
 */
int
sx_resolv_search(const char *path, uint8_t (*out)[SX_DNAME_MAX], int max, char *err, size_t errlen);
