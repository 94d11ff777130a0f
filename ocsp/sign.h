/* The OCSP response of a cert_status row, signed by anvil-signer (op 5, ca/PROTOCOL.md): one
 * definition of thisUpdate and nextUpdate for the first response at issuance (issue/) and for
 * every refresh (anvil-jobs). */
#ifndef ANVIL_OCSP_SIGN_H
#define ANVIL_OCSP_SIGN_H
#include <stdint.h>
#include "ca/client.h"
#include "db/status.h"
#include "lib/buf.h"
#include "ocsp/conf.h"

/* Signs the response for s as of now (Unix seconds): thisUpdate now - ocsp.backdate (not
 * before a revocation, which a response may not postdate), nextUpdate thisUpdate +
 * ocsp.validity. deadline_ms: Unix milliseconds for the signer. On AE_OK out holds the DER
 * OCSPResponse and *this_update, *next_update its times; otherwise the signer's answer
 * (AE_BUSY, AE_TIMEOUT, AE_UNAVAILABLE, AE_SIGNER_*). */
anvil_err ocsp_sign(struct signer_client *sc, const struct ocsp_conf *o,
    const struct db_status *s, int64_t now, uint64_t deadline_ms, struct buf *out,
    int64_t *this_update, int64_t *next_update);

#endif
