/* Stateless authenticated nonces (DESIGN.md "Nonces"). A nonce is
 * base64url(iv[12] || AES-256-GCM(key, issued_at[8] BE || random[8]) || tag[16]): any host holding
 * the shared key can check it without a database; single use is enforced by the caller by
 * inserting nonce_id into the replay table (unique key) until the nonce would have expired. */
#ifndef ANVIL_NONCE_H
#define ANVIL_NONCE_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

#define NONCE_KEY_LEN 32
#define NONCE_ID_LEN 16
#define NONCE_STR_LEN 59 /* b64url of 44 bytes */

/* Creates a nonce issued at `now` (unix seconds); out must hold NONCE_STR_LEN + 1 bytes. */
anvil_err nonce_make(const uint8_t key[NONCE_KEY_LEN], int64_t now,
    char out[NONCE_STR_LEN + 1]);
/* Checks authenticity and age. AE_NONCE_BAD if it was not made with key (or is malformed),
 * AE_NONCE_EXPIRED if now - issued_at > lifetime or issued_at > now + 60 (clock skew).
 * On success id gets the plaintext (the replay key) and *issued_at its time. */
anvil_err nonce_open(const uint8_t key[NONCE_KEY_LEN], const char *s, size_t len, int64_t now,
    int64_t lifetime, uint8_t id[NONCE_ID_LEN], int64_t *issued_at);

#endif
