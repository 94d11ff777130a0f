/* The operator's look-ups and changes (anvilctl): certificates by account, key or name, blocked
 * keys, stuck and failed jobs, queue depths. Every list walks one index (certificates_account,
 * certificates_spki, order_domains' primary key, jobs_due) and is bounded by a LIMIT: an
 * operator command on a busy CA must not scan a big table. Revocation itself is
 * issue/revoke.h's, the same as ACME's. */
#ifndef ANVIL_DB_ADMIN_H
#define ANVIL_DB_ADMIN_H
#include <stddef.h>
#include <stdint.h>
#include "db/acme.h"
#include "db/db.h"
#include "db/issue.h"
#include "db/jobs.h"
#include "lib/err.h"

#define DB_ADMIN_LIST_MAX 100000   /* rows one list returns at most */

/* A certificate without its DER. */
struct db_cert_brief {
	char serial[DB_SERIAL_HEX_MAX + 1];
	int64_t account_id, order_id;
	char issuer[DB_NAME_MAX + 1];
	char profile[DB_NAME_MAX + 1];
	int64_t not_before, not_after, created;
	int revoked;
	int64_t revoked_at;
	int revoked_reason;              /* -1 when none */
};
typedef anvil_err (*db_cert_fn)(void *arg, const struct db_cert_brief *c);

/* At most max (<= DB_ADMIN_LIST_MAX) certificates, through one index each: of an account;
 * of a key (SPKI SHA-256); named in an order for a DNS name or IP (order_domains, as the API
 * stores it at newOrder); the latest to expire (no filter). fn sees each; more than max is
 * AE_TOOBIG after the first max. Rows expired before not_after_min are left out. */
anvil_err db_certs_of_account(struct db *db, int64_t account_id, int64_t not_after_min,
    size_t max, db_cert_fn fn, void *arg);
anvil_err db_certs_of_key(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN],
    int64_t not_after_min, size_t max, db_cert_fn fn, void *arg);
anvil_err db_certs_of_name(struct db *db, const char *name, int64_t not_after_min, size_t max,
    db_cert_fn fn, void *arg);
anvil_err db_certs_latest(struct db *db, int64_t not_after_min, size_t max, db_cert_fn fn,
    void *arg);

/* blocked_keys: AE_EXISTS when the key was blocked already / AE_NOTFOUND when it was not. */
anvil_err db_key_block(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN], const char *reason,
    int64_t now);
anvil_err db_key_unblock(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN]);
/* *blocked, with the reason and time when it is. */
anvil_err db_key_blocked(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN], int *blocked,
    char reason[65], int64_t *created);

/* Account fields the API's struct leaves out. */
anvil_err db_account_extra(struct db *db, int64_t id, int64_t *created,
    char eab_kid[DB_EAB_KID_MAX + 1], int64_t *certificates);

struct db_job_row {
	int64_t id, ref_id, run_after, lease_until, attempts, created;
	char kind[DB_JOB_KIND_MAX + 1];
	char state[16];
	char owner[DB_JOB_OWNER_MAX + 1];   /* "" when never leased */
	char error[DB_JOB_ERROR_MAX + 1];   /* "" when none */
};
typedef anvil_err (*db_job_fn)(void *arg, const struct db_job_row *j);

/* Failed jobs, and queued jobs due before stuck_before that no live lease holds (no runner
 * took them: anvil-jobs down, or not keeping up), oldest first; at most max. */
anvil_err db_jobs_troubled(struct db *db, int64_t now, int64_t stuck_before, size_t max,
    db_job_fn fn, void *arg);
anvil_err db_job_row_get(struct db *db, int64_t id, struct db_job_row *out);
/* A failed or queued job due at now again, attempts and lease cleared. AE_NOTFOUND when there
 * is no such job, AE_EXISTS when it is done. */
anvil_err db_job_requeue(struct db *db, int64_t id, int64_t now);

/* Queue depths: per kind and state (queued or failed), the count and the earliest run_after. */
typedef anvil_err (*db_depth_fn)(void *arg, const char *kind, const char *state, int64_t n,
    int64_t oldest_run_after);
anvil_err db_jobs_depths(struct db *db, db_depth_fn fn, void *arg);

#endif
