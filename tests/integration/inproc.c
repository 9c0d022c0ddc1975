/* inproc.c -- the in-process helpers of <sextant/testing.h>: configurations and replies. */
#include <sextant/testing.h>

#include "config.h"
#include "msg_reader.h"
#include "msg_writer.h"

int
sx_test_config(const char *corefile, const char *dir, const struct sx_test_opts *opts,
               struct sx_config **out, char *err, size_t errlen)
{
	struct sx_config_opts o = { .default_port = 53, .workers = 1 };
	const struct sx_plugin *const *plugins = sx_plugins;

	if (opts) {
		o.default_port = opts->default_port ? opts->default_port : 53;
		o.workers = opts->workers ? opts->workers : 1;
		plugins = opts->plugins ? opts->plugins : sx_plugins;
	}
	return sx_config_parse_with(plugins, "Corefile", corefile, dir, &o, out, err, errlen);
}

void *
sx_test_instance(const struct sx_config *cfg, size_t block, const struct sx_plugin *p, size_t nth)
{
	if (!cfg || block >= cfg->nblocks) {
		return NULL;
	}
	for (size_t i = 0; i < cfg->blocks[block].nchain; i++) {
		const struct sx_instance *in = &cfg->blocks[block].chain[i];

		if (in->plugin == p && nth-- == 0) {
			return in->inst;
		}
	}
	return NULL;
}

void
sx_test_config_free(struct sx_config *cfg)
{
	sx_config_free(cfg);
}

int
sx_test_parse_query(const uint8_t *wire, size_t len, struct sx_query *q,
                    uint8_t lname[SX_DNAME_MAX])
{
	return sx_wire_parse_query(wire, len, q, lname) == SX_PARSE_OK ? 0 : SX_EMALF;
}

void
sx_test_msg_init(struct sx_msg *msg, uint8_t *buf, size_t cap, size_t limit,
                 const struct sx_query *q)
{
	sx_msg_init(msg, buf, cap, limit, q);
}

size_t
sx_test_msg_finish(struct sx_msg *msg, const struct sx_query *q)
{
	return sx_msg_finish(msg, q);
}

size_t
sx_test_reply_limit(const struct sx_query *q)
{
	return sx_wire_reply_limit(q);
}
