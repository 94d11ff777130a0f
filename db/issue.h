/* Issuance state (migrations/0002_issuance.sql): finalizing an order, serials, certificates,
 * revocation, blocked keys. Implemented in db/serial.c (orders on their way to a certificate,
 * serials) and db/cert.c (certificates, revocation, blocked keys, authorization look-ups for
 * revocation and renewal). */
#ifndef ANVIL_DB_ISSUE_H
#define ANVIL_DB_ISSUE_H
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include "lib/err.h"

#ifndef DB_IDENTIFIERS_MAX
#define DB_IDENTIFIERS_MAX 16384  /* orders.identifiers (also in db/order.h) */
#endif
#ifndef DB_PROBLEM_MAX
#define DB_PROBLEM_MAX 4096       /* orders.error (also in db/order.h) */
#endif
#define DB_CSR_MAX 16384          /* orders.csr */
#define DB_CERT_DER_MAX 16384     /* certificates.der */
#define DB_SERIAL_HEX_MAX 40      /* serials.serial: lowercase hex, at most 20 bytes */
#define DB_NAME_MAX 64            /* profile and issuer names */
#define DB_SPKI_HASH_LEN 32
#define DB_SERIAL_TRIES 3         /* serials made before a collision is an error */

struct db_order_fin {
	int64_t id, account_id, expires, created;
	int64_t not_before, not_after;   /* 0 when NULL */
	char status[16];                 /* pending, ready, processing, valid, invalid */
	char identifiers[DB_IDENTIFIERS_MAX + 1];
	char profile[DB_NAME_MAX + 1];
	char serial[DB_SERIAL_HEX_MAX + 1];   /* "" when none */
	char error[DB_PROBLEM_MAX + 1];       /* "" when none */
	uint8_t csr[DB_CSR_MAX + 1];
	size_t csr_len;
};

/* AE_NOTFOUND when there is no such order. */
anvil_err db_order_fin_get(struct db *db, int64_t id, struct db_order_fin *out);
/* A processing order turns invalid with the problem document (JSON); its job is done. */
anvil_err db_order_fail(struct db *db, int64_t id, const char *problem);

/* What issuance's CAA re-check (issue/caa.c) needs of each authorization of an order: the
 * identifier, the method of its valid challenge and when that validated it (0 when no valid
 * challenge is recorded: treated as never checked). */
#define DB_ORDER_AUTHZ_MAX 100   /* the identifiers of an order at most (PROTO_IDS_MAX) */
struct db_authz_caa {
	char ident_type[8];       /* dns, ip */
	char value[256];          /* without "*." */
	int wildcard;
	char method[16];          /* http-01, dns-01, tls-alpn-01; "" when none */
	int64_t validated;
};
/* Up to max rows for order_id into out (*n of them). */
anvil_err db_order_authz_caa(struct db *db, int64_t order_id, struct db_authz_caa *out,
    size_t max, size_t *n);

/* The serial recorded for an order: AE_NOTFOUND when none yet. */
anvil_err db_serial_of_order(struct db *db, int64_t order_id, char serial[DB_SERIAL_HEX_MAX + 1],
    int64_t *created);
/* Records a serial, committed at once. AE_DB_DUPLICATE when the serial or the order already has
 * one (the caller reads db_serial_of_order to tell). */
anvil_err db_serial_insert(struct db *db, const char *serial, int64_t order_id, int64_t now);

/* A serial to record with finalize's own write (db_order_finalize_from): make writes a new one
 * (lowercase hex) into hex; serial is the one recorded. */
struct db_serial_new {
	anvil_err (*make)(void *arg, char hex[DB_SERIAL_HEX_MAX + 1]);
	void *arg;
	char serial[DB_SERIAL_HEX_MAX + 1];
};
/* Inside the caller's transaction: records a serial made by s->make for the order, created at
 * now. A collision undoes the INSERT only, not the transaction: another serial is made, up to
 * tries in all (AE_DB_DUPLICATE after the last). */
anvil_err db_serial_record(struct db *db, struct db_serial_new *s, int64_t order_id, int64_t now,
    int tries);

struct db_cert {
	char serial[DB_SERIAL_HEX_MAX + 1];
	int64_t account_id, order_id;
	char issuer[DB_NAME_MAX + 1];
	char profile[DB_NAME_MAX + 1];
	int64_t not_before, not_after, created;
	uint8_t der[DB_CERT_DER_MAX + 1];
	size_t der_len;
	uint8_t spki_sha256[DB_SPKI_HASH_LEN];
	int revoked;
	int64_t revoked_at;
	int revoked_reason;              /* -1 when none */
};

struct db_status;

/* In one transaction: the certificate row, its cert_status row st (db/status.h: the first OCSP
 * response is already published), the order valid with its serial, the job done, and a
 * 'ct-final' job per log in ct_final_logs (db/ctfinal.h; 0: none). AE_EXISTS when the order
 * was no longer processing. */
anvil_err db_cert_issued(struct db *db, const struct db_cert *c, const struct db_status *st,
    uint64_t ct_final_logs);
/* AE_NOTFOUND when there is no such certificate. */
anvil_err db_cert_get(struct db *db, const char *serial, struct db_cert *out);
/* With the signing account, as db/order.h's _acct reads: account acct_id into *acct and, in
 * the same statement, the certificate (whoever it belongs to); *found 0 when there is none.
 * AE_NOTFOUND when there is no such account. */
struct db_account;
anvil_err db_cert_get_acct(struct db *db, int64_t acct_id, struct db_account *acct,
    const char *serial, struct db_cert *out, int *found);
/* Marks a good certificate revoked; with block, its key goes into blocked_keys in the same
 * transaction, and so does the publishing of the revocation (db_status_revoke: its OCSP
 * response and CRL shard due at once). AE_EXISTS when it was revoked already. */
anvil_err db_cert_revoke(struct db *db, const char *serial, int reason, int64_t now,
    const uint8_t spki_sha256[DB_SPKI_HASH_LEN], int block);

/* A CSR key's two checks at once: *blocked when the key is in blocked_keys, *account_key when
 * it is an account's key (thumbprint: its RFC 7638 JWK thumbprint). */
anvil_err db_key_check(struct db *db, const uint8_t spki_sha256[DB_SPKI_HASH_LEN],
    const char *thumbprint, int *blocked, int *account_key);
/* AE_OK when the account holds a valid, unexpired authorization for the identifier (type "dns"
 * or "ip"; value without any "*.") that is a wildcard one exactly when wildcard is set,
 * AE_NOTFOUND otherwise. */
anvil_err db_authz_valid_for(struct db *db, int64_t account_id, const char *type,
    const char *value, int wildcard, int64_t now);
/* AE_OK when an order already names certid in "replaces", AE_NOTFOUND otherwise. */
anvil_err db_order_replacing(struct db *db, const char *certid);

#endif
