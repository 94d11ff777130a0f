#include "config.h"
#include <stdio.h>
#include <string.h>
#include "db/issue.h"

static const char SQL_ORDER_FIN_GET[] =
    "SELECT o.id, o.account_id, o.status, o.expires, o.identifiers, o.profile, o.not_before, "
    "o.not_after, o.error, o.serial, o.csr, o.created FROM orders o WHERE o.id = ?";
static const char SQL_ORDER_FAIL[] =
    "UPDATE orders SET status = 'invalid', error = ? WHERE id = ? AND status = 'processing'";
static const char SQL_JOB_DONE[] =
    "UPDATE jobs SET state = 'done' WHERE kind = 'finalize' AND ref_id = ?";
/* order_authorizations' primary key, then the authorization's row, which carries its
 * challenges (migration 0009): a few rows per order. */
static const char SQL_ORDER_AUTHZ_CAA[] =
    "SELECT a.identifier_type, a.identifier_value, a.wildcard, "
    "IF(a.chall_status = 'valid', a.chall_attempted, NULL), "
    "IF(a.chall_status = 'valid', a.chall_validated, NULL) "
    "FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id "
    "WHERE oa.order_id = ? ORDER BY a.id LIMIT ?";
static const char SQL_SERIAL_OF_ORDER[] =
    "SELECT serial, created FROM serials WHERE order_id = ?";
static const char SQL_SERIAL_INSERT[] =
    "INSERT INTO serials (serial, order_id, created) VALUES (?, ?, ?)";

anvil_err
db_order_fin_get(struct db *db, int64_t id, struct db_order_fin *o)
{
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_val cols[] = {
		DB_COL_I64, DB_COL_I64,
		DB_COL_STR(o->status, sizeof(o->status)),
		DB_COL_I64,
		DB_COL_STR(o->identifiers, sizeof(o->identifiers)),
		DB_COL_STR(o->profile, sizeof(o->profile)),
		DB_COL_I64, DB_COL_I64,
		DB_COL_STR(o->error, sizeof(o->error)),
		DB_COL_STR(o->serial, sizeof(o->serial)),
		DB_COL_STR((char *)o->csr, sizeof(o->csr)),
		DB_COL_I64,
	};
	struct db_result res;
	anvil_err e;

	e = db_exec(db, SQL_ORDER_FIN_GET, p, 1, cols, sizeof(cols) / sizeof(cols[0]), &res);
	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	o->id = cols[0].i;
	o->account_id = cols[1].i;
	o->expires = cols[3].i;
	o->not_before = cols[6].i;
	o->not_after = cols[7].i;
	o->csr_len = cols[10].len;
	o->created = cols[11].i;
	return AE_OK;
}

anvil_err
db_order_fail(struct db *db, int64_t id, const char *problem)
{
	struct db_val up[] = { DB_PARAM_STR(problem, strlen(problem)), DB_PARAM_I64(id) };
	struct db_val job[] = { DB_PARAM_I64(id) };
	struct db_result res;
	anvil_err e;

	if (strlen(problem) > DB_PROBLEM_MAX)
		return AE_TOOBIG;
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if ((e = db_exec(db, SQL_ORDER_FAIL, up, 2, NULL, 0, &res)) != AE_OK ||
	    (e = db_exec(db, SQL_JOB_DONE, job, 1, NULL, 0, &res)) != AE_OK)
		goto out;
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_serial_of_order(struct db *db, int64_t order_id, char serial[DB_SERIAL_HEX_MAX + 1],
    int64_t *created)
{
	struct db_val p[] = { DB_PARAM_I64(order_id) };
	struct db_val cols[] = { DB_COL_STR(serial, DB_SERIAL_HEX_MAX + 1), DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_SERIAL_OF_ORDER, p, 1, cols, 2, &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	*created = cols[1].i;
	return AE_OK;
}

anvil_err
db_serial_insert(struct db *db, const char *serial, int64_t order_id, int64_t now)
{
	struct db_val p[] = { DB_PARAM_STR(serial, strlen(serial)), DB_PARAM_I64(order_id),
		DB_PARAM_I64(now) };
	struct db_result res;

	/* Outside any transaction: autocommit makes it durable before the first signature. */
	return db_exec(db, SQL_SERIAL_INSERT, p, 3, NULL, 0, &res);
}

anvil_err
db_serial_record(struct db *db, struct db_serial_new *s, int64_t order_id, int64_t now,
    int tries)
{
	anvil_err e = AE_DB_DUPLICATE;

	for (int i = 0; e == AE_DB_DUPLICATE && i < tries; i++) {
		struct db_val p[] = { DB_PARAM_STR(s->serial, 0), DB_PARAM_I64(order_id),
			DB_PARAM_I64(now) };
		struct db_result res;

		if ((e = s->make(s->arg, s->serial)) != AE_OK)
			break;
		p[0].len = strlen(s->serial);
		e = db_exec(db, SQL_SERIAL_INSERT, p, 3, NULL, 0, &res);
	}
	if (e != AE_OK)
		s->serial[0] = '\0';
	return e;
}

struct caa_sink {
	struct db_authz_caa *out;
	size_t n, max;
};

static anvil_err
caa_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct caa_sink *k = arg;
	struct db_authz_caa *a;

	(void)ncols;
	if (k->n == k->max)
		return AE_TOOBIG;
	a = &k->out[k->n];
	memset(a, 0, sizeof(*a));
	if (cols[0].len >= sizeof(a->ident_type) || cols[1].len >= sizeof(a->value) ||
	    cols[3].len >= sizeof(a->method))
		return AE_TOOBIG;
	memcpy(a->ident_type, cols[0].buf, cols[0].len);
	memcpy(a->value, cols[1].buf, cols[1].len);
	a->wildcard = cols[2].i != 0;
	if (!cols[3].is_null)
		memcpy(a->method, cols[3].buf, cols[3].len);
	a->validated = cols[4].is_null ? 0 : cols[4].i;
	k->n++;
	return AE_OK;
}

anvil_err
db_order_authz_caa(struct db *db, int64_t order_id, struct db_authz_caa *out, size_t max,
    size_t *n)
{
	char type[16], value[300], method[32];
	struct db_val p[] = { DB_PARAM_I64(order_id), DB_PARAM_I64((int64_t)max + 1) };
	struct db_val cols[] = { DB_COL_STR(type, sizeof(type)), DB_COL_STR(value, sizeof(value)),
		DB_COL_I64, DB_COL_STR(method, sizeof(method)), DB_COL_I64 };
	struct caa_sink k = { .out = out, .max = max };
	anvil_err e;

	*n = 0;
	e = db_exec_rows(db, SQL_ORDER_AUTHZ_CAA, p, 2, cols, 5, max, caa_row, &k, NULL);
	if (e == AE_OK)
		*n = k.n;
	return e;
}
