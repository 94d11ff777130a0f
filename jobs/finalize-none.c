/* The finalize hook when anvil-jobs is built without issue/ (see jobs/Makefile.inc): such a
 * runner claims no finalize job (jobs/runner.c), they stay queued until a runner that can issue
 * takes them. */
#include "config.h"
#include <stdio.h>
#include "jobs/finalize.h"

anvil_err
jobs_finalize_new(const struct db_conf *dbc, const struct va_conf *vc, json_object *root,
    struct conf_ctx *cc, size_t nlanes, const char *wake, struct jobs_finalize **out)
{
	(void)dbc;
	(void)vc;
	(void)root;
	(void)nlanes;
	(void)wake;
	*out = NULL;
	snprintf(cc->err, sizeof(cc->err), "built without issuance (issue/)");
	return AE_UNAVAILABLE;
}

anvil_err
jobs_finalize_start(struct jobs_finalize *f)
{
	(void)f;
	return AE_UNAVAILABLE;
}

void
jobs_finalize_free(struct jobs_finalize *f)
{
	(void)f;
}

anvil_err
jobs_finalize_submit(struct jobs_finalize *f, int64_t job_id, int64_t order_id,
    int64_t budget_ms)
{
	(void)f;
	(void)job_id;
	(void)order_id;
	(void)budget_ms;
	return AE_UNAVAILABLE;
}

int
jobs_finalize_collect(struct jobs_finalize *f, int wait, int64_t *job_id, anvil_err *result)
{
	(void)f;
	(void)wait;
	(void)job_id;
	(void)result;
	return 0;
}
