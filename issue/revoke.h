/* Revocation below the front doors: ACME revokeCert (fcgi/revoke.c) and the operator's
 * revocation (anvilctl) store it the same way, in one transaction that also makes its OCSP
 * response and CRL shard due at once (ocsp/README.md), then wake anvil-jobs to publish them
 * (within ocsp.revocation_bound_seconds; the due rows outlive any anvil-jobs restart). */
#ifndef ANVIL_ISSUE_REVOKE_H
#define ANVIL_ISSUE_REVOKE_H
#include <stdint.h>
#include "db/db.h"
#include "lib/err.h"

/* Revokes the good certificate serial (lowercase hex, as certificates.serial) with the CRLReason
 * reason at now; with block, its key (spki_sha256) goes into blocked_keys too. wake: the path
 * of jobs.wake_socket, or NULL. by: who asked, for the audit line. AE_EXISTS when it was
 * revoked already; database errors as db_cert_revoke. */
anvil_err issue_revoke(struct db *db, const char *serial, int reason, int64_t now,
    const uint8_t spki_sha256[32], int block, const char *wake, const char *by);

#endif
