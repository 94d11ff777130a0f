#include "config.h"
#include <stdio.h>
#include <string.h>
#include "db/acme.h"
#include "db/ctfinal.h"
#include "db/issue.h"
#include "db/status.h"
#include "lib/log.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char SQL_CERT_INSERT[] =
    "INSERT INTO certificates (serial, account_id, order_id, issuer, profile, not_before, "
    "not_after, der, spki_sha256, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* The order valid and its finalize job done in one statement; the job joined LEFT so that an
 * order without one still turns valid, and no row changes unless the order was processing. */
static const char SQL_ORDER_VALID[] =
    "UPDATE orders o LEFT JOIN jobs j ON j.kind = 'finalize' AND j.ref_id = o.id "
    "SET o.status = 'valid', o.serial = ?, j.state = 'done' "
    "WHERE o.id = ? AND o.status = 'processing'";
static const char SQL_CERT_GET[] =
    "SELECT serial, account_id, order_id, issuer, profile, not_before, not_after, der, "
    "spki_sha256, status, revoked_at, revoked_reason, created FROM certificates WHERE serial = ?";
/* The same with the signing account (db/acme.h), which drives it: a missing certificate is a
 * row with NULL for c.serial. */
static const char SQL_CERT_GET_ACCT[] =
    "SELECT c.serial, c.account_id, c.order_id, c.issuer, c.profile, c.not_before, "
    "c.not_after, c.der, c.spki_sha256, c.status, c.revoked_at, c.revoked_reason, c.created, "
    DB_ACCOUNT_SELECT " FROM " DB_ACCOUNT_FROM " LEFT JOIN certificates c ON c.serial = ? "
    "WHERE ac.id = ?";
static const char SQL_CERT_REVOKE[] =
    "UPDATE certificates SET status = 'revoked', revoked_at = ?, revoked_reason = ? "
    "WHERE serial = ? AND status = 'good'";
static const char SQL_KEY_BLOCK[] =
    "INSERT IGNORE INTO blocked_keys (spki_sha256, reason, created) VALUES (?, ?, ?)";
/* Finalize's two key look-ups in one statement. */
static const char SQL_KEY_CHECK[] =
    "SELECT EXISTS(SELECT 1 FROM blocked_keys WHERE spki_sha256 = ?), "
    "EXISTS(SELECT 1 FROM accounts WHERE thumbprint = ?)";
static const char SQL_AUTHZ_VALID[] =
    "SELECT id FROM authorizations WHERE account_id = ? AND identifier_type = ? AND "
    "identifier_value = ? AND wildcard = ? AND status = 'valid' AND expires > ? LIMIT 1";
static const char SQL_ORDER_REPLACING[] =
    "SELECT id FROM orders WHERE replaces = ?";

static anvil_err
cert_issued_tx(struct db *db, const struct db_cert *c, const struct db_status *st,
    uint64_t ct_final_logs)
{
	struct db_val ins[] = {
		DB_PARAM_STR(c->serial, strlen(c->serial)),
		DB_PARAM_I64(c->account_id),
		DB_PARAM_I64(c->order_id),
		DB_PARAM_STR(c->issuer, strlen(c->issuer)),
		DB_PARAM_STR(c->profile, strlen(c->profile)),
		DB_PARAM_I64(c->not_before),
		DB_PARAM_I64(c->not_after),
		DB_PARAM_STR((const char *)c->der, c->der_len),
		DB_PARAM_STR((const char *)c->spki_sha256, DB_SPKI_HASH_LEN),
		DB_PARAM_I64(c->created),
	};
	struct db_val up[] = { DB_PARAM_STR(c->serial, strlen(c->serial)),
		DB_PARAM_I64(c->order_id) };
	struct db_result res;
	anvil_err e;

	if (c->der_len > DB_CERT_DER_MAX)
		return AE_TOOBIG;
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if ((e = db_exec(db, SQL_CERT_INSERT, ins, 10, NULL, 0, &res)) != AE_OK ||
	    (e = db_status_insert(db, st)) != AE_OK ||
	    (e = db_exec(db, SQL_ORDER_VALID, up, 2, NULL, 0, &res)) != AE_OK)
		goto out;
	if (res.affected == 0) {
		/* Finished meanwhile by another process (the same serial: the certificate insert
		 * would have been a duplicate), or no longer processing. (The job, when it changes,
		 * counts as a second row.) */
		e = AE_EXISTS;
		goto out;
	}
	if (ct_final_logs != 0 &&
	    (e = db_ct_final_queue(db, c->order_id, ct_final_logs, c->created)) != AE_OK)
		goto out;
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_cert_issued(struct db *db, const struct db_cert *c, const struct db_status *st,
    uint64_t ct_final_logs)
{
	int tries = 0;
	anvil_err e;

	/* After the signature, which stays outside: only these rows are written again. */
	while ((e = cert_issued_tx(db, c, st, ct_final_logs)) != AE_OK &&
	    db_deadlock_retry(db, e, &tries))
		;
	return e;
}

/* db_cert_get, and with acct (NULL: none) db_cert_get_acct. */
static anvil_err
cert_read(struct db *db, const char *serial, struct db_cert *c, int64_t acct_id,
    struct db_account *acct, int *found)
{
	char status[16], spki[DB_SPKI_HASH_LEN + 1], acstatus[16];
	struct db_val p[] = { DB_PARAM_STR(serial, strlen(serial)), DB_PARAM_I64(acct_id) };
	struct db_val cols[13 + DB_ACCOUNT_NCOLS] = {
		DB_COL_STR(c->serial, sizeof(c->serial)),
		DB_COL_I64, DB_COL_I64,
		DB_COL_STR(c->issuer, sizeof(c->issuer)),
		DB_COL_STR(c->profile, sizeof(c->profile)),
		DB_COL_I64, DB_COL_I64,
		DB_COL_STR((char *)c->der, sizeof(c->der)),
		DB_COL_STR(spki, sizeof(spki)),
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64, DB_COL_I64, DB_COL_I64,
	};
	struct db_result res;
	anvil_err e;

	*found = 0;
	if (acct != NULL) {
		db_account_bind(acct, acstatus, cols + 13);
		e = db_exec(db, SQL_CERT_GET_ACCT, p, 2, cols, N(cols), &res);
	} else {
		e = db_exec(db, SQL_CERT_GET, p, 1, cols, 13, &res);
	}
	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	if (acct != NULL)
		db_account_fill(acct, acstatus, cols + 13);
	if (cols[0].is_null)
		return AE_OK;           /* with acct: no such certificate */
	if (cols[8].len != DB_SPKI_HASH_LEN)
		return AE_DB;
	c->account_id = cols[1].i;
	c->order_id = cols[2].i;
	c->not_before = cols[5].i;
	c->not_after = cols[6].i;
	c->der_len = cols[7].len;
	memcpy(c->spki_sha256, spki, DB_SPKI_HASH_LEN);
	c->revoked = strcmp(status, "revoked") == 0;
	c->revoked_at = cols[10].i;
	c->revoked_reason = cols[11].is_null ? -1 : (int)cols[11].i;
	c->created = cols[12].i;
	*found = 1;
	return AE_OK;
}

anvil_err
db_cert_get(struct db *db, const char *serial, struct db_cert *c)
{
	int found;

	return cert_read(db, serial, c, 0, NULL, &found);
}

anvil_err
db_cert_get_acct(struct db *db, int64_t acct_id, struct db_account *acct, const char *serial,
    struct db_cert *c, int *found)
{
	return cert_read(db, serial, c, acct_id, acct, found);
}

anvil_err
db_cert_revoke(struct db *db, const char *serial, int reason, int64_t now,
    const uint8_t spki_sha256[DB_SPKI_HASH_LEN], int block)
{
	static const char why[] = "keyCompromise";
	struct db_val up[] = { DB_PARAM_I64(now), DB_PARAM_I64(reason),
		DB_PARAM_STR(serial, strlen(serial)) };
	struct db_val bk[] = { DB_PARAM_STR((const char *)spki_sha256, DB_SPKI_HASH_LEN),
		DB_PARAM_STR(why, sizeof(why) - 1), DB_PARAM_I64(now) };
	struct db_result res;
	anvil_err e;

	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if ((e = db_exec(db, SQL_CERT_REVOKE, up, 3, NULL, 0, &res)) != AE_OK)
		goto out;
	if (res.affected != 1) {
		e = AE_EXISTS;
		goto out;
	}
	if (block && (e = db_exec(db, SQL_KEY_BLOCK, bk, 3, NULL, 0, &res)) != AE_OK)
		goto out;
	/* A certificate issued before cert_status existed (migration 0004) has no row: its
	 * revocation is stored, and published by nothing. */
	if ((e = db_status_revoke(db, serial, reason, now)) == AE_NOTFOUND) {
		log_warn("revoked serial=%s has no cert_status row: not published", serial);
		e = AE_OK;
	}
	if (e != AE_OK)
		goto out;
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_key_check(struct db *db, const uint8_t spki_sha256[DB_SPKI_HASH_LEN], const char *thumbprint,
    int *blocked, int *account_key)
{
	struct db_val p[] = { DB_PARAM_STR((const char *)spki_sha256, DB_SPKI_HASH_LEN),
		DB_PARAM_STR(thumbprint, strlen(thumbprint)) };
	struct db_val cols[] = { DB_COL_I64, DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_KEY_CHECK, p, 2, cols, 2, &res);

	*blocked = *account_key = 0;
	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_DB;
	*blocked = cols[0].i != 0;
	*account_key = cols[1].i != 0;
	return AE_OK;
}

anvil_err
db_authz_valid_for(struct db *db, int64_t account_id, const char *type, const char *value,
    int wildcard, int64_t now)
{
	struct db_val p[] = { DB_PARAM_I64(account_id), DB_PARAM_STR(type, strlen(type)),
		DB_PARAM_STR(value, strlen(value)), DB_PARAM_I64(wildcard ? 1 : 0),
		DB_PARAM_I64(now) };
	struct db_val cols[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_AUTHZ_VALID, p, 5, cols, 1, &res);

	if (e != AE_OK)
		return e;
	return res.found ? AE_OK : AE_NOTFOUND;
}

anvil_err
db_order_replacing(struct db *db, const char *certid)
{
	struct db_val p[] = { DB_PARAM_STR(certid, strlen(certid)) };
	struct db_val cols[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_ORDER_REPLACING, p, 1, cols, 1, &res);

	if (e != AE_OK)
		return e;
	return res.found ? AE_OK : AE_NOTFOUND;
}
