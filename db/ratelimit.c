#include "config.h"
#include <string.h>
#include "db/order.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Each count is a range of one index (migrations/0002_issuance.sql names it). */
static const char SQL_EXEMPT[] =
    "SELECT 1 FROM ratelimit_exempt WHERE account_id = ?";
static const char SQL_EXEMPT_ADD[] =
    "INSERT IGNORE INTO ratelimit_exempt (account_id, created) VALUES (?, ?)";
static const char SQL_EXEMPT_DEL[] =
    "DELETE FROM ratelimit_exempt WHERE account_id = ?";
/* orders_account_created */
static const char SQL_ORDERS_SINCE[] =
    "SELECT COUNT(*), COALESCE(MIN(created), 0) FROM orders WHERE account_id = ? AND "
    "created >= ?";
/* authz_account_status */
static const char SQL_PENDING_AUTHZ[] =
    "SELECT COUNT(*) FROM authorizations WHERE account_id = ? AND status = 'pending' AND "
    "expires > ?";
/* authz_reuse (account, identifier, status), then created on the few rows of that range */
static const char SQL_FAILED_SINCE[] =
    "SELECT COUNT(*), COALESCE(MIN(created), 0) FROM authorizations WHERE account_id = ? AND "
    "identifier_type = ? AND identifier_value = ? AND status = 'invalid' AND created >= ?";
/* order_domains_created, then orders by primary key */
static const char SQL_CERTS_SINCE[] =
    "SELECT COUNT(*), COALESCE(MIN(d.created), 0) FROM order_domains d JOIN orders o ON "
    "o.id = d.order_id WHERE d.domain = ? AND d.created >= ? AND o.status = 'valid'";

static anvil_err
count2(struct db *db, const char *sql, const struct db_val *p, size_t np, size_t ncols,
    int64_t *n, int64_t *oldest)
{
	struct db_val c[] = { DB_COL_I64, DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, sql, p, np, c, ncols, &res);

	if (e != AE_OK)
		return e;
	*n = res.found ? c[0].i : 0;
	if (oldest != NULL)
		*oldest = ncols > 1 && res.found ? c[1].i : 0;
	return AE_OK;
}

anvil_err
db_rl_exempt(struct db *db, int64_t account_id, int *exempt)
{
	struct db_val p[] = { DB_PARAM_I64(account_id) };
	struct db_val c[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_EXEMPT, p, N(p), c, N(c), &res);

	*exempt = e == AE_OK && res.found;
	return e;
}

anvil_err
db_rl_set_exempt(struct db *db, int64_t account_id, int exempt, int64_t now)
{
	struct db_val p[] = { DB_PARAM_I64(account_id), DB_PARAM_I64(now) };
	struct db_result res;

	if (exempt)
		return db_exec(db, SQL_EXEMPT_ADD, p, 2, NULL, 0, &res);
	return db_exec(db, SQL_EXEMPT_DEL, p, 1, NULL, 0, &res);
}

anvil_err
db_rl_orders_since(struct db *db, int64_t account_id, int64_t since, int64_t *n,
    int64_t *oldest)
{
	struct db_val p[] = { DB_PARAM_I64(account_id), DB_PARAM_I64(since) };

	return count2(db, SQL_ORDERS_SINCE, p, N(p), 2, n, oldest);
}

anvil_err
db_rl_pending_authz(struct db *db, int64_t account_id, int64_t now, int64_t *n)
{
	struct db_val p[] = { DB_PARAM_I64(account_id), DB_PARAM_I64(now) };

	return count2(db, SQL_PENDING_AUTHZ, p, N(p), 1, n, NULL);
}

anvil_err
db_rl_failed_since(struct db *db, int64_t account_id, enum db_ident_type type, const char *value,
    int64_t since, int64_t *n, int64_t *oldest)
{
	const char *t = db_ident_type_name(type);
	struct db_val p[] = {
		DB_PARAM_I64(account_id),
		DB_PARAM_STR(t, strlen(t)),
		DB_PARAM_STR(value, strlen(value)),
		DB_PARAM_I64(since),
	};

	return count2(db, SQL_FAILED_SINCE, p, N(p), 2, n, oldest);
}

anvil_err
db_rl_certs_since(struct db *db, const char *domain, int64_t since, int64_t *n, int64_t *oldest)
{
	struct db_val p[] = { DB_PARAM_STR(domain, strlen(domain)), DB_PARAM_I64(since) };

	return count2(db, SQL_CERTS_SINCE, p, N(p), 2, n, oldest);
}
