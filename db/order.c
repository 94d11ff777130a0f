#include "config.h"
#include <stdio.h>
#include <string.h>
#include "db/order.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const order_names[] = { "pending", "ready", "processing", "valid",
	"invalid" };
static const char *const authz_names[] = { "pending", "valid", "invalid", "deactivated",
	"expired", "revoked" };
static const char *const chall_names[] = { "pending", "processing", "valid", "invalid" };
static const char *const ident_names[] = { "dns", "ip" };

const char *
db_order_status_name(enum db_order_status s)
{
	return (size_t)s < N(order_names) ? order_names[s] : "invalid";
}

const char *
db_authz_status_name(enum db_authz_status s)
{
	return (size_t)s < N(authz_names) ? authz_names[s] : "invalid";
}

const char *
db_chall_status_name(enum db_chall_status s)
{
	return (size_t)s < N(chall_names) ? chall_names[s] : "invalid";
}

const char *
db_ident_type_name(enum db_ident_type t)
{
	return (size_t)t < N(ident_names) ? ident_names[t] : "dns";
}

/* Index of s in names, or dflt. */
static int
name_index(const char *const *names, size_t n, const char *s, int dflt)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return dflt;
}

static const char SQL_AUTHZ_FIND_VALID[] =
    "SELECT id, expires FROM authorizations WHERE account_id = ? AND identifier_type = ? AND "
    "identifier_value = ? AND status = 'valid' AND expires > ? AND wildcard = ? AND "
    "profile = ? AND created >= ? ORDER BY expires DESC LIMIT 1";
static const char SQL_AUTHZ_INSERT[] =
    "INSERT INTO authorizations (account_id, identifier_type, identifier_value, wildcard, "
    "status, expires, profile, created) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)";
static const char SQL_CHALL_INSERT[] =
    "INSERT INTO challenges (authz_id, type, token) VALUES (?, ?, ?)";
static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders (account_id, status, expires, identifiers, profile, not_before, "
    "not_after, replaces, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ORDER_AUTHZ_INSERT[] =
    "INSERT INTO order_authorizations (order_id, authz_id) VALUES (?, ?)";
static const char SQL_ORDER_DOMAIN_INSERT[] =
    "INSERT IGNORE INTO order_domains (domain, order_id, created) VALUES (?, ?, ?)";
static const char SQL_ORDER_GET[] =
    "SELECT account_id, status, expires, identifiers, profile, not_before, not_after, error, "
    "serial, replaces, created FROM orders WHERE id = ?";
static const char SQL_ORDER_AUTHZ_NEXT[] =
    "SELECT a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, a.status, "
    "a.expires, a.profile, a.created FROM order_authorizations oa JOIN authorizations a ON "
    "a.id = oa.authz_id WHERE oa.order_id = ? AND oa.authz_id > ? ORDER BY oa.authz_id LIMIT 1";
static const char SQL_ORDER_SET_STATUS[] =
    "UPDATE orders SET status = ?, error = ? WHERE id = ? AND status = ?";
static const char SQL_ORDER_NEXT_OF_ACCOUNT[] =
    "SELECT id FROM orders WHERE account_id = ? AND id > ? ORDER BY id LIMIT 1";

anvil_err
db_authz_find_valid(struct db *db, int64_t account_id, enum db_ident_type type, const char *value,
    int wildcard, const char *profile, int64_t valid_after, int64_t created_after, int64_t *id,
    int64_t *expires)
{
	const char *t = db_ident_type_name(type);
	struct db_val p[] = {
		DB_PARAM_I64(account_id),
		DB_PARAM_STR(t, strlen(t)),
		DB_PARAM_STR(value, strlen(value)),
		DB_PARAM_I64(valid_after),
		DB_PARAM_I64(wildcard ? 1 : 0),
		DB_PARAM_STR(profile, strlen(profile)),
		DB_PARAM_I64(created_after),
	};
	struct db_val c[] = { DB_COL_I64, DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_AUTHZ_FIND_VALID, p, N(p), c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	*id = c[0].i;
	*expires = c[1].i;
	return AE_OK;
}

/* Inside the caller's transaction. */
static anvil_err
authz_insert(struct db *db, int64_t account_id, const char *profile, int64_t expires,
    int64_t now, struct db_new_authz *a)
{
	const char *t = db_ident_type_name(a->type);
	struct db_val p[] = {
		DB_PARAM_I64(account_id),
		DB_PARAM_STR(t, strlen(t)),
		DB_PARAM_STR(a->value, strlen(a->value)),
		DB_PARAM_I64(a->wildcard ? 1 : 0),
		DB_PARAM_I64(expires),
		DB_PARAM_STR(profile, strlen(profile)),
		DB_PARAM_I64(now),
	};
	struct db_result res;
	anvil_err e;

	if ((e = db_exec(db, SQL_AUTHZ_INSERT, p, N(p), NULL, 0, &res)) != AE_OK)
		return e;
	a->id = (int64_t)res.insert_id;
	for (size_t i = 0; i < a->nchall; i++) {
		struct db_val cp[] = {
			DB_PARAM_I64(a->id),
			DB_PARAM_STR(a->chall_types[i], strlen(a->chall_types[i])),
			DB_PARAM_STR(a->tokens[i], strlen(a->tokens[i])),
		};
		if ((e = db_exec(db, SQL_CHALL_INSERT, cp, N(cp), NULL, 0, &res)) != AE_OK)
			return e;
	}
	return AE_OK;
}

anvil_err
db_authz_create(struct db *db, int64_t account_id, const char *profile, int64_t expires,
    int64_t now, struct db_new_authz *a)
{
	anvil_err e;

	if ((e = db_begin(db)) != AE_OK)
		return e;
	if ((e = authz_insert(db, account_id, profile, expires, now, a)) == AE_OK)
		e = db_commit(db);
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_order_create(struct db *db, struct db_new_order *o, int64_t *id)
{
	int ready = 1;
	struct db_result res;
	anvil_err e;

	for (size_t i = 0; i < o->nauthz; i++)
		if (o->authz[i].reuse_id <= 0)
			ready = 0;
	if ((e = db_begin(db)) != AE_OK)
		return e;
	for (size_t i = 0; i < o->nauthz; i++) {
		struct db_new_authz *a = &o->authz[i];
		if (a->reuse_id > 0)
			a->id = a->reuse_id;
		else if ((e = authz_insert(db, o->account_id, o->profile, o->authz_expires, o->now,
		    a)) != AE_OK)
			goto out;
	}
	{
		const char *st = ready ? "ready" : "pending";
		struct db_val p[] = {
			DB_PARAM_I64(o->account_id),
			DB_PARAM_STR(st, strlen(st)),
			DB_PARAM_I64(o->expires),
			DB_PARAM_STR(o->identifiers, strlen(o->identifiers)),
			DB_PARAM_STR(o->profile, strlen(o->profile)),
			DB_PARAM_I64(o->not_before),
			DB_PARAM_I64(o->not_after),
			DB_PARAM_NULL,
			DB_PARAM_I64(o->now),
		};
		if (o->not_before == 0)
			p[5].type = DB_NULL;
		if (o->not_after == 0)
			p[6].type = DB_NULL;
		if (o->replaces != NULL) {
			p[7].type = DB_STR;
			p[7].s = o->replaces;
			p[7].len = strlen(o->replaces);
		}
		e = db_exec(db, SQL_ORDER_INSERT, p, N(p), NULL, 0, &res);
		if (e == AE_DB_DUPLICATE && o->replaces != NULL)
			e = AE_EXISTS;
		if (e != AE_OK)
			goto out;
		*id = (int64_t)res.insert_id;
	}
	for (size_t i = 0; i < o->nauthz; i++) {
		struct db_val p[] = { DB_PARAM_I64(*id), DB_PARAM_I64(o->authz[i].id) };
		e = db_exec(db, SQL_ORDER_AUTHZ_INSERT, p, N(p), NULL, 0, &res);
		/* The same reused authorization for two identifiers cannot happen (identifiers
		 * are deduplicated), but a duplicate link is harmless. */
		if (e != AE_OK && e != AE_DB_DUPLICATE)
			goto out;
	}
	for (size_t i = 0; i < o->ndomains; i++) {
		struct db_val p[] = {
			DB_PARAM_STR(o->domains[i], strlen(o->domains[i])),
			DB_PARAM_I64(*id),
			DB_PARAM_I64(o->now),
		};
		if ((e = db_exec(db, SQL_ORDER_DOMAIN_INSERT, p, N(p), NULL, 0, &res)) != AE_OK)
			goto out;
	}
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_order_get(struct db *db, int64_t id, struct db_order *o)
{
	char status[16];
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_val c[] = {
		DB_COL_I64,
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64,
		DB_COL_STR(o->identifiers, sizeof(o->identifiers)),
		DB_COL_STR(o->profile, sizeof(o->profile)),
		DB_COL_I64,
		DB_COL_I64,
		DB_COL_STR(o->error, sizeof(o->error)),
		DB_COL_STR(o->serial, sizeof(o->serial)),
		DB_COL_STR(o->replaces, sizeof(o->replaces)),
		DB_COL_I64,
	};
	struct db_result res;
	anvil_err e = db_exec(db, SQL_ORDER_GET, p, N(p), c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	o->id = id;
	o->account_id = c[0].i;
	o->status = (enum db_order_status)name_index(order_names, N(order_names), status,
	    DB_ORDER_INVALID);
	o->expires = c[2].i;
	o->not_before = c[5].i;
	o->not_after = c[6].i;
	o->created = c[10].i;
	return AE_OK;
}

/* Fills a from the 9 columns of an authorization row. */
static void
authz_from_cols(const struct db_val *c, const char *type, const char *status,
    struct db_authz *a)
{
	a->id = c[0].i;
	a->account_id = c[1].i;
	a->type = (enum db_ident_type)name_index(ident_names, N(ident_names), type, DB_IDENT_DNS);
	a->wildcard = c[4].i != 0;
	a->status = (enum db_authz_status)name_index(authz_names, N(authz_names), status,
	    DB_AUTHZ_INVALID);
	a->expires = c[6].i;
	a->created = c[8].i;
}

anvil_err
db_order_authz_next(struct db *db, int64_t order_id, int64_t after, struct db_authz *a)
{
	struct db_val p[] = { DB_PARAM_I64(order_id), DB_PARAM_I64(after) };

	return db_authz_row(db, SQL_ORDER_AUTHZ_NEXT, p, N(p), a);
}

anvil_err
db_order_set_status(struct db *db, int64_t id, enum db_order_status from,
    enum db_order_status to, const char *error, int *changed)
{
	const char *f = db_order_status_name(from), *t = db_order_status_name(to);
	struct db_val p[] = {
		DB_PARAM_STR(t, strlen(t)),
		DB_PARAM_NULL,
		DB_PARAM_I64(id),
		DB_PARAM_STR(f, strlen(f)),
	};
	struct db_result res;
	anvil_err e;

	if (error != NULL) {
		p[1].type = DB_STR;
		p[1].s = error;
		p[1].len = strlen(error);
	}
	e = db_exec(db, SQL_ORDER_SET_STATUS, p, N(p), NULL, 0, &res);
	*changed = e == AE_OK && res.affected == 1;
	return e;
}

anvil_err
db_order_next_of_account(struct db *db, int64_t account_id, int64_t after, int64_t *id)
{
	struct db_val p[] = { DB_PARAM_I64(account_id), DB_PARAM_I64(after) };
	struct db_val c[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_ORDER_NEXT_OF_ACCOUNT, p, N(p), c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	*id = c[0].i;
	return AE_OK;
}

anvil_err
db_authz_row(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    struct db_authz *a)
{
	char type[8], status[16];
	struct db_val c[] = {
		DB_COL_I64,
		DB_COL_I64,
		DB_COL_STR(type, sizeof(type)),
		DB_COL_STR(a->value, sizeof(a->value)),
		DB_COL_I64,
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64,
		DB_COL_STR(a->profile, sizeof(a->profile)),
		DB_COL_I64,
	};
	struct db_result res;
	anvil_err e = db_exec(db, sql, params, nparams, c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	authz_from_cols(c, type, status, a);
	return AE_OK;
}

int
db_chall_status_index(const char *s)
{
	return name_index(chall_names, N(chall_names), s, DB_CHALL_INVALID);
}
