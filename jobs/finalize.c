#include "config.h"
#include <stdlib.h>
#include "issue/issue.h"
#include "jobs/finalize.h"
#include "lib/log.h"

struct jobs_finalize {
	struct issue_ctx *ic;
};

anvil_err
jobs_finalize_new(struct db *db, json_object *root, struct conf_ctx *cc,
    struct jobs_finalize **out)
{
	struct jobs_finalize *f = calloc(1, sizeof(*f));
	anvil_err e;

	*out = NULL;
	if (f == NULL)
		return AE_NOMEM;
	if ((e = issue_ctx_new(db, root, cc, &f->ic)) != AE_OK) {
		free(f);
		return e;
	}
	*out = f;
	return AE_OK;
}

void
jobs_finalize_free(struct jobs_finalize *f)
{
	if (f == NULL)
		return;
	issue_ctx_free(f->ic);
	free(f);
}

anvil_err
jobs_finalize_run(struct jobs_finalize *f, int64_t order_id, int64_t budget_ms)
{
	anvil_err e = issue_finish(f->ic, order_id, issue_now_ms() + budget_ms);

	switch (e) {
	case AE_BUSY: case AE_TIMEOUT: case AE_UNAVAILABLE: case AE_DB_DOWN: case AE_DB:
	case AE_NOMEM:
		return e;
	default:
		log_info("finalize order=%lld: %s", (long long)order_id,
		    e == AE_OK ? "valid" : anvil_strerror(e));
		return AE_OK;
	}
}
