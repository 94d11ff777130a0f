/* The final-certificate queue (doc/ct.md "Final certificates", seed 003): one job of kind
 * 'ct-final' in the jobs table (migrations/0002) per issued CT certificate and per log of its
 * policy's final_certificates, queued in the transaction that stores the certificate and
 * leased by anvil-jobs' submitter (jobs/ctfinal.c), never by the general runner. ref_id packs
 * the order and the log: order_id * DB_CT_FINAL_LOGS + the log's index in ct.logs. */
#ifndef ANVIL_DB_CTFINAL_H
#define ANVIL_DB_CTFINAL_H
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include "lib/err.h"

#define DB_CT_FINAL_KIND "ct-final"
#define DB_CT_FINAL_LOGS 64          /* CT_LOGS_MAX */
#define DB_CT_FINAL_CLAIM_MAX 8

struct db_ct_final {
	int64_t id, order_id, attempts, created;
	size_t log;
};

/* Inside the caller's transaction: a job per log in logs (bit i: ct.logs[i]) for order_id. */
anvil_err db_ct_final_queue(struct db *db, int64_t order_id, uint64_t logs, int64_t now);

/* Leases up to max (<= DB_CT_FINAL_CLAIM_MAX) due jobs of log for owner until now + lease, in
 * one short transaction (FOR UPDATE SKIP LOCKED). *n claimed; AE_NOTFOUND when none. */
anvil_err db_ct_final_claim(struct db *db, const char *owner, size_t log, int64_t now,
    int64_t lease, size_t max, struct db_ct_final *out, size_t *n);

/* The certificate of order_id (DER into der, at most cap bytes) and its issuer's name.
 * AE_NOTFOUND when there is none. */
anvil_err db_ct_final_cert(struct db *db, int64_t order_id, uint8_t *der, size_t cap,
    size_t *len, char *issuer, size_t issuer_cap);

/* The backlog, for metrics: jobs still queued and the age in seconds of the oldest (0 when
 * none). */
anvil_err db_ct_final_backlog(struct db *db, int64_t now, int64_t *queued, int64_t *oldest_age);

#endif
