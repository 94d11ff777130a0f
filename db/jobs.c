#include "config.h"
#include <string.h>
#include "db/jobs.h"

static const char SQL_JOB_ENQUEUE[] =
    "INSERT INTO jobs (kind, ref_id, state, run_after, attempts, created, waiter) "
    "VALUES (?, ?, 'queued', ?, 0, ?, ?) "
    "ON DUPLICATE KEY UPDATE state = 'queued', run_after = VALUES(run_after), attempts = 0, "
    "last_error = NULL, waiter = VALUES(waiter)";
/* ORDER BY run_after walks jobs_due (state, run_after); SKIP LOCKED leaves rows another
 * runner is claiming right now to that runner instead of waiting on them. */
static const char SQL_JOB_PICK[] =
    "SELECT id, kind, ref_id, attempts, waiter FROM jobs "
    "WHERE state = 'queued' AND run_after <= ? AND lease_until < ? "
    "ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char SQL_JOB_LEASE[] =
    "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?";
static const char SQL_JOB_RENEW[] =
    "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'queued'";
static const char SQL_JOB_DONE[] =
    "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = 0, last_error = NULL "
    "WHERE id = ? AND lease_owner = ? AND state = 'queued'";
static const char SQL_JOB_RETRY[] =
    "UPDATE jobs SET state = ?, lease_owner = NULL, lease_until = 0, run_after = ?, "
    "last_error = ? WHERE id = ? AND lease_owner = ? AND state = 'queued'";
static const char SQL_JOB_RELEASE[] =
    "UPDATE jobs SET lease_owner = NULL, lease_until = 0, attempts = GREATEST(attempts - 1, 0) "
    "WHERE id = ? AND lease_owner = ? AND state = 'queued'";

/* One per process: an API worker has one wake socket and waits for one request at a time. */
static char job_waiter[DB_JOB_WAITER_MAX + 1];

void
db_job_set_waiter(const char *path)
{
	size_t n = path != NULL ? strlen(path) : 0;

	if (n > DB_JOB_WAITER_MAX)
		n = 0;
	memcpy(job_waiter, n > 0 ? path : "", n);
	job_waiter[n] = '\0';
}

anvil_err
db_job_enqueue(struct db *db, const char *kind, int64_t ref_id, int64_t run_after, int64_t now)
{
	size_t wlen = strlen(job_waiter);
	struct db_val p[] = { DB_PARAM_STR(kind, strlen(kind)), DB_PARAM_I64(ref_id),
		DB_PARAM_I64(run_after), DB_PARAM_I64(now),
		wlen > 0 ? (struct db_val)DB_PARAM_STR(job_waiter, wlen) :
		    (struct db_val)DB_PARAM_NULL };
	struct db_result res;

	return db_exec(db, SQL_JOB_ENQUEUE, p, 5, NULL, 0, &res);
}

anvil_err
db_job_claim(struct db *db, const char *owner, int64_t now, int64_t lease, struct db_job *out)
{
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(now) };
	struct db_val cols[] = { DB_COL_I64, DB_COL_STR(out->kind, sizeof(out->kind)), DB_COL_I64,
		DB_COL_I64, DB_COL_STR(out->waiter, sizeof(out->waiter)) };
	struct db_result res;
	anvil_err e;

	memset(out, 0, sizeof(*out));
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if ((e = db_exec(db, SQL_JOB_PICK, p, 2, cols, 5, &res)) != AE_OK)
		goto out;
	if (!res.found) {
		e = AE_NOTFOUND;
		goto out;
	}
	out->id = cols[0].i;
	out->ref_id = cols[2].i;
	out->attempts = cols[3].i + 1;
	if (cols[4].is_null)
		out->waiter[0] = '\0';
	out->lease_until = now + lease;
	{
		struct db_val u[] = { DB_PARAM_STR(owner, strlen(owner)),
			DB_PARAM_I64(out->lease_until), DB_PARAM_I64(out->id) };
		if ((e = db_exec(db, SQL_JOB_LEASE, u, 3, NULL, 0, &res)) != AE_OK)
			goto out;
	}
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
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
