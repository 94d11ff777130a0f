/* The 'finalize' job kind: an order left in `processing` by a finalize request that ran out of
 * budget is finished here with issue/'s issue_finish(). Kept behind this small interface so the
 * runner does not depend on how issuance is built. */
#ifndef ANVIL_JOBS_FINALIZE_H
#define ANVIL_JOBS_FINALIZE_H
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"
#include "lib/conf.h"
#include "lib/err.h"

struct jobs_finalize;

/* On error cc->err says why; the runner then leaves finalize jobs queued. */
anvil_err jobs_finalize_new(struct db *db, json_object *root, struct conf_ctx *cc,
    struct jobs_finalize **out);
void jobs_finalize_free(struct jobs_finalize *f);

/* AE_OK: the job is done (order valid, or invalid with its problem, or nothing to do).
 * AE_BUSY, AE_TIMEOUT, AE_UNAVAILABLE, AE_DB_DOWN, AE_DB, AE_NOMEM: retry later. */
anvil_err jobs_finalize_run(struct jobs_finalize *f, int64_t order_id, int64_t budget_ms);

#endif
