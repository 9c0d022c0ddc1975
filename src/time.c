/* time.c -- the monotonic clock; one-shot and periodic timers on the calling thread's loop. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include <sextant/time.h>

#include "loop.h"

struct sx_timer {
	struct event *ev;
	sx_timer_fn fn;
	void *arg;
};

static _Thread_local struct event_base *thread_loop;

void
sx_loop_bind(struct event_base *base)
{
	thread_loop = base;
}

struct event_base *
sx_loop_current(void)
{
	return thread_loop;
}

struct timeval
sx_tv_ms(uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

uint64_t
sx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
sx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
fire(evutil_socket_t fd, short what, void *arg)
{
	struct sx_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

struct sx_timer *
sx_timer_new(sx_timer_fn fn, void *arg)
{
	struct sx_timer *t;

	if (!thread_loop || !(t = calloc(1, sizeof(*t)))) {
		return NULL;
	}
	t->fn = fn;
	t->arg = arg;
	if (!(t->ev = event_new(thread_loop, -1, 0, fire, t))) {
		free(t);
		return NULL;
	}
	return t;
}

/* Re-assigning the event switches between one-shot and periodic; it must not be pending. */
static int
arm(struct sx_timer *t, uint64_t ms, short flags)
{
	struct timeval tv = sx_tv_ms(ms);

	if (event_get_events(t->ev) != flags) {
		event_del(t->ev);
		if (event_assign(t->ev, event_get_base(t->ev), -1, flags, fire, t) < 0) {
			return -ENOMEM;
		}
	}
	return event_add(t->ev, &tv) < 0 ? -ENOMEM : 0;
}

int
sx_timer_once(struct sx_timer *t, uint64_t ms)
{
	return arm(t, ms, 0);
}

int
sx_timer_every(struct sx_timer *t, uint64_t ms)
{
	return arm(t, ms, EV_PERSIST);
}

void
sx_timer_cancel(struct sx_timer *t)
{
	event_del(t->ev);
}

bool
sx_timer_pending(const struct sx_timer *t)
{
	return event_pending(t->ev, EV_TIMEOUT, NULL) != 0;
}

void
sx_timer_free(struct sx_timer *t)
{
	if (t) {
		event_free(t->ev);
		free(t);
	}
}
