#include "config.h"
#include <stdio.h>
#include <stdlib.h>
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
static const char SQL_CHALL_LIST[] =
    "SELECT id, authz_id, type, token, status, validated, error, validation_record "
    "FROM challenges WHERE authz_id = ? ORDER BY id LIMIT ?";
/* The authorization's columns first (db_authz_row_ext), then the challenge's but its ids (the
 * parameter and a.id: db/db.c fetches 16 columns at most). */
static const char SQL_CHALL_AUTHZ_GET[] =
    "SELECT a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, a.status, "
    "a.expires, a.profile, a.created, c.type, c.token, c.status, c.validated, c.error, "
    "c.validation_record FROM challenges c JOIN authorizations a ON a.id = c.authz_id "
    "WHERE c.id = ?";
/* The challenge turns processing only while its authorization is pending and unexpired, in one
 * statement: InnoDB reads the joined authorization row with a shared lock (a multi-table
 * UPDATE's locking read), so a concurrent deactivation or validation result, which takes it
 * exclusively, serialises with the response as the SELECT ... FOR UPDATE this replaces did.
 * STRAIGHT_JOIN keeps the lock order fixed: the challenge (by its primary key), then the
 * authorization. */
static const char SQL_CHALL_PROCESSING[] =
    "UPDATE challenges c STRAIGHT_JOIN authorizations a ON a.id = c.authz_id "
    "SET c.status = 'processing' WHERE c.id = ? AND c.authz_id = ? AND c.status = 'pending' "
    "AND a.status = 'pending' AND a.expires > ?";

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

/* The 8 columns of a challenge row, fetched into ch (status into status). */
#define CHALL_COLS(ch, status) { \
	DB_COL_I64, \
	DB_COL_I64, \
	DB_COL_STR((ch)->type, sizeof((ch)->type)), \
	DB_COL_STR((ch)->token, sizeof((ch)->token)), \
	DB_COL_STR(status, sizeof(status)), \
	DB_COL_I64, \
	DB_COL_STR((ch)->error, sizeof((ch)->error)), \
	DB_COL_STR((ch)->record, sizeof((ch)->record)), \
}

static void
chall_from_cols(const struct db_val *c, const char *status, struct db_chall *ch)
{
	ch->id = c[0].i;
	ch->authz_id = c[1].i;
	ch->status = (enum db_chall_status)db_chall_status_index(status);
	ch->validated = c[5].i;
}

static anvil_err
chall_fetch(struct db *db, const char *sql, const struct db_val *p, size_t np,
    struct db_chall *ch)
{
	char status[16];
	struct db_val c[] = CHALL_COLS(ch, status);
	struct db_result res;
	anvil_err e = db_exec(db, sql, p, np, c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	chall_from_cols(c, status, ch);
	return AE_OK;
}

struct chall_sink {
	struct db_chall *out;
	size_t n, max;
	const struct db_chall *scratch;
	const char *status;
};

static anvil_err
chall_row_add(void *arg, const struct db_val *c, size_t ncols)
{
	struct chall_sink *s = arg;
	struct db_chall *ch = &s->out[s->n];

	(void)ncols;
	if (s->n == s->max)     /* db_exec_rows stops first; never past the array */
		return AE_INTERNAL;
	/* Only the fetched bytes: error and record are large and mostly empty. */
	memcpy(ch->type, s->scratch->type, c[2].len + 1);
	memcpy(ch->token, s->scratch->token, c[3].len + 1);
	memcpy(ch->error, s->scratch->error, c[6].len + 1);
	memcpy(ch->record, s->scratch->record, c[7].len + 1);
	chall_from_cols(c, s->status, ch);
	s->n++;
	return AE_OK;
}

anvil_err
db_chall_get(struct db *db, int64_t id, struct db_chall *out)
{
	struct db_val p[] = { DB_PARAM_I64(id) };

	return chall_fetch(db, SQL_CHALL_GET, p, N(p), out);
}

anvil_err
db_chall_authz_get(struct db *db, int64_t id, struct db_chall *ch, struct db_authz *a)
{
	char status[16];
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_val c[] = {
		DB_COL_STR(ch->type, sizeof(ch->type)),
		DB_COL_STR(ch->token, sizeof(ch->token)),
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64,
		DB_COL_STR(ch->error, sizeof(ch->error)),
		DB_COL_STR(ch->record, sizeof(ch->record)),
	};
	anvil_err e = db_authz_row_ext(db, SQL_CHALL_AUTHZ_GET, p, N(p), a, c, N(c));

	if (e != AE_OK)
		return e;
	ch->id = id;
	ch->authz_id = a->id;
	ch->status = (enum db_chall_status)db_chall_status_index(status);
	ch->validated = c[3].i;
	return AE_OK;
}

anvil_err
db_chall_list(struct db *db, int64_t authz_id, struct db_chall *out, size_t max, size_t *n)
{
	char status[16];
	struct db_chall *scratch = malloc(sizeof(*scratch));
	struct db_val p[] = { DB_PARAM_I64(authz_id), DB_PARAM_I64((int64_t)max + 1) };
	struct chall_sink s = { .out = out, .max = max, .scratch = scratch, .status = status };
	anvil_err e = AE_NOMEM;

	*n = 0;
	if (scratch != NULL) {
		struct db_val c[] = CHALL_COLS(scratch, status);
		e = db_exec_rows(db, SQL_CHALL_LIST, p, N(p), c, N(c), max, chall_row_add, &s,
		    NULL);
		if (e == AE_OK)
			*n = s.n;
	}
	free(scratch);
	/* More challenges than the caller's array: the stored data is wrong, not the request. */
	return e == AE_TOOBIG ? AE_DB : e;
}

anvil_err
db_chall_respond(struct db *db, int64_t chall_id, int64_t authz_id, int64_t now,
    const char *waiter, int *queued)
{
	struct db_val up[] = { DB_PARAM_I64(chall_id), DB_PARAM_I64(authz_id), DB_PARAM_I64(now) };
	struct db_result res;
	anvil_err e;

	*queued = 0;
	if ((e = db_begin(db)) != AE_OK)
		return e;
	if ((e = db_exec(db, SQL_CHALL_PROCESSING, up, N(up), NULL, 0, &res)) != AE_OK)
		goto out;
	if (res.affected != 1) {
		/* Nothing to do: the caller answers with the current state. */
		e = db_commit(db);
		goto out;
	}
	/* The job table's one way in (db/jobs.c), inside this transaction: the challenge is
	 * processing exactly when its validation is queued. */
	if ((e = db_job_enqueue(db, "validate", chall_id, now, now, waiter)) != AE_OK)
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
