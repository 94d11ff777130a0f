#include "config.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
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

/* Every commonName of the subject must be one of the SAN names. */
static int
csr_cn_ok(X509_REQ *req, const struct names *sans, char *detail)
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
			if (strlen(text) == (size_t)len &&
			    ((ip_from_text(text, &x) && names_has(sans, &x)) ||
			    (dns_from(u, (size_t)len, &x) && names_has(sans, &x))))
				found = 1;
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

anvil_err
csr_spki_sha256(EVP_PKEY *key, uint8_t out[32])
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(key, &der);

	if (len <= 0)
		return AE_CRYPTO;
	SHA256(der, (size_t)len, out);
	OPENSSL_free(der);
	return AE_OK;
}

enum csr_verdict
csr_check(const uint8_t *der, size_t len, json_object *identifiers, unsigned key_types,
    struct csr_info *out, char detail[CSR_DETAIL_MAX])
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;
	struct names *want = NULL, *got = NULL;
	enum csr_verdict v = CSR_BAD_CSR;

	memset(out, 0, sizeof(out[0]));
	snprintf(detail, CSR_DETAIL_MAX, "the CSR is not acceptable");
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
	if ((want = calloc(1, sizeof(*want))) == NULL || (got = calloc(1, sizeof(*got))) == NULL) {
		snprintf(detail, CSR_DETAIL_MAX, "out of memory");
		goto out;
	}
	if (order_names(identifiers, want) != 0) {
		snprintf(detail, CSR_DETAIL_MAX, "the order's identifiers are unusable");
		goto out;
	}
	if (csr_sans(req, got, detail) != 0 || csr_cn_ok(req, got, detail) != 0)
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
	if (csr_spki_sha256(out->key, out->spki_sha256) != AE_OK) {
		v = CSR_BAD_KEY;
		goto out;
	}
	v = CSR_OK;
	detail[0] = '\0';
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
