#include "config.h"
#include <string.h>
#include "db/jobs.h"

static const char SQL_JOB_ENQUEUE[] =
    "INSERT INTO jobs (kind, ref_id, state, run_after, attempts, created, waiter) "
    "VALUES (?, ?, 'queued', ?, 0, ?, ?) "
    "ON DUPLICATE KEY UPDATE state = 'queued', run_after = VALUES(run_after), attempts = 0, "
    "last_error = NULL, waiter = VALUES(waiter)";
/* ORDER BY run_after walks jobs_due (state, run_after); SKIP LOCKED leaves rows another
 * runner is claiming right now to that runner instead of waiting on them. 'ct-final' jobs
 * belong to the final-certificate submitter (db/ctfinal.h), with its per-log rate. */
static const char SQL_JOB_PICK[] =
    "SELECT id, kind, ref_id, attempts, waiter, created FROM jobs "
    "WHERE state = 'queued' AND run_after <= ? AND lease_until < ? "
    "AND (? OR kind <> 'finalize') AND kind <> 'ct-final' "
    "ORDER BY run_after, id LIMIT ? FOR UPDATE SKIP LOCKED";
/* One statement text for any batch up to DB_JOB_CLAIM_MAX (the handle caches statements by
 * text): the unused places repeat the first id. */
static const char SQL_JOB_LEASE[] =
    "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
    "WHERE id IN (?, ?, ?, ?, ?, ?, ?, ?)";
/* Not locking and outside any transaction: the poll's question whether a claim is worth one. */
static const char SQL_JOB_DUE[] =
    "SELECT id FROM jobs WHERE state = 'queued' AND run_after <= ? AND lease_until < ? "
    "AND (? OR kind <> 'finalize') AND kind <> 'ct-final' LIMIT 1";
static const char SQL_JOB_RENEW[] =
    "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'queued'";
static const char SQL_JOB_DONE[] =
    "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = 0, last_error = NULL "
    "WHERE id = ? AND lease_owner = ? AND state = 'queued'";
static const char SQL_JOB_RETRY[] =
    "UPDATE jobs SET state = ?, lease_owner = NULL, lease_until = 0, run_after = ?, "
    "last_error = ? WHERE id = ? AND lease_owner = ? AND state = 'queued'";
/* Orders in processing without a live finalize job (migrations/0005: orders_status reads only
 * the orders in processing; one unique-key look-up in jobs each). */
static const char SQL_STRANDED[] =
    "SELECT o.id FROM orders o WHERE o.status = 'processing' AND o.id > ? AND NOT EXISTS "
    "(SELECT 1 FROM jobs j WHERE j.kind = 'finalize' AND j.ref_id = o.id AND "
    "j.state = 'queued') ORDER BY o.id LIMIT ?";
/* Queues the job again unless it is live by now (a runner or the request queued it since the
 * SELECT): then it is left as it is, its lease and attempts untouched. The assignments are
 * evaluated left to right, so state goes last and the IFs see the old one. The job keeps its
 * `created`: the age of the order's issuance, the figure an alert reads. */
static const char SQL_REQUEUE[] =
    "INSERT INTO jobs (kind, ref_id, state, run_after, created) VALUES ('finalize', ?, "
    "'queued', ?, ?) ON DUPLICATE KEY UPDATE "
    "attempts = IF(state = 'queued', attempts, 0), "
    "run_after = IF(state = 'queued', run_after, VALUES(run_after)), "
    "lease_owner = IF(state = 'queued', lease_owner, NULL), "
    "lease_until = IF(state = 'queued', lease_until, 0), "
    "last_error = IF(state = 'queued', last_error, "
    "LEFT(CONCAT('queued again by the sweep, was ', state, ': ', IFNULL(last_error, '')), 1024)), "
    "state = 'queued'";
static const char SQL_JOB_RELEASE[] =
    "UPDATE jobs SET lease_owner = NULL, lease_until = 0, attempts = GREATEST(attempts - 1, 0) "
    "WHERE id = ? AND lease_owner = ? AND state = 'queued'";

anvil_err
db_job_enqueue(struct db *db, const char *kind, int64_t ref_id, int64_t run_after, int64_t now,
    const char *waiter)
{
	size_t wlen = waiter != NULL ? strlen(waiter) : 0;
	struct db_val p[] = { DB_PARAM_STR(kind, strlen(kind)), DB_PARAM_I64(ref_id),
		DB_PARAM_I64(run_after), DB_PARAM_I64(now),
		wlen > 0 && wlen <= DB_JOB_WAITER_MAX ?
		    (struct db_val)DB_PARAM_STR(waiter, wlen) : (struct db_val)DB_PARAM_NULL };
	struct db_result res;

	return db_exec(db, SQL_JOB_ENQUEUE, p, 5, NULL, 0, &res);
}

struct pick {
	struct db_job *out;
	size_t fin_max, n, nfin;
	int64_t now, lease;
	int skipped;
};

static anvil_err
pick_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct pick *pk = arg;
	struct db_job *j = &pk->out[pk->n];
	int fin;

	(void)ncols;
	if (cols[1].len >= sizeof(j->kind) || cols[4].len >= sizeof(j->waiter))
		return AE_TOOBIG;
	fin = cols[1].len == 8 && memcmp(cols[1].buf, "finalize", 8) == 0;
	/* Beyond the free lanes: left unleased (its row lock ends with our commit) for a runner
	 * that has a lane free. */
	if (fin && pk->nfin >= pk->fin_max) {
		pk->skipped = 1;
		return AE_OK;
	}
	memset(j, 0, sizeof(*j));
	j->id = cols[0].i;
	memcpy(j->kind, cols[1].buf, cols[1].len);
	j->ref_id = cols[2].i;
	j->attempts = cols[3].i + 1;
	if (!cols[4].is_null)
		memcpy(j->waiter, cols[4].buf, cols[4].len);
	j->created = cols[5].i;
	j->lease_until = pk->now + pk->lease;
	pk->nfin += fin;
	pk->n++;
	return AE_OK;
}

static anvil_err
job_claim_tx(struct db *db, const char *owner, int64_t now, int64_t lease, size_t max,
    size_t fin_max, struct db_job *out, size_t *n, int *more)
{
	char kind[DB_JOB_KIND_MAX + 1], waiter[DB_JOB_WAITER_MAX + 1];
	struct pick pk = { .out = out, .fin_max = fin_max, .now = now, .lease = lease };
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(now),
		DB_PARAM_I64(fin_max > 0), DB_PARAM_I64((int64_t)max) };
	struct db_val cols[] = { DB_COL_I64, DB_COL_STR(kind, sizeof(kind)), DB_COL_I64,
		DB_COL_I64, DB_COL_STR(waiter, sizeof(waiter)), DB_COL_I64 };
	size_t rows = 0;
	anvil_err e;

	*n = 0;
	*more = 0;
	if (max == 0)
		return AE_NOTFOUND;
	if (max > DB_JOB_CLAIM_MAX)
		max = DB_JOB_CLAIM_MAX;
	p[3].i = (int64_t)max;
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if ((e = db_exec_rows(db, SQL_JOB_PICK, p, 4, cols, 6, max, pick_row, &pk, &rows))
	    != AE_OK)
		goto out;
	if (pk.n == 0) {
		e = AE_NOTFOUND;
		goto out;
	}
	{
		struct db_val u[2 + DB_JOB_CLAIM_MAX];
		struct db_result res;

		u[0] = (struct db_val)DB_PARAM_STR(owner, strlen(owner));
		u[1] = (struct db_val)DB_PARAM_I64(now + lease);
		for (size_t i = 0; i < DB_JOB_CLAIM_MAX; i++)
			u[2 + i] = (struct db_val)DB_PARAM_I64(out[i < pk.n ? i : 0].id);
		if ((e = db_exec(db, SQL_JOB_LEASE, u, 2 + DB_JOB_CLAIM_MAX, NULL, 0, &res))
		    != AE_OK)
			goto out;
		/* Every row is locked by our SELECT: anything else is a bug, not a race. */
		if (res.affected != pk.n) {
			e = AE_INTERNAL;
			goto out;
		}
	}
	if ((e = db_commit(db)) != AE_OK)
		goto out;
	*n = pk.n;
	*more = rows == max || pk.skipped;
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_job_claim(struct db *db, const char *owner, int64_t now, int64_t lease, size_t max,
    size_t fin_max, struct db_job *out, size_t *n, int *more)
{
	int tries = 0;
	anvil_err e;

	while ((e = job_claim_tx(db, owner, now, lease, max, fin_max, out, n, more)) != AE_OK &&
	    db_deadlock_retry(db, e, &tries))
		;
	return e;
}

anvil_err
db_job_due(struct db *db, int64_t now, int with_finalize)
{
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(now),
		DB_PARAM_I64(with_finalize != 0) };
	struct db_val cols[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_JOB_DUE, p, 3, cols, 1, &res);

	if (e == AE_OK && !res.found)
		e = AE_NOTFOUND;
	return e;
}

static anvil_err
owned_update(struct db *db, const char *sql, struct db_val *p, size_t n)
{
	struct db_result res;
	anvil_err e = db_exec(db, sql, p, n, NULL, 0, &res);

	if (e == AE_OK && res.affected == 0)
		e = AE_DENIED;
	return e;
}

anvil_err
db_job_renew(struct db *db, int64_t id, const char *owner, int64_t until)
{
	struct db_val p[] = { DB_PARAM_I64(until), DB_PARAM_I64(id),
		DB_PARAM_STR(owner, strlen(owner)) };

	return owned_update(db, SQL_JOB_RENEW, p, 3);
}

anvil_err
db_job_done(struct db *db, int64_t id, const char *owner)
{
	struct db_val p[] = { DB_PARAM_I64(id), DB_PARAM_STR(owner, strlen(owner)) };

	return owned_update(db, SQL_JOB_DONE, p, 2);
}

anvil_err
db_job_retry(struct db *db, int64_t id, const char *owner, int64_t run_after, const char *error,
    int final)
{
	const char *state = final ? "failed" : "queued";
	size_t elen = error != NULL ? strlen(error) : 0;
	struct db_val p[] = { DB_PARAM_STR(state, strlen(state)), DB_PARAM_I64(run_after),
		DB_PARAM_STR(error != NULL ? error : "", elen > DB_JOB_ERROR_MAX ?
		DB_JOB_ERROR_MAX : elen), DB_PARAM_I64(id), DB_PARAM_STR(owner, strlen(owner)) };

	return owned_update(db, SQL_JOB_RETRY, p, 5);
}

anvil_err
db_job_release(struct db *db, int64_t id, const char *owner)
{
	struct db_val p[] = { DB_PARAM_I64(id), DB_PARAM_STR(owner, strlen(owner)) };

	return owned_update(db, SQL_JOB_RELEASE, p, 2);
}

struct db_id_sink {
	int64_t *ids;
	size_t n, max;
};

static anvil_err
stranded_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct db_id_sink *s = arg;

	(void)ncols;
	if (s->n == s->max)
		return AE_INTERNAL;
	s->ids[s->n++] = cols[0].i;
	return AE_OK;
}

anvil_err
db_finalize_stranded(struct db *db, int64_t after, int64_t *ids, size_t max, size_t *n)
{
	struct db_val p[] = { DB_PARAM_I64(after), DB_PARAM_I64((int64_t)max) };
	struct db_val cols[] = { DB_COL_I64 };
	struct db_id_sink s = { .ids = ids, .max = max };
	anvil_err e;

	*n = 0;
	if (max == 0)
		return AE_INTERNAL;
	e = db_exec_rows(db, SQL_STRANDED, p, 2, cols, 1, max, stranded_row, &s, NULL);
	if (e == AE_OK)
		*n = s.n;
	return e;
}

anvil_err
db_finalize_requeue(struct db *db, int64_t order_id, int64_t now)
{
	struct db_val p[] = { DB_PARAM_I64(order_id), DB_PARAM_I64(now), DB_PARAM_I64(now) };
	struct db_result res;

	return db_exec(db, SQL_REQUEUE, p, 3, NULL, 0, &res);
}
