/* The request path's way into issue/finish.c: finalize (fcgi/finalize.c) has just read the order
 * and moved it to processing itself, so issuance need not read it again. Everything else uses
 * issue_finish (issue/issue.h). */
#ifndef ANVIL_ISSUE_FINISH_H
#define ANVIL_ISSUE_FINISH_H
#include <stdint.h>
#include "db/issue.h"
#include "issue/issue.h"

/* issue_finish for the order o that the caller has just turned processing (o->status
 * "processing", o->csr its CSR), without reading it again; the serial is inserted without
 * looking for a recorded one first (the unique serial per order still makes one recorded
 * meanwhile win). Results as issue_finish; on AE_OK o is the valid order (status, serial), on
 * anything else read the order again to know its state. AE_INTERNAL when o is not processing. */
anvil_err issue_finish_order(struct issue_ctx *ic, struct db_order_fin *o, int64_t deadline_ms);

#endif
