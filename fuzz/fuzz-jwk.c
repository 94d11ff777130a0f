/* JWK: any JSON text through jwk_to_pkey; an accepted key must survive jwk_from_pkey with the
 * same key and the same thumbprint. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "lib/jwk.h"

#define JWK_FUZZ_MAX (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_tokener *tok = NULL;
	json_object *jwk = NULL, *back = NULL;
	EVP_PKEY *key = NULL, *key2 = NULL;
	const char *detail = NULL;
	char tp[JWK_THUMBPRINT_LEN + 1], tp2[JWK_THUMBPRINT_LEN + 1];
	char *canon = NULL;

	if (size > JWK_FUZZ_MAX)
		return 0;
	if ((tok = json_tokener_new_ex(16)) == NULL)
		return 0;
	jwk = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (jwk == NULL)
		return 0;

	/* Thumbprint and canonical form work on any object, validated or not. */
	if (jwk_thumbprint(jwk, tp) == AE_OK && strlen(tp) != JWK_THUMBPRINT_LEN)
		abort();
	if (jwk_canonical(jwk, &canon) == AE_OK && canon == NULL)
		abort();
	free(canon);
	canon = NULL;

	if (jwk_to_pkey(jwk, &key, &detail) != AE_OK) {
		if (key != NULL || detail == NULL)
			abort();
		goto out;
	}
	if (key == NULL || detail != NULL)
		abort();
	if (jwk_from_pkey(key, &back) != AE_OK || jwk_to_pkey(back, &key2, NULL) != AE_OK ||
	    EVP_PKEY_eq(key, key2) != 1)
		abort();
	/* Accepted keys are canonical: the thumbprint of the input equals that of the output. */
	if (jwk_thumbprint(jwk, tp) != AE_OK || jwk_thumbprint(back, tp2) != AE_OK ||
	    strcmp(tp, tp2) != 0)
		abort();
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	json_object_put(back);
	json_object_put(jwk);
	ERR_clear_error();
	return 0;
}
