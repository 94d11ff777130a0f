/* Standard base64 (RFC 4648 section 4, with padding), as RFC 6962 uses it in JSON. Decoding is
 * strict because the input comes from CT logs and configuration: padding exactly as the length
 * requires, no whitespace, no bytes outside the alphabet, no non-zero trailing bits, so one
 * value has one spelling. */
#ifndef ANVIL_CT_B64_H
#define ANVIL_CT_B64_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/err.h"

/* Appends the encoding of in[0..n) to b (no NUL). */
anvil_err ct_b64_encode(struct buf *b, const uint8_t *in, size_t n);
/* Decodes in[0..n) into out (outsz bytes); AE_TOOBIG when the result would not fit, AE_B64 on
 * malformed input. */
anvil_err ct_b64_decode(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen);

#endif
