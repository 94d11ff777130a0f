/* Published revocation status (migrations/0004, ocsp/README.md): the cert_status row of each
 * signed serial and the crl_shards rows a revocation marks due. The refresher of anvil-jobs
 * leases due rows through cert_status_due and expired ones through cert_status_expiry; no
 * statement here joins or scans the certificates table. */
#ifndef ANVIL_DB_STATUS_H
#define ANVIL_DB_STATUS_H
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include "lib/err.h"

#define DB_STATUS_SERIAL_MAX 40
#define DB_STATUS_ISSUER_MAX 64
#define DB_STATUS_OWNER_MAX 128
#define DB_STATUS_CLAIM_MAX 10000   /* ocsp.batch at most */

struct db_status {
	char serial[DB_STATUS_SERIAL_MAX + 1];
	char issuer[DB_STATUS_ISSUER_MAX + 1];
	uint32_t shard;
	int64_t not_after;
	int revoked;
	int64_t revoked_at;          /* revoked only */
	int revoked_reason;          /* -1: none given */
	int64_t this_update, next_update;   /* of the published response; 0: none yet */
	int64_t refresh_at;
};

/* Inside the caller's transaction (the one that stores the certificate or records the
 * precertificate): the row of a newly signed serial. A row already there for the serial is
 * left as it is (a precertificate's row carries on for its certificate). */
anvil_err db_status_insert(struct db *db, const struct db_status *s);

/* Inside the caller's transaction (the revocation's): the row revoked and due at once, its
 * lease cleared (a refresh in flight then publishes nothing), and its CRL shard due at once.
 * AE_NOTFOUND when the serial has no row. */
anvil_err db_status_revoke(struct db *db, const char *serial, int reason, int64_t now);

/* Leases up to max (<= DB_STATUS_CLAIM_MAX) rows whose response is due (ocsp_refresh_at <= now)
 * and whose lease has expired, earliest due first, for owner until lease_until, in one short
 * transaction (SELECT ... FOR UPDATE SKIP LOCKED over cert_status_due, then the lease). out has
 * room for max; *n is the number claimed (0 with AE_NOTFOUND). */
anvil_err db_status_claim(struct db *db, const char *owner, int64_t now, int64_t lease_until,
    size_t max, struct db_status *out, size_t *n);
/* One plain read: AE_OK when a claim would find something due, AE_NOTFOUND otherwise. */
anvil_err db_status_due(struct db *db, int64_t now);

/* Inside the caller's transaction: records the response now published for a row leased by
 * owner and clears the lease. AE_DENIED (nothing written) when the lease is no longer ours:
 * a revocation or another runner took the row, and the caller must not publish. The row stays
 * locked until the caller commits, so a revocation waits for the file to be in place. */
anvil_err db_status_published(struct db *db, const char *owner, const char *serial,
    int64_t this_update, int64_t next_update, int64_t refresh_at);
/* A leased row that could not be signed or written: due again at refresh_at, lease cleared.
 * AE_DENIED when the lease is no longer ours. */
anvil_err db_status_retry(struct db *db, const char *owner, const char *serial,
    int64_t refresh_at);

/* Rows to drop, in one transaction the caller opens (db_begin) and ends: up to max rows with
 * not_after < before, not leased, locked FOR UPDATE SKIP LOCKED (through cert_status_expiry),
 * revoked ones only once their CRL shard was published after their notAfter (a CRL entry
 * leaves only after a CRL listed it past expiry). */
anvil_err db_status_expired(struct db *db, int64_t before, int64_t now, size_t max,
    struct db_status *out, size_t *n);
/* Inside that transaction: deletes one of those rows. */
anvil_err db_status_delete(struct db *db, const char *serial);

/* The row of serial (AE_NOTFOUND without one). */
anvil_err db_status_get(struct db *db, const char *serial, struct db_status *out);

/* For the refresh benchmark (tools/bench/ocsp-refresh): this session's handler read counters
 * and rows read (MariaDB's Rows_read; it has no Innodb_rows_read), so a batch's reads can be
 * told from the table's size. */
struct db_read_counters {
	int64_t read_key, read_next, read_first, read_rnd_next, rows_read;
};
anvil_err db_read_counters(struct db *db, struct db_read_counters *out);

#endif
