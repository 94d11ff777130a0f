/* JSON Web Keys (RFC 7517/7518/8037) and thumbprints (RFC 7638), public keys only. */
#ifndef ANVIL_JWK_H
#define ANVIL_JWK_H
#include <json-c/json.h>
#include <openssl/evp.h>
#include "lib/err.h"

#define JWK_THUMBPRINT_LEN 43 /* base64url of a SHA-256 digest */

/* Accepts kty RSA (n, e; 2048..8192 bits, odd e > 1), EC (crv P-256/P-384, x, y on the curve,
 * coordinates of the exact length) and OKP (crv Ed25519, x). Rejects private members ("d",
 * "p", ...) and unknown kty/crv with AE_JWS_BADKEY; *detail (if non-NULL) gets a static
 * human-readable reason. */
anvil_err jwk_to_pkey(json_object *jwk, EVP_PKEY **out, const char **detail);
/* The same for a key Anvil stored itself after jwk_to_pkey accepted it (accounts.jwk): every
 * check but the EC public-key validation, whose scalar multiplication costs as much as a
 * signature verification (import still refuses a point off the curve). Never for request
 * bytes. */
anvil_err jwk_to_pkey_stored(json_object *jwk, EVP_PKEY **out, const char **detail);
/* Public JWK of pkey, members exactly as RFC 7638 lists them for the kty. */
anvil_err jwk_from_pkey(EVP_PKEY *pkey, json_object **out);
/* RFC 7638 SHA-256 thumbprint, base64url, NUL-terminated. */
anvil_err jwk_thumbprint(json_object *jwk, char out[JWK_THUMBPRINT_LEN + 1]);
/* Canonical JSON (RFC 7638 member set and order) as a malloc'd string: what Anvil stores. */
anvil_err jwk_canonical(json_object *jwk, char **out);

#endif
