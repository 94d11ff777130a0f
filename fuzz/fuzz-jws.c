/* JWS: the request body parser, then verification with the embedded jwk as anvil-fcgi does it.
 * Input containing NUL bytes is split instead into protected-header JSON, payload and raw
 * signature and wrapped in a flattened JWS, so the fuzzer can reach the header checks and the
 * verifiers without having to discover base64url. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "lib/b64url.h"
#include "lib/buf.h"
#include "lib/jwk.h"
#include "lib/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_one(const char *body, size_t len)
{
	struct jws j;
	EVP_PKEY *key = NULL;
	struct jws_verifier *ver = NULL;
	const char *detail = NULL;
	char tp[JWK_THUMBPRINT_LEN + 1];
	anvil_err e;

	e = jws_parse(body, len, &j);
	if (e != AE_OK) {
		/* Every refusal explains itself, in a short static text. */
		if (j.detail[0] == '\0' || (e != AE_JWS_MALFORMED && e != AE_TOOBIG))
			abort();
		goto out;
	}
	if (j.alg == NULL || j.url == NULL || (j.jwk == NULL) == (j.kid == NULL) ||
	    j.signing_input == NULL || j.sig == NULL || j.sig_len == 0 || j.payload == NULL ||
	    j.payload[j.payload_len] != '\0' || (j.post_as_get != (j.payload_len == 0)))
		abort();
	(void)jws_alg_supported(j.alg);
	(void)jws_verify_hmac(&j, (const uint8_t *)"fuzz", 4);
	if (j.jwk != NULL && jwk_to_pkey(j.jwk, &key, &detail) == AE_OK) {
		(void)jwk_thumbprint(j.jwk, tp);
		e = jws_verify(&j, key);
		if (e != AE_OK && e != AE_JWS_BADSIG && e != AE_JWS_BADALG)
			abort();
		/* The cached verifier of anvil-fcgi's key cache must answer exactly the same. */
		if (jws_verifier_new(key, &ver) == AE_OK && jws_verify_with(&j, ver) != e)
			abort();
	}
	/* keyChange: the payload is itself a JWS. */
	if (j.payload_json != NULL) {
		struct jws inner;
		if (jws_parse_obj(j.payload_json, &inner) == AE_OK && inner.jwk != NULL) {
			EVP_PKEY *ik = NULL;
			if (jwk_to_pkey(inner.jwk, &ik, NULL) == AE_OK)
				(void)jws_verify(&inner, ik);
			EVP_PKEY_free(ik);
		}
		jws_free(&inner);
	}
out:
	jws_verifier_free(ver);
	EVP_PKEY_free(key);
	jws_free(&j);
	ERR_clear_error();
}

static void
check_split(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *y, *s;
	char *p64 = NULL, *y64 = NULL, *s64 = NULL;
	struct buf b;

	if ((y = memchr(p, '\0', size)) == NULL)
		return;
	y++;
	if ((s = memchr(y, '\0', (size_t)(end - y))) == NULL)
		return;
	s++;
	p64 = b64url_encode_alloc(p, (size_t)(y - 1 - p));
	y64 = b64url_encode_alloc(y, (size_t)(s - 1 - y));
	s64 = b64url_encode_alloc(s, (size_t)(end - s));
	buf_init(&b, 4 * JWS_MAX);
	if (p64 != NULL && y64 != NULL && s64 != NULL &&
	    buf_printf(&b, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", p64,
	    y64, s64) == AE_OK)
		check_one((const char *)b.data, b.len);
	buf_free(&b);
	free(p64);
	free(y64);
	free(s64);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > JWS_MAX + 16)
		return 0;
	check_one((const char *)data, size);
	check_split(data, size);
	return 0;
}
