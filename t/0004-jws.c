/* JWS: RFC 7515/7520/8037 vectors, sign/verify round trips, and every structural rejection. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "lib/b64url.h"
#include "lib/buf.h"
#include "lib/jwk.h"
#include "lib/jws.h"
#include "t/tap.h"

#define A2_N \
	"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0B" \
	"m4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5" \
	"z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7" \
	"aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define A_PAYLOAD \
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0" \
	"cnVlfQ"
#define A2_SIG \
	"cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2F" \
	"p5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBM" \
	"Hlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI" \
	"2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
#define A3_JWK \
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}"
#define A3_SIG \
	"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define ED_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define ED_INPUT "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define ED_SIG \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define BILBO_N \
	"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJ" \
	"mSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tp" \
	"e-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vn" \
	"iUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw"
#define BILBO_PROT "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
#define BILBO_PAYLOAD \
	"SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb2" \
	"50byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcg" \
	"d2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
#define BILBO_SIG \
	"MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xu" \
	"glII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aA" \
	"E6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KL" \
	"UQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg"
#define A1_KEY \
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A1_INPUT "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." A_PAYLOAD
#define A1_SIG "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

#define URL "https://acme.example/acme/new-account"

static EVP_PKEY *
key_of(const char *jwk_json)
{
	json_object *o = json_tokener_parse(jwk_json);
	EVP_PKEY *k = NULL;

	if (jwk_to_pkey(o, &k, NULL) != AE_OK)
		diag("test bug: key rejected: %s", jwk_json);
	json_object_put(o);
	return k;
}

/* A struct jws as jws_parse would leave it, for vectors whose headers lack ACME's members. */
static void
vector(struct jws *j, const char *alg, const char *input, const char *sig)
{
	memset(j, 0, sizeof(*j));
	j->alg = alg;
	j->signing_input = strdup(input);
	j->signing_input_len = strlen(input);
	if (b64url_decode_alloc(sig, strlen(sig), JWS_SIG_MAX, &j->sig, &j->sig_len) != AE_OK)
		diag("test bug: bad signature encoding");
}

static void
test_vectors(void)
{
	struct jws j;
	EVP_PKEY *k;

	k = key_of("{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}");
	vector(&j, "RS256", "eyJhbGciOiJSUzI1NiJ9." A_PAYLOAD, A2_SIG);
	ok(jws_verify(&j, k) == AE_OK, "RFC 7515 A.2 RS256 verifies");
	j.signing_input[30] ^= 1;
	ok(jws_verify(&j, k) == AE_JWS_BADSIG, "RFC 7515 A.2 with one bit changed does not");
	jws_free(&j);
	EVP_PKEY_free(k);

	k = key_of(A3_JWK);
	vector(&j, "ES256", "eyJhbGciOiJFUzI1NiJ9." A_PAYLOAD, A3_SIG);
	ok(jws_verify(&j, k) == AE_OK, "RFC 7515 A.3 ES256 verifies (R||S)");
	j.sig[10] ^= 0x80;
	ok(jws_verify(&j, k) == AE_JWS_BADSIG, "RFC 7515 A.3 with R changed does not");
	jws_free(&j);
	EVP_PKEY_free(k);

	k = key_of("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}");
	vector(&j, "EdDSA", ED_INPUT, ED_SIG);
	ok(jws_verify(&j, k) == AE_OK, "RFC 8037 A.5 Ed25519 verifies");
	j.sig[63] ^= 1;
	ok(jws_verify(&j, k) == AE_JWS_BADSIG, "RFC 8037 A.5 with the signature changed does not");
	jws_free(&j);
	EVP_PKEY_free(k);

	/* RFC 8037 A.4: Ed25519 is deterministic, so jws_sign must reproduce the signature. */
	uint8_t d[32];
	size_t dlen = 0;
	char *out = NULL;
	json_object *hdr = json_tokener_parse("{\"alg\":\"EdDSA\"}");
	b64url_decode(ED_D, strlen(ED_D), d, sizeof(d), &dlen);
	k = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d, dlen);
	ok(k != NULL && jws_sign(k, "EdDSA", hdr, "Example of Ed25519 signing", 26, &out) ==
	    AE_OK && out != NULL && strstr(out, "\"signature\":\"" ED_SIG "\"") != NULL &&
	    strstr(out, "\"protected\":\"eyJhbGciOiJFZERTQSJ9\"") != NULL,
	    "RFC 8037 A.4 Ed25519 signature reproduced by jws_sign");
	free(out);
	json_object_put(hdr);
	EVP_PKEY_free(k);

	k = key_of("{\"kty\":\"RSA\",\"n\":\"" BILBO_N "\",\"e\":\"AQAB\"}");
	vector(&j, "RS256", BILBO_PROT "." BILBO_PAYLOAD, BILBO_SIG);
	ok(jws_verify(&j, k) == AE_OK, "RFC 7520 §4.1 RS256 verifies");
	jws_free(&j);
	EVP_PKEY_free(k);

	/* RFC 7520 §4.1.3 as flattened JSON: well-formed JOSE, but not an ACME request. */
	const char *flat = "{\"protected\":\"" BILBO_PROT "\",\"payload\":\"" BILBO_PAYLOAD
	    "\",\"signature\":\"" BILBO_SIG "\"}";
	ok(jws_parse(flat, strlen(flat), &j) == AE_JWS_MALFORMED && j.detail[0] != '\0',
	    "RFC 7520 §4.1.3 flattened JWS lacks url: %s", j.detail);
	jws_free(&j);
	const char *compact = BILBO_PROT "." BILBO_PAYLOAD "." BILBO_SIG;
	ok(jws_parse(compact, strlen(compact), &j) == AE_JWS_MALFORMED,
	    "compact serialization rejected: %s", j.detail);
	jws_free(&j);
	const char *general = "{\"payload\":\"" BILBO_PAYLOAD "\",\"signatures\":[{\"protected\":\""
	    BILBO_PROT "\",\"signature\":\"" BILBO_SIG "\"}]}";
	ok(jws_parse(general, strlen(general), &j) == AE_JWS_MALFORMED &&
	    strstr(j.detail, "general") != NULL, "general serialization rejected: %s", j.detail);
	jws_free(&j);

	/* RFC 7515 A.1 HS256. */
	uint8_t hk[64];
	size_t hklen = 0;
	b64url_decode(A1_KEY, strlen(A1_KEY), hk, sizeof(hk), &hklen);
	vector(&j, "HS256", A1_INPUT, A1_SIG);
	ok(jws_verify_hmac(&j, hk, hklen) == AE_OK, "RFC 7515 A.1 HS256 verifies");
	hk[0] ^= 1;
	ok(jws_verify_hmac(&j, hk, hklen) == AE_JWS_BADSIG, "RFC 7515 A.1 with another key does not");
	jws_free(&j);
}

static json_object *
header(const char *alg, EVP_PKEY *key, const char *kid, const char *nonce)
{
	json_object *h = json_object_new_object(), *jwk = NULL;

	json_object_object_add(h, "alg", json_object_new_string(alg));
	if (key != NULL && jwk_from_pkey(key, &jwk) == AE_OK)
		json_object_object_add(h, "jwk", jwk);
	if (kid != NULL)
		json_object_object_add(h, "kid", json_object_new_string(kid));
	if (nonce != NULL)
		json_object_object_add(h, "nonce", json_object_new_string(nonce));
	json_object_object_add(h, "url", json_object_new_string(URL));
	return h;
}

/* Replaces one member of a serialised flattened JWS; returns a malloc'd body. */
static char *
replace_member(const char *body, const char *member, const char *value)
{
	json_object *o = json_tokener_parse(body);
	char *s;

	json_object_object_add(o, member, json_object_new_string(value));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static void
round_trip(const char *alg, EVP_PKEY *key, EVP_PKEY *other)
{
	json_object *h = header(alg, key, NULL, "bm9uY2U");
	const char *payload = "{\"termsOfServiceAgreed\":true}";
	char *body = NULL, *bad = NULL, *p64 = NULL;
	struct jws j;
	EVP_PKEY *embedded = NULL;

	ok(jws_sign(key, alg, h, payload, strlen(payload), &body) == AE_OK && body != NULL,
	    "%s: sign", alg);
	json_object_put(h);
	if (body == NULL)
		return;
	ok(jws_parse(body, strlen(body), &j) == AE_OK && strcmp(j.alg, alg) == 0 &&
	    j.nonce != NULL && strcmp(j.nonce, "bm9uY2U") == 0 && strcmp(j.url, URL) == 0 &&
	    j.jwk != NULL && j.kid == NULL && !j.post_as_get && j.payload_len == strlen(payload) &&
	    json_object_is_type(j.payload_json, json_type_object),
	    "%s: parse (%s)", alg, j.detail);
	ok(j.jwk != NULL && jwk_to_pkey(j.jwk, &embedded, NULL) == AE_OK &&
	    jws_verify(&j, embedded) == AE_OK, "%s: verifies with the embedded jwk", alg);
	ok(jws_verify(&j, key) == AE_OK, "%s: verifies with the signing key", alg);
	ok(jws_verify(&j, other) == AE_JWS_BADALG, "%s: a key of another type is refused", alg);
	ok(jws_verify_hmac(&j, (const uint8_t *)"k", 1) == AE_JWS_BADALG,
	    "%s: jws_verify_hmac refuses a signature alg", alg);

	/* Same signature over another payload. */
	p64 = b64url_encode_alloc((const uint8_t *)"{\"termsOfServiceAgreed\":false}", 30);
	bad = replace_member(body, "payload", p64);
	jws_free(&j);
	ok(jws_parse(bad, strlen(bad), &j) == AE_OK && jws_verify(&j, key) == AE_JWS_BADSIG,
	    "%s: tampered payload does not verify", alg);
	jws_free(&j);
	free(bad);
	free(p64);

	/* Signature with its last byte changed, and one byte longer. */
	jws_parse(body, strlen(body), &j);
	if (j.sig_len > 0) {
		uint8_t sig[JWS_SIG_MAX + 1];
		memcpy(sig, j.sig, j.sig_len);
		sig[j.sig_len - 1] ^= 0x01;
		char *s64 = b64url_encode_alloc(sig, j.sig_len);
		bad = replace_member(body, "signature", s64);
		free(s64);
		struct jws t;
		ok(jws_parse(bad, strlen(bad), &t) == AE_OK && jws_verify(&t, key) == AE_JWS_BADSIG,
		    "%s: tampered signature does not verify", alg);
		jws_free(&t);
		free(bad);
		sig[j.sig_len - 1] ^= 0x01;
		sig[j.sig_len] = 0;
		s64 = b64url_encode_alloc(sig, j.sig_len + 1);
		bad = replace_member(body, "signature", s64);
		free(s64);
		ok(jws_parse(bad, strlen(bad), &t) == AE_OK && jws_verify(&t, key) == AE_JWS_BADSIG,
		    "%s: signature one byte too long does not verify", alg);
		jws_free(&t);
		free(bad);
		s64 = b64url_encode_alloc(sig, j.sig_len - 1);
		bad = replace_member(body, "signature", s64);
		free(s64);
		ok(jws_parse(bad, strlen(bad), &t) == AE_OK && jws_verify(&t, key) == AE_JWS_BADSIG,
		    "%s: signature one byte too short does not verify", alg);
		jws_free(&t);
		free(bad);
	}
	jws_free(&j);

	/* POST-as-GET with a kid. */
	h = header(alg, NULL, "https://acme.example/acme/acct/1", "bm9uY2U");
	free(body);
	body = NULL;
	ok(jws_sign(key, alg, h, "", 0, &body) == AE_OK && jws_parse(body, strlen(body), &j) ==
	    AE_OK && j.post_as_get && j.payload_len == 0 && j.payload != NULL &&
	    j.payload[0] == '\0' && j.payload_json == NULL && j.jwk == NULL &&
	    strcmp(j.kid, "https://acme.example/acme/acct/1") == 0 && jws_verify(&j, key) == AE_OK,
	    "%s: POST-as-GET with kid", alg);
	jws_free(&j);
	json_object_put(h);

	/* jws_parse_obj takes its own reference. */
	json_object *o = json_tokener_parse(body);
	ok(jws_parse_obj(o, &j) == AE_OK && jws_verify(&j, key) == AE_OK, "%s: jws_parse_obj", alg);
	json_object_put(o);
	ok(j.kid != NULL && j.post_as_get, "%s: parse_obj result outlives the caller's ref", alg);
	jws_free(&j);

	h = header(alg, key, NULL, NULL);
	ok(jws_sign(other, alg, h, "{}", 2, &bad) == AE_JWS_BADALG && bad == NULL,
	    "%s: jws_sign refuses a key of another type", alg);
	json_object_put(h);

	EVP_PKEY_free(embedded);
	free(body);
}

static void
test_round_trips(void)
{
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");

	round_trip("ES256", p256, p384);
	round_trip("ES384", p384, p256);
	round_trip("RS256", rsa, ed);
	round_trip("EdDSA", ed, rsa);

	/* Every wrong pairing. */
	struct jws j;
	memset(&j, 0, sizeof(j));
	j.signing_input = (char *)"a.b";
	j.signing_input_len = 3;
	j.sig = (uint8_t *)"0123456789012345678901234567890123456789012345678901234567890123";
	j.sig_len = 64;
	static const char *const algs[] = { "ES256", "ES384", "RS256", "EdDSA" };
	EVP_PKEY *keys[] = { p256, p384, rsa, ed };
	int good = 1;
	for (int a = 0; a < 4; a++)
		for (int k = 0; k < 4; k++) {
			j.alg = algs[a];
			anvil_err e = jws_verify(&j, keys[k]);
			if ((a == k && e != AE_JWS_BADSIG) || (a != k && e != AE_JWS_BADALG)) {
				diag("alg %s with key %d: %s", algs[a], k, anvil_strerror(e));
				good = 0;
			}
		}
	ok(good, "each alg is refused with each key type but its own");
	j.alg = "ES256";
	ok(jws_verify(&j, p521) == AE_JWS_BADALG, "ES256 with a P-521 key");
	j.alg = "ES512";
	ok(jws_verify(&j, p521) == AE_JWS_BADALG, "ES512 refused even with a P-521 key");
	ok(jws_verify(&j, NULL) == AE_JWS_BADALG, "no key");

	json_object *h = header("ES512", p521, NULL, NULL);
	char *out = NULL;
	ok(jws_sign(p521, "ES512", h, "{}", 2, &out) == AE_JWS_BADALG && out == NULL,
	    "jws_sign refuses ES512");
	json_object_put(h);

	/* A DER signature where R||S belongs. */
	h = header("ES256", p256, NULL, NULL);
	jws_sign(p256, "ES256", h, "{}", 2, &out);
	json_object_put(h);
	uint8_t der[80];
	size_t derlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct jws g;
	memset(&g, 0, sizeof(g));
	if (out != NULL && jws_parse(out, strlen(out), &g) == AE_OK) {
		derlen = sizeof(der);
		EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, p256, NULL);
		EVP_DigestSign(md, der, &derlen, (uint8_t *)g.signing_input, g.signing_input_len);
		free(g.sig);
		g.sig = malloc(derlen);
		memcpy(g.sig, der, derlen);
		g.sig_len = derlen;
		ok(jws_verify(&g, p256) == AE_JWS_BADSIG, "ES256 with a DER signature (%zu bytes)",
		    derlen);
	}
	jws_free(&g);
	EVP_MD_CTX_free(md);
	free(out);

	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(p521);
}

static void
test_algs(void)
{
	static const char *const good[] = { "ES256", "ES384", "RS256", "EdDSA" };
	static const char *const bad[] = { "none", "None", "HS256", "HS384", "HS512", "PS256",
		"PS384", "PS512", "ES512", "RS384", "RS512", "ES256K", "Ed25519", "es256", "",
		"ES256 ", "RS256\n" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(jws_alg_supported(good[i]) == AE_OK, "%s supported", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(jws_alg_supported(bad[i]) == AE_JWS_BADALG, "\"%.*s%s\" not supported",
		    (int)strcspn(bad[i], "\n"), bad[i], strchr(bad[i], '\n') ? "\\n" : "");
	ok(jws_alg_supported(NULL) == AE_JWS_BADALG, "NULL not supported");
}

/* A flattened JWS from raw protected/payload JSON texts and a raw signature member. */
static char *
mk(const char *prot, const char *payload, const char *sig)
{
	char *p = b64url_encode_alloc((const uint8_t *)prot, strlen(prot));
	char *y = b64url_encode_alloc((const uint8_t *)payload, strlen(payload));
	struct buf b;

	buf_init(&b, 4 * JWS_MAX);
	buf_printf(&b, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", p, y, sig);
	buf_nul(&b);
	free(p);
	free(y);
	return (char *)b.data;
}

#define EC_JWK \
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}"
#define SIG64 "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

static void
expect(const char *body, size_t len, anvil_err want, const char *why)
{
	struct jws j;
	anvil_err e = jws_parse(body, len, &j);

	ok(e == want && (e == AE_OK || j.detail[0] != '\0') && strstr(j.detail, "XSS") == NULL,
	    "%s: %s (%s)", why, anvil_strerror(e), j.detail);
	jws_free(&j);
}

static void
expect_mk(const char *prot, const char *payload, const char *sig, anvil_err want,
    const char *why)
{
	char *body = mk(prot, payload, sig);
	expect(body, strlen(body), want, why);
	free(body);
}

static void
test_structure(void)
{
	const char *ok_prot = "{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"nonce\":\"n\",\"url\":\"" URL
	    "\"}";
	char *body;
	struct jws j;

	expect_mk(ok_prot, "{}", SIG64, AE_OK, "well-formed");
	expect_mk("{\"alg\":\"ES256\",\"kid\":\"k\",\"url\":\"u\"}", "", SIG64, AE_OK,
	    "kid, no nonce, POST-as-GET");
	expect_mk("{\"alg\":\"none\",\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", "AA", AE_OK,
	    "alg none parses (refused at verification)");
	body = mk("{\"alg\":\"none\",\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", "AA");
	EVP_PKEY *k = key_of(EC_JWK);
	ok(jws_parse(body, strlen(body), &j) == AE_OK && jws_verify(&j, k) == AE_JWS_BADALG,
	    "alg none refused by jws_verify");
	jws_free(&j);
	free(body);
	body = mk("{\"alg\":\"HS256\",\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", SIG64);
	ok(jws_parse(body, strlen(body), &j) == AE_OK && jws_verify(&j, k) == AE_JWS_BADALG,
	    "HS256 refused by jws_verify");
	jws_free(&j);
	free(body);
	body = mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", SIG64);
	ok(jws_parse(body, strlen(body), &j) == AE_OK &&
	    jws_verify_hmac(&j, (const uint8_t *)"key", 3) == AE_JWS_BADALG,
	    "jws_verify_hmac refuses ES256");
	jws_free(&j);
	free(body);
	EVP_PKEY_free(k);

	expect_mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"kid\":\"k\",\"url\":\"u\"}", "{}", SIG64,
	    AE_JWS_MALFORMED, "both jwk and kid");
	expect_mk("{\"alg\":\"ES256\",\"url\":\"u\"}", "{}", SIG64, AE_JWS_MALFORMED,
	    "neither jwk nor kid");
	expect_mk("{\"alg\":\"ES256\",\"kid\":5,\"url\":\"u\"}", "{}", SIG64, AE_JWS_MALFORMED,
	    "kid not a string");
	expect_mk("{\"alg\":\"ES256\",\"jwk\":\"x\",\"url\":\"u\"}", "{}", SIG64, AE_JWS_MALFORMED,
	    "jwk not an object");
	expect_mk("{\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", SIG64, AE_JWS_MALFORMED, "no alg");
	expect_mk("{\"alg\":256,\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", SIG64, AE_JWS_MALFORMED,
	    "alg not a string");
	expect_mk("{\"alg\":\"ES256\\u0000x\",\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", SIG64,
	    AE_JWS_MALFORMED, "alg with an embedded NUL");
	expect_mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK "}", "{}", SIG64, AE_JWS_MALFORMED, "no url");
	expect_mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"url\":[]}", "{}", SIG64,
	    AE_JWS_MALFORMED, "url not a string");
	expect_mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"url\":\"u\",\"nonce\":1}", "{}", SIG64,
	    AE_JWS_MALFORMED, "nonce not a string");
	expect_mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"url\":\"u\",\"crit\":[\"b64\"],"
	    "\"b64\":false}", "{}", SIG64, AE_JWS_MALFORMED, "crit");
	expect_mk("[\"alg\"]", "{}", SIG64, AE_JWS_MALFORMED, "protected header is an array");
	expect_mk("{\"alg\":\"ES256\",", "{}", SIG64, AE_JWS_MALFORMED,
	    "protected header is truncated JSON");
	expect_mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"url\":\"u\"} x", "{}", SIG64,
	    AE_JWS_MALFORMED, "protected header with trailing garbage");
	expect_mk(ok_prot, "not json XSS", SIG64, AE_JWS_MALFORMED, "payload not JSON");
	expect_mk(ok_prot, "{\"a\":1}{}", SIG64, AE_JWS_MALFORMED, "payload of two documents");
	expect_mk(ok_prot, "[1,2]", SIG64, AE_OK, "payload array (keyChange inner JWS may)");
	expect_mk(ok_prot, "{}", "", AE_JWS_MALFORMED, "empty signature");
	expect_mk(ok_prot, "{}", "AA==", AE_JWS_MALFORMED, "padded signature");
	expect_mk(ok_prot, "{}", "A+B/", AE_JWS_MALFORMED, "signature in standard base64");

	static const char *const raw[] = {
		"", "{}", "[]", "null", "\"str\"", "{\"protected\":1,\"payload\":\"\",\"signature\":\"AA\"}",
		"{\"protected\":\"e30\",\"payload\":\"\"}",
		"{\"protected\":\"e30\",\"signature\":\"AA\"}",
		"{\"payload\":\"\",\"signature\":\"AA\"}",
		"{\"protected\":\"\",\"payload\":\"\",\"signature\":\"AA\"}",
		"{\"protected\":\"e30=\",\"payload\":\"\",\"signature\":\"AA\"}",
		"{\"protected\":\"e 30\",\"payload\":\"\",\"signature\":\"AA\"}",
		"{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AA\",\"header\":{\"kid\":\"k\"}}",
		"{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AA\",\"extra\":1}",
		"{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AA\"",
		"{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AA\"} junk",
		"{'protected':'e30','payload':'','signature':'AA'} XSS",
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
		expect(raw[i], strlen(raw[i]), AE_JWS_MALFORMED, raw[i][0] ? raw[i] : "empty body");

	body = mk(ok_prot, "{}", SIG64);
	size_t len = strlen(body);
	expect(body, len + 1, AE_JWS_MALFORMED, "body with a trailing NUL counted in its length");
	char *withnul = strdup(body);
	withnul[1] = '\0';
	expect(withnul, len, AE_JWS_MALFORMED, "body with an embedded NUL");
	free(withnul);
	expect(body, len - 1, AE_JWS_MALFORMED, "body cut one byte short");
	free(body);

	body = mk("{\"alg\":\"ES256\",\"jwk\":" EC_JWK ",\"url\":\"u\"}", "{}", SIG64);
	char *unprot = replace_member(body, "header", "x");
	expect(unprot, strlen(unprot), AE_JWS_MALFORMED, "unprotected header member");
	free(unprot);
	free(body);
}

static void
test_caps(void)
{
	struct buf b;
	char *big, *body;

	/* Body over JWS_MAX: refused before parsing, even though it is not JSON. */
	big = malloc(JWS_MAX + 2);
	memset(big, ' ', JWS_MAX + 1);
	big[JWS_MAX + 1] = '\0';
	expect(big, JWS_MAX + 1, AE_TOOBIG, "body over JWS_MAX");
	free(big);

	/* Protected header whose decoded size is over JWS_PROTECTED_MAX. */
	buf_init(&b, 2 * JWS_MAX);
	buf_append_str(&b, "{\"alg\":\"ES256\",\"kid\":\"k\",\"url\":\"u\",\"pad\":\"");
	while (b.len < JWS_PROTECTED_MAX)
		buf_append_str(&b, "xxxxxxxxxxxxxxxx");
	buf_append_str(&b, "\"}");
	buf_nul(&b);
	body = mk((char *)b.data, "{}", SIG64);
	expect(body, strlen(body), AE_TOOBIG, "protected header over JWS_PROTECTED_MAX");
	free(body);
	buf_free(&b);

	/* Signature over JWS_SIG_MAX. */
	uint8_t sig[JWS_SIG_MAX + 1];
	memset(sig, 7, sizeof(sig));
	char *s64 = b64url_encode_alloc(sig, sizeof(sig));
	body = mk("{\"alg\":\"RS256\",\"kid\":\"k\",\"url\":\"u\"}", "{}", s64);
	expect(body, strlen(body), AE_TOOBIG, "signature over JWS_SIG_MAX");
	free(body);
	free(s64);
	s64 = b64url_encode_alloc(sig, JWS_SIG_MAX);
	body = mk("{\"alg\":\"RS256\",\"kid\":\"k\",\"url\":\"u\"}", "{}", s64);
	expect(body, strlen(body), AE_OK, "signature of exactly JWS_SIG_MAX");
	free(body);
	free(s64);

	/* Deep nesting in the payload is refused by the parser's depth limit. */
	buf_init(&b, JWS_MAX);
	for (int i = 0; i < 100; i++)
		buf_append_str(&b, "[");
	for (int i = 0; i < 100; i++)
		buf_append_str(&b, "]");
	buf_nul(&b);
	body = mk("{\"alg\":\"ES256\",\"kid\":\"k\",\"url\":\"u\"}", (char *)b.data, SIG64);
	expect(body, strlen(body), AE_JWS_MALFORMED, "payload nested 100 deep");
	free(body);
	buf_free(&b);
}

static void
test_hmac(void)
{
	static const char *const algs[] = { "HS256", "HS384", "HS512" };
	static const size_t maclen[] = { 32, 48, 64 };
	const uint8_t key[] = "an external account binding key, 32+ bytes long";
	json_object *inner = json_tokener_parse(EC_JWK);
	const char *payload = json_object_to_json_string_ext(inner, JSON_C_TO_STRING_PLAIN);

	for (int i = 0; i < 3; i++) {
		json_object *h = header(algs[i], NULL, "kid-1", NULL);
		char *out = NULL;
		struct jws j;
		ok(jws_sign_hmac(key, sizeof(key) - 1, algs[i], h, payload, strlen(payload), &out) ==
		    AE_OK && jws_parse(out, strlen(out), &j) == AE_OK && j.sig_len == maclen[i] &&
		    jws_verify_hmac(&j, key, sizeof(key) - 1) == AE_OK, "%s: sign and verify", algs[i]);
		ok(jws_verify_hmac(&j, key, sizeof(key) - 2) == AE_JWS_BADSIG,
		    "%s: another key does not verify", algs[i]);
		ok(jws_verify_hmac(&j, key, 0) == AE_JWS_BADKEY, "%s: empty key refused", algs[i]);
		ok(jws_verify(&j, NULL) == AE_JWS_BADALG, "%s: jws_verify refuses MAC algs", algs[i]);
		j.sig_len--;
		ok(jws_verify_hmac(&j, key, sizeof(key) - 1) == AE_JWS_BADSIG,
		    "%s: truncated MAC does not verify", algs[i]);
		jws_free(&j);
		free(out);
		json_object_put(h);
	}
	json_object *h = header("HS1", NULL, "kid-1", NULL);
	char *out = NULL;
	ok(jws_sign_hmac(key, 4, "HS1", h, "{}", 2, &out) == AE_JWS_BADALG && out == NULL,
	    "jws_sign_hmac refuses an unknown MAC alg");
	json_object_put(h);
	json_object_put(inner);
}

static void
test_free(void)
{
	struct jws j;

	memset(&j, 0, sizeof(j));
	jws_free(&j);
	jws_free(&j);
	jws_free(NULL);
	ok(1, "jws_free on a zeroed struct, twice, and on NULL");
	ok(jws_parse_obj(NULL, &j) == AE_JWS_MALFORMED, "jws_parse_obj(NULL)");
	jws_free(&j);
}

int
main(void)
{
	test_vectors();
	test_round_trips();
	test_algs();
	test_structure();
	test_caps();
	test_hmac();
	test_free();
	return done_testing();
}
