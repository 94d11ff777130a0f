#include "config.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "issue/conf.h"
#include "issue/csr.h"

#define NAMES_MAX 100        /* identifiers per order and names per CSR (PROTO_IDS_MAX) */
#define DNS_NAME_MAX 253

struct name {
	int ip;                  /* 0: DNS name in dns; 1: address in addr */
	char dns[DNS_NAME_MAX + 1];
	uint8_t addr[16];
	size_t alen;
};

struct names {
	struct name v[NAMES_MAX];
	size_t n;
};

static int
name_eq(const struct name *a, const struct name *b)
{
	if (a->ip != b->ip)
		return 0;
	if (a->ip)
		return a->alen == b->alen && memcmp(a->addr, b->addr, a->alen) == 0;
	return strcmp(a->dns, b->dns) == 0;
}

static int
names_has(const struct names *s, const struct name *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (name_eq(&s->v[i], x))
			return 1;
	return 0;
}

/* Adds x unless present; -1 when full. */
static int
names_add(struct names *s, const struct name *x)
{
	if (names_has(s, x))
		return 0;
	if (s->n == NAMES_MAX)
		return -1;
	s->v[s->n++] = *x;
	return 0;
}

/* A DNS name from bytes: printable ASCII without NUL, lowercased; 0 if unacceptable. */
static int
dns_from(const unsigned char *p, size_t len, struct name *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0 || len > DNS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return 0;
		out->dns[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	return 1;
}

static int
ip_from_text(const char *s, struct name *out)
{
	memset(out, 0, sizeof(*out));
	out->ip = 1;
	if (inet_pton(AF_INET, s, out->addr) == 1)
		out->alen = 4;
	else if (inet_pton(AF_INET6, s, out->addr) == 1)
		out->alen = 16;
	return out->alen != 0;
}

static int
order_names(json_object *idents, struct names *out)
{
	size_t n = json_object_is_type(idents, json_type_array) ?
	    json_object_array_length(idents) : 0;

	out->n = 0;
	if (n == 0 || n > NAMES_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_object *id = json_object_array_get_idx(idents, i), *t = NULL, *v = NULL;
		const char *type, *val;
		struct name x;
		if (!json_object_object_get_ex(id, "type", &t) ||
		    !json_object_object_get_ex(id, "value", &v))
			return -1;
		type = json_object_get_string(t);
		val = json_object_get_string(v);
		if (type == NULL || val == NULL)
			return -1;
		if (strcmp(type, "dns") == 0) {
			if (!dns_from((const unsigned char *)val, strlen(val), &x))
				return -1;
		} else if (strcmp(type, "ip") != 0 || !ip_from_text(val, &x)) {
			return -1;
		}
		if (names_add(out, &x) != 0)
			return -1;
	}
	return 0;
}

/* The SAN names of the CSR; -1 with detail set when they are unacceptable. */
static int
csr_sans(X509_REQ *req, struct names *out, char *detail)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = NULL;
	int rc = -1, idx, crit = 0;

	out->n = 0;
	if (exts == NULL) {
		snprintf(detail, CSR_DETAIL_MAX, "the CSR has no subjectAltName extension");
		goto out;
	}
	idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	if (idx < 0 || X509v3_get_ext_by_NID(exts, NID_subject_alt_name, idx) >= 0) {
		snprintf(detail, CSR_DETAIL_MAX, "the CSR must have exactly one subjectAltName "
		    "extension");
		goto out;
	}
	gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL) {
		snprintf(detail, CSR_DETAIL_MAX, "the CSR's subjectAltName does not parse");
		goto out;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		struct name x;
		memset(&x, 0, sizeof(x));
		if (g->type == GEN_DNS) {
			if (!dns_from(ASN1_STRING_get0_data(g->d.dNSName),
			    (size_t)ASN1_STRING_length(g->d.dNSName), &x)) {
				snprintf(detail, CSR_DETAIL_MAX, "a dNSName of the CSR is not a "
				    "DNS name");
				goto out;
			}
		} else if (g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			if (len != 4 && len != 16) {
				snprintf(detail, CSR_DETAIL_MAX, "an iPAddress of the CSR is not 4 or "
				    "16 bytes");
				goto out;
			}
			x.ip = 1;
			x.alen = (size_t)len;
			memcpy(x.addr, ASN1_STRING_get0_data(g->d.iPAddress), x.alen);
		} else {
			snprintf(detail, CSR_DETAIL_MAX, "the CSR's subjectAltName may hold only "
			    "dNSName and iPAddress names");
			goto out;
		}
		if (names_add(out, &x) != 0) {
			snprintf(detail, CSR_DETAIL_MAX, "the CSR has more than %d names", NAMES_MAX);
			goto out;
		}
	}
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

/* Every commonName of the subject must be one of the SAN names. The first one that is a DNS
 * name of at most CSR_CN_MAX characters goes to cn (lowercase): the subject the client asked
 * for (issue/finish.c). */
static int
csr_cn_ok(X509_REQ *req, const struct names *sans, char *detail, char cn[CSR_CN_MAX + 1])
{
	const X509_NAME *subj = X509_REQ_get_subject_name(req);
	int idx = -1;

	while ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
		unsigned char *u = NULL;
		int len = ASN1_STRING_to_UTF8(&u, s);
		struct name x;
		int found = 0;
		if (len > 0 && len <= DNS_NAME_MAX) {
			char text[DNS_NAME_MAX + 1];
			memcpy(text, u, (size_t)len);
			text[len] = '\0';
			if (strlen(text) == (size_t)len && ip_from_text(text, &x) &&
			    names_has(sans, &x))
				found = 1;
			else if (strlen(text) == (size_t)len && dns_from(u, (size_t)len, &x) &&
			    names_has(sans, &x)) {
				found = 1;
				if (cn[0] == '\0' && (size_t)len <= CSR_CN_MAX)
					memcpy(cn, x.dns, (size_t)len + 1);
			}
		}
		OPENSSL_free(u);
		if (!found) {
			snprintf(detail, CSR_DETAIL_MAX, "the CSR's commonName is not one of its "
			    "subjectAltName names");
			return -1;
		}
	}
	return 0;
}

static enum csr_verdict
key_policy(EVP_PKEY *key, unsigned key_types, int *kt, char *detail)
{
	int id = EVP_PKEY_get_base_id(key);

	*kt = -1;
	if (id == EVP_PKEY_RSA) {
		BIGNUM *e = NULL;
		int bits = EVP_PKEY_get_bits(key), e_ok;
		if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
			snprintf(detail, CSR_DETAIL_MAX, "the RSA key has no readable exponent");
			return CSR_BAD_KEY;
		}
		e_ok = BN_is_word(e, 65537);
		BN_free(e);
		if (!e_ok) {
			snprintf(detail, CSR_DETAIL_MAX, "RSA keys must use the public exponent "
			    "65537");
			return CSR_BAD_KEY;
		}
		if (bits == 2048)
			*kt = KT_RSA_2048;
		else if (bits == 3072)
			*kt = KT_RSA_3072;
		else if (bits == 4096)
			*kt = KT_RSA_4096;
		else {
			snprintf(detail, CSR_DETAIL_MAX, "RSA keys must have 2048, 3072 or 4096 bits "
			    "(this one has %d)", bits);
			return CSR_BAD_KEY;
		}
	} else if (id == EVP_PKEY_EC) {
		char grp[64];
		size_t n = 0;
		if (EVP_PKEY_get_group_name(key, grp, sizeof(grp), &n) != 1)
			grp[0] = '\0';
		if (strcmp(grp, "prime256v1") == 0 || strcmp(grp, "P-256") == 0)
			*kt = KT_EC_P256;
		else if (strcmp(grp, "secp384r1") == 0 || strcmp(grp, "P-384") == 0)
			*kt = KT_EC_P384;
		else {
			snprintf(detail, CSR_DETAIL_MAX, "ECDSA keys must be on P-256 or P-384");
			return CSR_BAD_KEY;
		}
	} else {
		snprintf(detail, CSR_DETAIL_MAX, "the key must be RSA (2048, 3072 or 4096 bits) or "
		    "ECDSA (P-256 or P-384)");
		return CSR_BAD_KEY;
	}
	if ((key_types & (1u << *kt)) == 0) {
		snprintf(detail, CSR_DETAIL_MAX, "the order's profile does not accept this key "
		    "type");
		return CSR_BAD_KEY;
	}
	return CSR_OK;
}

/* DER length octets of n at p (when p is not NULL); their count. */
static size_t
der_len(uint8_t *p, size_t n)
{
	size_t k = 0;

	if (n < 0x80) {
		if (p != NULL)
			p[0] = (uint8_t)n;
		return 1;
	}
	for (size_t t = n; t > 0; t >>= 8)
		k++;
	if (p != NULL) {
		p[0] = (uint8_t)(0x80 | k);
		for (size_t i = 0; i < k; i++)
			p[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
	}
	return 1 + k;
}

/* tag, length, then body (body_len bytes, may be NULL to leave room) at out + *o. */
static void
der_put(uint8_t *out, size_t *o, uint8_t tag, const uint8_t *body, size_t body_len)
{
	out[(*o)++] = tag;
	*o += der_len(out + *o, body_len);
	if (body != NULL)
		memcpy(out + *o, body, body_len);
	*o += body != NULL ? body_len : 0;
}

static size_t
tlv_len(size_t body_len)
{
	return 1 + der_len(NULL, body_len) + body_len;
}

/* SubjectPublicKeyInfo of an ECDSA key on a named curve: the curve's OID and the public point
 * in the key's own point format, which is what OpenSSL's SubjectPublicKeyInfo encoder writes
 * for such a key. 0 when the key is not one (then the caller uses i2d_PUBKEY). */
static size_t
spki_ec(EVP_PKEY *key, uint8_t *out, size_t outsz)
{
	static const uint8_t ec_oid[] = { 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
	static const uint8_t p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	    0x07 };
	static const uint8_t p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	const uint8_t *curve;
	uint8_t point[1 + 2 * 48];
	char grp[32], enc[32];
	size_t plen = 0, clen, alg_len, bits_len, o = 0;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc),
	    NULL) != 1 || strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0 ||
	    EVP_PKEY_get_group_name(key, grp, sizeof(grp), NULL) != 1)
		return 0;
	if (strcmp(grp, "prime256v1") == 0 || strcmp(grp, "P-256") == 0) {
		curve = p256;
		clen = sizeof(p256);
	} else if (strcmp(grp, "secp384r1") == 0 || strcmp(grp, "P-384") == 0) {
		curve = p384;
		clen = sizeof(p384);
	} else {
		return 0;
	}
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point,
	    sizeof(point), &plen) != 1 || plen == 0)
		return 0;
	alg_len = sizeof(ec_oid) + clen;
	bits_len = 1 + plen;
	if (tlv_len(tlv_len(alg_len) + tlv_len(bits_len)) > outsz)
		return 0;
	out[o++] = 0x30;
	o += der_len(out + o, tlv_len(alg_len) + tlv_len(bits_len));
	der_put(out, &o, 0x30, NULL, alg_len);
	memcpy(out + o, ec_oid, sizeof(ec_oid));
	memcpy(out + o + sizeof(ec_oid), curve, clen);
	o += alg_len;
	der_put(out, &o, 0x03, NULL, bits_len);
	out[o] = 0;   /* no unused bits */
	memcpy(out + o + 1, point, plen);
	return o + plen + 1;
}

/* A positive INTEGER's body: big-endian, with a 0 byte in front when the top bit is set. */
static size_t
int_body(const BIGNUM *bn, uint8_t *out, size_t outsz)
{
	int n = BN_num_bytes(bn);

	if (n <= 0 || BN_is_negative(bn) || (size_t)n + 1 > outsz)
		return 0;
	out[0] = 0;
	if (BN_bn2bin(bn, out + 1) != n)
		return 0;
	return (out[1] & 0x80) ? (size_t)n + 1 : (memmove(out, out + 1, (size_t)n), (size_t)n);
}

/* SubjectPublicKeyInfo of an RSA key (rsaEncryption with NULL parameters, RSAPublicKey with
 * minimal INTEGERs): what OpenSSL's encoder writes. 0 when the key is not one. */
static size_t
spki_rsa(EVP_PKEY *key, uint8_t *out, size_t outsz)
{
	static const uint8_t alg[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	    0x01, 0x01, 0x01, 0x05, 0x00 };
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[CSR_SPKI_MAX], eb[16];
	size_t nl, el, rpk, bits, o = 0, rc = 0;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    (nl = int_body(n, nb, sizeof(nb))) == 0 || (el = int_body(e, eb, sizeof(eb))) == 0)
		goto out;
	rpk = tlv_len(nl) + tlv_len(el);
	bits = 1 + tlv_len(rpk);
	if (tlv_len(sizeof(alg) + tlv_len(bits)) > outsz)
		goto out;
	out[o++] = 0x30;
	o += der_len(out + o, sizeof(alg) + tlv_len(bits));
	memcpy(out + o, alg, sizeof(alg));
	o += sizeof(alg);
	der_put(out, &o, 0x03, NULL, bits);
	out[o++] = 0;
	der_put(out, &o, 0x30, NULL, rpk);
	der_put(out, &o, 0x02, nb, nl);
	der_put(out, &o, 0x02, eb, el);
	rc = o;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

anvil_err
csr_spki_der_slow(EVP_PKEY *key, uint8_t *out, size_t outsz, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0)
		return AE_CRYPTO;
	if ((size_t)n > outsz) {
		OPENSSL_free(der);
		return AE_TOOBIG;
	}
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	return AE_OK;
}

anvil_err
csr_spki_der(EVP_PKEY *key, uint8_t *out, size_t outsz, size_t *len)
{
	ERR_set_mark();
	if ((*len = spki_ec(key, out, outsz)) > 0 || (*len = spki_rsa(key, out, outsz)) > 0) {
		ERR_pop_to_mark();
		return AE_OK;
	}
	ERR_pop_to_mark();
	return csr_spki_der_slow(key, out, outsz, len);
}

anvil_err
csr_spki_sha256(EVP_PKEY *key, uint8_t out[32])
{
	uint8_t der[CSR_SPKI_MAX];
	size_t len = 0;
	anvil_err e;

	if ((e = csr_spki_der(key, der, sizeof(der), &len)) == AE_OK)
		SHA256(der, len, out);
	return e;
}

static int
names_same(const struct names *a, const struct names *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!name_eq(&a->v[i], &b->v[i]))
			return 0;
	return 1;
}

/* The last CSR csr_check accepted, with everything its verdict depends on (csr.h). The check
 * is a pure function of these, so an exact match gives the same verdict and info. */
static struct {
	pthread_mutex_t lock;
	int valid;
	size_t len;
	unsigned key_types;
	uint8_t der[CSR_MAX];
	struct names want;
	struct csr_info info;
} memo = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int
memo_get(const uint8_t *der, size_t len, const struct names *want, unsigned key_types,
    struct csr_info *out)
{
	int hit;

	pthread_mutex_lock(&memo.lock);
	hit = memo.valid && memo.len == len && memo.key_types == key_types &&
	    memcmp(memo.der, der, len) == 0 && names_same(&memo.want, want) &&
	    EVP_PKEY_up_ref(memo.info.key) == 1;
	if (hit)
		*out = memo.info;
	pthread_mutex_unlock(&memo.lock);
	return hit;
}

static void
memo_put(const uint8_t *der, size_t len, const struct names *want, unsigned key_types,
    const struct csr_info *in)
{
	pthread_mutex_lock(&memo.lock);
	EVP_PKEY_free(memo.info.key);
	memo.valid = 0;
	memo.info.key = NULL;
	if (EVP_PKEY_up_ref(in->key) == 1) {
		memo.info = *in;
		memcpy(memo.der, der, len);
		memo.len = len;
		memo.key_types = key_types;
		memo.want.n = want->n;
		memcpy(memo.want.v, want->v, want->n * sizeof(want->v[0]));
		memo.valid = 1;
	}
	pthread_mutex_unlock(&memo.lock);
}

void
csr_memo_clear(void)
{
	pthread_mutex_lock(&memo.lock);
	EVP_PKEY_free(memo.info.key);
	memo.info.key = NULL;
	memo.valid = 0;
	pthread_mutex_unlock(&memo.lock);
}

/* One DER TLV with tag at *p (before end): definite, minimal length of at most 3 octets. */
static int
der_get(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **body, size_t *blen)
{
	const uint8_t *q = *p + 2;
	size_t len = 0;

	if (end - *p < 2 || (*p)[0] != tag)
		return 0;
	if ((*p)[1] < 0x80) {
		len = (*p)[1];
	} else {
		size_t k = (*p)[1] & 0x7f;
		if (k == 0 || k > 3 || (size_t)(end - q) < k || q[0] == 0)
			return 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | q[i];
		if (len < 0x80)
			return 0;
		q += k;
	}
	if ((size_t)(end - q) < len)
		return 0;
	*body = q;
	*blen = len;
	*p = q + len;
	return 1;
}

/* Atomic: anvil-jobs checks CSRs from several finishing threads. */
static atomic_int fast_on = 1;
static atomic_ulong fast_hits;

unsigned long
csr_fast_set(int on)
{
	atomic_store(&fast_on, on);
	return atomic_exchange(&fast_hits, 0);
}

/* The shortcut for the usual CSR (csr.h): ECDSA P-256 or P-384 on a named curve with an
 * uncompressed point, signed with ecdsa-with-SHA256/384/512 (no parameters), version 0, strict
 * DER. d2i_X509_REQ decodes the key through OpenSSL 3's provider decoders (1.4 million
 * instructions, callgrind); here the key is imported from its point, the signature verified
 * over the request info's own bytes, and the subject and attributes decoded alone into a
 * request without a key for the name checks. Every shape it accepts is a subset of what
 * d2i_X509_REQ accepts, decoded by the same item decoders, so an accepted CSR is one the plain
 * path accepts with the same key and names; anything else, a bad signature included, returns
 * 0 and takes the plain path, whose verdict and detail stand (t/0008-csr compares the two). */
static int
csr_fast(const uint8_t *der, size_t len, X509_REQ **req_out, EVP_PKEY **key_out)
{
	static const uint8_t ec_alg[] = { 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
	static const uint8_t p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	    0x07 };
	static const uint8_t p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const uint8_t ecdsa_sha[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03 };
	const uint8_t *p = der, *end = der + len, *body, *info, *ib, *r, *rend, *v, *name, *spki,
	    *attrs, *alg, *sig, *s, *ka, *kp, *a;
	size_t blen, ibl, vl, nl, sl, al, algl, sigl, kal, kpl, info_len, name_len, clen;
	const char *group, *md;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY *key = NULL;
	X509_NAME *nm = NULL;
	X509_REQ *req = NULL;
	const unsigned char *dp;
	int ok = 0;

	if (!atomic_load(&fast_on) || !der_get(&p, end, 0x30, &body, &blen) || p != end)
		return 0;
	p = info = body;
	end = body + blen;
	if (!der_get(&p, end, 0x30, &ib, &ibl))
		return 0;
	info_len = (size_t)(p - info);
	if (!der_get(&p, end, 0x30, &alg, &algl) || !der_get(&p, end, 0x03, &sig, &sigl) ||
	    p != end || algl != sizeof(ecdsa_sha) + 1 ||
	    memcmp(alg, ecdsa_sha, sizeof(ecdsa_sha)) != 0 || sigl < 2 || sig[0] != 0)
		return 0;
	md = alg[sizeof(ecdsa_sha)] == 2 ? "SHA256" : alg[sizeof(ecdsa_sha)] == 3 ? "SHA384" :
	    alg[sizeof(ecdsa_sha)] == 4 ? "SHA512" : NULL;
	r = ib;
	rend = ib + ibl;
	if (md == NULL || !der_get(&r, rend, 0x02, &v, &vl) || vl != 1 || v[0] != 0)
		return 0;
	name = r;
	if (!der_get(&r, rend, 0x30, &body, &nl))
		return 0;
	name_len = (size_t)(r - name);
	if (!der_get(&r, rend, 0x30, &spki, &sl) || !der_get(&r, rend, 0xa0, &attrs, &al) ||
	    r != rend)
		return 0;
	s = spki;
	if (!der_get(&s, spki + sl, 0x30, &ka, &kal) || !der_get(&s, spki + sl, 0x03, &kp, &kpl) ||
	    s != spki + sl || kal < sizeof(ec_alg) || memcmp(ka, ec_alg, sizeof(ec_alg)) != 0)
		return 0;
	if (kal == sizeof(ec_alg) + sizeof(p256) &&
	    memcmp(ka + sizeof(ec_alg), p256, sizeof(p256)) == 0) {
		group = "prime256v1";
		clen = 32;
	} else if (kal == sizeof(ec_alg) + sizeof(p384) &&
	    memcmp(ka + sizeof(ec_alg), p384, sizeof(p384)) == 0) {
		group = "secp384r1";
		clen = 48;
	} else {
		return 0;
	}
	if (kpl != 2 + 2 * clen || kp[0] != 0 || kp[1] != 0x04)
		return 0;
	/* Errors of a refused shortcut are not the caller's: the plain path reports its own. */
	ERR_set_mark();
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)(kp + 1),
	    kpl - 1);
	params[2] = OSSL_PARAM_construct_end();
	if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(mctx, NULL, md, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestVerify(mctx, sig + 1, sigl - 1, info, info_len) != 1)
		goto out;
	dp = name;
	if ((nm = d2i_X509_NAME(NULL, &dp, (long)name_len)) == NULL || dp != name + name_len ||
	    (req = X509_REQ_new()) == NULL || X509_REQ_set_subject_name(req, nm) != 1)
		goto out;
	for (a = attrs; a < attrs + al;) {
		X509_ATTRIBUTE *at;
		dp = a;
		if ((at = d2i_X509_ATTRIBUTE(NULL, &dp, (long)(attrs + al - a))) == NULL)
			goto out;
		a = dp;
		if (X509_REQ_add1_attr(req, at) != 1) {
			X509_ATTRIBUTE_free(at);
			goto out;
		}
		X509_ATTRIBUTE_free(at);
	}
	*req_out = req;
	*key_out = key;
	req = NULL;
	key = NULL;
	atomic_fetch_add(&fast_hits, 1);
	ok = 1;
out:
	X509_NAME_free(nm);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	ERR_pop_to_mark();
	return ok;
}

enum csr_verdict
csr_check(const uint8_t *der, size_t len, json_object *identifiers, unsigned key_types,
    struct csr_info *out, char detail[CSR_DETAIL_MAX])
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;
	struct names *want = NULL, *got = NULL;
	enum csr_verdict v = CSR_BAD_CSR;
	int want_rc = -1;

	memset(out, 0, sizeof(out[0]));
	snprintf(detail, CSR_DETAIL_MAX, "the CSR is not acceptable");
	/* The order's names first, to look the CSR up; their errors are reported where they
	 * always were, after the CSR's own. */
	/* Not zeroed (28 KiB each): only v[0..n) is ever read, and n is set first. */
	if ((want = malloc(sizeof(*want))) != NULL)
		want_rc = order_names(identifiers, want);
	if (want_rc == 0 && len > 0 && len <= CSR_MAX &&
	    memo_get(der, len, want, key_types, out)) {
		v = CSR_OK;
		detail[0] = '\0';
		goto out;
	}
	if (len > 0 && len <= CSR_MAX && csr_fast(der, len, &req, &out->key))
		goto checked;
	if (len == 0 || len > CSR_MAX || (req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		snprintf(detail, CSR_DETAIL_MAX, "the csr is not a DER PKCS#10 request");
		goto out;
	}
	if ((out->key = X509_REQ_get_pubkey(req)) == NULL) {
		snprintf(detail, CSR_DETAIL_MAX, "the CSR's public key does not parse");
		v = CSR_BAD_KEY;
		goto out;
	}
	if (X509_REQ_verify(req, out->key) != 1) {
		snprintf(detail, CSR_DETAIL_MAX, "the CSR's signature does not verify");
		goto out;
	}
checked:
	if (want == NULL || (got = malloc(sizeof(*got))) == NULL) {
		snprintf(detail, CSR_DETAIL_MAX, "out of memory");
		goto out;
	}
	if (want_rc != 0) {
		snprintf(detail, CSR_DETAIL_MAX, "the order's identifiers are unusable");
		goto out;
	}
	if (csr_sans(req, got, detail) != 0 || csr_cn_ok(req, got, detail, out->cn) != 0)
		goto out;
	for (size_t i = 0; i < got->n; i++)
		if (!names_has(want, &got->v[i])) {
			snprintf(detail, CSR_DETAIL_MAX, "the CSR names an identifier that is not in "
			    "the order");
			goto out;
		}
	for (size_t i = 0; i < want->n; i++)
		if (!names_has(got, &want->v[i])) {
			snprintf(detail, CSR_DETAIL_MAX, "the CSR does not name every identifier of "
			    "the order");
			goto out;
		}
	if ((v = key_policy(out->key, key_types, &out->key_type, detail)) != CSR_OK)
		goto out;
	if (csr_spki_der(out->key, out->spki, sizeof(out->spki), &out->spki_len) != AE_OK) {
		v = CSR_BAD_KEY;
		goto out;
	}
	SHA256(out->spki, out->spki_len, out->spki_sha256);
	v = CSR_OK;
	detail[0] = '\0';
	memo_put(der, len, want, key_types, out);
out:
	free(want);
	free(got);
	X509_REQ_free(req);
	if (v != CSR_OK)
		csr_info_free(out);
	return v;
}

void
csr_info_free(struct csr_info *ci)
{
	EVP_PKEY_free(ci->key);
	ci->key = NULL;
}
