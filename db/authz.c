#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/acme.h"
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
/* The authorization with its challenges (migration 0009): the authorization's columns first
 * (db_authz_row_ext), then the three types' tokens (NULL: not offered) and the attempted
 * challenge's state. */
static const char SQL_AUTHZ_CHALLS_GET[] =
    "SELECT id, account_id, identifier_type, identifier_value, wildcard, status, expires, "
    "profile, created, token_http01, token_dns01, token_tlsalpn01, chall_attempted, "
    "chall_status, chall_validated, chall_error, chall_record FROM authorizations WHERE id = ?";
/* The same with the signing account (db/acme.h's DB_ACCOUNT_SELECT) in one statement: the
 * account drives it, so that a missing authorization is a row of NULLs (id 0), not no row. */
static const char SQL_AUTHZ_CHALLS_ACCT[] =
    "SELECT az.id, az.account_id, az.identifier_type, az.identifier_value, az.wildcard, "
    "az.status, az.expires, az.profile, az.created, az.token_http01, az.token_dns01, "
    "az.token_tlsalpn01, az.chall_attempted, az.chall_status, az.chall_validated, "
    "az.chall_error, az.chall_record, " DB_ACCOUNT_SELECT " FROM " DB_ACCOUNT_FROM
    " LEFT JOIN authorizations az ON az.id = ? WHERE ac.id = ?";
/* An id of the challenges table (before migration 0009): its authorization and type. */
static const char SQL_CHALL_LEGACY[] =
    "SELECT authz_id, type FROM challenges WHERE id = ?";
/* The challenge becomes the attempted one only while its authorization is the account's,
 * pending, unexpired, offers its type and has none attempted yet: one row, so a concurrent
 * deactivation or validation result serialises with it on that row's lock. */
static const char SQL_CHALL_PROCESSING[] =
    "UPDATE authorizations SET chall_attempted = ?, chall_status = 'processing' "
    "WHERE id = ? AND account_id = ? AND status = 'pending' AND expires > ? "
    "AND chall_attempted IS NULL "
    "AND ELT(?, token_http01, token_dns01, token_tlsalpn01) IS NOT NULL";

static const char *const chall_types[DB_AUTHZ_CHALL_MAX] = { "http-01", "dns-01",
	"tls-alpn-01" };

int64_t
db_chall_id(int64_t authz_id, int type_index)
{
	return DB_CHALL_ID_BASE + 4 * authz_id + type_index;
}

int
db_chall_type_index(const char *type)
{
	for (size_t i = 0; i < N(chall_types); i++)
		if (strcmp(chall_types[i], type) == 0)
			return (int)i;
	return -1;
}

/* The challenge columns of SQL_AUTHZ_CHALLS_GET. */
struct authz_challs {
	char token[DB_AUTHZ_CHALL_MAX][DB_TOKEN_LEN + 1];
	char attempted[16];
	char status[16];
	int64_t validated;
	char error[DB_PROBLEM_MAX + 1];
	char record[DB_RECORD_MAX + 1];
};

/* Authorization id into a and x; with acct (NULL: none), account acct_id into *acct in the same
 * statement, and AE_NOTFOUND then means no such account (a->id 0: no such authorization, as
 * authorization ids start at 1). */
static anvil_err
authz_challs_read(struct db *db, int64_t id, struct db_authz *a, struct authz_challs *x,
    int64_t acct_id, struct db_account *acct)
{
	char acct_status[16];
	struct db_val p[] = { DB_PARAM_I64(id), DB_PARAM_I64(acct_id) };
	struct db_val c[8 + DB_ACCOUNT_NCOLS] = {
		DB_COL_STR(x->token[0], sizeof(x->token[0])),
		DB_COL_STR(x->token[1], sizeof(x->token[1])),
		DB_COL_STR(x->token[2], sizeof(x->token[2])),
		DB_COL_STR(x->attempted, sizeof(x->attempted)),
		DB_COL_STR(x->status, sizeof(x->status)),
		DB_COL_I64,
		DB_COL_STR(x->error, sizeof(x->error)),
		DB_COL_STR(x->record, sizeof(x->record)),
	};
	anvil_err e;

	if (acct != NULL)
		db_account_bind(acct, acct_status, c + 8);
	e = db_authz_row_ext(db, acct != NULL ? SQL_AUTHZ_CHALLS_ACCT : SQL_AUTHZ_CHALLS_GET, p,
	    acct != NULL ? 2 : 1, a, c, acct != NULL ? N(c) : 8);
	if (e == AE_OK)
		x->validated = c[5].i;
	if (e == AE_OK && acct != NULL)
		db_account_fill(acct, acct_status, c + 8);
	return e;
}

/* The challenge of type index t (offered: its token is set) as the API shows it: the attempted
 * one with the row's state, any other pending. */
static void
chall_fill(const struct db_authz *a, const struct authz_challs *x, int t, struct db_chall *ch)
{
	ch->id = db_chall_id(a->id, t);
	ch->authz_id = a->id;
	snprintf(ch->type, sizeof(ch->type), "%s", chall_types[t]);
	memcpy(ch->token, x->token[t], sizeof(ch->token));
	if (strcmp(x->attempted, chall_types[t]) == 0) {
		ch->status = (enum db_chall_status)db_chall_status_index(x->status);
		ch->validated = x->validated;
		/* Only the fetched bytes: both are large and mostly empty. */
		memcpy(ch->error, x->error, strlen(x->error) + 1);
		memcpy(ch->record, x->record, strlen(x->record) + 1);
	} else {
		ch->status = DB_CHALL_PENDING;
		ch->validated = 0;
		ch->error[0] = ch->record[0] = '\0';
	}
}

/* A challenge id: its authorization and type index; legacy ids through the old table. */
static anvil_err
chall_resolve(struct db *db, int64_t id, int64_t *authz_id, int *t)
{
	char type[16];
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_val c[] = { DB_COL_I64, DB_COL_STR(type, sizeof(type)) };
	struct db_result res;
	anvil_err e;

	if (id >= DB_CHALL_ID_BASE) {
		*authz_id = (id - DB_CHALL_ID_BASE) / 4;
		*t = (int)((id - DB_CHALL_ID_BASE) % 4);
		return *t < DB_AUTHZ_CHALL_MAX ? AE_OK : AE_NOTFOUND;
	}
	if (id <= 0)
		return AE_NOTFOUND;
	if ((e = db_exec(db, SQL_CHALL_LEGACY, p, N(p), c, N(c), &res)) != AE_OK)
		return e;
	if (!res.found || (*t = db_chall_type_index(type)) < 0)
		return AE_NOTFOUND;
	*authz_id = c[0].i;
	return AE_OK;
}

/* db_chall_authz_get, with the account as authz_challs_read reads it; *found 0 when there is
 * no such challenge. */
static anvil_err
chall_authz_read(struct db *db, int64_t id, struct db_chall *ch, struct db_authz *a,
    int64_t acct_id, struct db_account *acct, int *found)
{
	struct authz_challs *x = malloc(sizeof(*x));
	int64_t authz_id;
	int t;
	anvil_err e = AE_NOMEM;

	*found = 0;
	if (x == NULL)
		return e;
	e = chall_resolve(db, id, &authz_id, &t);
	if (e == AE_NOTFOUND && acct != NULL) {
		/* No authorization to read: the account alone. */
		e = db_account_by_id(db, acct_id, acct);
		goto out;
	}
	if (e != AE_OK || (e = authz_challs_read(db, authz_id, a, x, acct_id, acct)) != AE_OK ||
	    a->id == 0 || x->token[t][0] == '\0')
		goto out;               /* a missing authorization, or the type was not offered */
	chall_fill(a, x, t, ch);
	ch->id = id;                    /* a legacy id answers as itself */
	*found = 1;
out:
	free(x);
	return e;
}

anvil_err
db_chall_authz_get(struct db *db, int64_t id, struct db_chall *ch, struct db_authz *a)
{
	int found;
	anvil_err e = chall_authz_read(db, id, ch, a, 0, NULL, &found);

	return e == AE_OK && !found ? AE_NOTFOUND : e;
}

anvil_err
db_chall_authz_get_acct(struct db *db, int64_t acct_id, struct db_account *acct, int64_t id,
    struct db_chall *ch, struct db_authz *a, int *found)
{
	return chall_authz_read(db, id, ch, a, acct_id, acct, found);
}

anvil_err
db_chall_get(struct db *db, int64_t id, struct db_chall *out)
{
	struct db_authz a;

	return db_chall_authz_get(db, id, out, &a);
}

static anvil_err
authz_get_challs(struct db *db, int64_t id, struct db_authz *a, struct db_chall *out,
    size_t max, size_t *n, int64_t acct_id, struct db_account *acct)
{
	struct authz_challs *x = malloc(sizeof(*x));
	anvil_err e = AE_NOMEM;

	*n = 0;
	if (x == NULL)
		return e;
	if ((e = authz_challs_read(db, id, a, x, acct_id, acct)) == AE_OK && a->id != 0) {
		for (int t = 0; t < DB_AUTHZ_CHALL_MAX && e == AE_OK; t++) {
			if (x->token[t][0] == '\0')
				continue;
			if (*n == max)
				e = AE_TOOBIG;
			else
				chall_fill(a, x, t, &out[(*n)++]);
		}
	}
	free(x);
	return e;
}

anvil_err
db_authz_get_challs(struct db *db, int64_t id, struct db_authz *a, struct db_chall *out,
    size_t max, size_t *n)
{
	return authz_get_challs(db, id, a, out, max, n, 0, NULL);
}

anvil_err
db_authz_get_challs_acct(struct db *db, int64_t acct_id, struct db_account *acct, int64_t id,
    struct db_authz *a, struct db_chall *out, size_t max, size_t *n, int *found)
{
	anvil_err e = authz_get_challs(db, id, a, out, max, n, acct_id, acct);

	*found = e == AE_OK && a->id != 0;
	return e;
}

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

anvil_err
db_chall_list(struct db *db, int64_t authz_id, struct db_chall *out, size_t max, size_t *n)
{
	struct db_authz a;
	anvil_err e = db_authz_get_challs(db, authz_id, &a, out, max, n);

	/* More challenges than the caller's array: the stored data is wrong, not the request. */
	return e == AE_TOOBIG ? AE_DB : e;
}

/* The respond transaction; runs again whole after a deadlock (db_chall_respond). */
static anvil_err
chall_respond_tx(struct db *db, int64_t authz_id, int t, int64_t account_id, int64_t now,
    const char *waiter, int *queued)
{
	struct db_val up[] = {
		DB_PARAM_STR(chall_types[t], strlen(chall_types[t])),
		DB_PARAM_I64(authz_id),
		DB_PARAM_I64(account_id),
		DB_PARAM_I64(now),
		DB_PARAM_I64(t + 1),
	};
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
	if ((e = db_job_enqueue(db, "validate", db_chall_id(authz_id, t), now, now, waiter))
	    != AE_OK)
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

anvil_err
db_chall_respond(struct db *db, int64_t id, int64_t account_id, int64_t now,
    const char *waiter, int *queued)
{
	int64_t authz_id;
	int t, tries = 0;
	anvil_err e;

	*queued = 0;
	/* A legacy id costs its lookup (outside the transaction); a computed one nothing. */
	if ((e = chall_resolve(db, id, &authz_id, &t)) == AE_NOTFOUND)
		return AE_OK;
	if (e != AE_OK)
		return e;
	/* anvil-jobs claims and finishes validate jobs in the same table: a deadlock with it is
	 * rare under load, and no reason for a 503. */
	while ((e = chall_respond_tx(db, authz_id, t, account_id, now, waiter, queued)) != AE_OK &&
	    db_deadlock_retry(db, e, &tries))
		;
	return e;
}
