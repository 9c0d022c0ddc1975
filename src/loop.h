/* loop.h -- which event loop the calling thread runs, for the timers and watches of the toolkit. */
#pragma once

#include <stdint.h>
#include <sys/time.h>

struct event_base;

/** Make @base the calling thread's loop (NULL: none); the control thread and each worker. */
void sx_loop_bind(struct event_base *base);
/** The calling thread's loop, or NULL. */
struct event_base *sx_loop_current(void);
/** @ms as a timeval, for libevent. */
struct timeval sx_tv_ms(uint64_t ms);
