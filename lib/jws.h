/* JWS in flattened JSON serialization (RFC 7515 §7.2.2) as ACME (RFC 8555 §6.2) constrains it:
 * a protected header only, exactly one of jwk/kid, alg from the allowed set, no "none" or MAC
 * (except jws_verify_hmac, for externalAccountBinding). */
#ifndef ANVIL_JWS_H
#define ANVIL_JWS_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "lib/err.h"

#define JWS_MAX (64 * 1024)            /* request body cap, checked before anything else */
#define JWS_PROTECTED_MAX (8 * 1024)   /* decoded protected header */
#define JWS_SIG_MAX 1024               /* decoded signature (RSA-8192 is 1024 bytes) */

/* Algorithms accepted for account keys, space separated: the `algorithms` of
 * badSignatureAlgorithm problems. */
#define JWS_ALGORITHMS "ES256 ES384 RS256 EdDSA"

struct jws {
	json_object *root;          /* the parsed body */
	json_object *protected_hdr; /* decoded protected header (object) */
	const char *alg;            /* points into protected_hdr */
	const char *nonce;          /* NULL when absent */
	const char *url;            /* NULL when absent */
	const char *kid;            /* exactly one of kid/jwk is non-NULL after jws_parse */
	json_object *jwk;
	uint8_t *payload;           /* decoded payload, NUL-terminated, may be empty */
	size_t payload_len;
	int post_as_get;            /* payload was the empty string */
	json_object *payload_json;  /* parsed payload when non-empty (must be JSON) */
	char *signing_input;        /* "protected.payload" exactly as sent */
	size_t signing_input_len;
	uint8_t *sig;
	size_t sig_len;
	char detail[192];           /* why parsing/verification failed, safe to show a client */
};

/* Parses body[0..len). Checks structure only (no signature): members protected, payload,
 * signature present and strings; no unprotected "header"; protected decodes to a JSON object
 * with string alg, string url, exactly one of jwk (object) / kid (string). A non-empty payload
 * must be JSON (object or, for keyChange's inner JWS, anything). Errors: AE_TOOBIG,
 * AE_JWS_MALFORMED (detail set). On error the struct is still safe to jws_free, and alg is
 * non-NULL whenever the protected header got far enough to name one (so a caller can answer
 * badSignatureAlgorithm for "none", whose empty signature fails parsing). Every cap is
 * AE_TOOBIG: JWS_MAX on the body and each member, JWS_PROTECTED_MAX, JWS_SIG_MAX. */
anvil_err jws_parse(const char *body, size_t len, struct jws *out);
/* Same from an already-parsed JSON object (the keyChange inner JWS, EAB); takes a reference. */
anvil_err jws_parse_obj(json_object *obj, struct jws *out);
/* AE_OK if alg is an accepted signature algorithm (JWS_ALGORITHMS), else AE_JWS_BADALG. */
anvil_err jws_alg_supported(const char *alg);
/* Verifies the signature with key. The alg must fit the key (ES256<->P-256, ES384<->P-384,
 * RS256<->RSA, EdDSA<->Ed25519): AE_JWS_BADALG otherwise; AE_JWS_BADSIG if it does not verify.
 * ECDSA signatures are the fixed-length R||S form of RFC 7518 §3.4. */
anvil_err jws_verify(const struct jws *j, EVP_PKEY *key);
/* A verifier bound to one key, for keys kept across requests (lib/keycache.h): the algorithm
 * implementation is fetched and set up once rather than at every jws_verify. It holds its own
 * reference to key. AE_CRYPTO/AE_NOMEM when it cannot be set up (use jws_verify then). */
struct jws_verifier;
anvil_err jws_verifier_new(EVP_PKEY *key, struct jws_verifier **out);
/* The same answers as jws_verify(j, key) for the verifier's key (AE_CRYPTO if hashing fails). */
anvil_err jws_verify_with(const struct jws *j, struct jws_verifier *v);
void jws_verifier_free(struct jws_verifier *v);
/* HS256/HS384/HS512 over the signing input, constant-time compare. */
anvil_err jws_verify_hmac(const struct jws *j, const uint8_t *key, size_t keylen);
/* Produces a flattened JWS (for tests, tools and the bench client): protected is a JSON
 * object to be serialised as-is; payload may be "" for POST-as-GET. *out is malloc'd. */
anvil_err jws_sign(EVP_PKEY *key, const char *alg, json_object *protected_hdr,
    const char *payload, size_t payload_len, char **out);
/* Same with HS256/HS384/HS512 (externalAccountBinding in tests and tools). */
anvil_err jws_sign_hmac(const uint8_t *key, size_t keylen, const char *alg,
    json_object *protected_hdr, const char *payload, size_t payload_len, char **out);
/* Frees everything jws_parse* filled in; safe on a zeroed or partially filled struct. */
void jws_free(struct jws *j);

#endif
