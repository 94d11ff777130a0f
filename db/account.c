#include "config.h"
#include <stdio.h>
#include <string.h>
#include "db/acme.h"

static const char *const status_names[] = { "valid", "deactivated", "revoked" };

const char *
db_account_status_name(enum db_account_status s)
{
	return (size_t)s < sizeof(status_names) / sizeof(status_names[0]) ?
	    status_names[s] : "invalid";
}

/* With the profile scope of the account's EAB key, which newOrder checks: read here, with the
 * lookup every request makes, rather than in a round trip of its own. */
static const char SQL_ACCT_BY_ID[] =
    "SELECT " DB_ACCOUNT_SELECT " FROM " DB_ACCOUNT_FROM " WHERE ac.id = ?";
static const char SQL_ACCT_BY_THUMB[] =
    "SELECT " DB_ACCOUNT_SELECT " FROM " DB_ACCOUNT_FROM " WHERE ac.thumbprint = ?";
static const char SQL_ACCT_INSERT[] =
    "INSERT INTO accounts (thumbprint, jwk, contact, eab_kid, created_net) VALUES (?, ?, ?, ?, ?)";
/* The count and its checks in one statement: the row lock it takes makes parallel
 * registrations with one key wait for each other, and each sees the count the last committed. */
static const char SQL_EAB_COUNT[] =
    "UPDATE eab_keys SET accounts_bound = accounts_bound + 1 WHERE kid = ? AND revoked IS NULL "
    "AND (expires IS NULL OR expires > UNIX_TIMESTAMP()) "
    "AND (max_accounts IS NULL OR accounts_bound < max_accounts)";
/* account_id: the first account, for releases before migration 0006 (it says why). */
static const char SQL_EAB_FIRST[] =
    "UPDATE eab_keys SET account_id = COALESCE(account_id, ?) WHERE kid = ?";
static const char SQL_ACCT_SET_CONTACT[] =
    "UPDATE accounts SET contact = ? WHERE id = ? AND status = 'valid'";
static const char SQL_ACCT_DEACTIVATE[] =
    "UPDATE accounts SET status = 'deactivated' WHERE id = ? AND status = 'valid'";
static const char SQL_ACCT_SET_KEY[] =
    "UPDATE accounts SET thumbprint = ?, jwk = ? WHERE id = ? AND thumbprint = ? "
    "AND status = 'valid'";

void
db_account_bind(struct db_account *a, char *status, struct db_val *cols)
{
	const struct db_val c[DB_ACCOUNT_NCOLS] = {
		DB_COL_I64,
		DB_COL_STR(a->thumbprint, sizeof(a->thumbprint)),
		DB_COL_STR(a->jwk, sizeof(a->jwk)),
		DB_COL_STR(a->contact, sizeof(a->contact)),
		DB_COL_STR(status, 16),
		DB_COL_STR(a->eab_profiles, sizeof(a->eab_profiles)),
	};

	memcpy(cols, c, sizeof(c));
}

void
db_account_fill(struct db_account *a, const char *status, const struct db_val *cols)
{
	a->id = cols[0].i;
	a->eab_scoped = !cols[5].is_null && a->eab_profiles[0] != '\0';
	if (!a->eab_scoped)
		a->eab_profiles[0] = '\0';
	a->status = DB_ACCT_REVOKED;
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(status, status_names[i]) == 0)
			a->status = (enum db_account_status)i;
}

static anvil_err
account_fetch(struct db *db, const char *sql, const struct db_val *param, struct db_account *a)
{
	char status[16];
	struct db_val cols[DB_ACCOUNT_NCOLS];
	struct db_result res;
	anvil_err e;

	db_account_bind(a, status, cols);
	e = db_exec(db, sql, param, 1, cols, DB_ACCOUNT_NCOLS, &res);
	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	db_account_fill(a, status, cols);
	return AE_OK;
}

anvil_err
db_account_by_id(struct db *db, int64_t id, struct db_account *out)
{
	struct db_val p[] = { DB_PARAM_I64(id) };
	return account_fetch(db, SQL_ACCT_BY_ID, p, out);
}

anvil_err
db_account_by_thumbprint(struct db *db, const char *thumbprint, struct db_account *out)
{
	struct db_val p[] = { DB_PARAM_STR(thumbprint, strlen(thumbprint)) };
	return account_fetch(db, SQL_ACCT_BY_THUMB, p, out);
}

anvil_err
db_account_create(struct db *db, const char *thumbprint, const char *jwk, const char *contact,
    const char *eab_kid, struct db_rl_net *net, int64_t *id)
{
	struct db_val p[] = {
		DB_PARAM_STR(thumbprint, strlen(thumbprint)),
		DB_PARAM_STR(jwk, strlen(jwk)),
		DB_PARAM_STR(contact, strlen(contact)),
		DB_PARAM_NULL,
		DB_PARAM_NULL,
	};
	struct db_result res;
	anvil_err e;

	if (eab_kid != NULL) {
		p[3].type = DB_STR;
		p[3].s = eab_kid;
		p[3].len = strlen(eab_kid);
	}
	if (net != NULL) {
		p[4].type = DB_STR;
		p[4].s = net->net;
		p[4].len = strlen(net->net);
	}
	if (eab_kid == NULL && net == NULL) {
		if ((e = db_exec(db, SQL_ACCT_INSERT, p, 5, NULL, 0, &res)) == AE_OK)
			*id = (int64_t)res.insert_id;
		return e;
	}
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if (net != NULL && (e = db_rl_net_admit(db, net)) != AE_OK)
		goto out;
	if (eab_kid != NULL) {
		struct db_val k[] = { DB_PARAM_STR(eab_kid, strlen(eab_kid)) };
		if ((e = db_exec(db, SQL_EAB_COUNT, k, 1, NULL, 0, &res)) != AE_OK)
			goto out;
		if (res.affected != 1) {
			e = AE_EXISTS;
			goto out;
		}
	}
	if ((e = db_exec(db, SQL_ACCT_INSERT, p, 5, NULL, 0, &res)) != AE_OK)
		goto out;
	*id = (int64_t)res.insert_id;
	if (eab_kid != NULL) {
		struct db_val b[] = { DB_PARAM_I64(*id), DB_PARAM_STR(eab_kid, strlen(eab_kid)) };
		if ((e = db_exec(db, SQL_EAB_FIRST, b, 2, NULL, 0, &res)) != AE_OK)
			goto out;
	}
	e = db_commit(db);
	/* Networks quiet for a window count nothing: best effort, the next creation retries. */
	if (e == AE_OK && net != NULL)
		(void)db_rl_net_purge(db, net->now - net->window);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_account_set_contact(struct db *db, int64_t id, const char *contact)
{
	struct db_val p[] = { DB_PARAM_STR(contact, strlen(contact)), DB_PARAM_I64(id) };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_ACCT_SET_CONTACT, p, 2, NULL, 0, &res);

	/* affected is 0 when the contact did not change, too: not an error. */
	return e;
}

anvil_err
db_account_deactivate(struct db *db, int64_t id)
{
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_result res;

	return db_exec(db, SQL_ACCT_DEACTIVATE, p, 1, NULL, 0, &res);
}

anvil_err
db_account_set_key(struct db *db, int64_t id, const char *old_thumbprint, const char *thumbprint,
    const char *jwk)
{
	struct db_val p[] = {
		DB_PARAM_STR(thumbprint, strlen(thumbprint)),
		DB_PARAM_STR(jwk, strlen(jwk)),
		DB_PARAM_I64(id),
		DB_PARAM_STR(old_thumbprint, strlen(old_thumbprint)),
	};
	struct db_result res;
	anvil_err e = db_exec(db, SQL_ACCT_SET_KEY, p, 4, NULL, 0, &res);

	if (e == AE_OK && res.affected != 1)
		e = AE_NOTFOUND;
	return e;
}
