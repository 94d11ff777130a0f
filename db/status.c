#include "config.h"
#include <stdint.h>
#include <string.h>
#include "db/status.h"

#define COLS "serial, issuer, shard, not_after, status, revoked_at, revoked_reason, " \
    "ocsp_this_update, ocsp_next_update, ocsp_refresh_at"
#define LEASE_CHUNK 64   /* serials per lease statement (DB_PARAMS_MAX in db/db.c) */

static const char SQL_STATUS_INSERT[] =
    "INSERT INTO cert_status (serial, issuer, shard, not_after, ocsp_this_update, "
    "ocsp_next_update, ocsp_refresh_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON DUPLICATE KEY UPDATE serial = serial";
static const char SQL_STATUS_REVOKE[] =
    "UPDATE cert_status SET status = 'revoked', revoked_at = ?, revoked_reason = ?, "
    "ocsp_refresh_at = 0, lease_owner = NULL, lease_until = 0 WHERE serial = ?";
/* The shard row may not exist yet (no CRL published for it so far). */
static const char SQL_SHARD_DUE[] =
    "INSERT INTO crl_shards (issuer, shard, due_at) "
    "SELECT issuer, shard, 0 FROM cert_status WHERE serial = ? "
    "ON DUPLICATE KEY UPDATE due_at = 0";
/* Walks cert_status_due from its start: the rows read are the due ones this claim takes plus
 * those other runners hold leased right now, however big the table. */
static const char SQL_STATUS_PICK[] =
    "SELECT " COLS " FROM cert_status WHERE ocsp_refresh_at <= ? AND lease_until <= ? "
    "ORDER BY ocsp_refresh_at LIMIT ? FOR UPDATE SKIP LOCKED";
/* One statement text for any chunk: the unused places repeat the first serial. */
static const char SQL_STATUS_LEASE[] =
    "UPDATE cert_status SET lease_owner = ?, lease_until = ? WHERE serial IN ("
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_STATUS_DUE[] =
    "SELECT serial FROM cert_status WHERE ocsp_refresh_at <= ? AND lease_until <= ? "
    "ORDER BY ocsp_refresh_at LIMIT 1";
static const char SQL_STATUS_PUBLISHED[] =
    "UPDATE cert_status SET ocsp_this_update = ?, ocsp_next_update = ?, ocsp_refresh_at = ?, "
    "lease_owner = NULL, lease_until = 0 WHERE serial = ? AND lease_owner = ?";
static const char SQL_STATUS_RETRY[] =
    "UPDATE cert_status SET ocsp_refresh_at = ?, lease_owner = NULL, lease_until = 0 "
    "WHERE serial = ? AND lease_owner = ?";
/* The shard look-up is one primary-key read per revoked row; as a subquery of a locking read
 * it takes no lock on crl_shards, which the CRL builder writes. */
static const char SQL_STATUS_EXPIRED[] =
    "SELECT " COLS " FROM cert_status s WHERE not_after < ? AND lease_until <= ? AND "
    "(status = 'good' OR EXISTS (SELECT 1 FROM crl_shards c WHERE c.issuer = s.issuer AND "
    "c.shard = s.shard AND c.this_update > s.not_after)) "
    "ORDER BY not_after LIMIT ? FOR UPDATE SKIP LOCKED";
static const char SQL_STATUS_DELETE[] =
    "DELETE FROM cert_status WHERE serial = ?";
static const char SQL_STATUS_GET[] =
    "SELECT " COLS " FROM cert_status WHERE serial = ?";

static const char SQL_READ_COUNTERS[] =
    "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE "
    "VARIABLE_NAME IN ('HANDLER_READ_KEY', 'HANDLER_READ_NEXT', 'HANDLER_READ_FIRST', "
    "'HANDLER_READ_RND_NEXT', 'ROWS_READ') LIMIT 6";

anvil_err
db_status_insert(struct db *db, const struct db_status *s)
{
	struct db_val p[] = {
		DB_PARAM_STR(s->serial, strlen(s->serial)),
		DB_PARAM_STR(s->issuer, strlen(s->issuer)),
		DB_PARAM_I64((int64_t)s->shard),
		DB_PARAM_I64(s->not_after),
		DB_PARAM_I64(s->this_update),
		DB_PARAM_I64(s->next_update),
		DB_PARAM_I64(s->refresh_at),
	};
	struct db_result res;

	return db_exec(db, SQL_STATUS_INSERT, p, 7, NULL, 0, &res);
}

anvil_err
db_status_revoke(struct db *db, const char *serial, int reason, int64_t now)
{
	struct db_val up[] = { DB_PARAM_I64(now),
		reason >= 0 ? (struct db_val)DB_PARAM_I64(reason) : (struct db_val)DB_PARAM_NULL,
		DB_PARAM_STR(serial, strlen(serial)) };
	struct db_val sh[] = { DB_PARAM_STR(serial, strlen(serial)) };
	struct db_result res;
	anvil_err e;

	if ((e = db_exec(db, SQL_STATUS_REVOKE, up, 3, NULL, 0, &res)) != AE_OK)
		return e;
	if (res.affected == 0)
		return AE_NOTFOUND;
	return db_exec(db, SQL_SHARD_DUE, sh, 1, NULL, 0, &res);
}

/* The columns of COLS, read into s. */
struct status_cols {
	struct db_val v[10];
	char status[16];
	struct db_status tmp;
};

static void
cols_init(struct status_cols *c)
{
	memset(c, 0, sizeof(*c));
	c->v[0] = (struct db_val)DB_COL_STR(c->tmp.serial, sizeof(c->tmp.serial));
	c->v[1] = (struct db_val)DB_COL_STR(c->tmp.issuer, sizeof(c->tmp.issuer));
	for (size_t i = 2; i < 10; i++)
		c->v[i] = (struct db_val)DB_COL_I64;
	c->v[4] = (struct db_val)DB_COL_STR(c->status, sizeof(c->status));
}

static anvil_err
cols_take(const struct db_val *v, struct db_status *s)
{
	memset(s, 0, sizeof(*s));
	if (v[0].len >= sizeof(s->serial) || v[1].len >= sizeof(s->issuer) || v[2].i < 0 ||
	    v[2].i > UINT32_MAX)
		return AE_DB;
	memcpy(s->serial, v[0].buf, v[0].len);
	memcpy(s->issuer, v[1].buf, v[1].len);
	s->shard = (uint32_t)v[2].i;
	s->not_after = v[3].i;
	s->revoked = v[4].len == 7 && memcmp(v[4].buf, "revoked", 7) == 0;
	s->revoked_at = v[5].is_null ? 0 : v[5].i;
	s->revoked_reason = v[6].is_null ? -1 : (int)v[6].i;
	s->this_update = v[7].i;
	s->next_update = v[8].i;
	s->refresh_at = v[9].i;
	return AE_OK;
}

struct pick {
	struct db_status *out;
	size_t n;
};

static anvil_err
pick_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct pick *pk = arg;
	anvil_err e;

	(void)ncols;
	if ((e = cols_take(cols, &pk->out[pk->n])) != AE_OK)
		return e;
	pk->n++;
	return AE_OK;
}

static anvil_err
lease(struct db *db, const char *owner, int64_t until, const struct db_status *rows, size_t n)
{
	for (size_t at = 0; at < n; at += LEASE_CHUNK) {
		struct db_val u[2 + LEASE_CHUNK];
		struct db_result res;
		size_t k = n - at < LEASE_CHUNK ? n - at : LEASE_CHUNK;
		anvil_err e;

		u[0] = (struct db_val)DB_PARAM_STR(owner, strlen(owner));
		u[1] = (struct db_val)DB_PARAM_I64(until);
		for (size_t i = 0; i < LEASE_CHUNK; i++) {
			const char *s = rows[at + (i < k ? i : 0)].serial;
			u[2 + i] = (struct db_val)DB_PARAM_STR(s, strlen(s));
		}
		if ((e = db_exec(db, SQL_STATUS_LEASE, u, 2 + LEASE_CHUNK, NULL, 0, &res)) != AE_OK)
			return e;
		/* Every row is locked by our SELECT: anything else is a bug, not a race. */
		if (res.affected != k)
			return AE_INTERNAL;
	}
	return AE_OK;
}

anvil_err
db_status_claim(struct db *db, const char *owner, int64_t now, int64_t lease_until, size_t max,
    struct db_status *out, size_t *n)
{
	struct status_cols c;
	struct pick pk = { out, 0 };
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(now), DB_PARAM_I64((int64_t)max) };
	anvil_err e;

	*n = 0;
	if (max == 0 || max > DB_STATUS_CLAIM_MAX || strlen(owner) > DB_STATUS_OWNER_MAX)
		return AE_RANGE;
	cols_init(&c);
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if ((e = db_exec_rows(db, SQL_STATUS_PICK, p, 3, c.v, 10, max, pick_row, &pk, NULL))
	    != AE_OK)
		goto out;
	if (pk.n == 0) {
		e = AE_NOTFOUND;
		goto out;
	}
	if ((e = lease(db, owner, lease_until, out, pk.n)) != AE_OK ||
	    (e = db_commit(db)) != AE_OK)
		goto out;
	*n = pk.n;
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_status_due(struct db *db, int64_t now)
{
	char serial[DB_STATUS_SERIAL_MAX + 1];
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(now) };
	struct db_val cols[] = { DB_COL_STR(serial, sizeof(serial)) };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_STATUS_DUE, p, 2, cols, 1, &res);

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
db_status_published(struct db *db, const char *owner, const char *serial, int64_t this_update,
    int64_t next_update, int64_t refresh_at)
{
	struct db_val p[] = { DB_PARAM_I64(this_update), DB_PARAM_I64(next_update),
		DB_PARAM_I64(refresh_at), DB_PARAM_STR(serial, strlen(serial)),
		DB_PARAM_STR(owner, strlen(owner)) };

	return owned_update(db, SQL_STATUS_PUBLISHED, p, 5);
}

anvil_err
db_status_retry(struct db *db, const char *owner, const char *serial, int64_t refresh_at)
{
	struct db_val p[] = { DB_PARAM_I64(refresh_at), DB_PARAM_STR(serial, strlen(serial)),
		DB_PARAM_STR(owner, strlen(owner)) };

	return owned_update(db, SQL_STATUS_RETRY, p, 3);
}

anvil_err
db_status_expired(struct db *db, int64_t before, int64_t now, size_t max,
    struct db_status *out, size_t *n)
{
	struct status_cols c;
	struct pick pk = { out, 0 };
	struct db_val p[] = { DB_PARAM_I64(before), DB_PARAM_I64(now),
		DB_PARAM_I64((int64_t)max) };
	anvil_err e;

	*n = 0;
	if (max == 0 || max > DB_STATUS_CLAIM_MAX)
		return AE_RANGE;
	cols_init(&c);
	e = db_exec_rows(db, SQL_STATUS_EXPIRED, p, 3, c.v, 10, max, pick_row, &pk, NULL);
	*n = pk.n;
	return e;
}

anvil_err
db_status_delete(struct db *db, const char *serial)
{
	struct db_val p[] = { DB_PARAM_STR(serial, strlen(serial)) };
	struct db_result res;

	return db_exec(db, SQL_STATUS_DELETE, p, 1, NULL, 0, &res);
}

anvil_err
db_status_get(struct db *db, const char *serial, struct db_status *out)
{
	struct status_cols c;
	struct db_val p[] = { DB_PARAM_STR(serial, strlen(serial)) };
	struct db_result res;
	anvil_err e;

	cols_init(&c);
	if ((e = db_exec(db, SQL_STATUS_GET, p, 1, c.v, 10, &res)) != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	return cols_take(c.v, out);
}

static anvil_err
counter_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct db_read_counters *c = arg;
	int64_t v = 0;

	(void)ncols;
	for (size_t i = 0; i < cols[1].len; i++) {
		if (cols[1].buf[i] < '0' || cols[1].buf[i] > '9' || v > INT64_MAX / 10 - 10)
			return AE_DB;
		v = v * 10 + (cols[1].buf[i] - '0');
	}
	if (strcmp(cols[0].buf, "HANDLER_READ_KEY") == 0)
		c->read_key = v;
	else if (strcmp(cols[0].buf, "HANDLER_READ_NEXT") == 0)
		c->read_next = v;
	else if (strcmp(cols[0].buf, "HANDLER_READ_FIRST") == 0)
		c->read_first = v;
	else if (strcmp(cols[0].buf, "HANDLER_READ_RND_NEXT") == 0)
		c->read_rnd_next = v;
	else if (strcmp(cols[0].buf, "ROWS_READ") == 0)
		c->rows_read = v;
	return AE_OK;
}

anvil_err
db_read_counters(struct db *db, struct db_read_counters *out)
{
	char name[64], val[32];
	struct db_val cols[] = { DB_COL_STR(name, sizeof(name)), DB_COL_STR(val, sizeof(val)) };

	memset(out, 0, sizeof(*out));
	return db_exec_rows(db, SQL_READ_COUNTERS, NULL, 0, cols, 2, 6, counter_row, out, NULL);
}
