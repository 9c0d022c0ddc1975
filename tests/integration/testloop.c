/* testloop.c -- the event loop <sextant/testing.h> gives a test's thread. Apart from inproc.c, so
 * that a test using only this does not link every plugin. */
#include <sextant/testing.h>

#include <errno.h>

#include <event2/event.h>

#include "loop.h"

int
sx_test_loop_new(void)
{
	struct event_base *base = event_base_new();

	if (!base) {
		return -ENOMEM;
	}
	sx_loop_bind(base);
	return 0;
}

void
sx_test_loop_run(uint64_t ms)
{
	struct timeval tv = sx_tv_ms(ms);

	event_base_loopexit(sx_loop_current(), &tv);
	event_base_dispatch(sx_loop_current());
}

void
sx_test_loop_free(void)
{
	event_base_free(sx_loop_current());
	sx_loop_bind(NULL);
}
