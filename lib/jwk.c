#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include "lib/b64url.h"
#include "lib/buf.h"
#include "lib/jwk.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define RSA_E_MAX 8        /* bytes: OpenSSL refuses larger public exponents anyway */
#define JWK_MEMBER_MAX 2048 /* encoded length of any member we read (n of RSA-8192 is 1366) */
#define CANON_MAX 4096

/* Members that only a private (or symmetric) key has. */
static const char *const private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};

struct curve {
	const char *crv;   /* JWK name */
	const char *group; /* OpenSSL group name */
	size_t len;        /* coordinate length */
};

static const struct curve curves[] = {
	{ "P-256", "prime256v1", 32 },
	{ "P-384", "secp384r1", 48 },
};

static anvil_err
bad(const char **detail, const char *why)
{
	if (detail != NULL)
		*detail = why;
	return AE_JWS_BADKEY;
}

/* A string member, or NULL when it is absent or not a string. */
static const char *
get_str(json_object *o, const char *key, size_t *len)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* Decodes a base64url member into a malloc'd buffer of at most max bytes. */
static anvil_err
get_b64(json_object *o, const char *key, size_t max, uint8_t **out, size_t *outlen)
{
	size_t len = 0;
	const char *s = get_str(o, key, &len);

	*out = NULL;
	if (s == NULL || len == 0 || len > JWK_MEMBER_MAX)
		return AE_JWS_BADKEY;
	if (b64url_decode_alloc(s, len, max, out, outlen) != AE_OK)
		return AE_JWS_BADKEY;
	return AE_OK;
}

static anvil_err
rsa_to_pkey(json_object *jwk, EVP_PKEY **out, const char **detail)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	anvil_err err = AE_JWS_BADKEY;
	int bits;

	if (get_b64(jwk, "n", RSA_MAX_BITS / 8, &n, &nlen) != AE_OK) {
		bad(detail, "RSA key: n missing, malformed or too large");
		goto out;
	}
	if (get_b64(jwk, "e", RSA_E_MAX, &e, &elen) != AE_OK) {
		bad(detail, "RSA key: e missing, malformed or too large");
		goto out;
	}
	/* RFC 7518 §6.3.1: minimal octets. Leading zeros would give one key two thumbprints. */
	if (n[0] == 0 || e[0] == 0) {
		bad(detail, "RSA key: n or e has leading zero octets");
		goto out;
	}
	if ((bn_n = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (bn_e = BN_bin2bn(e, (int)elen, NULL)) == NULL) {
		err = AE_NOMEM;
		goto out;
	}
	bits = BN_num_bits(bn_n);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
		bad(detail, "RSA key: modulus must be 2048 to 8192 bits");
		goto out;
	}
	if (!BN_is_odd(bn_n)) {
		bad(detail, "RSA key: modulus is even");
		goto out;
	}
	if (!BN_is_odd(bn_e) || BN_is_one(bn_e)) {
		bad(detail, "RSA key: exponent must be odd and greater than 1");
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		err = AE_NOMEM;
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		bad(detail, "RSA key: rejected by the crypto library");
		goto out;
	}
	err = AE_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return err;
}

static const struct curve *
find_curve(const char *crv, size_t len)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strlen(curves[i].crv) == len && memcmp(curves[i].crv, crv, len) == 0)
			return &curves[i];
	return NULL;
}

static anvil_err
ec_to_pkey(json_object *jwk, int full_check, EVP_PKEY **out, const char **detail)
{
	const struct curve *cv;
	const char *crv;
	size_t crvlen = 0, xlen = 0, ylen = 0;
	uint8_t *x = NULL, *y = NULL, pub[1 + 2 * 48];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pkey = NULL;
	anvil_err err = AE_JWS_BADKEY;

	if ((crv = get_str(jwk, "crv", &crvlen)) == NULL ||
	    (cv = find_curve(crv, crvlen)) == NULL) {
		bad(detail, "EC key: crv must be P-256 or P-384");
		goto out;
	}
	if (get_b64(jwk, "x", cv->len, &x, &xlen) != AE_OK || xlen != cv->len ||
	    get_b64(jwk, "y", cv->len, &y, &ylen) != AE_OK || ylen != cv->len) {
		bad(detail, "EC key: x and y must be base64url coordinates of the curve's length");
		goto out;
	}
	pub[0] = 0x04; /* uncompressed point */
	memcpy(pub + 1, x, cv->len);
	memcpy(pub + 1 + cv->len, y, cv->len);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, cv->group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
	    1 + 2 * cv->len) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		err = AE_NOMEM;
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		bad(detail, "EC key: point is not on the curve");
		goto out;
	}
	/* Full public check: coordinates in range, on the curve, not the point at infinity. Its
	 * scalar multiplication costs as much as verifying a signature, so a key Anvil stored
	 * after this check (jwk_to_pkey_stored) is not checked again on every request. */
	if (full_check && ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(chk) != 1)) {
		bad(detail, "EC key: point is not on the curve");
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	err = AE_OK;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return err;
}

static anvil_err
okp_to_pkey(json_object *jwk, EVP_PKEY **out, const char **detail)
{
	const char *crv;
	size_t crvlen = 0, xlen = 0;
	uint8_t *x = NULL;
	anvil_err err = AE_JWS_BADKEY;

	if ((crv = get_str(jwk, "crv", &crvlen)) == NULL || crvlen != 7 ||
	    memcmp(crv, "Ed25519", 7) != 0) {
		bad(detail, "OKP key: crv must be Ed25519");
		goto out;
	}
	if (get_b64(jwk, "x", 32, &x, &xlen) != AE_OK || xlen != 32) {
		bad(detail, "OKP key: x must be a base64url 32-byte public key");
		goto out;
	}
	if ((*out = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen)) == NULL) {
		bad(detail, "OKP key: rejected by the crypto library");
		goto out;
	}
	err = AE_OK;
out:
	free(x);
	return err;
}

static anvil_err
to_pkey(json_object *jwk, int full_check, EVP_PKEY **out, const char **detail)
{
	const char *kty;
	size_t ktylen = 0;
	anvil_err err;

	*out = NULL;
	if (detail != NULL)
		*detail = NULL;
	if (jwk == NULL || !json_object_is_type(jwk, json_type_object))
		return bad(detail, "jwk must be a JSON object");
	for (size_t i = 0; private_members[i] != NULL; i++)
		if (json_object_object_get_ex(jwk, private_members[i], NULL))
			return bad(detail, "jwk contains private key material");
	if ((kty = get_str(jwk, "kty", &ktylen)) == NULL)
		return bad(detail, "jwk has no string kty");
	if (ktylen == 3 && memcmp(kty, "RSA", 3) == 0)
		err = rsa_to_pkey(jwk, out, detail);
	else if (ktylen == 2 && memcmp(kty, "EC", 2) == 0)
		err = ec_to_pkey(jwk, full_check, out, detail);
	else if (ktylen == 3 && memcmp(kty, "OKP", 3) == 0)
		err = okp_to_pkey(jwk, out, detail);
	else
		err = bad(detail, "unsupported kty (RSA, EC and OKP are accepted)");
	/* Failures above leave reasons on the OpenSSL error queue that nobody will read. */
	if (err != AE_OK)
		ERR_clear_error();
	return err;
}

anvil_err
jwk_to_pkey(json_object *jwk, EVP_PKEY **out, const char **detail)
{
	return to_pkey(jwk, 1, out, detail);
}

anvil_err
jwk_to_pkey_stored(json_object *jwk, EVP_PKEY **out, const char **detail)
{
	return to_pkey(jwk, 0, out, detail);
}

static anvil_err
add_b64(json_object *o, const char *key, const uint8_t *p, size_t n)
{
	char *s = b64url_encode_alloc(p, n);
	json_object *v;

	if (s == NULL)
		return AE_NOMEM;
	v = json_object_new_string(s);
	free(s);
	if (v == NULL)
		return AE_NOMEM;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return AE_NOMEM;
	}
	return AE_OK;
}

static anvil_err
add_str(json_object *o, const char *key, const char *val)
{
	json_object *v = json_object_new_string(val);

	if (v == NULL)
		return AE_NOMEM;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return AE_NOMEM;
	}
	return AE_OK;
}

/* Adds the minimal big-endian encoding of a BIGNUM parameter (pad > 0: exactly pad bytes). */
static anvil_err
add_bn_param(json_object *o, const char *key, EVP_PKEY *pkey, const char *param, size_t pad)
{
	BIGNUM *bn = NULL;
	uint8_t *p = NULL;
	size_t n;
	anvil_err err = AE_CRYPTO;

	if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
		goto out;
	n = pad > 0 ? pad : (size_t)BN_num_bytes(bn);
	if (n == 0 || n > RSA_MAX_BITS / 8 || (p = malloc(n)) == NULL) {
		err = n == 0 || n > RSA_MAX_BITS / 8 ? AE_CRYPTO : AE_NOMEM;
		goto out;
	}
	if (BN_bn2binpad(bn, p, (int)n) != (int)n)
		goto out;
	err = add_b64(o, key, p, n);
out:
	free(p);
	BN_free(bn);
	return err;
}

anvil_err
jwk_from_pkey(EVP_PKEY *pkey, json_object **out)
{
	json_object *o = NULL;
	anvil_err err = AE_JWS_BADKEY;
	char group[64];
	uint8_t raw[32], pt[1 + 2 * 48];
	size_t rawlen = sizeof(raw), ptlen = 0;

	*out = NULL;
	if ((o = json_object_new_object()) == NULL)
		return AE_NOMEM;
	/* Members added in RFC 7638 order so the serialisation is already canonical. */
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if ((err = add_bn_param(o, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0)) != AE_OK ||
		    (err = add_str(o, "kty", "RSA")) != AE_OK ||
		    (err = add_bn_param(o, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0)) != AE_OK)
			goto out;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		const struct curve *cv = NULL;
		if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		    sizeof(group), NULL))
			goto out;
		for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
			if (strcmp(curves[i].group, group) == 0)
				cv = &curves[i];
		if (cv == NULL)
			goto out;
		if ((err = add_str(o, "crv", cv->crv)) != AE_OK ||
		    (err = add_str(o, "kty", "EC")) != AE_OK)
			goto out;
		/* The encoded point (always uncompressed in OpenSSL 3, whatever the key's point
		 * format) holds x and y padded to the coordinate length: one parameter read
		 * instead of two, each of which costs about 0.1 million instructions (callgrind).
		 * Anything else takes the long way. */
		if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
		    sizeof(pt), &ptlen) == 1 && ptlen == 1 + 2 * cv->len && pt[0] == 0x04) {
			if ((err = add_b64(o, "x", pt + 1, cv->len)) != AE_OK ||
			    (err = add_b64(o, "y", pt + 1 + cv->len, cv->len)) != AE_OK)
				goto out;
		} else if ((err = add_bn_param(o, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, cv->len)) !=
		    AE_OK ||
		    (err = add_bn_param(o, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y, cv->len)) != AE_OK) {
			goto out;
		}
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || rawlen != 32) {
			err = AE_CRYPTO;
			goto out;
		}
		if ((err = add_str(o, "crv", "Ed25519")) != AE_OK ||
		    (err = add_str(o, "kty", "OKP")) != AE_OK ||
		    (err = add_b64(o, "x", raw, rawlen)) != AE_OK)
			goto out;
	} else {
		goto out;
	}
	*out = o;
	o = NULL;
	err = AE_OK;
out:
	json_object_put(o);
	if (err != AE_OK)
		ERR_clear_error();
	return err;
}

/* Appends "key":"value" after checking the value needs no JSON escaping: every member RFC 7638
 * keeps is base64url or a fixed name from the same alphabet. */
static anvil_err
canon_member(struct buf *b, json_object *jwk, const char *key, int first)
{
	size_t len = 0;
	const char *v = get_str(jwk, key, &len);
	anvil_err e;

	if (v == NULL || len == 0 || len > JWK_MEMBER_MAX)
		return AE_JWS_BADKEY;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return AE_JWS_BADKEY;
	}
	if ((e = buf_printf(b, "%s\"%s\":\"", first ? "{" : ",", key)) != AE_OK ||
	    (e = buf_append(b, v, len)) != AE_OK ||
	    (e = buf_append_str(b, "\"")) != AE_OK)
		return e;
	return AE_OK;
}

static anvil_err
canonical_buf(json_object *jwk, struct buf *b)
{
	static const char *const rsa[] = { "e", "kty", "n", NULL };
	static const char *const ec[] = { "crv", "kty", "x", "y", NULL };
	static const char *const okp[] = { "crv", "kty", "x", NULL };
	const char *const *members;
	const char *kty;
	size_t len = 0;
	anvil_err e;

	if (jwk == NULL || !json_object_is_type(jwk, json_type_object) ||
	    (kty = get_str(jwk, "kty", &len)) == NULL)
		return AE_JWS_BADKEY;
	if (len == 3 && memcmp(kty, "RSA", 3) == 0)
		members = rsa;
	else if (len == 2 && memcmp(kty, "EC", 2) == 0)
		members = ec;
	else if (len == 3 && memcmp(kty, "OKP", 3) == 0)
		members = okp;
	else
		return AE_JWS_BADKEY;
	for (size_t i = 0; members[i] != NULL; i++)
		if ((e = canon_member(b, jwk, members[i], i == 0)) != AE_OK)
			return e;
	if ((e = buf_append_str(b, "}")) != AE_OK)
		return e;
	return buf_nul(b);
}

anvil_err
jwk_canonical(json_object *jwk, char **out)
{
	struct buf b;
	anvil_err e;

	*out = NULL;
	buf_init(&b, CANON_MAX);
	if ((e = canonical_buf(jwk, &b)) != AE_OK) {
		buf_free(&b);
		return e;
	}
	*out = (char *)b.data;
	return AE_OK;
}

anvil_err
jwk_thumbprint(json_object *jwk, char out[JWK_THUMBPRINT_LEN + 1])
{
	struct buf b;
	uint8_t md[32];
	unsigned int mdlen = 0;
	anvil_err e;

	out[0] = '\0';
	buf_init(&b, CANON_MAX);
	if ((e = canonical_buf(jwk, &b)) != AE_OK)
		goto out;
	if (EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		e = AE_CRYPTO;
		goto out;
	}
	e = b64url_encode(md, sizeof(md), out, JWK_THUMBPRINT_LEN + 1);
out:
	buf_free(&b);
	return e;
}
