/* directive_rows.c -- option rows for the compile-fail test: each MISMATCH case must not build. */
#include <sextant/plugin.h>

struct opts {
	bool flag;
	unsigned num;
	uint64_t ms;
	char *str;
	struct sx_zones zones;
	uint32_t mask;
};

static int
set_mask(struct sx_cf *cf, const struct sx_directive *d, void *inst)
{
	return 0;
}

/* Exported so the compiler sees it used. */
extern const struct sx_directive rows[];
const struct sx_directive rows[] = {
	SX_DIR_FLAG("flag", struct opts, flag),
	SX_DIR_UINT("num", struct opts, num, 0, 10),
	SX_DIR_DURATION("ms", struct opts, ms, 1000, 0),
	SX_DIR_STR("str", struct opts, str),
	SX_DIR_ZONES("zones", struct opts, zones),
	{ "mask", 1, -1, set_mask, SX_FIELD(struct opts, mask, uint32_t) },
#if MISMATCH == 1 /* a duration on an unsigned field (the memory it would overwrite) */
	SX_DIR_DURATION("bad", struct opts, num, 0, 0),
#elif MISMATCH == 2 /* an unsigned on a uint64_t field */
	SX_DIR_UINT("bad", struct opts, ms, 0, 0),
#elif MISMATCH == 3 /* a flag on an unsigned field */
	SX_DIR_FLAG("bad", struct opts, num),
#elif MISMATCH == 4 /* a string on a zone list */
	SX_DIR_STR("bad", struct opts, zones),
#elif MISMATCH == 5 /* zones on a string */
	SX_DIR_ZONES("bad", struct opts, str),
#elif MISMATCH == 6 /* a hand-written setter's field of another type than declared */
	{ "bad", 1, -1, set_mask, SX_FIELD(struct opts, ms, uint32_t) },
#endif
	{ NULL },
};
