/* time.h -- the monotonic clock, and timers on the calling thread's event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/** Milliseconds of the monotonic clock (arbitrary origin, never goes back). */
uint64_t sx_now_ms(void);
/** Nanoseconds of the same clock. */
uint64_t sx_now_ns(void);

struct sx_timer;
typedef void (*sx_timer_fn)(void *arg);

/**
 * A stopped timer on the loop of the calling thread: a worker's in a handler,
 * the control thread's in start. It calls @fn(@arg) on that loop.
 * @return the timer, or NULL when out of memory or the thread has no loop.
 */
struct sx_timer *sx_timer_new(sx_timer_fn fn, void *arg);

/**
 * Fire once, @ms from now; a pending expiry is replaced. May be called from
 * any thread (0 from another thread: run @fn on the timer's loop soon).
 * @return 0, or -ENOMEM.
 */
int sx_timer_once(struct sx_timer *t, uint64_t ms);

/** Fire every @ms from now on, until cancelled; @ms > 0. @return 0, or -ENOMEM. */
int sx_timer_every(struct sx_timer *t, uint64_t ms);

/**
 * Stop the timer if it is pending; it can be armed again. From another thread
 * than the timer's, it waits for a callback in progress to return.
 */
void sx_timer_cancel(struct sx_timer *t);

/** Whether the timer will fire. */
bool sx_timer_pending(const struct sx_timer *t);

/**
 * Cancel and free the timer. NULL is a no-op. From another thread than the
 * timer's, it waits for a callback in progress to return.
 */
void sx_timer_free(struct sx_timer *t);
