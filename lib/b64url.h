/* base64url (RFC 4648 §5) without padding, as JOSE uses it, and standard base64 (§4) as RFC
 * 6962 (CT logs' JSON) and RFC 6960 (OCSP GET) use it: one strict decoder for both alphabets.
 * Decoding is strict: no whitespace, no characters outside the alphabet, no non-zero trailing
 * bits, so one value has one spelling. */
#ifndef ANVIL_B64URL_H
#define ANVIL_B64URL_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
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

/* Standard base64 with exactly the padding its length requires (RFC 6962 JSON). AE_TOOBIG when
 * the result would not fit in outsz, AE_B64 on malformed input. */
anvil_err b64_decode(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen);
/* Standard base64 whose padding the caller has already removed (OCSP GET, where clients send
 * it or not). */
anvil_err b64_decode_unpadded(const char *in, size_t n, uint8_t *out, size_t outsz,
    size_t *outlen);
/* Appends the padded standard encoding of in[0..n) to b (no NUL). */
anvil_err b64_encode_buf(struct buf *b, const uint8_t *in, size_t n);

#endif
