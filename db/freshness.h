/* Freshness of what Anvil publishes (issue 10 item 6), for the metrics endpoint and `anvilctl
 * check-freshness`: figures per issuer from indexed reads only, never a scan of cert_status. */
#ifndef ANVIL_DB_FRESHNESS_H
#define ANVIL_DB_FRESHNESS_H
#include <stddef.h>
#include <stdint.h>
#include "db/crl.h"
#include "db/db.h"
#include "db/status.h"

/* Freshness per issuer (DESIGN.md invariant 5) from indexed reads only. The caller names the
 * issuers (f[i].issuer) and gets their figures. OCSP: one walk of cert_status_due over the rows
 * past their refresh point (at most scan_max; *truncated set when there were more, the counts
 * being lower bounds then) and, for the age of the oldest response of an issuer with none past
 * its refresh point, a second walk from there, stopped once every issuer was seen (also at most
 * scan_max rows). Rows of expired certificates (not_after < now) are not counted. CRLs: the
 * issuer's rows of crl_shards by primary key prefix. */
struct db_freshness {
	char issuer[DB_CRL_ISSUER_MAX + 1];
	int64_t oldest_this_update;    /* oldest published response; 0: none seen */
	int64_t unsigned_responses;    /* no response yet (ocsp_this_update 0) */
	int64_t past_refresh;          /* ocsp_refresh_at < now (revoked, not yet re-signed, too) */
	int64_t past_next_update;      /* ocsp_next_update < now: relying parties reject these */
	int64_t crl_shards;            /* rows in crl_shards */
	int64_t crl_oldest_this_update;/* of the published shards; 0: none */
	int64_t crl_unpublished;       /* this_update 0 */
	int64_t crl_past_next_update;
	int64_t crl_overdue;           /* due_at < now: a build pending (e.g. after a revocation) */
	int64_t crl_oldest_due_at;     /* the earliest due_at */
};
anvil_err db_freshness(struct db *db, int64_t now, int64_t scan_max, struct db_freshness *f,
    size_t n, int *truncated);

/* The n unexpired rows first in refresh order (the responses most at risk of going stale),
 * through cert_status_due; fn gets each serial and issuer. */
typedef anvil_err (*db_oldest_fn)(void *arg, const char *serial, const char *issuer);
anvil_err db_oldest_responses(struct db *db, int64_t now, size_t n, db_oldest_fn fn,
    void *arg);

#endif
