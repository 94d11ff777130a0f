/* The request path's way into issue/finish.c: finalize (fcgi/finalize.c) has just read the order
 * and moved it to processing itself, so issuance need not read it again. Everything else uses
 * issue_finish (issue/issue.h). */
#ifndef ANVIL_ISSUE_FINISH_H
#define ANVIL_ISSUE_FINISH_H
#include <stdint.h>
#include "db/issue.h"
#include "issue/issue.h"

/* issue_finish for the order o that the caller has just turned processing (o->status
 * "processing", o->csr its CSR, accepted by issue_csr_policy in this request), without reading
 * it again or repeating the policy's database look-ups. serial: the one recorded with that
 * write (db_order_finalize_from), created at serial_created; NULL when none was, and then the
 * serial is inserted without looking for a recorded one first (the unique serial per order
 * still makes one recorded meanwhile win). Results as issue_finish; on AE_OK o is the valid
 * order (status, serial), on anything else read the order again to know its state.
 * AE_INTERNAL when o is not processing. */
anvil_err issue_finish_order(struct issue_ctx *ic, struct db_order_fin *o, const char *serial,
    int64_t serial_created, int64_t deadline_ms);

/* A new serial (struct db_serial_new's make; arg: the struct issue_ctx): the prefix byte of
 * acme.serial_prefix, then 128 random bits (DESIGN.md), in lowercase hex. */
anvil_err issue_serial_make(void *arg, char hex[DB_SERIAL_HEX_MAX + 1]);

/* Whether an order of this profile would be signed now: a serial recorded for it up front
 * would otherwise be spent for nothing (a CT profile before CT exists). */
int issue_profile_signs(const struct issue_ctx *ic, const char *profile);

#endif
