/* census.h -- what a process holds: resident memory, descriptors, TCP connections by state. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/** VmRSS of @pid in KiB (from /proc/PID/status), or -1. */
long sx_census_rss_kb(pid_t pid);

/** VmHWM (peak resident memory) of @pid in KiB, or -1. */
long sx_census_hwm_kb(pid_t pid);

/** Open descriptors of @pid (entries of /proc/PID/fd), or -1. */
int sx_census_fds(pid_t pid);

/* TCP states as /proc/net/tcp writes them. */
#define SX_TCP_ESTABLISHED 0x01
#define SX_TCP_CLOSE_WAIT  0x08
#define SX_TCP_ANY         0

/**
 * TCP sockets of @pid (IPv4 and IPv6) in @state (SX_TCP_ANY: all), whose
 * remote port is @rport (0: any): its socket inodes matched against
 * /proc/net/tcp and tcp6. @return the count, or -1.
 */
int sx_census_tcp(pid_t pid, int state, uint16_t rport);

/**
 * Raise this process's RLIMIT_NOFILE soft limit to @want (up to the hard
 * limit, raised too when running as root). @return the new soft limit.
 */
long sx_census_raise_nofile(long want);
