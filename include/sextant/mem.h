/* mem.h -- the process heap, which the core owns: what a plugin may ask of it. */
#pragma once

/**
 * Hand the heap's free memory back to the system, after a plugin freed much
 * at once (a relist's parse buffers, a replaced snapshot). It acts on the
 * whole process and may take milliseconds on a large heap: never on the query
 * path nor in the control loop (a call_rcu callback is the place). Any thread.
 */
void sx_mem_trim(void);
