/* The 'finalize' job kind: an order left in `processing` by a finalize request that ran out of
 * budget is finished here with issue/'s issue_finish(). Kept behind this small interface so the
 * runner does not depend on how issuance is built.
 *
 * issue_finish blocks (the signer, the HSM behind it), so each attempt runs on a lane: a thread
 * with its own database connection and its own issue_ctx (its own signer connection), up to
 * jobs.finalize_concurrency at once. The runner's loop stays free for validations, lease
 * renewals and signals; it hands jobs over and collects results, and it alone writes the job
 * row (done, retry) and renews the lease of a job whose attempt is running on a lane. */
#ifndef ANVIL_JOBS_FINALIZE_H
#define ANVIL_JOBS_FINALIZE_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "va/va.h"

struct jobs_finalize;

/* nlanes lanes, each with a connection made from dbc (not connected yet), a validation engine
 * on vc for issuance's CAA re-checks (issue_ctx_set_caa) and an issue_ctx read from root (the
 * issuers' files are read here: call before dropping privileges). wake: a path to send a
 * datagram to when an attempt ends (the runner's jobs.wake_socket), or NULL. On error cc->err
 * says why; the runner then leaves finalize jobs queued. */
anvil_err jobs_finalize_new(const struct db_conf *dbc, const struct va_conf *vc,
    json_object *root, struct conf_ctx *cc, size_t nlanes, const char *wake,
    struct jobs_finalize **out);
/* Starts the lanes' threads (after dropping privileges; they block every signal, so SIGTERM
 * reaches the loop). */
anvil_err jobs_finalize_start(struct jobs_finalize *f);
/* Waits for attempts in progress (each bounded by its budget), then frees everything. */
void jobs_finalize_free(struct jobs_finalize *f);

/* Hands job_id (order order_id) to an idle lane: AE_OK, or AE_BUSY when every lane works. */
anvil_err jobs_finalize_submit(struct jobs_finalize *f, int64_t job_id, int64_t order_id,
    int64_t budget_ms);
/* One finished attempt, if any (1; 0 when none, or, with wait, when no attempt is in progress
 * either). *result: AE_OK: the job is done (order valid, or invalid with its problem, or
 * nothing to do); AE_BUSY, AE_TIMEOUT, AE_UNAVAILABLE, AE_DB_DOWN, AE_DB, AE_NOMEM: retry
 * later. With wait, blocks until an attempt in progress ends. */
int jobs_finalize_collect(struct jobs_finalize *f, int wait, int64_t *job_id, anvil_err *result);

#endif
