#include "config.h"
#include <string.h>
#include "db/crl.h"

static const char SQL_CRL_ENSURE[] =
    "INSERT INTO crl_shards (issuer, shard, due_at) VALUES (?, ?, 0) "
    "ON DUPLICATE KEY UPDATE due_at = IF(?, 0, due_at)";
/* Walks crl_shards_due; SKIP LOCKED leaves a shard another runner (or a revocation's
 * transaction) holds right now to it. */
static const char SQL_CRL_PICK[] =
    "SELECT issuer, shard, this_update, next_update, crl_number FROM crl_shards "
    "WHERE due_at <= ? AND lease_until < ? ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED";
static const char SQL_CRL_LEASE[] =
    "UPDATE crl_shards SET lease_owner = ?, lease_until = ?, due_at = ? "
    "WHERE issuer = ? AND shard = ?";
static const char SQL_CRL_LEASE_CHECK[] =
    "SELECT lease_until FROM crl_shards WHERE issuer = ? AND shard = ? AND lease_owner = ? "
    "AND lease_until >= ?";
/* cert_status_shard (issuer, shard, status). */
static const char SQL_CRL_REVOKED[] =
    "SELECT serial, revoked_at, revoked_reason FROM cert_status "
    "WHERE issuer = ? AND shard = ? AND status = 'revoked' LIMIT ?";
/* A revocation that came during the build set due_at to 0: it stays due. */
static const char SQL_CRL_PUBLISHED[] =
    "UPDATE crl_shards SET this_update = ?, next_update = ?, crl_number = ?, "
    "due_at = IF(due_at = 0, 0, ?), lease_owner = NULL, lease_until = 0 "
    "WHERE issuer = ? AND shard = ? AND lease_owner = ?";
static const char SQL_CRL_RELEASE[] =
    "UPDATE crl_shards SET due_at = IF(due_at = 0, 0, ?), lease_owner = NULL, lease_until = 0 "
    "WHERE issuer = ? AND shard = ? AND lease_owner = ?";
static const char SQL_CRL_NEXT_DUE[] =
    "SELECT due_at FROM crl_shards ORDER BY due_at LIMIT 1";
anvil_err
db_crl_shard_ensure(struct db *db, const char *issuer, int64_t shard, int missing)
{
	struct db_val p[] = { DB_PARAM_STR(issuer, strlen(issuer)), DB_PARAM_I64(shard),
		DB_PARAM_I64(missing != 0) };
	struct db_result res;

	return db_exec(db, SQL_CRL_ENSURE, p, 3, NULL, 0, &res);
}

struct pick {
	struct db_crl_shard *out;
	size_t n;
};

static anvil_err
pick_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct pick *pk = arg;
	struct db_crl_shard *s = &pk->out[pk->n];

	(void)ncols;
	if (cols[0].len > DB_CRL_ISSUER_MAX)
		return AE_TOOBIG;
	memset(s, 0, sizeof(*s));
	memcpy(s->issuer, cols[0].buf, cols[0].len);
	s->shard = cols[1].i;
	s->this_update = cols[2].i;
	s->next_update = cols[3].i;
	s->crl_number = cols[4].i;
	pk->n++;
	return AE_OK;
}

anvil_err
db_crl_claim(struct db *db, const char *owner, int64_t now, int64_t lease_until, size_t max,
    struct db_crl_shard *out, size_t *n)
{
	char issuer[DB_CRL_ISSUER_MAX + 1];
	struct pick pk = { out, 0 };
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(now), DB_PARAM_I64(0) };
	struct db_val cols[] = { DB_COL_STR(issuer, sizeof(issuer)), DB_COL_I64, DB_COL_I64,
		DB_COL_I64, DB_COL_I64 };
	anvil_err e;

	*n = 0;
	if (max > DB_CRL_CLAIM_MAX)
		max = DB_CRL_CLAIM_MAX;
	if (max == 0)
		return AE_NOTFOUND;
	p[2].i = (int64_t)max;
	if ((e = db_begin(db)) != AE_OK ||
	    (e = db_exec_rows(db, SQL_CRL_PICK, p, 3, cols, 5, max, pick_row, &pk, NULL)) != AE_OK)
		goto out;
	if (pk.n == 0) {
		e = AE_NOTFOUND;
		goto out;
	}
	for (size_t i = 0; i < pk.n; i++) {
		struct db_val u[] = { DB_PARAM_STR(owner, strlen(owner)), DB_PARAM_I64(lease_until),
			DB_PARAM_I64(lease_until), DB_PARAM_STR(out[i].issuer, strlen(out[i].issuer)),
			DB_PARAM_I64(out[i].shard) };
		struct db_result res;
		if ((e = db_exec(db, SQL_CRL_LEASE, u, 5, NULL, 0, &res)) != AE_OK)
			goto out;
	}
	if ((e = db_commit(db)) != AE_OK)
		goto out;
	*n = pk.n;
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_crl_lease_check(struct db *db, const char *issuer, int64_t shard, const char *owner,
    int64_t until_min)
{
	struct db_val p[] = { DB_PARAM_STR(issuer, strlen(issuer)), DB_PARAM_I64(shard),
		DB_PARAM_STR(owner, strlen(owner)), DB_PARAM_I64(until_min) };
	struct db_val cols[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_CRL_LEASE_CHECK, p, 4, cols, 1, &res);

	if (e == AE_OK && !res.found)
		e = AE_DENIED;
	return e;
}

struct revoked {
	db_crl_entry_fn fn;
	void *arg;
};

static anvil_err
revoked_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct revoked *rv = arg;
	struct db_crl_entry en;

	(void)ncols;
	if (cols[0].len > DB_SERIAL_HEX_MAX)
		return AE_TOOBIG;
	memset(&en, 0, sizeof(en));
	memcpy(en.serial, cols[0].buf, cols[0].len);
	en.revoked_at = cols[1].is_null ? 0 : cols[1].i;
	en.reason = cols[2].is_null ? -1 : (int)cols[2].i;
	return rv->fn(rv->arg, &en);
}

anvil_err
db_crl_revoked(struct db *db, const char *issuer, int64_t shard, size_t max,
    db_crl_entry_fn row, void *arg)
{
	char serial[DB_SERIAL_HEX_MAX + 1];
	struct revoked rv = { row, arg };
	struct db_val p[] = { DB_PARAM_STR(issuer, strlen(issuer)), DB_PARAM_I64(shard),
		DB_PARAM_I64((int64_t)max + 1) };
	struct db_val cols[] = { DB_COL_STR(serial, sizeof(serial)), DB_COL_I64, DB_COL_I64 };

	return db_exec_rows(db, SQL_CRL_REVOKED, p, 3, cols, 3, max, revoked_row, &rv, NULL);
}

static anvil_err
owned(struct db *db, const char *sql, struct db_val *p, size_t n)
{
	struct db_result res;
	anvil_err e = db_exec(db, sql, p, n, NULL, 0, &res);

	if (e == AE_OK && res.affected == 0)
		e = AE_DENIED;
	return e;
}

anvil_err
db_crl_published(struct db *db, const struct db_crl_shard *s, const char *owner,
    int64_t due_at)
{
	struct db_val p[] = { DB_PARAM_I64(s->this_update), DB_PARAM_I64(s->next_update),
		DB_PARAM_I64(s->crl_number), DB_PARAM_I64(due_at),
		DB_PARAM_STR(s->issuer, strlen(s->issuer)), DB_PARAM_I64(s->shard),
		DB_PARAM_STR(owner, strlen(owner)) };

	return owned(db, SQL_CRL_PUBLISHED, p, 7);
}

anvil_err
db_crl_release(struct db *db, const char *issuer, int64_t shard, const char *owner,
    int64_t retry_at)
{
	struct db_val p[] = { DB_PARAM_I64(retry_at), DB_PARAM_STR(issuer, strlen(issuer)),
		DB_PARAM_I64(shard), DB_PARAM_STR(owner, strlen(owner)) };

	return owned(db, SQL_CRL_RELEASE, p, 4);
}

anvil_err
db_crl_next_due(struct db *db, int64_t *due_at)
{
	struct db_val cols[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_CRL_NEXT_DUE, NULL, 0, cols, 1, &res);

	if (e == AE_OK && !res.found)
		e = AE_NOTFOUND;
	if (e == AE_OK)
		*due_at = cols[0].i;
	return e;
}
