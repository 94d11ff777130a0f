/* OpenSSL keys whose private operations run on the calling thread's PKCS#11 session, so that
 * X509_sign, X509_CRL_sign and OCSP_basic_sign build the signed structures while the HSM does
 * only the signature. The same technique as libp11 (a custom EC_KEY_METHOD / RSA_METHOD), but
 * the session comes from the worker thread that is signing. */
#ifndef ANVIL_CA_HSMKEY_H
#define ANVIL_CA_HSMKEY_H
#include <stddef.h>
#include <openssl/evp.h>
#include "ca/p11.h"

struct hsm_thread {
	struct p11_module *m;
	CK_SESSION_HANDLE session;
	const CK_OBJECT_HANDLE *keys;  /* cached handles, indexed like the wrapped keys */
	size_t nkeys;
	CK_RV last_rv;                 /* of the last failed call, for reopen decisions */
};

/* Binds the signing context of the calling thread (NULL to unbind). */
void hsmkey_set_thread(struct hsm_thread *t);

/* A private-key EVP_PKEY for public key pub, signing with key index idx of the thread's
 * context. */
anvil_err hsmkey_wrap(EVP_PKEY *pub, size_t idx, EVP_PKEY **out);

/* The signature digest for a CA key of this type (SHA-384 for P-384, else SHA-256). */
const EVP_MD *hsmkey_md(enum key_type kt);

#endif
