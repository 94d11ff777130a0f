/* issue/csr.c's shortcuts against the plain paths they replace: csr_spki_der (direct DER for
 * ECDSA and RSA keys) against i2d_PUBKEY, the remembered last accepted CSR of csr_check against
 * a check from scratch on valid and invalid inputs (bad signature, other names, a refused key
 * type, a key of the wrong kind), and jwk_from_pkey's uncompressed-point shortcut against the
 * BIGNUM path a compressed key takes. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "ca/keytype.h"
#include "issue/csr.h"
#include "lib/b64url.h"
#include "lib/jwk.h"
#include "t/tap.h"

static EVP_PKEY *
rsa_key(unsigned bits, unsigned e)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *bn = BN_new();
	EVP_PKEY *k = NULL;

	if (c != NULL && bn != NULL && BN_set_word(bn, e) && EVP_PKEY_keygen_init(c) == 1 &&
	    EVP_PKEY_CTX_set_rsa_keygen_bits(c, (int)bits) == 1 &&
	    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(c, bn) == 1)
		EVP_PKEY_keygen(c, &k);
	BN_free(bn);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* An ECDSA key whose points are written in form ("compressed", "uncompressed") and whose
 * curve with encoding ("named_curve", "explicit"). */
static EVP_PKEY *
ec_key(const char *curve, const char *form, const char *encoding)
{
	EVP_PKEY *k = EVP_EC_gen(curve);

	if (k != NULL && (EVP_PKEY_set_utf8_string_param(k,
	    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form) != 1 ||
	    EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, encoding) != 1)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

static int
spki_same(EVP_PKEY *k)
{
	uint8_t a[CSR_SPKI_MAX], b[CSR_SPKI_MAX], h[32], h2[32];
	size_t al = 0, bl = 0;
	unsigned char *d = NULL;
	int dl;

	if (k == NULL || csr_spki_der(k, a, sizeof(a), &al) != AE_OK ||
	    csr_spki_der_slow(k, b, sizeof(b), &bl) != AE_OK || al != bl || memcmp(a, b, al) != 0)
		return 0;
	/* and csr_spki_sha256 hashes the same bytes as before the shortcut */
	if ((dl = i2d_PUBKEY(k, &d)) <= 0)
		return 0;
	SHA256(d, (size_t)dl, h2);
	OPENSSL_free(d);
	return csr_spki_sha256(k, h) == AE_OK && memcmp(h, h2, 32) == 0;
}

static uint8_t *make_csr2(EVP_PKEY *key, const char *const *names, size_t n, const EVP_MD *md,
    const char *cn, int password, size_t *len);

/* The DER of a CSR for names (dNSName), signed by key with SHA-256. */
static uint8_t *
make_csr(EVP_PKEY *key, const char *const *names, size_t n, size_t *len)
{
	return make_csr2(key, names, n, EVP_sha256(), NULL, 0, len);
}

/* ... with md, a subject commonName cn (NULL: none) and a challengePassword attribute; no
 * subjectAltName when n is 0. */
static uint8_t *
make_csr2(EVP_PKEY *key, const char *const *names, size_t n, const EVP_MD *md, const char *cn,
    int password, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int l = -1, ok = req != NULL && exts != NULL && gens != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		ok = g != NULL && s != NULL && ASN1_STRING_set(s, names[i], -1);
		if (ok) {
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
			s = NULL;
			ok = sk_GENERAL_NAME_push(gens, g) > 0;
			if (ok)
				g = NULL;
		}
		GENERAL_NAME_free(g);
		ASN1_IA5STRING_free(s);
	}
	if (n > 0) {
		ok = ok && (ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens)) != NULL &&
		    sk_X509_EXTENSION_push(exts, ext) > 0;
		if (ok)
			ext = NULL;
		ok = ok && X509_REQ_add_extensions(req, exts);
	}
	if (cn != NULL)
		ok = ok && X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
		    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	if (password)
		ok = ok && X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
		    MBSTRING_ASC, (const unsigned char *)"secret", -1);
	ok = ok && X509_REQ_set_pubkey(req, key) &&
	    X509_REQ_sign(req, key, EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : md) > 0;
	if (ok)
		l = i2d_X509_REQ(req, &der);
	X509_EXTENSION_free(ext);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	if (l <= 0) {
		OPENSSL_free(der);
		return NULL;
	}
	*len = (size_t)l;
	return der;
}

/* Length of the request info TLV at the start of the CSR's body (short or 1..2-octet long
 * form, as the test CSRs have); 0 if unexpected. */
static size_t
tlv_at(const uint8_t *p, size_t avail, size_t *hdr)
{
	size_t n;

	if (avail < 2)
		return 0;
	if (p[1] < 0x80) {
		*hdr = 2;
		n = p[1];
	} else if (p[1] == 0x81 && avail >= 3) {
		*hdr = 3;
		n = p[2];
	} else if (p[1] == 0x82 && avail >= 4) {
		*hdr = 4;
		n = (size_t)p[2] << 8 | p[3];
	} else {
		return 0;
	}
	return *hdr + n <= avail ? *hdr + n : 0;
}

static size_t
info_len(const uint8_t *der, size_t len)
{
	size_t h1, h2;

	if (tlv_at(der, len, &h1) != len)
		return 0;
	return tlv_at(der + h1, len - h1, &h2);
}

static size_t
put_len(uint8_t *p, size_t n)
{
	if (n < 0x80) {
		p[0] = (uint8_t)n;
		return 1;
	}
	if (n < 0x100) {
		p[0] = 0x81;
		p[1] = (uint8_t)n;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	return 3;
}

/* The CSR with byte i of its request info changed (m: xor 0x01, xor 0x80, xor 0xff, the info
 * cut short at i; 4 and 5 see below, whatever i) and signed again by key with
 * ecdsa-with-SHA256. */
static uint8_t *
resigned(const uint8_t *der, size_t len, size_t i, int m, EVP_PKEY *key, size_t *outlen)
{
	static const uint8_t alg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
	    0x03, 0x02 };
	size_t h1, il = info_len(der, len), sl = 80, body, o = 0;
	uint8_t *info = NULL, sig[80], *out = NULL;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	(void)tlv_at(der, len, &h1);
	if (il == 0 || i >= il || c == NULL || (info = malloc(il)) == NULL)
		goto out;
	memcpy(info, der + h1, il);
	if (m == 3) {
		il = i;
	} else if (m == 4 || m == 5) {
		/* the info's content with a NULL after it (4), or with its length written in
		 * one octet more than needed (5) */
		size_t h, cl = il - (tlv_at(info, il, &h) ? h : il), k = 0;
		uint8_t *n = malloc(il + 8);
		if (n == NULL || cl == il)
			goto fail;
		n[k++] = 0x30;
		if (m == 5) {
			n[k++] = 0x82;
			n[k++] = (uint8_t)((cl) >> 8);
			n[k++] = (uint8_t)cl;
		} else {
			k += put_len(n + k, cl + 2);
		}
		memcpy(n + k, info + h, cl);
		k += cl;
		if (m == 4) {
			n[k++] = 0x05;
			n[k++] = 0x00;
		}
		free(info);
		info = n;
		il = k;
	} else {
		info[i] ^= m == 0 ? 0x01 : m == 1 ? 0x80 : 0xff;
	}
	if (il == 0 || EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(c, sig, &sl, info, il) != 1)
		goto out;
	body = il + sizeof(alg) + 2 + 1 + sl;
	if ((out = malloc(body + 8)) == NULL)
		goto out;
	out[o++] = 0x30;
	o += put_len(out + o, body);
	memcpy(out + o, info, il);
	o += il;
	memcpy(out + o, alg, sizeof(alg));
	o += sizeof(alg);
	out[o++] = 0x03;
	o += put_len(out + o, sl + 1);
	out[o++] = 0;
	memcpy(out + o, sig, sl);
	o += sl;
	*outlen = o;
	goto out;
fail:
	free(out);
	out = NULL;
out:
	EVP_MD_CTX_free(c);
	free(info);
	return out;
}

struct verdict {
	enum csr_verdict v;
	char detail[CSR_DETAIL_MAX];
	uint8_t spki_sha256[32];
	uint8_t spki[CSR_SPKI_MAX];
	size_t spki_len;
	int key_type;
	unsigned char *key_der;
	int key_der_len;
};

static void
run(const uint8_t *der, size_t len, json_object *ids, unsigned kt, struct verdict *out)
{
	struct csr_info ci;

	memset(out, 0, sizeof(*out));
	out->v = csr_check(der, len, ids, kt, &ci, out->detail);
	if (out->v == CSR_OK) {
		memcpy(out->spki_sha256, ci.spki_sha256, 32);
		memcpy(out->spki, ci.spki, ci.spki_len);
		out->spki_len = ci.spki_len;
		out->key_type = ci.key_type;
		out->key_der_len = i2d_PUBKEY(ci.key, &out->key_der);
	}
	csr_info_free(&ci);
}

static int
same_verdict(const struct verdict *a, const struct verdict *b)
{
	return a->v == b->v && strcmp(a->detail, b->detail) == 0 &&
	    memcmp(a->spki_sha256, b->spki_sha256, 32) == 0 && a->spki_len == b->spki_len &&
	    memcmp(a->spki, b->spki, a->spki_len) == 0 && a->key_type == b->key_type &&
	    a->key_der_len == b->key_der_len &&
	    (a->key_der_len <= 0 || memcmp(a->key_der, b->key_der, (size_t)a->key_der_len) == 0);
}

/* csr_check of (der, ids, kt) right after good was accepted (the remembered CSR in play) and
 * from scratch must agree, and give want. */
static void
memo_case(const char *name, const uint8_t *good, size_t good_len, json_object *good_ids,
    const uint8_t *der, size_t len, json_object *ids, unsigned kt, enum csr_verdict want)
{
	struct verdict primed, scratch, first;

	csr_memo_clear();
	run(good, good_len, good_ids, ~0u, &first);
	run(der, len, ids, kt, &primed);
	csr_memo_clear();
	run(der, len, ids, kt, &scratch);
	ok(first.v == CSR_OK && same_verdict(&primed, &scratch) && primed.v == want,
	    "%s: after an accepted CSR and from scratch: %d/%d (want %d) \"%s\"", name, primed.v,
	    scratch.v, want, primed.detail);
	OPENSSL_free(first.key_der);
	OPENSSL_free(primed.key_der);
	OPENSSL_free(scratch.key_der);
}

/* The JWK of an ECDSA key from its coordinates read as BIGNUMs (the path before the
 * shortcut). */
static char *
bn_jwk(EVP_PKEY *k)
{
	BIGNUM *x = NULL, *y = NULL;
	uint8_t xb[48], yb[48];
	char *xs = NULL, *ys = NULL, *out = NULL;
	int len = EVP_PKEY_get_bits(k) == 256 ? 32 : 48;
	size_t n = 256;

	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
	    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
	    BN_bn2binpad(x, xb, len) == len && BN_bn2binpad(y, yb, len) == len &&
	    (xs = b64url_encode_alloc(xb, (size_t)len)) != NULL &&
	    (ys = b64url_encode_alloc(yb, (size_t)len)) != NULL && (out = malloc(n)) != NULL)
		snprintf(out, n, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		    len == 32 ? "P-256" : "P-384", xs, ys);
	BN_free(x);
	BN_free(y);
	free(xs);
	free(ys);
	return out;
}

static char *
jwk_text(EVP_PKEY *k)
{
	json_object *j = NULL;
	char *s = NULL;

	if (jwk_from_pkey(k, &j) == AE_OK)
		s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return s;
}

int
main(void)
{
	static const char *const one[] = { "example.com" };
	static const char *const two[] = { "example.com", "www.example.com" };
	json_object *ids = json_tokener_parse("[{\"type\":\"dns\",\"value\":\"example.com\"}]");
	json_object *ids2 = json_tokener_parse("[{\"type\":\"dns\",\"value\":\"example.com\"},"
	    "{\"type\":\"dns\",\"value\":\"www.example.com\"}]");
	json_object *other = json_tokener_parse("[{\"type\":\"dns\",\"value\":\"example.net\"}]");
	struct {
		const char *name;
		EVP_PKEY *k;
	} keys[] = {
		{ "P-256", ec_key("P-256", "uncompressed", "named_curve") },
		{ "P-384", ec_key("P-384", "uncompressed", "named_curve") },
		{ "P-256 compressed", ec_key("P-256", "compressed", "named_curve") },
		{ "P-384 compressed", ec_key("P-384", "compressed", "named_curve") },
		{ "P-256 explicit curve", ec_key("P-256", "uncompressed", "explicit") },
		{ "P-256 hybrid", ec_key("P-256", "hybrid", "named_curve") },
		{ "P-521", EVP_EC_gen("P-521") },
		{ "Ed25519", EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") },
		{ "RSA 2048", rsa_key(2048, 65537) },
		{ "RSA 1024 e=3", rsa_key(1024, 3) },
		{ "RSA 3072", rsa_key(3072, 65537) },
	};
	size_t nk = sizeof(keys) / sizeof(keys[0]);
	EVP_PKEY *p256 = keys[0].k, *p521 = keys[6].k;
	uint8_t *good = NULL, *good2 = NULL, *bad = NULL, *wrongkey = NULL;
	size_t good_len = 0, good2_len = 0, wrong_len = 0;

	/* 1. SubjectPublicKeyInfo: generated keys, then the same keys as a CSR decodes them. */
	for (size_t i = 0; i < nk; i++)
		ok(spki_same(keys[i].k), "%s: csr_spki_der equals i2d_PUBKEY", keys[i].name);
	for (size_t i = 0; i < nk; i++) {
		size_t len = 0;
		uint8_t *der = keys[i].k ? make_csr(keys[i].k, one, 1, &len) : NULL;
		const unsigned char *p = der;
		X509_REQ *req = der ? d2i_X509_REQ(NULL, &p, (long)len) : NULL;
		EVP_PKEY *k = req ? X509_REQ_get_pubkey(req) : NULL;
		ok(spki_same(k), "%s from a CSR: csr_spki_der equals i2d_PUBKEY", keys[i].name);
		EVP_PKEY_free(k);
		X509_REQ_free(req);
		OPENSSL_free(der);
	}
	{
		json_object *j = NULL;
		EVP_PKEY *k = NULL;
		ok(jwk_from_pkey(p256, &j) == AE_OK && jwk_to_pkey(j, &k, NULL) == AE_OK &&
		    spki_same(k), "a key from a JWK: csr_spki_der equals i2d_PUBKEY");
		json_object_put(j);
		EVP_PKEY_free(k);
	}

	/* 2. The remembered CSR. */
	good = make_csr(p256, one, 1, &good_len);
	good2 = make_csr(p256, two, 2, &good2_len);
	wrongkey = make_csr(p521, one, 1, &wrong_len);
	if (good != NULL && (bad = malloc(good_len)) != NULL) {
		memcpy(bad, good, good_len);
		bad[good_len - 5] ^= 0x01;  /* inside the signature's last INTEGER */
	}
	ok(good != NULL && good2 != NULL && bad != NULL && wrongkey != NULL && ids && ids2 &&
	    other, "test CSRs made");
	memo_case("the same CSR again", good, good_len, ids, good, good_len, ids, ~0u, CSR_OK);
	memo_case("a flipped signature bit (same length)", good, good_len, ids, bad, good_len, ids,
	    ~0u, CSR_BAD_CSR);
	memo_case("the same bytes, other order names", good, good_len, ids, good, good_len, other,
	    ~0u, CSR_BAD_CSR);
	memo_case("the same bytes, fewer order names", good2, good2_len, ids2, good2, good2_len,
	    ids, ~0u, CSR_BAD_CSR);
	memo_case("the same bytes, P-256 refused by the profile", good, good_len, ids, good,
	    good_len, ids, ~(1u << KT_EC_P256), CSR_BAD_KEY);
	memo_case("a P-521 key", good, good_len, ids, wrongkey, wrong_len, ids, ~0u, CSR_BAD_KEY);
	memo_case("a prefix of the CSR", good, good_len, ids, good, good_len - 1, ids, ~0u,
	    CSR_BAD_CSR);
	memo_case("another accepted CSR", good, good_len, ids, good2, good2_len, ids2, ~0u, CSR_OK);
	{
		struct csr_info a, b;
		char d[CSR_DETAIL_MAX];
		csr_memo_clear();
		ok(csr_check(good, good_len, ids, ~0u, &a, d) == CSR_OK &&
		    csr_check(good, good_len, ids, ~0u, &b, d) == CSR_OK && EVP_PKEY_eq(a.key, p256) == 1 &&
		    EVP_PKEY_eq(b.key, p256) == 1 && a.key_type == KT_EC_P256 &&
		    b.key_type == KT_EC_P256, "both checks give the CSR's key, each its own reference");
		csr_info_free(&a);
		ok(b.key != NULL && EVP_PKEY_eq(b.key, p256) == 1,
		    "freeing one leaves the other usable");
		csr_info_free(&b);
	}

	/* 4. csr_check with and without the decoding shortcut: the same verdict, detail, key and
	 * names for valid CSRs of every kind and for every one-byte change, truncation and
	 * extension of a valid P-256 one. */
	{
		static const char *const cn_www[] = { "www.example.com" };
		struct {
			const char *name;
			uint8_t *der;
			size_t len;
			json_object *ids;
		} c[16];
		size_t nc = 0, diffs = 0, cases = 0;
		unsigned long hits;
		json_object *ids_www = json_tokener_parse("[{\"type\":\"dns\",\"value\":"
		    "\"www.example.com\"}]");
#define CSR(nm, expr, i) do { c[nc].name = (nm); c[nc].ids = (i); \
	c[nc].der = (expr); nc += c[nc].der != NULL; } while (0)
		CSR("P-256", make_csr(p256, one, 1, &c[nc].len), ids);
		CSR("P-384 SHA-384", make_csr2(keys[1].k, one, 1, EVP_sha384(), NULL, 0, &c[nc].len),
		    ids);
		CSR("P-256 SHA-512", make_csr2(p256, one, 1, EVP_sha512(), NULL, 0, &c[nc].len), ids);
		CSR("P-256 CN in the names", make_csr2(p256, cn_www, 1, EVP_sha256(),
		    "www.example.com", 0, &c[nc].len), ids_www);
		CSR("P-256 CN not in the names", make_csr2(p256, one, 1, EVP_sha256(),
		    "other.example.com", 0, &c[nc].len), ids);
		CSR("P-256 challengePassword", make_csr2(p256, one, 1, EVP_sha256(), NULL, 1,
		    &c[nc].len), ids);
		CSR("P-256 no subjectAltName", make_csr2(p256, one, 0, EVP_sha256(), "example.com",
		    0, &c[nc].len), ids);
		CSR("P-256 SHA-1", make_csr2(p256, one, 1, EVP_sha1(), NULL, 0, &c[nc].len), ids);
		CSR("P-256 compressed", make_csr(keys[2].k, one, 1, &c[nc].len), ids);
		CSR("P-256 explicit curve", make_csr(keys[4].k, one, 1, &c[nc].len), ids);
		CSR("P-521", make_csr(p521, one, 1, &c[nc].len), ids);
		CSR("Ed25519", make_csr(keys[7].k, one, 1, &c[nc].len), ids);
		CSR("RSA 2048", make_csr(keys[8].k, one, 1, &c[nc].len), ids);
#undef CSR
		ok(nc == 13 && ids_www != NULL, "%zu test CSRs made", nc);
		csr_fast_set(1);
		for (size_t i = 0; i < nc; i++) {
			struct verdict f, s;
			csr_memo_clear();
			csr_fast_set(1);
			run(c[i].der, c[i].len, c[i].ids, ~0u, &f);
			hits = csr_fast_set(0);
			csr_memo_clear();
			run(c[i].der, c[i].len, c[i].ids, ~0u, &s);
			ok(same_verdict(&f, &s) && hits == (i < 7 ? 1u : 0u), "%s: the shortcut (%s) "
			    "and the plain path agree: %d \"%s\"", c[i].name, hits ? "taken" :
			    "not taken", f.v, f.detail);
			OPENSSL_free(f.key_der);
			OPENSSL_free(s.key_der);
		}
		hits = 0;
		for (size_t i = 0; nc > 0 && i <= c[0].len; i++) {
			for (int m = 0; m < 4; m++) {
				uint8_t *d = malloc(c[0].len + 1);
				size_t l = c[0].len;
				struct verdict f, s;
				if (d == NULL)
					continue;
				memcpy(d, c[0].der, c[0].len);
				if (i == c[0].len) {
					d[l++] = (uint8_t)m;   /* one byte more */
				} else if (m == 3) {
					l = i;                 /* truncated */
				} else {
					d[i] ^= m == 0 ? 0x01 : m == 1 ? 0x80 : 0xff;
				}
				csr_memo_clear();
				csr_fast_set(1);
				run(d, l, ids, ~0u, &f);
				hits += csr_fast_set(0);
				csr_memo_clear();
				run(d, l, ids, ~0u, &s);
				cases++;
				if (!same_verdict(&f, &s)) {
					diffs++;
					diag("byte %zu change %d: %d \"%s\" / %d \"%s\"", i, m, f.v,
					    f.detail, s.v, s.detail);
				}
				OPENSSL_free(f.key_der);
				OPENSSL_free(s.key_der);
				free(d);
			}
		}
		ok(cases > 800 && diffs == 0, "%zu changed P-256 CSRs: the shortcut and the plain "
		    "path agree on all (the shortcut accepted %lu)", cases, hits);
		/* The same changes inside the request info, signed again: odd shapes with a
		 * good signature, where the shortcut must not accept what the plain path
		 * refuses. */
		cases = diffs = hits = 0;
		for (size_t i = 0; nc > 0 && i < info_len(c[0].der, c[0].len); i++) {
			for (int m = 0; m < 4; m++) {
				size_t l = 0;
				uint8_t *d = resigned(c[0].der, c[0].len, i, m, p256, &l);
				struct verdict f, s;
				if (d == NULL)
					continue;
				csr_memo_clear();
				csr_fast_set(1);
				run(d, l, ids, ~0u, &f);
				hits += csr_fast_set(0);
				csr_memo_clear();
				run(d, l, ids, ~0u, &s);
				cases++;
				if (!same_verdict(&f, &s)) {
					diffs++;
					diag("info byte %zu change %d: %d \"%s\" / %d \"%s\"", i, m,
					    f.v, f.detail, s.v, s.detail);
				}
				OPENSSL_free(f.key_der);
				OPENSSL_free(s.key_der);
				free(d);
			}
		}
		ok(cases > 500 && diffs == 0, "%zu re-signed changed request infos: the shortcut "
		    "and the plain path agree on all (the shortcut accepted %lu)", cases, hits);
		for (int m = 4; m <= 5 && nc > 0; m++) {
			size_t l = 0;
			uint8_t *d = resigned(c[0].der, c[0].len, 0, m, p256, &l);
			struct verdict f, s;
			if (d == NULL) {
				ok(0, "test bug: no CSR for change %d", m);
				continue;
			}
			csr_memo_clear();
			csr_fast_set(1);
			run(d, l, ids, ~0u, &f);
			hits = csr_fast_set(0);
			csr_memo_clear();
			run(d, l, ids, ~0u, &s);
			ok(same_verdict(&f, &s) && hits == 0, "request info %s, signed: the shortcut "
			    "passes it on and both say %d \"%s\"", m == 4 ? "with an element after "
			    "the attributes" : "with a non-minimal length", s.v, s.detail);
			OPENSSL_free(f.key_der);
			OPENSSL_free(s.key_der);
			free(d);
		}
		csr_fast_set(1);
		for (size_t i = 0; i < nc; i++)
			OPENSSL_free(c[i].der);
		json_object_put(ids_www);
	}

	/* 3. jwk_from_pkey: the encoded-point shortcut against the coordinates as BIGNUMs, for
	 * keys in each point format. */
	for (size_t i = 0; i < 4; i++) {
		char *a = jwk_text(keys[i].k), *b = bn_jwk(keys[i].k);
		ok(a != NULL && b != NULL && strcmp(a, b) == 0, "%s: jwk_from_pkey has the "
		    "key's coordinates", keys[i].name);
		if (a == NULL || b == NULL || strcmp(a, b) != 0)
			diag("%s / %s", a ? a : "-", b ? b : "-");
		free(a);
		free(b);
	}

	csr_memo_clear();
	for (size_t i = 0; i < nk; i++)
		EVP_PKEY_free(keys[i].k);
	OPENSSL_free(good);
	OPENSSL_free(good2);
	OPENSSL_free(wrongkey);
	free(bad);
	json_object_put(ids);
	json_object_put(ids2);
	json_object_put(other);
	return done_testing();
}
