#include "config.h"
#include <string.h>
#include "db/acme.h"
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

/* The account's row, locked for the rest of the transaction: a second request of the account
 * waits here until the first one committed, and its counts (consistent reads taken after the
 * lock) include what the first one created. */
static const char SQL_ACCOUNT_LOCK[] =
    "SELECT id FROM accounts WHERE id = ? FOR UPDATE";

/* ratelimit_nets' row of the network, created or locked: parallel newAccounts from one network
 * count one after the other. */
static const char SQL_NET_LOCK[] =
    "INSERT INTO ratelimit_nets (net, used) VALUES (?, ?) ON DUPLICATE KEY UPDATE used = "
    "GREATEST(used, VALUES(used))";
/* accounts_net_created */
static const char SQL_NET_ACCOUNTS[] =
    "SELECT COUNT(*), COALESCE(CAST(UNIX_TIMESTAMP(MIN(created)) AS SIGNED), 0) FROM accounts "
    "WHERE created_net = ? AND created >= FROM_UNIXTIME(?)";
/* ratelimit_nets_used; bounded, so a purge never holds many locks */
static const char SQL_NET_PURGE[] =
    "DELETE FROM ratelimit_nets WHERE used < ? LIMIT 100";

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

anvil_err
db_rl_account_admit(struct db *db, int64_t account_id, int64_t now, int order,
    size_t new_authz, struct db_rl_account *rl)
{
	struct db_val lp[] = { DB_PARAM_I64(account_id) };
	struct db_val lc[] = { DB_COL_I64 };
	struct db_result res;
	int64_t n = 0, oldest = 0;
	int orders = order && rl->orders_limit > 0;
	int pending = new_authz > 0 && rl->pending_limit > 0;
	anvil_err e;

	rl->hit = NULL;
	rl->oldest = 0;
	if (!orders && !pending)
		return AE_OK;
	if ((e = db_exec(db, SQL_ACCOUNT_LOCK, lp, N(lp), lc, N(lc), &res)) != AE_OK)
		return e;
	if (orders) {
		if ((e = db_rl_orders_since(db, account_id, now - rl->orders_window, &n,
		    &oldest)) != AE_OK)
			return e;
		if (n >= rl->orders_limit) {
			rl->hit = "new_orders";
			rl->oldest = oldest;
			return AE_DENIED;
		}
	}
	if (pending) {
		if ((e = db_rl_pending_authz(db, account_id, now, &n)) != AE_OK)
			return e;
		if (n + (int64_t)new_authz > rl->pending_limit) {
			rl->hit = "pending_authorizations";
			return AE_DENIED;
		}
	}
	return AE_OK;
}

anvil_err
db_rl_net_admit(struct db *db, struct db_rl_net *net)
{
	struct db_val lp[] = { DB_PARAM_STR(net->net, strlen(net->net)), DB_PARAM_I64(net->now) };
	struct db_val cp[] = {
		DB_PARAM_STR(net->net, strlen(net->net)),
		DB_PARAM_I64(net->now - net->window),
	};
	struct db_result res;
	int64_t n = 0;
	anvil_err e;

	net->oldest = 0;
	if ((e = db_exec(db, SQL_NET_LOCK, lp, N(lp), NULL, 0, &res)) != AE_OK ||
	    (e = count2(db, SQL_NET_ACCOUNTS, cp, N(cp), 2, &n, &net->oldest)) != AE_OK)
		return e;
	return n >= net->limit ? AE_DENIED : AE_OK;
}

anvil_err
db_rl_net_purge(struct db *db, int64_t before)
{
	struct db_val p[] = { DB_PARAM_I64(before) };
	struct db_result res;

	return db_exec(db, SQL_NET_PURGE, p, N(p), NULL, 0, &res);
}
