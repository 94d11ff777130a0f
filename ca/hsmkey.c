#include "config.h"
/* EC_KEY_METHOD and RSA_METHOD are deprecated in OpenSSL 3 but remain the only way to plug an
 * external signer into the legacy ("foreign key") path without writing a provider. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include "ca/hsmkey.h"

static __thread struct hsm_thread *cur;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EC_KEY_METHOD *ec_meth;
static RSA_METHOD *rsa_meth;
static int ec_idx = -1, rsa_idx = -1;

void
hsmkey_set_thread(struct hsm_thread *t)
{
	cur = t;
}

static EVP_MD *md256, *md384;

static void
fetch_mds(void)
{
	md256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	md384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

const EVP_MD *
hsmkey_md(enum key_type kt)
{
	static pthread_once_t md_once = PTHREAD_ONCE_INIT;

	/* Fetched once: the legacy EVP_sha256() is looked up in the provider store (under a lock)
	 * on every signature. The fetched methods live as long as the process. */
	pthread_once(&md_once, fetch_mds);
	if (kt == KT_EC_P384)
		return md384 != NULL ? md384 : EVP_sha384();
	return md256 != NULL ? md256 : EVP_sha256();
}

/* The ex_data slot stores index + 1 so that 0 means "not ours". */
static int
sign_with(size_t idx1, enum key_type kt, int md_nid, const unsigned char *dgst, size_t dlen,
    uint8_t *sig, size_t *siglen)
{
	struct hsm_thread *t = cur;

	if (t == NULL || idx1 == 0 || idx1 > t->nkeys)
		return 0;
	if (p11_sign_digest(t->m, t->session, t->keys[idx1 - 1], kt, md_nid, dgst, dlen, sig,
	    siglen, &t->last_rv) != AE_OK)
		return 0;
	return 1;
}

static ECDSA_SIG *
ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv, const BIGNUM *r,
    EC_KEY *ec)
{
	uint8_t sig[256];
	size_t siglen = sizeof(sig);
	const unsigned char *p = sig;
	size_t idx1 = (size_t)(uintptr_t)EC_KEY_get_ex_data(ec, ec_idx);

	(void)kinv;
	(void)r;
	if (dlen <= 0 || !sign_with(idx1, KT_EC_P256, NID_undef, dgst, (size_t)dlen, sig, &siglen))
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, (long)siglen);
}

static int
rsa_sign(int type, const unsigned char *m, unsigned int mlen, unsigned char *sigret,
    unsigned int *siglen, const RSA *rsa)
{
	size_t idx1 = (size_t)(uintptr_t)RSA_get_ex_data(rsa, rsa_idx);
	size_t out = (size_t)RSA_size(rsa);

	if (!sign_with(idx1, KT_RSA_2048, type, m, mlen, sigret, &out))
		return 0;
	*siglen = (unsigned int)out;
	return 1;
}

static void
init_methods(void)
{
	ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	if (ec_meth != NULL) {
		int (*sign)(int, const unsigned char *, int, unsigned char *, unsigned int *,
		    const BIGNUM *, const BIGNUM *, EC_KEY *) = NULL;
		int (*setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;
		EC_KEY_METHOD_get_sign(ec_meth, &sign, &setup, NULL);
		EC_KEY_METHOD_set_sign(ec_meth, sign, setup, ec_sign_sig);
	}
	rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	if (rsa_meth != NULL) {
		RSA_meth_set1_name(rsa_meth, "anvil-hsm");
		RSA_meth_set_sign(rsa_meth, rsa_sign);
	}
	ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

anvil_err
hsmkey_wrap(EVP_PKEY *pub, size_t idx, EVP_PKEY **out)
{
	EVP_PKEY *pk = NULL;
	EC_KEY *ec = NULL;
	RSA *rsa = NULL;
	anvil_err e = AE_CRYPTO;

	pthread_once(&once, init_methods);
	if (ec_meth == NULL || rsa_meth == NULL || ec_idx < 0 || rsa_idx < 0)
		return AE_NOMEM;
	if ((pk = EVP_PKEY_new()) == NULL)
		goto out;
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		EC_KEY *src = EVP_PKEY_get1_EC_KEY(pub);
		ec = src != NULL ? EC_KEY_dup(src) : NULL;
		EC_KEY_free(src);
		if (ec == NULL || !EC_KEY_set_method(ec, ec_meth) ||
		    !EC_KEY_set_ex_data(ec, ec_idx, (void *)(uintptr_t)(idx + 1)) ||
		    !EVP_PKEY_assign_EC_KEY(pk, ec))
			goto out;
		ec = NULL;
	} else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		RSA *src = EVP_PKEY_get1_RSA(pub);
		rsa = src != NULL ? RSAPublicKey_dup(src) : NULL;
		RSA_free(src);
		if (rsa == NULL || !RSA_set_method(rsa, rsa_meth) ||
		    !RSA_set_ex_data(rsa, rsa_idx, (void *)(uintptr_t)(idx + 1)) ||
		    !EVP_PKEY_assign_RSA(pk, rsa))
			goto out;
		rsa = NULL;
	} else {
		goto out;
	}
	*out = pk;
	pk = NULL;
	e = AE_OK;
out:
	EC_KEY_free(ec);
	RSA_free(rsa);
	EVP_PKEY_free(pk);
	return e;
}
