#include "config.h"
#include <stdio.h>
#include <string.h>
#include "db/jobs.h"
#include "db/order.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char SQL_AUTHZ_GET[] =
    "SELECT id, account_id, identifier_type, identifier_value, wildcard, status, expires, "
    "profile, created FROM authorizations WHERE id = ?";
static const char SQL_AUTHZ_DEACTIVATE[] =
    "UPDATE authorizations SET status = 'deactivated' WHERE id = ? AND "
    "status IN ('pending', 'valid')";
static const char SQL_AUTHZ_EXPIRE[] =
    "UPDATE authorizations SET status = 'expired' WHERE id = ? AND "
    "status IN ('pending', 'valid') AND expires <= ?";
static const char SQL_CHALL_GET[] =
    "SELECT id, authz_id, type, token, status, validated, error, validation_record "
    "FROM challenges WHERE id = ?";
static const char SQL_CHALL_NEXT[] =
    "SELECT id, authz_id, type, token, status, validated, error, validation_record "
    "FROM challenges WHERE authz_id = ? AND id > ? ORDER BY id LIMIT 1";
/* The authorization row is locked first, so a concurrent deactivation or a validation result
 * serialises with the response. */
static const char SQL_AUTHZ_LOCK[] =
    "SELECT status, expires FROM authorizations WHERE id = ? FOR UPDATE";
static const char SQL_CHALL_PROCESSING[] =
    "UPDATE challenges SET status = 'processing' WHERE id = ? AND authz_id = ? AND "
    "status = 'pending'";

anvil_err
db_authz_get(struct db *db, int64_t id, struct db_authz *a)
{
	struct db_val p[] = { DB_PARAM_I64(id) };

	return db_authz_row(db, SQL_AUTHZ_GET, p, N(p), a);
}

anvil_err
db_authz_deactivate(struct db *db, int64_t id, int *changed)
{
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_AUTHZ_DEACTIVATE, p, N(p), NULL, 0, &res);

	*changed = e == AE_OK && res.affected == 1;
	return e;
}

anvil_err
db_authz_expire(struct db *db, int64_t id, int64_t now)
{
	struct db_val p[] = { DB_PARAM_I64(id), DB_PARAM_I64(now) };
	struct db_result res;

	return db_exec(db, SQL_AUTHZ_EXPIRE, p, N(p), NULL, 0, &res);
}

static anvil_err
chall_fetch(struct db *db, const char *sql, const struct db_val *p, size_t np,
    struct db_chall *ch)
{
	char status[16];
	struct db_val c[] = {
		DB_COL_I64,
		DB_COL_I64,
		DB_COL_STR(ch->type, sizeof(ch->type)),
		DB_COL_STR(ch->token, sizeof(ch->token)),
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64,
		DB_COL_STR(ch->error, sizeof(ch->error)),
		DB_COL_STR(ch->record, sizeof(ch->record)),
	};
	struct db_result res;
	anvil_err e = db_exec(db, sql, p, np, c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	ch->id = c[0].i;
	ch->authz_id = c[1].i;
	ch->status = (enum db_chall_status)db_chall_status_index(status);
	ch->validated = c[5].i;
	return AE_OK;
}

anvil_err
db_chall_get(struct db *db, int64_t id, struct db_chall *out)
{
	struct db_val p[] = { DB_PARAM_I64(id) };

	return chall_fetch(db, SQL_CHALL_GET, p, N(p), out);
}

anvil_err
db_chall_next(struct db *db, int64_t authz_id, int64_t after, struct db_chall *out)
{
	struct db_val p[] = { DB_PARAM_I64(authz_id), DB_PARAM_I64(after) };

	return chall_fetch(db, SQL_CHALL_NEXT, p, N(p), out);
}

anvil_err
db_chall_respond(struct db *db, int64_t chall_id, int64_t authz_id, int64_t now, int *queued)
{
	char status[16];
	struct db_val lp[] = { DB_PARAM_I64(authz_id) };
	struct db_val lc[] = { DB_COL_STR(status, sizeof(status)), DB_COL_I64 };
	struct db_val up[] = { DB_PARAM_I64(chall_id), DB_PARAM_I64(authz_id) };
	struct db_result res;
	anvil_err e;

	*queued = 0;
	if ((e = db_begin(db)) != AE_OK)
		return e;
	if ((e = db_exec(db, SQL_AUTHZ_LOCK, lp, N(lp), lc, N(lc), &res)) != AE_OK)
		goto out;
	if (!res.found || strcmp(status, "pending") != 0 || lc[1].i <= now) {
		/* Nothing to do: the caller answers with the current state. */
		e = db_commit(db);
		goto out;
	}
	if ((e = db_exec(db, SQL_CHALL_PROCESSING, up, N(up), NULL, 0, &res)) != AE_OK)
		goto out;
	if (res.affected != 1) {
		e = db_commit(db);
		goto out;
	}
	/* The job table's one way in (db/jobs.c), inside this transaction: the challenge is
	 * processing exactly when its validation is queued. */
	if ((e = db_job_enqueue(db, "validate", chall_id, now, now)) != AE_OK)
		goto out;
	if ((e = db_commit(db)) == AE_OK)
		*queued = 1;
out:
	if (e != AE_OK) {
		db_rollback(db);
		*queued = 0;
	}
	return e;
}
