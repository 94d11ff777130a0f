/* anvil-bench: the certificate side of a flow: P-256 keys (generated before the clock starts),
 * the CSR of finalize, and the check that makes a flow count: the downloaded chain parses, the
 * leaf names exactly the ordered name and carries the CSR's key, and it verifies with the key
 * of the next certificate in the chain. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "lib/b64url.h"
#include "tools/bench/acmeb.h"

#define CHAIN_MAX 8

EVP_PKEY *
key_gen_p256(void)
{
	return EVP_EC_gen("P-256");
}

char *
csr_b64(EVP_PKEY *key, const char *name)
{
	X509_REQ *req = NULL;
	X509_NAME *subj = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gen = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	unsigned char *der = NULL;
	char *out = NULL;
	int len;

	if ((req = X509_REQ_new()) == NULL || (subj = X509_NAME_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1,
	    -1, 0) != 1 || X509_REQ_set_subject_name(req, subj) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1)
		goto out;
	if ((gens = GENERAL_NAMES_new()) == NULL || (gen = GENERAL_NAME_new()) == NULL ||
	    (ia5 = ASN1_IA5STRING_new()) == NULL || ASN1_STRING_set(ia5, name, -1) != 1)
		goto out;
	GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
	ia5 = NULL;
	if (sk_GENERAL_NAME_push(gens, gen) == 0)
		goto out;
	gen = NULL;
	if ((ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens)) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL || sk_X509_EXTENSION_push(exts, ext) == 0)
		goto out;
	ext = NULL;
	if (X509_REQ_add_extensions(req, exts) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto out;
	if ((len = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	out = b64url_encode_alloc(der, (size_t)len);
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return out;
}

/* NULL when the leaf's SANs are exactly one dNSName equal to name. */
static const char *
sans_match(X509 *leaf, const char *name)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	const char *why = NULL;
	int n;

	if (gens == NULL)
		return "check: leaf without subjectAltName";
	n = sk_GENERAL_NAME_num(gens);
	if (n != 1) {
		why = "check: leaf SANs differ from the order";
		goto out;
	}
	{
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, 0);
		const ASN1_IA5STRING *s;
		if (g->type != GEN_DNS) {
			why = "check: leaf SANs differ from the order";
			goto out;
		}
		s = g->d.dNSName;
		if ((size_t)ASN1_STRING_length(s) != strlen(name) ||
		    memcmp(ASN1_STRING_get0_data(s), name, strlen(name)) != 0)
			why = "check: leaf SANs differ from the order";
	}
out:
	GENERAL_NAMES_free(gens);
	return why;
}

const char *
chain_check(const char *pem, size_t len, const char *name, EVP_PKEY *key)
{
	X509 *chain[CHAIN_MAX];
	int n = 0;
	const char *why = NULL;
	BIO *b = NULL;

	if (len > ACMEB_BODY_MAX || len > (size_t)INT32_MAX)
		return "check: chain too large";
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return "local: BIO";
	while (n < CHAIN_MAX) {
		X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (c == NULL)
			break;
		chain[n++] = c;
	}
	ERR_clear_error();  /* the end of the PEM input leaves an error behind */
	if (n == 0) {
		why = "check: chain does not parse";
		goto out;
	}
	if ((why = sans_match(chain[0], name)) != NULL)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(chain[0]), key) != 1) {
		why = "check: leaf key is not the CSR's";
		goto out;
	}
	if (n > 1) {
		EVP_PKEY *ik = X509_get0_pubkey(chain[1]);
		if (ik == NULL || X509_verify(chain[0], ik) != 1)
			why = "check: leaf does not verify with the chain's issuer";
	}
out:
	for (int i = 0; i < n; i++)
		X509_free(chain[i]);
	BIO_free(b);
	return why;
}
