/* CRL shards (migrations/0004, `crl_shards`) and the revoked serials they list (`cert_status`
 * through its cert_status_shard index): what the CRL builder of anvil-jobs claims, reads and
 * records, and the freshness figures the metrics endpoint and anvilctl report. A shard is
 * leased like a job (lease_owner, lease_until); every write names its owner. */
#ifndef ANVIL_DB_CRL_H
#define ANVIL_DB_CRL_H
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"

#define DB_CRL_ISSUER_MAX 64
#define DB_CRL_CLAIM_MAX 8
#define DB_SERIAL_HEX_MAX 40

struct db_crl_shard {
	char issuer[DB_CRL_ISSUER_MAX + 1];
	int64_t shard;
	int64_t this_update, next_update, crl_number;  /* of the CRL now published (0: none) */
};

struct db_crl_entry {
	char serial[DB_SERIAL_HEX_MAX + 1];  /* lowercase hex, as cert_status.serial */
	int64_t revoked_at;
	int reason;                          /* CRLReason, or -1 for none */
};

/* Makes sure (issuer, shard) has a row; missing: also due at once, so the shard is published.
 * AE_OK either way. */
anvil_err db_crl_shard_ensure(struct db *db, const char *issuer, int64_t shard, int missing);

/* Claims up to max (at most DB_CRL_CLAIM_MAX) due shards (due_at <= now, lease expired) for
 * owner until lease_until, in one short transaction (SELECT ... FOR UPDATE SKIP LOCKED, then
 * the lease). due_at becomes lease_until, so a claimer that dies leaves the shard due again
 * when its lease ends, and a revocation during the build (due_at = 0) is told apart from it.
 * AE_NOTFOUND when none is due. */
anvil_err db_crl_claim(struct db *db, const char *owner, int64_t now, int64_t lease_until,
    size_t max, struct db_crl_shard *out, size_t *n);

/* AE_OK while owner holds the lease with at least until_min left; AE_DENIED otherwise. */
anvil_err db_crl_lease_check(struct db *db, const char *issuer, int64_t shard,
    const char *owner, int64_t until_min);

/* The revoked serials of (issuer, shard), through cert_status_shard; row() is called for each
 * (at most max; more is AE_TOOBIG). */
typedef anvil_err (*db_crl_entry_fn)(void *arg, const struct db_crl_entry *en);
anvil_err db_crl_revoked(struct db *db, const char *issuer, int64_t shard, size_t max,
    db_crl_entry_fn row, void *arg);

/* Records the CRL just published and ends the lease: due_at = due_at of the schedule, unless
 * a revocation set it to 0 meanwhile (then it stays due). AE_DENIED when the lease is no
 * longer owner's. */
anvil_err db_crl_published(struct db *db, const struct db_crl_shard *s, const char *owner,
    int64_t due_at);

/* Gives a lease back (shutdown, or a failed build: due again at retry_at). */
anvil_err db_crl_release(struct db *db, const char *issuer, int64_t shard, const char *owner,
    int64_t retry_at);

/* The earliest due_at of any shard (AE_NOTFOUND: no shard at all). */
anvil_err db_crl_next_due(struct db *db, int64_t *due_at);

#endif
