/* The signer client used by the layers above (issuance, OCSP/CRL refresh, anvilctl): one
 * connection, one request at a time, every call bounded by the request's deadline. Not
 * thread-safe: use one client per thread. */
#ifndef ANVIL_CA_CLIENT_H
#define ANVIL_CA_CLIENT_H
#include <stdint.h>
#include "ca/proto.h"
#include "lib/buf.h"

struct signer_client;

anvil_err signer_client_new(const char *socket_path, struct signer_client **out);
void signer_client_free(struct signer_client *c);

/* Sends req and waits for its reply until req->deadline_ms. On AE_OK, out holds the DER (or
 * text for health/stats). On AE_BUSY, *retry_ms is the signer's estimate. Other codes are the
 * signer's refusal (lib/err.h AE_SIGNER_*), AE_TIMEOUT, AE_UNAVAILABLE (no signer), or AE_BUSY
 * without retry_ms when the signer's listen backlog stayed full until the deadline. A dropped
 * idle connection is reopened once. Connecting, sending and receiving all end by the
 * deadline. */
anvil_err signer_call(struct signer_client *c, struct request *req, struct buf *out,
    uint32_t *retry_ms);

#endif
