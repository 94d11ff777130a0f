/* base64url: the strict decoder must accept exactly the canonical encodings, so whatever it
 * accepts re-encodes to the same text, and whatever we encode decodes back. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *dec = NULL, small[16];
	size_t declen = 0, smalllen = 0;
	char *enc = NULL;
	anvil_err e, e2;

	if (size > 64 * 1024)
		return 0;
	e = b64url_decode_alloc((const char *)data, size, 48 * 1024, &dec, &declen);
	if (e == AE_OK) {
		if (dec[declen] != '\0')
			abort();
		enc = b64url_encode_alloc(dec, declen);
		if (enc == NULL || strlen(enc) != size || memcmp(enc, data, size) != 0)
			abort(); /* accepted a non-canonical encoding */
		free(enc);
	} else if (e != AE_B64 && e != AE_TOOBIG) {
		abort();
	}
	/* The fixed-buffer decoder agrees with the allocating one. */
	e2 = b64url_decode((const char *)data, size, small, sizeof(small), &smalllen);
	if (e2 == AE_OK && (e != AE_OK || smalllen != declen || memcmp(small, dec, declen) != 0))
		abort();
	/* The size check comes first, so a small buffer may say TOOBIG for invalid text. */
	if (e == AE_B64 && e2 != AE_B64 && e2 != AE_TOOBIG)
		abort();
	free(dec);

	/* Encoding the raw input round-trips. */
	enc = b64url_encode_alloc(data, size);
	if (enc == NULL || strlen(enc) != b64url_encoded_len(size))
		abort();
	dec = NULL;
	if (b64url_decode_alloc(enc, strlen(enc), size, &dec, &declen) != AE_OK ||
	    declen != size || (size > 0 && memcmp(dec, data, size) != 0))
		abort();
	free(dec);
	free(enc);
	return 0;
}
