/* base64url (RFC 4648 §5) without padding, as JOSE uses it. Decoding is strict: no padding,
 * no whitespace, no characters outside the alphabet, no non-zero trailing bits. */
#ifndef ANVIL_B64URL_H
#define ANVIL_B64URL_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

/* Characters needed to encode n bytes, not counting the NUL. */
size_t b64url_encoded_len(size_t n);
/* Writes a NUL-terminated string; AE_TOOBIG if outsz < b64url_encoded_len(n) + 1. */
anvil_err b64url_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
/* Returns a malloc'd NUL-terminated string, or NULL on allocation failure. */
char *b64url_encode_alloc(const uint8_t *in, size_t n);
/* Decodes in[0..n) into out (outsz bytes); *outlen set on success. AE_B64 on bad input. */
anvil_err b64url_decode(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen);
/* Decodes into a malloc'd buffer (one extra NUL byte appended, not counted), refusing results
 * larger than max bytes with AE_TOOBIG before allocating. */
anvil_err b64url_decode_alloc(const char *in, size_t n, size_t max, uint8_t **out,
    size_t *outlen);

#endif
