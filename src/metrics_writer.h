/* metrics_writer.h -- creating and rendering a scrape (private to the core). */
#pragma once

#include <stddef.h>

#include <sextant/metrics.h>

struct sx_metrics *sx_metrics_new(void);
/** The exposition text, families sorted and grouped (malloc'ed), or NULL on failure. */
char *sx_metrics_render(struct sx_metrics *m, size_t *len);
void sx_metrics_free(struct sx_metrics *m);
/** Free every series (sx_series_get()), at exit, once no plugin instance is left. */
void sx_series_free_all(void);
