/* timeouts.c -- the timeouts plugin: the read, write and idle timeouts of TCP connections. */
#include <stddef.h>

#include <sextant/plugin.h>

/* Durations in ms, 0 when not given; the core applies them to the block's TCP listeners. */
struct timeouts {
	uint64_t read_ms, write_ms, idle_ms;
};

#define DAY_MS (24ull * 3600 * 1000)

static const struct sx_directive timeouts_directives[] = {
	SX_DIR_DURATION("read", struct timeouts, read_ms, 1000, DAY_MS),
	SX_DIR_DURATION("write", struct timeouts, write_ms, 1000, DAY_MS),
	SX_DIR_DURATION("idle", struct timeouts, idle_ms, 1000, DAY_MS),
	{ 0 },
};

/* timeouts { read D; write D; idle D }: at least one of them */
static int
timeouts_setup(struct sx_cf *cf, void *inst)
{
	struct timeouts *t = inst;

	if (sx_cf_nargs(cf) != 1) {
		return sx_cf_err(cf, "wrong argument count: timeouts takes a block only");
	}
	if (!t->read_ms && !t->write_ms && !t->idle_ms) {
		return sx_cf_err(cf, "timeouts block with no timeouts specified");
	}
	sx_cf_set_tcp_timeouts(cf, t->read_ms, t->write_ms, t->idle_ms);
	return 0;
}

const struct sx_plugin sx_plugin_timeouts = {
	.name = "timeouts",
	.inst_size = sizeof(struct timeouts),
	.directives = timeouts_directives,
	.setup = timeouts_setup,
};
