#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/jobs.h"
#include "db/order.h"
#include "db/va.h"

/* The challenges live in their authorization's row (migration 0009, db/authz.c): the row with
 * every type's token and the attempted challenge; the caller picks its type. */
static const char SQL_VA_LOAD[] =
    "SELECT a.id, a.token_http01, a.token_dns01, a.token_tlsalpn01, a.chall_attempted, "
    "a.chall_status, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, "
    "a.profile, a.status, acc.thumbprint "
    "FROM authorizations a JOIN accounts acc ON acc.id = a.account_id WHERE a.id = ?";
static const char SQL_VA_LOAD_MANY[] =
    "SELECT a.id, a.token_http01, a.token_dns01, a.token_tlsalpn01, a.chall_attempted, "
    "a.chall_status, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, "
    "a.profile, a.status, acc.thumbprint "
    "FROM authorizations a JOIN accounts acc ON acc.id = a.account_id "
    "WHERE a.id IN (?, ?, ?, ?, ?, ?, ?, ?)";
/* The challenge's result, its authorization's status and the job's completion in one
 * statement (atomic on its own: no transaction to open and commit). Only the attempted
 * challenge still waiting for its result changes, so a replayed or duplicated job never turns
 * a finished challenge around; the authorization follows only from pending; nothing changes
 * unless the lease is still ours. */
static const char SQL_VA_FINISH[] =
    "UPDATE authorizations a JOIN jobs j ON j.id = ? "
    "SET a.chall_status = ?, a.chall_validated = ?, a.chall_error = ?, a.chall_record = ?, "
    "a.status = IF(a.status = 'pending', ?, a.status), "
    "j.state = 'done', j.lease_owner = NULL, j.lease_until = 0, j.last_error = NULL "
    "WHERE a.id = ? AND a.chall_attempted = ? AND a.chall_status IN ('pending', 'processing') "
    "AND j.lease_owner = ? AND j.state = 'queued'";

/* One row of SQL_VA_LOAD(_MANY), fetched into its columns. */
struct va_row {
	char token[DB_AUTHZ_CHALL_MAX][DB_TOKEN_LEN + 1];
	char attempted[16];
	char status[16];
	struct db_va_chall c;   /* the authorization's and account's columns */
};

#define VA_ROW_COLS(r) { \
	DB_COL_I64, \
	DB_COL_STR((r)->token[0], sizeof((r)->token[0])), \
	DB_COL_STR((r)->token[1], sizeof((r)->token[1])), \
	DB_COL_STR((r)->token[2], sizeof((r)->token[2])), \
	DB_COL_STR((r)->attempted, sizeof((r)->attempted)), \
	DB_COL_STR((r)->status, sizeof((r)->status)), \
	DB_COL_I64, \
	DB_COL_STR((r)->c.ident_type, sizeof((r)->c.ident_type)), \
	DB_COL_STR((r)->c.ident_value, sizeof((r)->c.ident_value)), \
	DB_COL_I64, \
	DB_COL_STR((r)->c.profile, sizeof((r)->c.profile)), \
	DB_COL_STR((r)->c.authz_status, sizeof((r)->c.authz_status)), \
	DB_COL_STR((r)->c.thumbprint, sizeof((r)->c.thumbprint)), \
}

/* The challenge chall_id (db_chall_id's scheme) of the row: 0 when the row is another
 * authorization's or the type was not offered. */
static int
va_fill(const struct va_row *r, const struct db_val *cols, int64_t chall_id,
    struct db_va_chall *out)
{
	int64_t authz_id, t;

	if (chall_id < DB_CHALL_ID_BASE)
		return 0;
	authz_id = (chall_id - DB_CHALL_ID_BASE) / 4;
	t = (chall_id - DB_CHALL_ID_BASE) % 4;
	if (authz_id != cols[0].i || t >= DB_AUTHZ_CHALL_MAX || r->token[t][0] == '\0')
		return 0;
	*out = r->c;
	out->id = chall_id;
	out->authz_id = authz_id;
	out->account_id = cols[6].i;
	out->wildcard = cols[9].i != 0;
	snprintf(out->type, sizeof(out->type), "%s", t == 0 ? "http-01" : t == 1 ? "dns-01" :
	    "tls-alpn-01");
	memcpy(out->token, r->token[t], sizeof(r->token[t]));
	/* Any challenge but the attempted one is pending. */
	snprintf(out->status, sizeof(out->status), "%s",
	    strcmp(r->attempted, out->type) == 0 ? r->status : "pending");
	return 1;
}

anvil_err
db_va_load(struct db *db, int64_t chall_id, struct db_va_chall *c)
{
	struct va_row r;
	struct db_val p[] = { DB_PARAM_I64((chall_id - DB_CHALL_ID_BASE) / 4) };
	struct db_val cols[] = VA_ROW_COLS(&r);
	struct db_result res;
	anvil_err e;

	memset(c, 0, sizeof(*c));
	memset(&r, 0, sizeof(r));
	if (chall_id < DB_CHALL_ID_BASE)
		return AE_NOTFOUND;     /* migration 0009 renumbered every validate job */
	if ((e = db_exec(db, SQL_VA_LOAD, p, 1, cols, sizeof(cols) / sizeof(cols[0]), &res))
	    != AE_OK)
		return e;
	if (!res.found || !va_fill(&r, cols, chall_id, c))
		return AE_NOTFOUND;
	return AE_OK;
}

struct load_many {
	const struct va_row *row;
	const int64_t *ids;
	size_t nids;
	struct db_va_chall *out;
	size_t n;
};

/* An authorization's row answers every asked challenge of it (several types of one
 * authorization may be in one batch). */
static anvil_err
load_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct load_many *lm = arg;

	(void)ncols;
	for (size_t i = 0; i < lm->nids && lm->n < lm->nids; i++)
		if (va_fill(lm->row, cols, lm->ids[i], &lm->out[lm->n]))
			lm->n++;
	return AE_OK;
}

anvil_err
db_va_load_many(struct db *db, const int64_t *ids, size_t n, struct db_va_chall *out,
    size_t *nout)
{
	struct va_row *r = calloc(1, sizeof(*r));
	struct load_many lm = { .row = r, .ids = ids, .nids = n, .out = out };
	struct db_val p[DB_VA_LOAD_MAX];
	anvil_err e;

	*nout = 0;
	if (n == 0 || n > DB_VA_LOAD_MAX) {
		free(r);
		return AE_INTERNAL;
	}
	if (r == NULL)
		return AE_NOMEM;
	/* One statement text for any n: the unused places repeat the first id. Ids of distinct
	 * challenges may name one authorization, hence rows up to n, not exactly n. */
	for (size_t i = 0; i < DB_VA_LOAD_MAX; i++)
		p[i] = (struct db_val)DB_PARAM_I64((ids[i < n ? i : 0] - DB_CHALL_ID_BASE) / 4);
	{
		struct db_val cols[] = VA_ROW_COLS(r);
		e = db_exec_rows(db, SQL_VA_LOAD_MANY, p, DB_VA_LOAD_MAX, cols,
		    sizeof(cols) / sizeof(cols[0]), n, load_row, &lm, NULL);
	}
	*nout = lm.n;
	free(r);
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
		DB_PARAM_I64(c->authz_id),
		DB_PARAM_STR(c->type, strlen(c->type)),
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
