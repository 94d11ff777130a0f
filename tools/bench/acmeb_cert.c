/* anvil-bench: the certificate side of a flow: P-256 keys (generated before the clock starts),
 * the CSR of finalize, and the check that makes a flow count: the downloaded chain parses, the
 * leaf names exactly the ordered name and carries the CSR's key, and it verifies with the key
 * of the next certificate in the chain. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "lib/b64url.h"
#include "tools/bench/acmeb.h"

EVP_PKEY *
key_gen_p256(void)
{
	return EVP_EC_gen("P-256");
}

/* OpenSSL 3.0's encoder and decoder cost more than the CSR's signature: with them, making the
 * CSR and checking the chain took 40 % of the client's CPU per flow (perf), CPU the servers
 * measured on the same cores then lacked. So each pool key's point is encoded once, the CSR's
 * key is set from it without the encoder, and the chain's issuer is parsed only when its text
 * changes. Single-threaded tool: plain statics. */
struct point {
	EVP_PKEY *key;
	size_t len;
	unsigned char oct[65];
};
static struct point *points;
static size_t npoints, cappoints;

static const struct point *
point_of(EVP_PKEY *key)
{
	struct point *pt;

	for (size_t i = 0; i < npoints; i++)
		if (points[i].key == key)
			return &points[i];
	if (npoints == cappoints) {
		size_t cap = cappoints ? 2 * cappoints : 64;
		struct point *np = realloc(points, cap * sizeof(*np));
		if (np == NULL)
			return NULL;
		points = np;
		cappoints = cap;
	}
	pt = &points[npoints];
	pt->key = key;
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt->oct,
	    sizeof(pt->oct), &pt->len) != 1)
		return NULL;
	npoints++;
	return pt;
}

static int
req_set_p256(X509_REQ *req, EVP_PKEY *key)
{
	const struct point *pt = point_of(key);
	unsigned char *oct;

	if (pt == NULL || (oct = OPENSSL_memdup(pt->oct, pt->len)) == NULL)
		return 0;
	if (X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req),
	    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(NID_X9_62_prime256v1), oct, (int)pt->len) != 1) {
		OPENSSL_free(oct);
		return 0;
	}
	return 1;
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
	    req_set_p256(req, key) != 1)
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

static char *issuer_pem;
static size_t issuer_pem_len;
static X509 *issuer;

/* The issuer certificate after the leaf in pem: parsed again only when its text changes. */
static X509 *
issuer_of(const char *rest, size_t len)
{
	BIO *b;
	X509 *c;
	char *copy;

	if (issuer != NULL && len == issuer_pem_len && memcmp(rest, issuer_pem, len) == 0)
		return issuer;
	if ((b = BIO_new_mem_buf(rest, (int)len)) == NULL)
		return NULL;
	c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	if (c == NULL || (copy = malloc(len ? len : 1)) == NULL) {
		X509_free(c);
		return NULL;
	}
	memcpy(copy, rest, len);
	X509_free(issuer);
	free(issuer_pem);
	issuer = c;
	issuer_pem = copy;
	issuer_pem_len = len;
	return issuer;
}

const char *
chain_check(const char *pem, size_t len, const char *name, EVP_PKEY *key, X509 **leaf_out,
    X509 **issuer_out)
{
	static const char end_marker[] = "-----END CERTIFICATE-----";
	X509 *leaf = NULL, *ik = NULL;
	const char *why = NULL, *end;
	size_t leaf_len;
	BIO *b = NULL;

	if (len > ACMEB_BODY_MAX || len > (size_t)INT32_MAX)
		return "check: chain too large";
	if ((end = memmem(pem, len, end_marker, sizeof(end_marker) - 1)) == NULL)
		return "check: chain does not parse";
	leaf_len = (size_t)(end - pem) + sizeof(end_marker) - 1;
	if ((b = BIO_new_mem_buf(pem, (int)leaf_len)) == NULL)
		return "local: BIO";
	leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
	ERR_clear_error();  /* the end of the PEM input leaves an error behind */
	if (leaf == NULL) {
		why = "check: chain does not parse";
		goto out;
	}
	if ((why = sans_match(leaf, name)) != NULL)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
		why = "check: leaf key is not the CSR's";
		goto out;
	}
	while (leaf_len < len && (pem[leaf_len] == '\r' || pem[leaf_len] == '\n'))
		leaf_len++;
	if (leaf_len < len) {
		if ((ik = issuer_of(pem + leaf_len, len - leaf_len)) == NULL)
			why = "check: chain does not parse";
		else if (X509_verify(leaf, X509_get0_pubkey(ik)) != 1)
			why = "check: leaf does not verify with the chain's issuer";
	}
	if (why == NULL && leaf_out != NULL && issuer_out != NULL) {
		if (ik != NULL && X509_up_ref(ik) != 1) {
			why = "local: X509_up_ref";
			goto out;
		}
		*leaf_out = leaf;
		*issuer_out = ik;
		leaf = NULL;
	}
out:
	X509_free(leaf);
	BIO_free(b);
	return why;
}
