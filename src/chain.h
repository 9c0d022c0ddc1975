/* chain.h -- run a request through its server block's plugins (private). */
#pragma once

#include "req_internal.h"

struct sx_gen;

/**
 * Route @req (already parsed, q.local_port set) through generation @gen for
 * listener @lid: pick the block by longest zone suffix, run the chain, and
 * send the reply unless a plugin suspended it. The caller holds rcu_read_lock.
 */
void sx_chain_process(struct sx_req *req, struct sx_gen *gen, unsigned lid);

/** sx_req_resume(): continue after SX_SUSPEND. */
void sx_chain_resume(struct sx_req *req, enum sx_verdict verdict);

/** sx_req_subquery(): see include/sextant/req.h. */
int sx_chain_subquery(struct sx_req *req, const uint8_t *name, uint16_t type, sx_subquery_cb cb,
                      void *arg);
