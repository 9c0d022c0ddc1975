/* testing.h -- what plugin and integration tests may use: the harness and in-process helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sextant/dname.h>
#include <sextant/msg.h>
#include <sextant/plugin.h>
#include <sextant/req.h>
#include <sextant/testing/fakeapi.h>
#include <sextant/testing/harness.h>
#include <sextant/testing/upstream.h>
#include <sextant/testing/prober.h>
#include <sextant/testing/census.h>

/*
 * Tests link the core, every plugin and this library; like plugins they see
 * include/ (and their plugin's folder) only. The harness (harness.h) runs the
 * real binary; upstream.h and fakeapi.h run peers it talks to; the helpers
 * below run a plugin's code in the test's own process.
 */

/* A configuration set up from Corefile text (every setup hook run, nothing started). */
struct sx_config;

struct sx_test_opts {
	const struct sx_plugin *const *plugins; /* NULL-terminated table; NULL: sx_plugins[] */
	uint16_t default_port;                  /* for keys without one; 0: 53 */
	unsigned workers;                       /* 0: 1 */
};

/**
 * Parse and set up @corefile, named "Corefile", with relative paths taken
 * against @dir. @opts may be NULL.
 * @return 0 with *@out set, or an error with "Corefile:LINE: message" in @err.
 */
int sx_test_config(const char *corefile, const char *dir, const struct sx_test_opts *opts,
                   struct sx_config **out, char *err, size_t errlen);

/**
 * The @nth (from 0) instance of plugin @p in server block @block of @cfg, as its
 * setup left it. @return the instance (owned by @cfg), or NULL if there is none.
 */
void *
sx_test_instance(const struct sx_config *cfg, size_t block, const struct sx_plugin *p, size_t nth);

/** Tear down every instance and free @cfg. NULL is a no-op. */
void sx_test_config_free(struct sx_config *cfg);

/**
 * Parse query @wire as the server does; q->qname points into @wire and
 * q->lname into @lname; q->proto is left for the caller (UDP when zeroed).
 * @return 0, or SX_EMALF for what the server would drop or refuse.
 */
int sx_test_parse_query(const uint8_t *wire, size_t len, struct sx_query *q,
                        uint8_t lname[SX_DNAME_MAX]);

/**
 * Start the reply to @q in @buf, as the server does before the chain runs:
 * header, question, no records; at most @limit bytes once finished.
 */
void sx_test_msg_init(struct sx_msg *msg, uint8_t *buf, size_t cap, size_t limit,
                      const struct sx_query *q);

/** Finish the reply as the server does before sending it (OPT appended). @return its length. */
size_t sx_test_msg_finish(struct sx_msg *msg, const struct sx_query *q);

/** The size limit of a reply to @q over its transport (client buffer over UDP, 65535 over TCP). */
size_t sx_test_reply_limit(const struct sx_query *q);

/**
 * Give the calling thread an event loop of its own, as the control thread has,
 * for timers, watches and plugin code run in the test. @return 0, or -ENOMEM.
 */
int sx_test_loop_new(void);
/** Run the calling thread's loop for @ms (or until nothing is left to wait for). */
void sx_test_loop_run(uint64_t ms);
/** Free the calling thread's loop (its timers and watches must be freed first). */
void sx_test_loop_free(void);
