#include "config.h"
#include <string.h>
#include "db/ctfinal.h"

static const char SQL_CTF_QUEUE[] =
    "INSERT INTO jobs (kind, ref_id, state, run_after, attempts, created) "
    "VALUES ('" DB_CT_FINAL_KIND "', ?, 'queued', ?, 0, ?) ON DUPLICATE KEY UPDATE id = id";
/* jobs_due (state, run_after) narrows to due queued rows; kind and log are filters on them. */
static const char SQL_CTF_PICK[] =
    "SELECT id, ref_id, attempts, created FROM jobs WHERE state = 'queued' AND run_after <= ? "
    "AND lease_until < ? AND kind = '" DB_CT_FINAL_KIND "' AND ref_id % 64 = ? "
    "ORDER BY run_after, id LIMIT ? FOR UPDATE SKIP LOCKED";
static const char SQL_CTF_LEASE[] =
    "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 "
    "WHERE id IN (?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CTF_CERT[] =
    "SELECT c.der, c.issuer FROM serials s JOIN certificates c ON c.serial = s.serial "
    "WHERE s.order_id = ?";
static const char SQL_CTF_BACKLOG[] =
    "SELECT COUNT(*), COALESCE(MIN(created), 0) FROM jobs WHERE state = 'queued' "
    "AND kind = '" DB_CT_FINAL_KIND "'";

anvil_err
db_ct_final_queue(struct db *db, int64_t order_id, uint64_t logs, int64_t now)
{
	for (size_t i = 0; i < DB_CT_FINAL_LOGS; i++) {
		struct db_val p[] = { DB_PARAM_I64(order_id * DB_CT_FINAL_LOGS + (int64_t)i),
			DB_PARAM_I64(now), DB_PARAM_I64(now) };
		struct db_result res;
		anvil_err e;

		if (!(logs >> i & 1))
			continue;
		if ((e = db_exec(db, SQL_CTF_QUEUE, p, 3, NULL, 0, &res)) != AE_OK)
			return e;
	}
	return AE_OK;
}

struct pick {
	struct db_ct_final *out;
	size_t n;
};

static anvil_err
pick_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct pick *pk = arg;
	struct db_ct_final *j = &pk->out[pk->n++];

	(void)ncols;
	j->id = cols[0].i;
	j->order_id = cols[1].i / DB_CT_FINAL_LOGS;
	j->log = (size_t)(cols[1].i % DB_CT_FINAL_LOGS);
	j->attempts = cols[2].i + 1;
	j->created = cols[3].i;
	return AE_OK;
}

anvil_err
db_ct_final_claim(struct db *db, const char *owner, size_t log, int64_t now, int64_t lease,
    size_t max, struct db_ct_final *out, size_t *n)
{
	struct pick pk = { .out = out };
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(now), DB_PARAM_I64((int64_t)log),
		DB_PARAM_I64(0) };
	struct db_val cols[] = { DB_COL_I64, DB_COL_I64, DB_COL_I64, DB_COL_I64 };
	struct db_val u[2 + DB_CT_FINAL_CLAIM_MAX];
	struct db_result res;
	size_t rows = 0;
	anvil_err e;

	*n = 0;
	if (max == 0)
		return AE_NOTFOUND;
	if (max > DB_CT_FINAL_CLAIM_MAX)
		max = DB_CT_FINAL_CLAIM_MAX;
	p[3].i = (int64_t)max;
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if ((e = db_exec_rows(db, SQL_CTF_PICK, p, 4, cols, 4, max, pick_row, &pk, &rows))
	    != AE_OK)
		goto out;
	if (pk.n == 0) {
		e = AE_NOTFOUND;
		goto out;
	}
	u[0] = (struct db_val)DB_PARAM_STR(owner, strlen(owner));
	u[1] = (struct db_val)DB_PARAM_I64(now + lease);
	for (size_t i = 0; i < DB_CT_FINAL_CLAIM_MAX; i++)
		u[2 + i] = (struct db_val)DB_PARAM_I64(out[i < pk.n ? i : 0].id);
	if ((e = db_exec(db, SQL_CTF_LEASE, u, 2 + DB_CT_FINAL_CLAIM_MAX, NULL, 0, &res))
	    != AE_OK)
		goto out;
	if (res.affected != pk.n) {
		e = AE_INTERNAL;
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
db_ct_final_cert(struct db *db, int64_t order_id, uint8_t *der, size_t cap, size_t *len,
    char *issuer, size_t issuer_cap)
{
	struct db_val p[] = { DB_PARAM_I64(order_id) };
	struct db_val cols[] = { DB_COL_STR((char *)der, cap), DB_COL_STR(issuer, issuer_cap) };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_CTF_CERT, p, 1, cols, 2, &res);

	if (e == AE_OK && !res.found)
		e = AE_NOTFOUND;
	if (e == AE_OK)
		*len = cols[0].len;
	return e;
}

anvil_err
db_ct_final_backlog(struct db *db, int64_t now, int64_t *queued, int64_t *oldest_age)
{
	struct db_val cols[] = { DB_COL_I64, DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_CTF_BACKLOG, NULL, 0, cols, 2, &res);

	*queued = *oldest_age = 0;
	if (e == AE_OK && res.found) {
		*queued = cols[0].i;
		*oldest_age = cols[0].i > 0 && cols[1].i < now ? now - cols[1].i : 0;
	}
	return e;
}
