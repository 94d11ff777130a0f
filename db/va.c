#include "config.h"
#include <string.h>
#include "db/jobs.h"
#include "db/va.h"

static const char SQL_VA_LOAD[] =
    "SELECT c.authz_id, c.type, c.token, c.status, a.account_id, a.identifier_type, "
    "a.identifier_value, a.wildcard, a.profile, a.status, acc.thumbprint "
    "FROM challenges c JOIN authorizations a ON a.id = c.authz_id "
    "JOIN accounts acc ON acc.id = a.account_id WHERE c.id = ?";
static const char SQL_VA_LOAD_MANY[] =
    "SELECT c.id, c.authz_id, c.type, c.token, c.status, a.account_id, a.identifier_type, "
    "a.identifier_value, a.wildcard, a.profile, a.status, acc.thumbprint "
    "FROM challenges c JOIN authorizations a ON a.id = c.authz_id "
    "JOIN accounts acc ON acc.id = a.account_id WHERE c.id IN (?, ?, ?, ?, ?, ?, ?, ?)";
/* The challenge, its authorization and the job's completion in one statement (atomic on its
 * own: no transaction to open and commit). Only a challenge still waiting for its result
 * changes, so a replayed or duplicated job never turns a finished challenge around; the
 * authorization follows only from pending; nothing changes unless the lease is still ours. */
static const char SQL_VA_FINISH[] =
    "UPDATE challenges c JOIN authorizations a ON a.id = c.authz_id JOIN jobs j ON j.id = ? "
    "SET c.status = ?, c.validated = ?, c.error = ?, c.validation_record = ?, "
    "a.status = IF(a.status = 'pending', ?, a.status), "
    "j.state = 'done', j.lease_owner = NULL, j.lease_until = 0, j.last_error = NULL "
    "WHERE c.id = ? AND c.status IN ('pending', 'processing') "
    "AND j.lease_owner = ? AND j.state = 'queued'";

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

struct load_many {
	struct db_va_chall *scratch, *out;
	size_t n;
};

static anvil_err
load_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct load_many *lm = arg;
	struct db_va_chall *c = &lm->out[lm->n++];

	(void)ncols;
	*c = *lm->scratch;
	c->id = cols[0].i;
	c->authz_id = cols[1].i;
	c->account_id = cols[5].i;
	c->wildcard = cols[8].i != 0;
	return AE_OK;
}

anvil_err
db_va_load_many(struct db *db, const int64_t *ids, size_t n, struct db_va_chall *out,
    size_t *nout)
{
	struct db_va_chall c;
	struct load_many lm = { .scratch = &c, .out = out };
	struct db_val p[DB_VA_LOAD_MAX];
	struct db_val cols[] = {
		DB_COL_I64,
		DB_COL_I64,
		DB_COL_STR(c.type, sizeof(c.type)),
		DB_COL_STR(c.token, sizeof(c.token)),
		DB_COL_STR(c.status, sizeof(c.status)),
		DB_COL_I64,
		DB_COL_STR(c.ident_type, sizeof(c.ident_type)),
		DB_COL_STR(c.ident_value, sizeof(c.ident_value)),
		DB_COL_I64,
		DB_COL_STR(c.profile, sizeof(c.profile)),
		DB_COL_STR(c.authz_status, sizeof(c.authz_status)),
		DB_COL_STR(c.thumbprint, sizeof(c.thumbprint)),
	};
	anvil_err e;

	*nout = 0;
	if (n == 0 || n > DB_VA_LOAD_MAX)
		return AE_INTERNAL;
	memset(&c, 0, sizeof(c));
	/* One statement text for any n: the unused places repeat the first id. */
	for (size_t i = 0; i < DB_VA_LOAD_MAX; i++)
		p[i] = (struct db_val)DB_PARAM_I64(ids[i < n ? i : 0]);
	e = db_exec_rows(db, SQL_VA_LOAD_MANY, p, DB_VA_LOAD_MAX, cols,
	    sizeof(cols) / sizeof(cols[0]), n, load_row, &lm, NULL);
	*nout = lm.n;
	return e;
}

anvil_err
db_va_finish(struct db *db, const struct db_va_chall *c, int valid, int64_t now,
    const char *record, const char *error, int64_t job_id, const char *owner)
{
	const char *st = valid ? "valid" : "invalid";
	struct db_val p[] = {
		DB_PARAM_I64(job_id),
		DB_PARAM_STR(st, strlen(st)),
		DB_PARAM_I64(now),
		error != NULL ? (struct db_val)DB_PARAM_STR(error, strlen(error)) :
		    (struct db_val)DB_PARAM_NULL,
		record != NULL ? (struct db_val)DB_PARAM_STR(record, strlen(record)) :
		    (struct db_val)DB_PARAM_NULL,
		DB_PARAM_STR(st, strlen(st)),
		DB_PARAM_I64(c->id),
		DB_PARAM_STR(owner, strlen(owner)),
	};
	struct db_result res;
	anvil_err e;

	if (!valid)
		p[2] = (struct db_val)DB_PARAM_NULL;
	if ((e = db_exec(db, SQL_VA_FINISH, p, sizeof(p) / sizeof(p[0]), NULL, 0, &res))
	    != AE_OK || res.affected > 0)
		return e;
	/* Nothing changed: the lease is gone (AE_DENIED from here too), or the challenge was
	 * decided meanwhile and only the job is left to close. */
	return db_job_done(db, job_id, owner);
}
