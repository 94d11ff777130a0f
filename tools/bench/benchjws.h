/* The signed POST body both benchmark clients send: an ES256 flattened JWS whose protected
 * header names the account by kid (or carries the key's JWK for newAccount), the nonce and the
 * URL. */
#ifndef ANVIL_TOOLS_BENCH_BENCHJWS_H
#define ANVIL_TOOLS_BENCH_BENCHJWS_H
#include <openssl/evp.h>
#include "lib/err.h"

/* *out: the malloc'd JWS (caller frees). */
anvil_err benchjws_es256(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
    const char *payload, char **out);

#endif
