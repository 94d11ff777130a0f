#include "config.h"
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "ocsp/issuers.h"

static int
hash_both(const uint8_t *data, size_t len, uint8_t out[2][32])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out[OCSP_HASH_SHA1], &n, EVP_sha1(), NULL) == 1 &&
	    EVP_Digest(data, len, out[OCSP_HASH_SHA256], &n, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static anvil_err
load_one(struct conf_ctx *cc, const struct issuer *is, struct ocsp_issuer *out)
{
	char where[PROTO_NAME_MAX + 16];
	const ASN1_BIT_STRING *key;
	unsigned char *name = NULL;
	X509 *x = NULL;
	FILE *f = NULL;
	int nlen;
	anvil_err e = AE_CONFIG;

	snprintf(where, sizeof(where), "issuers.%s", is->name);
	memset(out, 0, sizeof(*out));
	memcpy(out->name, is->name, sizeof(out->name));
	if ((f = fopen(is->cert_path, "r")) == NULL) {
		conf_fail(cc, where, "cert", "%s: cannot open", is->cert_path);
		goto out;
	}
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		conf_fail(cc, where, "cert", "%s: not a PEM certificate", is->cert_path);
		goto out;
	}
	if ((nlen = i2d_X509_NAME(X509_get_subject_name(x), &name)) <= 0 ||
	    (key = X509_get0_pubkey_bitstr(x)) == NULL ||
	    hash_both(name, (size_t)nlen, out->name_hash) != 0 ||
	    hash_both(key->data, (size_t)key->length, out->key_hash) != 0) {
		conf_fail(cc, where, "cert", "%s: cannot hash its name and key", is->cert_path);
		goto out;
	}
	e = AE_OK;
out:
	OPENSSL_free(name);
	X509_free(x);
	if (f != NULL)
		fclose(f);
	return e;
}

anvil_err
ocsp_issuers_load(struct conf_ctx *cc, const struct signer_conf *sc, struct ocsp_issuers *out)
{
	anvil_err e;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sc->nissuers && i < MAX_ISSUERS; i++) {
		if ((e = load_one(cc, &sc->issuers[i], &out->v[i])) != AE_OK)
			return e;
		out->n++;
	}
	return AE_OK;
}

const struct ocsp_issuer *
ocsp_issuers_find(const struct ocsp_issuers *is, const struct ocsp_certid *id)
{
	for (size_t i = 0; i < is->n; i++)
		if (memcmp(is->v[i].name_hash[id->hash], id->name_hash, id->hash_len) == 0 &&
		    memcmp(is->v[i].key_hash[id->hash], id->key_hash, id->hash_len) == 0)
			return &is->v[i];
	return NULL;
}
