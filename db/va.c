#include "config.h"
#include <string.h>
#include "db/jobs.h"
#include "db/va.h"

static const char SQL_VA_LOAD[] =
    "SELECT c.authz_id, c.type, c.token, c.status, a.account_id, a.identifier_type, "
    "a.identifier_value, a.wildcard, a.profile, a.status, acc.thumbprint "
    "FROM challenges c JOIN authorizations a ON a.id = c.authz_id "
    "JOIN accounts acc ON acc.id = a.account_id WHERE c.id = ?";
/* Only a challenge still waiting for its result changes: a replayed or duplicated job never
 * turns a finished challenge around. */
static const char SQL_VA_CHALL[] =
    "UPDATE challenges SET status = ?, validated = ?, error = ?, validation_record = ? "
    "WHERE id = ? AND status IN ('pending', 'processing')";
static const char SQL_VA_AUTHZ[] =
    "UPDATE authorizations SET status = ? WHERE id = ? AND status = 'pending'";

anvil_err
db_va_load(struct db *db, int64_t chall_id, struct db_va_chall *c)
{
	struct db_val p[] = { DB_PARAM_I64(chall_id) };
	struct db_val cols[] = {
		DB_COL_I64,
		DB_COL_STR(c->type, sizeof(c->type)),
		DB_COL_STR(c->token, sizeof(c->token)),
		DB_COL_STR(c->status, sizeof(c->status)),
		DB_COL_I64,
		DB_COL_STR(c->ident_type, sizeof(c->ident_type)),
		DB_COL_STR(c->ident_value, sizeof(c->ident_value)),
		DB_COL_I64,
		DB_COL_STR(c->profile, sizeof(c->profile)),
		DB_COL_STR(c->authz_status, sizeof(c->authz_status)),
		DB_COL_STR(c->thumbprint, sizeof(c->thumbprint)),
	};
	struct db_result res;
	anvil_err e;

	memset(c, 0, sizeof(*c));
	if ((e = db_exec(db, SQL_VA_LOAD, p, 1, cols, sizeof(cols) / sizeof(cols[0]), &res))
	    != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	c->id = chall_id;
	c->authz_id = cols[0].i;
	c->account_id = cols[4].i;
	c->wildcard = cols[7].i != 0;
	return AE_OK;
}

anvil_err
db_va_finish(struct db *db, const struct db_va_chall *c, int valid, int64_t now,
    const char *record, const char *error, int64_t job_id, const char *owner)
{
	const char *st = valid ? "valid" : "invalid";
	struct db_val pc[] = {
		DB_PARAM_STR(st, strlen(st)),
		DB_PARAM_I64(now),
		error != NULL ? (struct db_val)DB_PARAM_STR(error, strlen(error)) :
		    (struct db_val)DB_PARAM_NULL,
		record != NULL ? (struct db_val)DB_PARAM_STR(record, strlen(record)) :
		    (struct db_val)DB_PARAM_NULL,
		DB_PARAM_I64(c->id),
	};
	struct db_val pa[] = { DB_PARAM_STR(st, strlen(st)), DB_PARAM_I64(c->authz_id) };
	struct db_result res;
	anvil_err e;

	if (!valid)
		pc[1] = (struct db_val)DB_PARAM_NULL;
	if ((e = db_begin(db)) != AE_OK ||
	    (e = db_exec(db, SQL_VA_CHALL, pc, 5, NULL, 0, &res)) != AE_OK)
		goto out;
	/* The authorization follows only a challenge this attempt actually decided. */
	if (res.affected > 0 &&
	    (e = db_exec(db, SQL_VA_AUTHZ, pa, 2, NULL, 0, &res)) != AE_OK)
		goto out;
	if ((e = db_job_done(db, job_id, owner)) != AE_OK)
		goto out;
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}
