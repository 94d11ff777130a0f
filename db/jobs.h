/* The durable job table (migrations/0002, `jobs`): queueing by the API workers, leasing by
 * anvil-jobs. A lease is (lease_owner, lease_until); every write a runner makes to a leased job
 * names its owner, so a runner whose lease expired and was taken over changes nothing. */
#ifndef ANVIL_DB_JOBS_H
#define ANVIL_DB_JOBS_H
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"

#define DB_JOB_KIND_MAX 32
#define DB_JOB_OWNER_MAX 128
#define DB_JOB_ERROR_MAX 1024
#define DB_JOB_WAITER_MAX 107   /* jobs.waiter: a Unix socket path (lib/wake.h) */

struct db_job {
	int64_t id;
	char kind[DB_JOB_KIND_MAX + 1];
	int64_t ref_id;
	int64_t attempts;       /* including the one just claimed */
	int64_t created;        /* first queued (a finalize job: when its order turned processing) */
	int64_t lease_until;
	char waiter[DB_JOB_WAITER_MAX + 1]; /* "" when no API worker waits for the result */
};

/* Queues (kind, ref_id) to run at run_after, or re-queues the existing row for it (one live
 * job per kind and ref, attempts reset). waiter: the wake socket of the API worker waiting for
 * the result (jobs.waiter, migrations/0003), so anvil-jobs can tell it the result is in; NULL
 * or "" records none (anvil-jobs' own requeues), and so does a path over DB_JOB_WAITER_MAX.
 * Wake anvil-jobs afterwards. */
anvil_err db_job_enqueue(struct db *db, const char *kind, int64_t ref_id, int64_t run_after,
    int64_t now, const char *waiter);

#define DB_JOB_CLAIM_MAX 8     /* jobs one claim leases at most */

/* Claims up to max (at most DB_JOB_CLAIM_MAX) due jobs (queued, run_after <= now, lease
 * expired), oldest first, for owner until now + lease, in one short transaction: SELECT ...
 * FOR UPDATE SKIP LOCKED, so runners on other hosts skip the rows this one is claiming, and one
 * UPDATE for the batch. Of kind 'finalize' at most fin_max (0: none is even looked at); a due
 * finalize job beyond that stays unleased for another runner. out holds max entries; *n gets
 * the number claimed, *more 1 when more may be due (the batch was full, or finalize jobs were
 * left). AE_NOTFOUND when nothing is claimed. */
anvil_err db_job_claim(struct db *db, const char *owner, int64_t now, int64_t lease, size_t max,
    size_t fin_max, struct db_job *out, size_t *n, int *more);

/* AE_OK when some job is due (as db_job_claim would see it, finalize jobs only with
 * with_finalize), AE_NOTFOUND when none: one plain read, no locks, no transaction. */
anvil_err db_job_due(struct db *db, int64_t now, int with_finalize);

/* Extends the lease; AE_DENIED when the lease is no longer ours. */
anvil_err db_job_renew(struct db *db, int64_t id, const char *owner, int64_t until);

/* Marks the job done (inside the caller's transaction when one is open). AE_DENIED when the
 * lease is no longer ours: the caller must roll back whatever it wrote with it. */
anvil_err db_job_done(struct db *db, int64_t id, const char *owner);

/* Gives the job back for another attempt at run_after, or marks it failed when final. */
anvil_err db_job_retry(struct db *db, int64_t id, const char *owner, int64_t run_after,
    const char *error, int final);

/* The stranded-order sweep (jobs/README.md). Up to max ids, ascending and above after, of orders
 * in `processing` that have no queued 'finalize' job: one plain read, no locks. */
anvil_err db_finalize_stranded(struct db *db, int64_t after, int64_t *ids, size_t max, size_t *n);
/* Queues the finalize job of order_id again, due now (attempts from 0, lease cleared, why in
 * last_error), unless it is queued already: then nothing changes. */
anvil_err db_finalize_requeue(struct db *db, int64_t order_id, int64_t now);

/* Gives a lease back unchanged (shutdown): another runner may claim the job at once. */
anvil_err db_job_release(struct db *db, int64_t id, const char *owner);

#endif
