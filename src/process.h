/* process.h -- process-wide state: the heap's settings, and each plugin's init and fini hooks. */
#pragma once

#include <stddef.h>

#include <sextant/plugin.h>

/**
 * Once, before the first Corefile is read: set the heap up, then run the
 * init hook of each plugin of @plugins (NULL-terminated) in order. When one
 * fails, the hooks that succeeded are undone (fini, in reverse order).
 * @return 0, or its error with "plugin/NAME: reason" in @err.
 */
int sx_process_init(const struct sx_plugin *const *plugins, char *err, size_t errlen);

/** At exit, once every configuration is torn down: each plugin's fini hook, in reverse order. */
void sx_process_fini(const struct sx_plugin *const *plugins);
