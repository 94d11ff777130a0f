/* The finalize hook when anvil-jobs is built without issue/ (see jobs/Makefile.inc): finalize
 * jobs stay queued, retried with backoff, until a runner that can issue takes them. */
#include "config.h"
#include <stdio.h>
#include "jobs/finalize.h"

anvil_err
jobs_finalize_new(struct db *db, json_object *root, struct conf_ctx *cc,
    struct jobs_finalize **out)
{
	(void)db;
	(void)root;
	*out = NULL;
	snprintf(cc->err, sizeof(cc->err), "built without issuance (issue/)");
	return AE_UNAVAILABLE;
}

void
jobs_finalize_free(struct jobs_finalize *f)
{
	(void)f;
}

anvil_err
jobs_finalize_run(struct jobs_finalize *f, int64_t order_id, int64_t budget_ms)
{
	(void)f;
	(void)order_id;
	(void)budget_ms;
	return AE_UNAVAILABLE;
}
