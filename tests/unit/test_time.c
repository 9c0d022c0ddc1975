/* test_time.c -- the monotonic clock, and one-shot and periodic timers on the thread's loop. */
#include <criterion/criterion.h>
#include <event2/event.h>

#include <sextant/time.h>

#include "loop.h"

static struct event_base *base;

static void
setup(void)
{
	base = event_base_new();
	cr_assert_not_null(base);
	sx_loop_bind(base);
}

static void
teardown(void)
{
	sx_loop_bind(NULL);
	event_base_free(base);
}

TestSuite(time, .init = setup, .fini = teardown);

struct counter {
	unsigned n;
	uint64_t at_ms[8];
	struct sx_timer *t;
	unsigned stop_after; /* cancel itself at this count; 0: never */
};

static void
tick(void *arg)
{
	struct counter *c = arg;

	if (c->n < 8) {
		c->at_ms[c->n] = sx_now_ms();
	}
	if (++c->n == c->stop_after) {
		sx_timer_cancel(c->t);
	}
}

/* Run the loop until @c counted @n ticks or 10 s passed. */
static void
run_until(struct counter *c, unsigned n)
{
	uint64_t end = sx_now_ms() + 10000;

	while (c->n < n && sx_now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
	}
}

Test(time, clocks_agree_and_never_go_back)
{
	uint64_t ms = sx_now_ms(), ns = sx_now_ns(), ms2;

	cr_assert_geq(ns / 1000000u, ms);
	cr_assert_leq(ns / 1000000u, ms + 1000);
	ms2 = sx_now_ms();
	cr_assert_geq(ms2, ms);
}

Test(time, tv_from_ms_splits_seconds_and_micros)
{
	struct timeval tv = sx_tv_ms(12345);

	cr_assert_eq(tv.tv_sec, 12);
	cr_assert_eq(tv.tv_usec, 345000);
	tv = sx_tv_ms(0);
	cr_assert_eq(tv.tv_sec, 0);
	cr_assert_eq(tv.tv_usec, 0);
}

Test(time, no_loop_no_timer)
{
	sx_loop_bind(NULL);
	cr_assert_null(sx_timer_new(tick, NULL));
	sx_loop_bind(base);
}

Test(time, once_fires_once_after_its_delay)
{
	struct counter c = { 0 };
	uint64_t t0 = sx_now_ms();

	c.t = sx_timer_new(tick, &c);
	cr_assert_not_null(c.t);
	cr_assert_not(sx_timer_pending(c.t));
	cr_assert_eq(sx_timer_once(c.t, 30), 0);
	cr_assert(sx_timer_pending(c.t));
	run_until(&c, 1);
	cr_assert_eq(c.n, 1);
	cr_assert_geq(c.at_ms[0] - t0, 29); /* the clock's ms may straddle the loop's */
	cr_assert_not(sx_timer_pending(c.t));
	/* Nothing else comes: the loop exits at once with no event pending. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(c.n, 1);
	sx_timer_free(c.t);
}

Test(time, rearming_replaces_the_pending_expiry)
{
	struct counter c = { 0 };
	uint64_t t0 = sx_now_ms();

	c.t = sx_timer_new(tick, &c);
	cr_assert_eq(sx_timer_once(c.t, 5), 0);
	cr_assert_eq(sx_timer_once(c.t, 60), 0);
	run_until(&c, 1);
	cr_assert_eq(c.n, 1);
	cr_assert_geq(c.at_ms[0] - t0, 59);
	sx_timer_free(c.t);
}

Test(time, every_repeats_until_cancelled_and_can_become_once)
{
	struct counter c = { .stop_after = 3 };
	uint64_t t0 = sx_now_ms();

	c.t = sx_timer_new(tick, &c);
	cr_assert_eq(sx_timer_every(c.t, 10), 0);
	run_until(&c, 3);
	cr_assert_eq(c.n, 3);
	cr_assert_not(sx_timer_pending(c.t));
	/* Each expiry is set from the last one's due time, so a late tick makes the next early. */
	cr_assert_geq(c.at_ms[2] - t0, 29);
	/* The same timer, now one-shot: one more tick, then nothing. */
	c.stop_after = 0;
	cr_assert_eq(sx_timer_once(c.t, 1), 0);
	run_until(&c, 4);
	cr_assert_eq(c.n, 4);
	cr_assert_not(sx_timer_pending(c.t));
	sx_timer_free(c.t);
}

Test(time, cancel_before_expiry_means_no_call_and_free_null_is_a_no_op)
{
	struct counter c = { 0 };

	c.t = sx_timer_new(tick, &c);
	cr_assert_eq(sx_timer_once(c.t, 1), 0);
	sx_timer_cancel(c.t);
	cr_assert_not(sx_timer_pending(c.t));
	event_base_loop(base, EVLOOP_NONBLOCK);
	cr_assert_eq(c.n, 0);
	sx_timer_free(c.t);
	sx_timer_free(NULL);
}
