/* The final-certificate submitter of anvil-jobs (doc/ct.md "Final certificates", seed 003): on
 * its own thread, with its own database connection and CT client, it leases the 'ct-final'
 * jobs issuance queued (db/ctfinal.h), at most ct.final_rate_per_second per log, submits each
 * certificate to its log with add-chain, and marks the job done, or retries it with backoff
 * (5 s doubling up to an hour) until ct.final_give_up_seconds after it was queued. */
#ifndef ANVIL_JOBS_CTFINAL_H
#define ANVIL_JOBS_CTFINAL_H
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"
#include "lib/conf.h"
#include "lib/err.h"

struct jobs_ctfinal;

/* Reads the issuance sections of root (issue/conf.h; call before dropping privileges: the
 * issuers' files are read). AE_NOTFOUND when no CT profile's policy names final_certificates
 * logs; another error with cc->err set. owner: the runner id. */
anvil_err jobs_ctfinal_new(const struct db_conf *dbc, json_object *root, struct conf_ctx *cc,
    const char *owner, struct jobs_ctfinal **out);
anvil_err jobs_ctfinal_start(struct jobs_ctfinal *f);
/* A wake-up came (a certificate may have been queued): look now. Any thread. */
void jobs_ctfinal_kick(void *f);
/* Stops the thread (submissions in flight end first, bounded by their timeout) and frees. */
void jobs_ctfinal_free(struct jobs_ctfinal *f);

#endif
