/* The workers' counters, in one anonymous MAP_SHARED region the master maps before it forks:
 * every worker, of every generation, adds to the same relaxed atomics, so a scrape answered by
 * any one worker shows the pool's totals (fcgi/README.md "Observability" says why not the
 * database). The figures read from the database and the signer are fcgi/observe.c's. */
#ifndef ANVIL_FCGI_METRICS_H
#define ANVIL_FCGI_METRICS_H
#include <stdint.h>
#include "fcgi/problem.h"
#include "lib/buf.h"

enum metrics_route {
	MR_DIRECTORY, MR_NEW_NONCE, MR_NEW_ACCOUNT, MR_ACCOUNT, MR_KEY_CHANGE, MR_NEW_ORDER,
	MR_ORDER, MR_FINALIZE, MR_NEW_AUTHZ, MR_AUTHZ, MR_CHALLENGE, MR_CERT, MR_REVOKE,
	MR_RENEWAL_INFO, MR_HEALTH, MR_METRICS, MR_STATUS, MR_OTHER,
	MR__COUNT
};

enum metrics_finalize {
	MF_ISSUED,       /* the certificate issued within acme.finalize_budget_ms */
	MF_HANDED_OFF,   /* processing: anvil-jobs finishes it */
	MF_INVALID,      /* issuance ended the order invalid (e.g. CAA forbids it now) */
	MF_REFUSED,      /* a problem document (badCSR, orderNotReady, 503...) */
	MF__COUNT
};

/* In the master, before the first fork. -1 (errno set) when the region cannot be mapped: the
 * workers then count nothing and /metrics says so (anvil_metrics_shared 0). */
int metrics_init(void);

/* The route of a path below acme.base_url's path (or /health...). */
enum metrics_route metrics_route_of(const char *path);
/* One request answered: its route, status, problem (PROB_NONE) and duration. */
void metrics_request(enum metrics_route route, int status, enum prob problem, uint64_t usec);
void metrics_finalize(enum metrics_finalize outcome);
/* Called by fcgi/finalize.c with what issue_finish_order returned (issue/issue.h: AE_OK valid,
 * a "retry later" code processing, anything else invalid). */
void metrics_finalize_result(anvil_err e);
/* The worker's database client counters (db_stats), as totals since the worker started: the
 * region gets what grew since the last call. */
void metrics_db(uint64_t errors, uint64_t connects);

/* A certificate stored by this worker's issuance (issue_ctx_on_issued). */
void metrics_cert_issued(void);
/* Certificates the workers stored. */
uint64_t metrics_issued(void);
/* Appends the region's families in the text exposition format. */
anvil_err metrics_render(struct buf *out);

#endif
