#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "lib/b64url.h"
#include "lib/buf.h"
#include "lib/jws.h"

#define JSON_DEPTH 16       /* ACME bodies nest 4 deep at most (keyChange: JWS in JWS) */
#define HMAC_SIG_MAX 64     /* HS512 */

/* What each accepted signature algorithm needs from the key. */
struct alg {
	const char *name;
	const char *md;    /* digest for EVP_DigestVerify; NULL for EdDSA */
	const char *type;  /* EVP_PKEY_is_a */
	const char *group; /* EC group, NULL otherwise */
	size_t coord;      /* ECDSA coordinate length: R||S is twice this */
};

static const struct alg algs[] = {
	{ "ES256", "SHA256", "EC", "prime256v1", 32 },
	{ "ES384", "SHA384", "EC", "secp384r1", 48 },
	{ "RS256", "SHA256", "RSA", NULL, 0 },
	{ "EdDSA", NULL, "ED25519", NULL, 0 },
};

static const struct alg *
find_alg(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(algs[i].name, name) == 0)
			return &algs[i];
	return NULL;
}

static const EVP_MD *
hmac_md(const char *alg)
{
	if (alg == NULL)
		return NULL;
	if (strcmp(alg, "HS256") == 0)
		return EVP_sha256();
	if (strcmp(alg, "HS384") == 0)
		return EVP_sha384();
	if (strcmp(alg, "HS512") == 0)
		return EVP_sha512();
	return NULL;
}

static anvil_err
fail(struct jws *j, anvil_err e, const char *why)
{
	snprintf(j->detail, sizeof(j->detail), "%s", why);
	return e;
}

/* Parses exactly s[0..len) as one JSON value (trailing whitespace allowed). Embedded NULs are
 * refused: C-string consumers of the result would see a truncated document. */
static json_object *
json_parse_exact(const char *s, size_t len)
{
	json_tokener *tok = NULL;
	json_object *obj = NULL;

	if (len == 0 || len > JWS_MAX || memchr(s, '\0', len) != NULL)
		return NULL;
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		/* A bare top-level number or literal ends only at end of input: say so. */
		obj = json_tokener_parse_ex(tok, "", 1);
	} else if (obj != NULL && json_tokener_get_parse_end(tok) != len) {
		json_object_put(obj);
		obj = NULL;
	}
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* A string member without embedded NULs, or NULL (absent, wrong type or NUL inside). */
static const char *
get_cstr(json_object *o, const char *key, int *present)
{
	json_object *v = NULL;
	const char *s;

	*present = json_object_object_get_ex(o, key, &v);
	if (!*present || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

static anvil_err
parse_protected(struct jws *j, const char *b64, size_t len)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	json_object *v = NULL;
	int has_jwk, has_kid, present;
	anvil_err e;

	if ((e = b64url_decode_alloc(b64, len, JWS_PROTECTED_MAX, &raw, &rawlen)) != AE_OK) {
		if (e == AE_TOOBIG)
			return fail(j, AE_TOOBIG, "protected header too large");
		if (e == AE_NOMEM)
			return fail(j, AE_NOMEM, "out of memory");
		return fail(j, AE_JWS_MALFORMED, "protected header is not valid base64url");
	}
	j->protected_hdr = json_parse_exact((const char *)raw, rawlen);
	free(raw);
	if (j->protected_hdr == NULL || !json_object_is_type(j->protected_hdr, json_type_object))
		return fail(j, AE_JWS_MALFORMED, "protected header is not a JSON object");
	if ((j->alg = get_cstr(j->protected_hdr, "alg", &present)) == NULL)
		return fail(j, AE_JWS_MALFORMED, "protected header has no string alg");
	if ((j->url = get_cstr(j->protected_hdr, "url", &present)) == NULL)
		return fail(j, AE_JWS_MALFORMED, "protected header has no string url");
	j->nonce = get_cstr(j->protected_hdr, "nonce", &present);
	if (present && j->nonce == NULL)
		return fail(j, AE_JWS_MALFORMED, "protected header nonce must be a string");
	/* We implement no extension, so any crit is one we do not understand (RFC 7515 4.1.11). */
	if (json_object_object_get_ex(j->protected_hdr, "crit", NULL))
		return fail(j, AE_JWS_MALFORMED, "protected header crit is not supported");
	has_jwk = json_object_object_get_ex(j->protected_hdr, "jwk", &v);
	j->kid = get_cstr(j->protected_hdr, "kid", &has_kid);
	if (has_jwk && has_kid)
		return fail(j, AE_JWS_MALFORMED, "protected header has both jwk and kid");
	if (!has_jwk && !has_kid)
		return fail(j, AE_JWS_MALFORMED, "protected header has neither jwk nor kid");
	if (has_kid && j->kid == NULL)
		return fail(j, AE_JWS_MALFORMED, "protected header kid must be a string");
	if (has_jwk) {
		if (!json_object_is_type(v, json_type_object))
			return fail(j, AE_JWS_MALFORMED, "protected header jwk must be an object");
		j->jwk = v;
	}
	return AE_OK;
}

static anvil_err
parse_root(struct jws *j)
{
	json_object *prot = NULL, *pay = NULL, *sig = NULL;
	const char *ps, *ys, *ss;
	size_t plen, ylen, slen;
	anvil_err e;

	if (!json_object_is_type(j->root, json_type_object))
		return fail(j, AE_JWS_MALFORMED, "JWS must be a JSON object (flattened serialization)");
	if (json_object_object_get_ex(j->root, "signatures", NULL))
		return fail(j, AE_JWS_MALFORMED, "general JWS serialization is not supported");
	if (json_object_object_get_ex(j->root, "header", NULL))
		return fail(j, AE_JWS_MALFORMED, "unprotected header is not allowed");
	json_object_object_foreach(j->root, key, val) {
		(void)val;
		if (strcmp(key, "protected") != 0 && strcmp(key, "payload") != 0 &&
		    strcmp(key, "signature") != 0)
			return fail(j, AE_JWS_MALFORMED, "unexpected member in JWS");
	}
	if (!json_object_object_get_ex(j->root, "protected", &prot) ||
	    !json_object_object_get_ex(j->root, "payload", &pay) ||
	    !json_object_object_get_ex(j->root, "signature", &sig))
		return fail(j, AE_JWS_MALFORMED, "JWS needs protected, payload and signature");
	if (!json_object_is_type(prot, json_type_string) ||
	    !json_object_is_type(pay, json_type_string) ||
	    !json_object_is_type(sig, json_type_string))
		return fail(j, AE_JWS_MALFORMED, "protected, payload and signature must be strings");
	ps = json_object_get_string(prot);
	plen = (size_t)json_object_get_string_len(prot);
	ys = json_object_get_string(pay);
	ylen = (size_t)json_object_get_string_len(pay);
	ss = json_object_get_string(sig);
	slen = (size_t)json_object_get_string_len(sig);
	/* Caps on the encoded lengths first: nothing below allocates more than these allow. */
	if (plen > JWS_MAX || ylen > JWS_MAX || slen > JWS_MAX)
		return fail(j, AE_TOOBIG, "JWS member too large");
	if (plen == 0)
		return fail(j, AE_JWS_MALFORMED, "protected header is empty");
	if ((e = parse_protected(j, ps, plen)) != AE_OK)
		return e;

	if ((e = b64url_decode_alloc(ys, ylen, JWS_MAX, &j->payload, &j->payload_len)) != AE_OK) {
		if (e == AE_TOOBIG || e == AE_NOMEM)
			return fail(j, e, e == AE_NOMEM ? "out of memory" : "payload too large");
		return fail(j, AE_JWS_MALFORMED, "payload is not valid base64url");
	}
	if (j->payload_len == 0) {
		j->post_as_get = 1;
	} else if ((j->payload_json = json_parse_exact((const char *)j->payload,
	    j->payload_len)) == NULL) {
		return fail(j, AE_JWS_MALFORMED, "payload is not valid JSON");
	}

	if ((e = b64url_decode_alloc(ss, slen, JWS_SIG_MAX, &j->sig, &j->sig_len)) != AE_OK) {
		if (e == AE_TOOBIG || e == AE_NOMEM)
			return fail(j, e, e == AE_NOMEM ? "out of memory" : "signature too large");
		return fail(j, AE_JWS_MALFORMED, "signature is not valid base64url");
	}
	if (j->sig_len == 0)
		return fail(j, AE_JWS_MALFORMED, "signature is empty");

	/* plen, ylen <= JWS_MAX: the sum cannot wrap. */
	j->signing_input_len = plen + 1 + ylen;
	if ((j->signing_input = malloc(j->signing_input_len + 1)) == NULL)
		return fail(j, AE_NOMEM, "out of memory");
	memcpy(j->signing_input, ps, plen);
	j->signing_input[plen] = '.';
	memcpy(j->signing_input + plen + 1, ys, ylen);
	j->signing_input[j->signing_input_len] = '\0';
	return AE_OK;
}

anvil_err
jws_parse(const char *body, size_t len, struct jws *out)
{
	memset(out, 0, sizeof(*out));
	if (len > JWS_MAX)
		return fail(out, AE_TOOBIG, "request body too large");
	if (body == NULL || len == 0)
		return fail(out, AE_JWS_MALFORMED, "empty request body");
	out->root = json_parse_exact(body, len);
	if (out->root == NULL)
		return fail(out, AE_JWS_MALFORMED,
		    "body is not a JSON object (flattened JWS serialization required)");
	return parse_root(out);
}

anvil_err
jws_parse_obj(json_object *obj, struct jws *out)
{
	memset(out, 0, sizeof(*out));
	if (obj == NULL)
		return fail(out, AE_JWS_MALFORMED, "JWS must be a JSON object");
	out->root = json_object_get(obj);
	return parse_root(out);
}

anvil_err
jws_alg_supported(const char *alg)
{
	return find_alg(alg) != NULL ? AE_OK : AE_JWS_BADALG;
}

/* AE_OK if key is of the type (and curve) alg needs. */
static anvil_err
key_fits(const struct alg *a, EVP_PKEY *key)
{
	char group[64];

	if (key == NULL || !EVP_PKEY_is_a(key, a->type))
		return AE_JWS_BADALG;
	if (a->group != NULL &&
	    (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), NULL) || strcmp(group, a->group) != 0))
		return AE_JWS_BADALG;
	return AE_OK;
}

/* R||S (RFC 7518 §3.4) to the DER ECDSA-Sig-Value OpenSSL verifies. */
static anvil_err
ecdsa_raw_to_der(const uint8_t *sig, size_t coord, uint8_t **der, size_t *derlen)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = NULL;
	int n;
	anvil_err e = AE_NOMEM;

	*der = NULL;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, (int)coord, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + coord, (int)coord, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(es, &p)) <= 0)
		goto out;
	*der = p;
	*derlen = (size_t)n;
	e = AE_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return e;
}

/* DER ECDSA-Sig-Value to fixed-length R||S. */
static anvil_err
ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t coord, uint8_t *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	const BIGNUM *r, *s;
	anvil_err e = AE_CRYPTO;

	if (es == NULL)
		return AE_CRYPTO;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, out, (int)coord) == (int)coord &&
	    BN_bn2binpad(s, out + coord, (int)coord) == (int)coord)
		e = AE_OK;
	ECDSA_SIG_free(es);
	return e;
}

anvil_err
jws_verify(const struct jws *j, EVP_PKEY *key)
{
	const struct alg *a = find_alg(j->alg);
	EVP_MD_CTX *md = NULL;
	uint8_t *der = NULL;
	const uint8_t *sig = j->sig;
	size_t siglen = j->sig_len;
	anvil_err e;

	if (a == NULL)
		return AE_JWS_BADALG;
	if ((e = key_fits(a, key)) != AE_OK)
		return e;
	if (j->signing_input == NULL || j->sig == NULL)
		return AE_JWS_BADSIG;
	if (a->coord > 0) {
		if (j->sig_len != 2 * a->coord)
			return AE_JWS_BADSIG;
		if ((e = ecdsa_raw_to_der(j->sig, a->coord, &der, &siglen)) != AE_OK)
			goto out;
		sig = der;
	}
	if ((md = EVP_MD_CTX_new()) == NULL) {
		e = AE_NOMEM;
		goto out;
	}
	/* RSA defaults to PKCS#1 v1.5 padding, which is RS256's. */
	if (EVP_DigestVerifyInit_ex(md, NULL, a->md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)j->signing_input,
	    j->signing_input_len) != 1)
		e = AE_JWS_BADSIG;
	else
		e = AE_OK;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ERR_clear_error();
	return e;
}

/* jws_verify above builds an EVP_PKEY_CTX for every call, and OpenSSL 3 then fetches the
 * digest, the key management and the signature implementation by name each time (string
 * compares and lock round trips in the provider store). A key kept across requests keeps its
 * verify context instead: one fetch when the key is first used. */
struct jws_verifier {
	EVP_PKEY *key;
	const struct alg *alg; /* the one algorithm the key fits (key_fits), NULL if none */
	EVP_MD *md;            /* fetched once; NULL for EdDSA, which has no separate digest */
	EVP_PKEY_CTX *pctx;    /* verify-initialised for alg with md; NULL for EdDSA */
};

anvil_err
jws_verifier_new(EVP_PKEY *key, struct jws_verifier **out)
{
	struct jws_verifier *v = NULL;
	anvil_err e = AE_CRYPTO;

	*out = NULL;
	if (key == NULL)
		return AE_JWS_BADKEY;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return AE_NOMEM;
	if (EVP_PKEY_up_ref(key) != 1)
		goto out;
	v->key = key;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]) && v->alg == NULL; i++)
		if (key_fits(&algs[i], key) == AE_OK)
			v->alg = &algs[i];
	if (v->alg != NULL && v->alg->md != NULL &&
	    ((v->md = EVP_MD_fetch(NULL, v->alg->md, NULL)) == NULL ||
	    (v->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_verify_init(v->pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(v->pctx, v->md) != 1))
		goto out;
	*out = v;
	v = NULL;
	e = AE_OK;
out:
	jws_verifier_free(v);
	ERR_clear_error();
	return e;
}

anvil_err
jws_verify_with(const struct jws *j, struct jws_verifier *v)
{
	const struct alg *a = find_alg(j->alg);
	uint8_t dgst[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int dlen = 0;
	const uint8_t *sig = j->sig;
	size_t siglen = j->sig_len;
	anvil_err e;

	if (a == NULL)
		return AE_JWS_BADALG;
	/* Exactly one algorithm fits a key, so this is key_fits's answer. */
	if (a != v->alg)
		return AE_JWS_BADALG;
	if (v->pctx == NULL)
		return jws_verify(j, v->key);
	if (j->signing_input == NULL || j->sig == NULL)
		return AE_JWS_BADSIG;
	if (a->coord > 0) {
		if (j->sig_len != 2 * a->coord)
			return AE_JWS_BADSIG;
		if ((e = ecdsa_raw_to_der(j->sig, a->coord, &der, &siglen)) != AE_OK)
			goto out;
		sig = der;
	}
	/* What EVP_DigestVerify does inside: the digest, then the signature over it. */
	if (EVP_Digest(j->signing_input, j->signing_input_len, dgst, &dlen, v->md, NULL) != 1) {
		e = AE_CRYPTO;
		goto out;
	}
	e = EVP_PKEY_verify(v->pctx, sig, siglen, dgst, dlen) == 1 ? AE_OK : AE_JWS_BADSIG;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return e;
}

void
jws_verifier_free(struct jws_verifier *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_CTX_free(v->pctx);
	EVP_MD_free(v->md);
	EVP_PKEY_free(v->key);
	free(v);
}

anvil_err
jws_verify_hmac(const struct jws *j, const uint8_t *key, size_t keylen)
{
	const EVP_MD *mdt = hmac_md(j->alg);
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (mdt == NULL)
		return AE_JWS_BADALG;
	if (key == NULL || keylen == 0 || keylen > INT32_MAX)
		return AE_JWS_BADKEY;
	if (j->signing_input == NULL || j->sig == NULL)
		return AE_JWS_BADSIG;
	if (HMAC(mdt, key, (int)keylen, (const unsigned char *)j->signing_input,
	    j->signing_input_len, mac, &maclen) == NULL) {
		ERR_clear_error();
		return AE_CRYPTO;
	}
	if (j->sig_len != maclen || CRYPTO_memcmp(mac, j->sig, maclen) != 0)
		return AE_JWS_BADSIG;
	return AE_OK;
}

/* Serialises the protected header and payload into b as the signing input "p.y" (NUL-ended). */
static anvil_err
signing_input(json_object *protected_hdr, const char *payload, size_t payload_len,
    struct buf *b)
{
	const char *hdr;
	char *p = NULL, *y = NULL;
	anvil_err e = AE_NOMEM;

	if (protected_hdr == NULL || !json_object_is_type(protected_hdr, json_type_object) ||
	    (payload == NULL && payload_len > 0) || payload_len > JWS_MAX)
		return AE_INTERNAL;
	hdr = json_object_to_json_string_ext(protected_hdr,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (hdr == NULL)
		return AE_NOMEM;
	if ((p = b64url_encode_alloc((const uint8_t *)hdr, strlen(hdr))) == NULL ||
	    (y = b64url_encode_alloc((const uint8_t *)(payload ? payload : ""), payload_len)) == NULL)
		goto out;
	if ((e = buf_append_str(b, p)) != AE_OK || (e = buf_append_str(b, ".")) != AE_OK ||
	    (e = buf_append_str(b, y)) != AE_OK || (e = buf_nul(b)) != AE_OK)
		goto out;
	e = AE_OK;
out:
	free(p);
	free(y);
	return e;
}

static anvil_err
assemble(const struct buf *in, const uint8_t *sig, size_t siglen, char **out)
{
	struct buf b;
	const char *dot = memchr(in->data, '.', in->len);
	size_t plen = (size_t)(dot - (const char *)in->data);
	char *s = b64url_encode_alloc(sig, siglen);
	anvil_err e;

	*out = NULL;
	if (s == NULL)
		return AE_NOMEM;
	buf_init(&b, 2 * JWS_MAX);
	if ((e = buf_append_str(&b, "{\"protected\":\"")) != AE_OK ||
	    (e = buf_append(&b, in->data, plen)) != AE_OK ||
	    (e = buf_append_str(&b, "\",\"payload\":\"")) != AE_OK ||
	    (e = buf_append(&b, dot + 1, in->len - plen - 1)) != AE_OK ||
	    (e = buf_append_str(&b, "\",\"signature\":\"")) != AE_OK ||
	    (e = buf_append_str(&b, s)) != AE_OK ||
	    (e = buf_append_str(&b, "\"}")) != AE_OK ||
	    (e = buf_nul(&b)) != AE_OK) {
		buf_free(&b);
		goto out;
	}
	*out = (char *)b.data;
out:
	free(s);
	return e;
}

anvil_err
jws_sign(EVP_PKEY *key, const char *alg, json_object *protected_hdr, const char *payload,
    size_t payload_len, char **out)
{
	const struct alg *a = find_alg(alg);
	struct buf in;
	EVP_MD_CTX *md = NULL;
	uint8_t *der = NULL, raw[2 * 48];
	size_t derlen = 0;
	anvil_err e;

	*out = NULL;
	buf_init(&in, 2 * JWS_MAX);
	if (a == NULL)
		return AE_JWS_BADALG;
	if ((e = key_fits(a, key)) != AE_OK)
		return e;
	if ((e = signing_input(protected_hdr, payload, payload_len, &in)) != AE_OK)
		goto out;
	e = AE_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, a->md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(md, NULL, &derlen, in.data, in.len) != 1 ||
	    (der = malloc(derlen)) == NULL ||
	    EVP_DigestSign(md, der, &derlen, in.data, in.len) != 1)
		goto out;
	if (a->coord > 0) {
		if ((e = ecdsa_der_to_raw(der, derlen, a->coord, raw)) != AE_OK)
			goto out;
		e = assemble(&in, raw, 2 * a->coord, out);
	} else {
		e = assemble(&in, der, derlen, out);
	}
out:
	EVP_MD_CTX_free(md);
	free(der);
	buf_free(&in);
	if (e != AE_OK)
		ERR_clear_error();
	return e;
}

anvil_err
jws_sign_hmac(const uint8_t *key, size_t keylen, const char *alg, json_object *protected_hdr,
    const char *payload, size_t payload_len, char **out)
{
	const EVP_MD *mdt = hmac_md(alg);
	struct buf in;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	anvil_err e;

	*out = NULL;
	if (mdt == NULL)
		return AE_JWS_BADALG;
	if (key == NULL || keylen == 0 || keylen > INT32_MAX)
		return AE_JWS_BADKEY;
	buf_init(&in, 2 * JWS_MAX);
	if ((e = signing_input(protected_hdr, payload, payload_len, &in)) != AE_OK)
		goto out;
	if (HMAC(mdt, key, (int)keylen, in.data, in.len, mac, &maclen) == NULL ||
	    maclen > HMAC_SIG_MAX) {
		ERR_clear_error();
		e = AE_CRYPTO;
		goto out;
	}
	e = assemble(&in, mac, maclen, out);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	buf_free(&in);
	return e;
}

void
jws_free(struct jws *j)
{
	if (j == NULL)
		return;
	json_object_put(j->root);
	json_object_put(j->protected_hdr);
	json_object_put(j->payload_json);
	free(j->payload);
	free(j->signing_input);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}
