/* The JSON of RFC 6962 section 4.1: the add-chain / add-pre-chain request a log receives and
 * the SCT it answers with. A log's answer is hostile input: capped in size and depth, strictly
 * typed, strict base64, every field bounded (fuzz/fuzz-ct-response.c). */
#ifndef ANVIL_CT_RESPONSE_H
#define ANVIL_CT_RESPONSE_H
#include <stddef.h>
#include <stdint.h>
#include "ct/sct.h"
#include "lib/buf.h"
#include "lib/err.h"

#define CT_RESPONSE_MAX 4096   /* an SCT response is a few hundred bytes */
#define CT_CHAIN_MAX 8         /* certificates in one submitted chain */

/* Builds {"chain": [base64 DER, ...]} into b (reset first): the leaf, then its issuers. */
anvil_err ct_request_chain(struct buf *b, const uint8_t *const *der, const size_t *len,
    size_t n);

/* Loads a log's answer as one JSON object: at most CT_RESPONSE_MAX bytes, no NUL, strict
 * JSON, nesting at most 4 deep, nothing after it but whitespace. NULL (why set) otherwise;
 * the caller puts the object. */
struct json_object *ct_json_load(const char *body, size_t len, char *why, size_t whylen);
/* A required string member decoded as strict base64 into out. */
anvil_err ct_json_b64(struct json_object *o, const char *key, uint8_t *out, size_t outsz,
    size_t *outlen);

/* Parses an add-chain / add-pre-chain answer into out. why (may be NULL) names the field at
 * fault; it never quotes the log's bytes. */
anvil_err ct_response_parse(const char *body, size_t len, struct ct_sct *out, char *why,
    size_t whylen);

#endif
