/* Parsed account keys kept by one process across requests (each anvil-fcgi worker has one).
 * Rebuilding an EVP_PKEY from its stored JWK and setting up verification costs as much as the
 * signature check itself, and a client signs many requests with the same account key.
 *
 * An entry is found only by the account id together with the exact stored JWK text the caller
 * has just read from the database, so a key changed by any process (keyChange in another
 * worker, an operator's UPDATE) can never be answered from a stale entry: the text differs and
 * the new key is parsed. Account status is the caller's business (read with the JWK). Not
 * thread-safe; bounded (least recently used entry replaced). */
#ifndef ANVIL_KEYCACHE_H
#define ANVIL_KEYCACHE_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "lib/err.h"
#include "lib/jws.h"

#define KEYCACHE_SLOTS 256

struct keycache;

/* NULL when memory is short; every call below accepts a NULL cache (nothing is kept). */
struct keycache *keycache_new(size_t slots);
void keycache_free(struct keycache *kc);
/* The key of account id whose stored JWK (accounts.jwk, canonical JSON) is jwk: *key is a new
 * reference (EVP_PKEY_free it); *ver (may be NULL: then use jws_verify) belongs to the cache
 * and stays valid until the next keycache call. A miss parses jwk with jwk_to_pkey_stored:
 * AE_JWS_BADKEY (detail set) when the stored text is not a usable key; nothing is cached then. */
anvil_err keycache_get(struct keycache *kc, int64_t id, const char *jwk, EVP_PKEY **key,
    struct jws_verifier **ver, const char **detail);
/* Drops the entry of account id (its key changed or it was deactivated): not needed for
 * correctness, frees the slot early. */
void keycache_forget(struct keycache *kc, int64_t id);
/* Entries held, and lookups answered from the cache since keycache_new (tests, debugging). */
size_t keycache_count(const struct keycache *kc);
uint64_t keycache_hits(const struct keycache *kc);

#endif
