/* The CRL builder of anvil-jobs (issue 10, ocsp/README.md): on its own thread, with its own
 * database and signer connections, it claims due crl_shards rows, lists the shard's revoked
 * serials from cert_status, has the signer sign the CRL (op 6), writes it atomically to
 * crl.dir/<issuer>/<shard>.crl and records it, so each shard is republished on the schedule
 * (crl.interval_seconds) and at once after a revocation (due_at = 0 plus a wake-up). */
#ifndef ANVIL_JOBS_CRL_H
#define ANVIL_JOBS_CRL_H
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"
#include "lib/conf.h"
#include "lib/err.h"

struct jobs_crl;

/* Reads the crl, ocsp, issuers and signer sections of root. AE_NOTFOUND when there is nothing
 * to publish (no crl section, or no issuer with a crl_url); another error with cc->err set
 * when the sections are unusable. owner: the runner id; poll: s between looks at the table
 * when no wake-up comes. */
anvil_err jobs_crl_new(const struct db_conf *dbc, json_object *root, struct conf_ctx *cc,
    const char *owner, int64_t poll, struct jobs_crl **out);
/* Starts the thread (after dropping privileges: it creates crl.dir/<issuer>/ and the files as
 * the runner's user). It first makes sure every shard of every issuer has a row. */
anvil_err jobs_crl_start(struct jobs_crl *c);
/* A wake-up came (a revocation may have made a shard due): look now. Any thread. */
void jobs_crl_kick(void *c);
/* Stops the thread (a build in progress ends first; its lease is given back) and frees. */
void jobs_crl_free(struct jobs_crl *c);

#endif
