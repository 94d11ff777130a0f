/* What anvil-jobs writes for the health check, the metrics and the status page
 * (migrations/0008, fcgi/README.md "Observability"): its heartbeat every JOBS_BEAT seconds,
 * with the counters it keeps (validations by type and result, certificates it issued) added to
 * the counters table in the same short transaction, and once every jobs.status_sample_seconds
 * a row of the status page's rolling store (pruned beyond 48 hours). Everything runs on the
 * loop's thread from jobs_observe_tick, except the counting calls, which any thread may make. */
#ifndef ANVIL_JOBS_OBSERVE_H
#define ANVIL_JOBS_OBSERVE_H
#include "db/db.h"
#include "jobs/conf.h"

#define JOBS_BEAT 2   /* s; fcgi/health.c calls a heartbeat older than 10 s stale */

void jobs_observe_init(const struct jobs_conf *conf);
/* From the runner's loop, as often as it turns: does what is due. */
void jobs_observe_tick(struct db *db);
/* A validation decided (type: "http-01", "dns-01", "tls-alpn-01"). */
void jobs_observe_validated(const char *type, int valid);
/* A certificate stored by a finalize lane (issue_ctx_on_issued). */
void jobs_observe_issued(void);
void jobs_observe_free(void);

#endif
