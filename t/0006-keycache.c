/* The account key cache (lib/keycache.h) and the per-key verifier (jws_verifier): a changed
 * stored key never verifies with the cached old one, replacement is least recently used, and a
 * verifier answers exactly what jws_verify answers. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include "lib/jwk.h"
#include "lib/jws.h"
#include "lib/keycache.h"
#include "t/tap.h"

#define KID "https://acme.example/acme/acct/1"
#define URL "https://acme.example/acme/acct/1"

static EVP_PKEY *
gen(const char *alg)
{
	if (strcmp(alg, "ES256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(alg, "ES384") == 0)
		return EVP_EC_gen("P-384");
	if (strcmp(alg, "RS256") == 0)
		return EVP_RSA_gen(2048);
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

/* The canonical JWK text of key, as accounts.jwk holds it (malloc'd). */
static char *
stored(EVP_PKEY *key)
{
	json_object *o = NULL;
	char *s = NULL;

	if (jwk_from_pkey(key, &o) != AE_OK || jwk_canonical(o, &s) != AE_OK)
		diag("test bug: no JWK for a key");
	json_object_put(o);
	return s;
}

/* A parsed kid-signed POST-as-GET, signed with key under alg. */
static int
signed_req(EVP_PKEY *key, const char *alg, struct jws *j)
{
	json_object *h = json_object_new_object();
	char *body = NULL;
	int rc;

	json_object_object_add(h, "alg", json_object_new_string(alg));
	json_object_object_add(h, "kid", json_object_new_string(KID));
	json_object_object_add(h, "nonce", json_object_new_string("n"));
	json_object_object_add(h, "url", json_object_new_string(URL));
	rc = jws_sign(key, alg, h, "", 0, &body) == AE_OK &&
	    jws_parse(body, strlen(body), j) == AE_OK ? 0 : -1;
	if (rc != 0)
		diag("test bug: cannot sign with %s", alg);
	json_object_put(h);
	free(body);
	return rc;
}

/* Cached verification of a request: the verifier when there is one, else jws_verify. */
static anvil_err
verify(const struct jws *j, EVP_PKEY *key, struct jws_verifier *ver)
{
	return ver != NULL ? jws_verify_with(j, ver) : jws_verify(j, key);
}

static void
test_verifier(void)
{
	static const char *const algs[] = { "ES256", "ES384", "RS256", "EdDSA" };

	for (size_t i = 0; i < 4; i++) {
		EVP_PKEY *k = gen(algs[i]), *other = gen(algs[i]);
		struct jws_verifier *v = NULL;
		struct jws j, wrong;
		int good;

		memset(&wrong, 0, sizeof(wrong));
		ok(k != NULL && other != NULL && jws_verifier_new(k, &v) == AE_OK && v != NULL,
		    "%s: verifier set up", algs[i]);
		if (v == NULL || signed_req(k, algs[i], &j) != 0) {
			jws_verifier_free(v);
			EVP_PKEY_free(k);
			EVP_PKEY_free(other);
			continue;
		}
		/* Twice: the context is reused across verifications. */
		good = jws_verify_with(&j, v) == AE_OK && jws_verify_with(&j, v) == AE_OK;
		ok(good, "%s: verifies, and again with the same context", algs[i]);
		j.sig[j.sig_len / 2] ^= 1;
		ok(jws_verify_with(&j, v) == AE_JWS_BADSIG && jws_verify(&j, k) == AE_JWS_BADSIG,
		    "%s: a changed signature is refused like jws_verify does", algs[i]);
		j.sig[j.sig_len / 2] ^= 1;
		j.signing_input[3] ^= 1;
		ok(jws_verify_with(&j, v) == AE_JWS_BADSIG, "%s: a changed input is refused",
		    algs[i]);
		j.signing_input[3] ^= 1;
		ok(jws_verify_with(&j, v) == AE_OK, "%s: after a failure the context still verifies",
		    algs[i]);
		if (signed_req(other, algs[i], &wrong) == 0)
			ok(jws_verify_with(&wrong, v) == AE_JWS_BADSIG,
			    "%s: another key's signature is refused", algs[i]);
		jws_free(&wrong);
		j.alg = strcmp(algs[i], "ES256") == 0 ? "ES384" : "ES256";
		ok(jws_verify_with(&j, v) == AE_JWS_BADALG && jws_verify(&j, k) == AE_JWS_BADALG,
		    "%s: an alg that does not fit the key: badSignatureAlgorithm", algs[i]);
		j.alg = "none";
		ok(jws_verify_with(&j, v) == AE_JWS_BADALG, "%s: alg none: badSignatureAlgorithm",
		    algs[i]);
		j.alg = "HS256";
		ok(jws_verify_with(&j, v) == AE_JWS_BADALG, "%s: alg HS256: badSignatureAlgorithm",
		    algs[i]);
		jws_free(&j);
		jws_verifier_free(v);
		EVP_PKEY_free(k);
		EVP_PKEY_free(other);
	}
}

static void
test_key_change(void)
{
	struct keycache *kc = keycache_new(4);
	EVP_PKEY *a = gen("ES256"), *b = gen("ES256"), *k = NULL, *k2 = NULL;
	struct jws_verifier *ver = NULL, *ver2 = NULL;
	char *ja = stored(a), *jb = stored(b);
	struct jws by_a, by_b;

	signed_req(a, "ES256", &by_a);
	signed_req(b, "ES256", &by_b);
	ok(keycache_get(kc, 1, ja, &k, &ver, NULL) == AE_OK && EVP_PKEY_eq(k, a) == 1 &&
	    keycache_hits(kc) == 0 && keycache_count(kc) == 1, "first lookup parses and keeps");
	ok(verify(&by_a, k, ver) == AE_OK, "the account's key verifies its request");
	EVP_PKEY_free(k);
	ok(keycache_get(kc, 1, ja, &k, &ver2, NULL) == AE_OK && EVP_PKEY_eq(k, a) == 1 &&
	    keycache_hits(kc) == 1 && ver2 == ver, "second lookup is a hit");
	ok(verify(&by_a, k, ver2) == AE_OK, "and verifies");
	EVP_PKEY_free(k);

	/* keyChange (in this worker or another, or an UPDATE): the row now holds b's JWK. */
	ok(keycache_get(kc, 1, jb, &k, &ver, NULL) == AE_OK && EVP_PKEY_eq(k, b) == 1 &&
	    keycache_hits(kc) == 1 && keycache_count(kc) == 1,
	    "after a key change the new stored JWK is a miss and replaces the entry");
	ok(verify(&by_a, k, ver) == AE_JWS_BADSIG, "a request signed by the OLD key fails");
	ok(verify(&by_b, k, ver) == AE_OK, "the new key's request verifies");
	EVP_PKEY_free(k);
	ok(keycache_get(kc, 1, jb, &k, &ver, NULL) == AE_OK && keycache_hits(kc) == 2 &&
	    verify(&by_a, k, ver) == AE_JWS_BADSIG && verify(&by_b, k, ver) == AE_OK,
	    "cached new key: old key's request still fails, new one verifies");
	EVP_PKEY_free(k);
	/* The same key text under another account id is that account's own entry. */
	ok(keycache_get(kc, 2, ja, &k, &ver, NULL) == AE_OK && EVP_PKEY_eq(k, a) == 1 &&
	    keycache_hits(kc) == 2 && keycache_count(kc) == 2, "entries are per account id");
	EVP_PKEY_free(k);
	keycache_forget(kc, 1);
	ok(keycache_count(kc) == 1, "forget drops the entry");
	ok(keycache_get(kc, 1, jb, &k, &ver, NULL) == AE_OK && keycache_hits(kc) == 2 &&
	    EVP_PKEY_eq(k, b) == 1, "after forget the key is parsed again");
	/* A key handed out stays usable after its entry is dropped. */
	keycache_forget(kc, 1);
	ok(verify(&by_b, k, NULL) == AE_OK, "a key handed out outlives its entry");
	EVP_PKEY_free(k);
	keycache_forget(kc, 99);
	keycache_forget(NULL, 1);

	/* Two different stored texts for one id must never both be answered by one entry. */
	ok(keycache_get(kc, 3, ja, &k, &ver, NULL) == AE_OK &&
	    keycache_get(kc, 3, jb, &k2, &ver2, NULL) == AE_OK &&
	    EVP_PKEY_eq(k, a) == 1 && EVP_PKEY_eq(k2, b) == 1 && EVP_PKEY_eq(k, k2) != 1,
	    "alternating texts for one id give their own keys");
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);

	jws_free(&by_a);
	jws_free(&by_b);
	free(ja);
	free(jb);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	keycache_free(kc);
}

static void
test_bounds(void)
{
	struct keycache *kc = keycache_new(2);
	EVP_PKEY *keys[3], *k = NULL;
	struct jws_verifier *ver = NULL;
	char *texts[3];
	uint64_t h;
	const char *detail = NULL;

	for (int i = 0; i < 3; i++) {
		keys[i] = gen("EdDSA");
		texts[i] = stored(keys[i]);
	}
	keycache_get(kc, 1, texts[0], &k, &ver, NULL);
	EVP_PKEY_free(k);
	keycache_get(kc, 2, texts[1], &k, &ver, NULL);
	EVP_PKEY_free(k);
	keycache_get(kc, 1, texts[0], &k, &ver, NULL);  /* 1 is now the most recently used */
	EVP_PKEY_free(k);
	keycache_get(kc, 3, texts[2], &k, &ver, NULL);  /* replaces 2 */
	EVP_PKEY_free(k);
	h = keycache_hits(kc);
	ok(keycache_count(kc) == 2, "bounded: two slots hold two keys");
	keycache_get(kc, 1, texts[0], &k, &ver, NULL);
	EVP_PKEY_free(k);
	ok(keycache_hits(kc) == h + 1, "the recently used entry stayed");
	keycache_get(kc, 2, texts[1], &k, &ver, NULL);
	EVP_PKEY_free(k);
	ok(keycache_hits(kc) == h + 1 && keycache_count(kc) == 2,
	    "the least recently used one was replaced");

	ok(keycache_get(kc, 4, "{\"kty\":\"EC\",\"crv\":\"P-256\"}", &k, &ver, &detail) ==
	    AE_JWS_BADKEY && k == NULL && ver == NULL && detail != NULL && keycache_count(kc) == 2,
	    "an unusable stored key is an error and is not kept");
	ok(keycache_get(kc, 4, "not json", &k, &ver, NULL) == AE_JWS_BADKEY && k == NULL,
	    "stored text that is not JSON: an error");
	ok(keycache_get(kc, 0, texts[0], &k, &ver, NULL) == AE_JWS_BADKEY &&
	    keycache_get(kc, 1, NULL, &k, &ver, NULL) == AE_JWS_BADKEY, "id 0, NULL text refused");
	ok(keycache_get(NULL, 1, texts[0], &k, &ver, NULL) == AE_OK && ver == NULL &&
	    EVP_PKEY_eq(k, keys[0]) == 1, "without a cache the key is still parsed");
	EVP_PKEY_free(k);
	for (int i = 0; i < 3; i++) {
		free(texts[i]);
		EVP_PKEY_free(keys[i]);
	}
	keycache_free(kc);
	keycache_free(NULL);
}

static void
test_stored(void)
{
	EVP_PKEY *k = NULL;
	json_object *o;

	o = json_tokener_parse("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
	    "\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\",\"y\":"
	    "\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyN\"}");
	ok(jwk_to_pkey_stored(o, &k, NULL) == AE_JWS_BADKEY && k == NULL,
	    "stored: a point off the curve is still refused at import");
	json_object_put(o);
	o = json_tokener_parse("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
	    "\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\",\"y\":"
	    "\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"d\":\"AA\"}");
	ok(jwk_to_pkey_stored(o, &k, NULL) == AE_JWS_BADKEY && k == NULL,
	    "stored: private members still refused");
	json_object_put(o);
}

int
main(void)
{
	test_verifier();
	test_key_change();
	test_bounds();
	test_stored();
	return done_testing();
}
