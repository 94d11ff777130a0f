/* The OCSP refresher of anvil-jobs (ocsp/README.md, DESIGN.md invariant 5): re-signs the
 * responses that are due (a refresh point passed, or a revocation) and drops those of
 * certificates expired for ocsp.expired_grace_seconds. Due rows are leased from cert_status
 * through its due-time index in batches of ocsp.batch, so the cost of a batch does not depend
 * on the size of the table and several runners share the work.
 *
 * It runs on threads of its own: one with its database connection that claims, publishes and
 * sweeps, and ocsp.concurrency signing threads, each with its own signer connection, so that
 * blocking HSM calls never hold up validation or finalize jobs on the runner's loop. */
#ifndef ANVIL_JOBS_OCSP_H
#define ANVIL_JOBS_OCSP_H
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"
#include "jobs/conf.h"
#include "lib/conf.h"
#include "lib/err.h"

struct jobs_ocsp;

/* Reads the ocsp section (and the signer socket) from c->root. *out NULL and AE_OK when there
 * is nothing to publish (no ocsp.dir); on error cc->err names the key. */
anvil_err jobs_ocsp_new(const struct jobs_conf *c, struct conf_ctx *cc, struct jobs_ocsp **out);
/* Starts the threads (after dropping privileges; they block every signal). */
anvil_err jobs_ocsp_start(struct jobs_ocsp *r);
/* Something may have become due (the runner's wake socket): look now. arg: the jobs_ocsp. */
void jobs_ocsp_wake(void *arg);
/* Stops after the batch in progress (its signatures are bounded by its lease) and frees. */
void jobs_ocsp_free(struct jobs_ocsp *r);

#endif
