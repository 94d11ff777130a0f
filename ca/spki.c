#include "config.h"
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include "ca/spki.h"

static EC_GROUP *p256, *p384;
static pthread_once_t groups_once = PTHREAD_ONCE_INIT;

static void
groups_init(void)
{
	p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
}

/* The point must decode on the curve (compressed or not); its identity is the uncompressed
 * form, so that two encodings of one key compare equal. */
static anvil_err
ec_key(const ASN1_OBJECT *curve, const uint8_t *key, size_t len, enum key_type *kt,
    uint8_t *id, size_t *idlen)
{
	const EC_GROUP *g;
	EC_POINT *pt;
	size_t n = 0;

	pthread_once(&groups_once, groups_init);
	switch (OBJ_obj2nid(curve)) {
	case NID_X9_62_prime256v1: g = p256; *kt = KT_EC_P256; break;
	case NID_secp384r1: g = p384; *kt = KT_EC_P384; break;
	default: return AE_SIGNER_KEY;
	}
	if (g == NULL)
		return AE_NOMEM;
	if ((pt = EC_POINT_new(g)) == NULL)
		return AE_NOMEM;
	/* An uncompressed point that decodes (coordinates below p, on the curve) is its own
	 * identity: re-encoding it costs a field inversion, three quarters of this function. */
	if (EC_POINT_oct2point(g, pt, key, len, NULL) == 1 && !EC_POINT_is_at_infinity(g, pt)) {
		if (key[0] == POINT_CONVERSION_UNCOMPRESSED && len <= SPKI_ID_MAX) {
			memcpy(id, key, len);
			n = len;
		} else {
			n = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, id, SPKI_ID_MAX,
			    NULL);
		}
	}
	EC_POINT_free(pt);
	if (n == 0)
		return AE_SIGNER_KEY;
	*idlen = n;
	return AE_OK;
}

/* BR 6.1.6's modulus: positive, odd, no factor below 752 (a modulus with a small factor is
 * broken by anyone). One remainder per prime, microseconds. */
static int
modulus_sane(const BIGNUM *n)
{
	if (BN_is_negative(n) || !BN_is_odd(n))
		return 0;
	for (BN_ULONG p = 3; p < 752; p += 2) {
		BN_ULONG d;
		int prime = 1;

		for (d = 3; d * d <= p && prime; d += 2)
			prime = p % d != 0;
		if (prime && BN_mod_word(n, p) == 0)
			return 0;
	}
	return 1;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, in DER, nothing after. */
static anvil_err
rsa_key(const uint8_t *key, size_t len, enum key_type *kt, uint8_t *id, size_t *idlen)
{
	const unsigned char *p = key, *end;
	long slen;
	int tag, cls, bits = 0;
	ASN1_INTEGER *n = NULL, *e = NULL;
	BIGNUM *bn = NULL;
	anvil_err err = AE_SIGNER_KEY;

	if (len > SPKI_ID_MAX || len > LONG_MAX ||
	    ASN1_get_object(&p, &slen, &tag, &cls, (long)len) != V_ASN1_CONSTRUCTED ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL || p + slen != key + len)
		return AE_SIGNER_KEY;
	end = p + slen;
	if ((n = d2i_ASN1_INTEGER(NULL, &p, end - p)) == NULL ||
	    (e = d2i_ASN1_INTEGER(NULL, &p, end - p)) == NULL || p != end ||
	    ASN1_STRING_type(n) != V_ASN1_INTEGER || ASN1_STRING_type(e) != V_ASN1_INTEGER)
		goto out;
	/* CA/B Forum BR 6.1.6: an odd exponent from 2^16 + 1 to 2^256 - 1. */
	if ((bn = ASN1_INTEGER_to_BN(e, NULL)) == NULL || BN_is_negative(bn) || !BN_is_odd(bn) ||
	    BN_num_bits(bn) < 17 || BN_num_bits(bn) > 256 ||
	    (BN_num_bits(bn) == 17 && BN_get_word(bn) < 65537))
		goto out;
	BN_free(bn);
	if ((bn = ASN1_INTEGER_to_BN(n, NULL)) == NULL || !modulus_sane(bn))
		goto out;
	bits = BN_num_bits(bn);
	switch (bits) {
	case 2048: *kt = KT_RSA_2048; break;
	case 3072: *kt = KT_RSA_3072; break;
	case 4096: *kt = KT_RSA_4096; break;
	default: goto out;
	}
	memcpy(id, key, len);
	*idlen = len;
	err = AE_OK;
out:
	BN_free(bn);
	ASN1_INTEGER_free(n);
	ASN1_INTEGER_free(e);
	return err;
}

static anvil_err
key_of(const X509_ALGOR *alg, const uint8_t *key, size_t len, enum key_type *kt, uint8_t *id,
    size_t *idlen)
{
	const ASN1_OBJECT *oid;
	const void *pval;
	int ptype;

	*kt = KT_NONE;
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	switch (OBJ_obj2nid(oid)) {
	case NID_rsaEncryption:
		/* RFC 3279 section 2.3.1: the parameters are NULL. */
		return ptype == V_ASN1_NULL ? rsa_key(key, len, kt, id, idlen) : AE_SIGNER_KEY;
	case NID_X9_62_id_ecPublicKey:
		/* RFC 5480 section 2.1.1: namedCurve only. */
		return ptype == V_ASN1_OBJECT ? ec_key(pval, key, len, kt, id, idlen) : AE_SIGNER_KEY;
	default:
		return AE_SIGNER_KEY;
	}
}

anvil_err
spki_key_of(const X509_PUBKEY *pub, enum key_type *kt, uint8_t id[SPKI_ID_MAX], size_t *idlen)
{
	ASN1_OBJECT *oid;
	const unsigned char *key;
	int len;
	X509_ALGOR *alg;

	*kt = KT_NONE;
	if (pub == NULL || X509_PUBKEY_get0_param(&oid, &key, &len, &alg, pub) != 1 || len <= 0)
		return AE_SIGNER_KEY;
	return key_of(alg, key, (size_t)len, kt, id, idlen);
}

anvil_err
spki_set(X509_PUBKEY *dst, const uint8_t *der, size_t len, enum key_type *kt)
{
	const unsigned char *p = der, *end;
	long slen;
	int tag, cls;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *bits = NULL;
	const ASN1_OBJECT *oid;
	const void *pval;
	int ptype;
	ASN1_OBJECT *oid2 = NULL, *param2 = NULL;
	unsigned char *key2 = NULL;
	uint8_t id[SPKI_ID_MAX];
	size_t idlen;
	anvil_err e = AE_SIGNER_KEY;

	*kt = KT_NONE;
	if (len > 16384 ||
	    ASN1_get_object(&p, &slen, &tag, &cls, (long)len) != V_ASN1_CONSTRUCTED ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL || p + slen != der + len)
		return AE_SIGNER_KEY;
	end = p + slen;
	/* A BIT STRING with unused bits cannot hold a key: ASN1_STRING_FLAG_BITS_LEFT marks it. */
	if ((alg = d2i_X509_ALGOR(NULL, &p, end - p)) == NULL ||
	    (bits = d2i_ASN1_BIT_STRING(NULL, &p, end - p)) == NULL || p != end ||
	    ((bits->flags & ASN1_STRING_FLAG_BITS_LEFT) && (bits->flags & 0x07) != 0) ||
	    ASN1_STRING_length(bits) <= 0)
		goto out;
	if ((e = key_of(alg, ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits), kt,
	    id, &idlen)) != AE_OK)
		goto out;
	e = AE_NOMEM;
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	if ((oid2 = OBJ_dup(oid)) == NULL ||
	    (ptype == V_ASN1_OBJECT && (param2 = OBJ_dup(pval)) == NULL) ||
	    (key2 = OPENSSL_memdup(ASN1_STRING_get0_data(bits),
	    (size_t)ASN1_STRING_length(bits))) == NULL)
		goto out;
	if (X509_PUBKEY_set0_param(dst, oid2, ptype, param2, key2, ASN1_STRING_length(bits)) != 1)
		goto out;
	oid2 = param2 = NULL;
	key2 = NULL;
	e = AE_OK;
out:
	if (e != AE_OK)
		*kt = KT_NONE;
	ASN1_OBJECT_free(oid2);
	ASN1_OBJECT_free(param2);
	OPENSSL_free(key2);
	X509_ALGOR_free(alg);
	ASN1_BIT_STRING_free(bits);
	return e;
}

anvil_err
spki_id_of_pkey(EVP_PKEY *pk, struct spki_id *out)
{
	X509_PUBKEY *pub = NULL;
	anvil_err e;

	if (X509_PUBKEY_set(&pub, pk) != 1)
		return AE_CRYPTO;
	e = spki_key_of(pub, &out->kt, out->id, &out->len);
	X509_PUBKEY_free(pub);
	return e;
}
