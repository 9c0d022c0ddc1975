/* fuzz_server.h -- the real server, started inside a fuzz target, and a UDP client for it. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sockaddr_in;

/**
 * Start the server on 127.0.0.1 with @corefile, whose "%PORT%" is replaced by a free port
 * (one worker, the control loop on a thread of its own). Aborts on failure.
 * @return the port.
 */
uint16_t fz_server_start(const char *corefile);

/** A free UDP and TCP port on 127.0.0.1 (bound, read back, closed). */
uint16_t fz_free_port(void);

/** A UDP socket on 127.0.0.1 connected to @port; @bind_port 0 for any. */
int fz_udp_socket(uint16_t bind_port, uint16_t port);

/**
 * Wait up to @ms for a datagram on @fd; its sender into @from when not NULL.
 * @return its length, or -1 when none came.
 */
ssize_t fz_recv(int fd, uint8_t *buf, size_t cap, int ms, struct sockaddr_in *from);
