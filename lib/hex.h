/* Hexadecimal, the one reader every layer uses (serials, key ids, nonce keys, SPKI hashes). */
#ifndef ANVIL_HEX_H
#define ANVIL_HEX_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

/* Writes the lowercase hex of in[0..n) and a NUL: out holds 2 * n + 1 bytes. */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
int hex_digit(int c);
/* Decodes the whole NUL-terminated hex (even length, either case) into out; AE_PARSE when it is
 * not hex or longer than outmax bytes. */
anvil_err hex_decode(const char *hex, uint8_t *out, size_t outmax, size_t *outlen);
/* The same for exactly len bytes (a hash, a key id); AE_PARSE for any other length. */
anvil_err hex_decode_exact(const char *hex, uint8_t *out, size_t len);

#endif
