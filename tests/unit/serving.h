/* serving.h -- the server run in the test's own process, and a client's side of it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sextant/plugin.h>

struct sx_config;

/**
 * Set @corefile up with @plugins (NULL-terminated; NULL: sx_plugins[]), one worker.
 * Fails the test on an error.
 */
struct sx_config *serving_config(const struct sx_plugin *const *plugins, const char *corefile);

/**
 * Start the server on @cfg (taken) as main() does, the test's thread its control
 * thread, nothing printed. @return the one ephemeral port its `:0` keys share.
 */
uint16_t serving_start(struct sx_config *cfg);

/** Stop the server and free its control loop. */
void serving_stop(void);

/** Query @id for @name (presentation form), type @qtype, into @buf. @return its length. */
size_t serving_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype);

/** A TCP connection to @addr (IPv4, dotted):@port, or -1 with errno set. Replies wait 5 s. */
int serving_connect(const char *addr, uint16_t port);
