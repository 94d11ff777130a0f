#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include "ca/spki.h"
#include "ca/tbs.h"
#include "lib/der.h"

static anvil_err
serial_to_asn1(const uint8_t *s, size_t len, ASN1_INTEGER **out)
{
	BIGNUM *bn = NULL;
	anvil_err e = AE_SIGNER_SERIAL;

	/* Positive, minimal, at most 20 octets once DER-encoded (RFC 5280 section 4.1.2.2). */
	if (len == 0 || len > 20 || s[0] == 0 || (len == 20 && (s[0] & 0x80)))
		return e;
	if ((bn = BN_bin2bn(s, (int)len, NULL)) == NULL)
		return AE_NOMEM;
	if ((*out = BN_to_ASN1_INTEGER(bn, NULL)) != NULL)
		e = AE_OK;
	BN_free(bn);
	return e;
}

/* A configured extension from its text form; only our own config reaches this. */
static anvil_err
conf_ext(X509V3_CTX *ctx, int nid, const char *value, X509_EXTENSION **out)
{
	return (*out = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) != NULL ? AE_OK : AE_CRYPTO;
}

static anvil_err
add_raw_ext(X509 *x, int nid, int crit, const uint8_t *der, size_t len)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = 0;

	if (os != NULL && ASN1_OCTET_STRING_set(os, der, (int)len))
		ext = X509_EXTENSION_create_by_NID(NULL, nid, crit, os);
	ok = ext != NULL && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	return ok ? AE_OK : AE_CRYPTO;
}

/* SignedCertificateTimestampList (RFC 6962 section 3.3): u16 total, then u16-prefixed SCTs. */
static int
sct_list_ok(const uint8_t *p, size_t len)
{
	size_t total, off = 2;

	if (len < 2)
		return 0;
	total = ((size_t)p[0] << 8) | p[1];
	if (total + 2 != len || total == 0)
		return 0;
	while (off < len) {
		size_t n;
		if (len - off < 2)
			return 0;
		n = ((size_t)p[off] << 8) | p[off + 1];
		if (n == 0 || n > len - off - 2)
			return 0;
		off += 2 + n;
	}
	return 1;
}

static anvil_err
add_san(X509 *x, const struct cert_req *r, int critical)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	anvil_err e = AE_NOMEM;

	if (gens == NULL)
		goto out;
	for (size_t i = 0; i < r->nids; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *s = r->ids[i].type == ID_DNS ? ASN1_IA5STRING_new() :
		    ASN1_OCTET_STRING_new();
		if (g == NULL || s == NULL || !ASN1_STRING_set(s, r->ids[i].val, r->ids[i].len)) {
			GENERAL_NAME_free(g);
			ASN1_STRING_free(s);
			goto out;
		}
		GENERAL_NAME_set0_value(g, r->ids[i].type == ID_DNS ? GEN_DNS : GEN_IPADD, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	e = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical, X509V3_ADD_DEFAULT) == 1 ?
	    AE_OK : AE_CRYPTO;
out:
	GENERAL_NAMES_free(gens);
	return e;
}

/* certificatePolicies from the profile's OIDs (the text form needs a config database). */
static anvil_err
policies_ext(const struct profile *p, X509_EXTENSION **out)
{
	CERTIFICATEPOLICIES *cp = sk_POLICYINFO_new_null();
	anvil_err e = AE_CRYPTO;

	if (cp == NULL)
		return AE_NOMEM;
	for (size_t i = 0; i < p->npolicies; i++) {
		POLICYINFO *pi = POLICYINFO_new();
		if (pi == NULL)
			goto out;
		ASN1_OBJECT_free(pi->policyid);
		if ((pi->policyid = OBJ_txt2obj(p->policies[i], 1)) == NULL ||
		    !sk_POLICYINFO_push(cp, pi)) {
			POLICYINFO_free(pi);
			goto out;
		}
	}
	if ((*out = X509V3_EXT_i2d(NID_certificate_policies, 0, cp)) != NULL)
		e = AE_OK;
out:
	CERTIFICATEPOLICIES_free(cp);
	return e;
}

/* What every certificate of a profile carries alike, built once per profile when the signer
 * loads (tbs_profile_prepare): from their text forms they cost ~75 k instructions per
 * certificate. */
struct tbs_profile_exts {
	X509_EXTENSION *bc, *ku_rsa, *ku, *eku, *aki;
	X509_EXTENSION *aia, *cp;  /* NULL when the issuer or profile has none */
	/* The issuer's key as tbs_lint compares a subject key with it; unset when unreadable. */
	int have_issuer_key;
	struct spki_id issuer_key;
};

static void
exts_free(struct tbs_profile_exts *t)
{
	X509_EXTENSION_free(t->bc);
	X509_EXTENSION_free(t->ku_rsa);
	X509_EXTENSION_free(t->ku);
	X509_EXTENSION_free(t->eku);
	X509_EXTENSION_free(t->aki);
	X509_EXTENSION_free(t->aia);
	X509_EXTENSION_free(t->cp);
	memset(t, 0, sizeof(*t));
}

static anvil_err
exts_build(const struct profile *p, struct tbs_profile_exts *t)
{
	const struct issuer *is = p->issuer;
	X509V3_CTX ctx;
	char val[2048];
	anvil_err e;

	memset(t, 0, sizeof(*t));
	/* Only the authority key identifier reads the context: the issuer's own. */
	X509V3_set_ctx(&ctx, is->cert, NULL, NULL, NULL, 0);
	snprintf(val, sizeof(val), "%s%s%s", p->server_auth ? "serverAuth" : "",
	    p->server_auth && p->client_auth ? "," : "", p->client_auth ? "clientAuth" : "");
	if ((e = conf_ext(&ctx, NID_basic_constraints, "critical,CA:FALSE", &t->bc)) != AE_OK ||
	    (e = conf_ext(&ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment",
	    &t->ku_rsa)) != AE_OK ||
	    (e = conf_ext(&ctx, NID_key_usage, "critical,digitalSignature", &t->ku)) != AE_OK ||
	    (e = conf_ext(&ctx, NID_ext_key_usage, val, &t->eku)) != AE_OK ||
	    (e = conf_ext(&ctx, NID_authority_key_identifier, "keyid:always", &t->aki)) != AE_OK)
		goto out;
	if (is->ocsp_url != NULL || is->issuer_url != NULL) {
		snprintf(val, sizeof(val), "%s%s%s%s%s", is->ocsp_url ? "OCSP;URI:" : "",
		    is->ocsp_url ? is->ocsp_url : "", is->ocsp_url && is->issuer_url ? "," : "",
		    is->issuer_url ? "caIssuers;URI:" : "", is->issuer_url ? is->issuer_url : "");
		if ((e = conf_ext(&ctx, NID_info_access, val, &t->aia)) != AE_OK)
			goto out;
	}
	if (p->npolicies > 0 && (e = policies_ext(p, &t->cp)) != AE_OK)
		goto out;
	t->have_issuer_key = is->cert != NULL && spki_key_of(X509_get_X509_PUBKEY(is->cert),
	    &t->issuer_key.kt, t->issuer_key.id, &t->issuer_key.len) == AE_OK;
	e = AE_OK;
out:
	if (e != AE_OK)
		exts_free(t);
	return e;
}

anvil_err
tbs_profile_prepare(struct profile *p)
{
	struct tbs_profile_exts *t;
	anvil_err e;

	if (p->exts != NULL)
		return AE_OK;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return AE_NOMEM;
	if ((e = exts_build(p, t)) != AE_OK) {
		free(t);
		return e;
	}
	p->exts = t;
	return AE_OK;
}

void
tbs_profile_release(struct profile *p)
{
	if (p->exts == NULL)
		return;
	exts_free(p->exts);
	free(p->exts);
	p->exts = NULL;
}

/* X509_add_ext only reads ext, to copy it (X509_EXTENSION_dup): a prepared profile's extensions
 * are shared by every connection thread. */
static anvil_err
add_ext(X509 *x, const X509_EXTENSION *ext)
{
	return X509_add_ext(x, (X509_EXTENSION *)ext, -1) ? AE_OK : AE_CRYPTO;
}

/* DER length octets of n (below 2^16: every length here) at p; how many. */
static size_t
der_put_len(uint8_t *p, size_t n)
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

static size_t
der_tlv_size(size_t n)
{
	return 1 + (n < 0x80 ? 1 : n < 0x100 ? 2 : 3) + n;
}

/* The subject key identifier, RFC 5280 section 4.2.1.2 method (1) as OpenSSL's "hash": SHA-1
 * of the subjectPublicKey bits. */
static anvil_err
add_ski(X509 *x)
{
	const unsigned char *key;
	int len;
	uint8_t der[2 + EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_PUBKEY_get0_param(NULL, &key, &len, NULL, X509_get_X509_PUBKEY(x)) != 1 ||
	    len <= 0 || !EVP_Digest(key, (size_t)len, der + 2, &n, EVP_sha1(), NULL) || n != 20)
		return AE_CRYPTO;
	der[0] = 0x04;
	der[1] = (uint8_t)n;
	return add_raw_ext(x, NID_subject_key_identifier, 0, der, 2 + n);
}

/* One distribution point with one URI, the certificate's CRL shard (what the text form
 * "URI:..." gives): SEQUENCE { SEQUENCE { [0] { [0] { [6] uri } } } }. */
static anvil_err
add_crldp(X509 *x, const struct issuer *is, const struct cert_req *r)
{
	char uri[2048];
	uint8_t der[sizeof(uri) + 16];
	size_t u, t_uri, t_full, t_dpn, t_dp, n = 0;
	int w = snprintf(uri, sizeof(uri), "%s%u.crl", is->crl_url,
	    issuer_crl_shard(r->serial, r->serial_len, is->crl_shards));

	if (w < 0 || (size_t)w >= sizeof(uri))
		return AE_CRYPTO;
	u = (size_t)w;
	t_uri = der_tlv_size(u);
	t_full = der_tlv_size(t_uri);
	t_dpn = der_tlv_size(t_full);
	t_dp = der_tlv_size(t_dpn);
	der[n++] = 0x30;
	n += der_put_len(der + n, t_dp);
	der[n++] = 0x30;
	n += der_put_len(der + n, t_dpn);
	der[n++] = 0xa0;
	n += der_put_len(der + n, t_full);
	der[n++] = 0xa0;
	n += der_put_len(der + n, t_uri);
	der[n++] = 0x86;
	n += der_put_len(der + n, u);
	memcpy(der + n, uri, u);
	return add_raw_ext(x, NID_crl_distribution_points, 0, der, n + u);
}

static anvil_err
add_extensions(const struct profile *p, const struct cert_req *r, int precert, X509 *x,
    enum key_type kt, int empty_subject)
{
	static const uint8_t poison[] = { 0x05, 0x00 };
	const struct issuer *is = p->issuer;
	struct tbs_profile_exts own;
	const struct tbs_profile_exts *t = p->exts;
	anvil_err e;

	/* A profile the signer did not prepare (a test's, or an issuer whose certificate it does
	 * not hold) builds the same extensions for this certificate alone. */
	if (t == NULL) {
		if ((e = exts_build(p, &own)) != AE_OK)
			return e;
		t = &own;
	}
	if ((e = add_ext(x, t->bc)) != AE_OK ||
	    (e = add_ext(x, key_type_is_rsa(kt) ? t->ku_rsa : t->ku)) != AE_OK ||
	    (e = add_ext(x, t->eku)) != AE_OK ||
	    (e = add_ski(x)) != AE_OK ||
	    (e = add_ext(x, t->aki)) != AE_OK ||
	    (e = add_san(x, r, empty_subject)) != AE_OK ||
	    (t->aia != NULL && (e = add_ext(x, t->aia)) != AE_OK) ||
	    (is->crl_url != NULL && (e = add_crldp(x, is, r)) != AE_OK) ||
	    (t->cp != NULL && (e = add_ext(x, t->cp)) != AE_OK))
		goto out;
	if (precert) {
		e = add_raw_ext(x, NID_ct_precert_poison, 1, poison, sizeof(poison));
	} else if (p->ct) {
		uint8_t der[PROTO_SCT_MAX + 8];
		size_t n = 0;
		/* extnValue holds an OCTET STRING around the TLS-encoded list (RFC 6962 3.3). */
		der[n++] = 0x04;
		n += der_put_len(der + n, r->sct_len);
		memcpy(der + n, r->sct, r->sct_len);
		e = add_raw_ext(x, NID_ct_precert_scts, 0, der, n + r->sct_len);
	}
out:
	if (t == &own)
		exts_free(&own);
	return e;
}

anvil_err
tbs_build_cert(const struct profile *p, const struct cert_req *r, int precert, time_t now,
    X509 **out)
{
	anvil_err e;

	*out = NULL;
	if ((e = tbs_assemble_cert(p, r, precert, out)) != AE_OK)
		return e;
	if ((e = tbs_lint(p, *out, precert, now, NULL)) != AE_OK) {
		X509_free(*out);
		*out = NULL;
	}
	return e;
}

anvil_err
tbs_assemble_cert(const struct profile *p, const struct cert_req *r, int precert, X509 **out)
{
	X509 *x = NULL;
	ASN1_INTEGER *serial = NULL;
	enum key_type kt;
	int empty_subject = 1;
	anvil_err e;

	*out = NULL;
	if ((e = serial_to_asn1(r->serial, r->serial_len, &serial)) != AE_OK)
		goto out;
	e = AE_NOMEM;
	if ((x = X509_new()) == NULL)
		goto out;
	if ((e = spki_set(X509_get_X509_PUBKEY(x), r->spki, r->spki_len, &kt)) != AE_OK)
		goto out;
	e = AE_SIGNER_KEY;
	if (!(p->key_types & (1u << kt)))
		goto out;
	e = AE_SIGNER_CT;
	if (!precert && p->ct && !sct_list_ok(r->sct, r->sct_len))
		goto out;
	if (!precert && !p->ct && r->sct_len != 0)
		goto out;
	if (precert && !p->ct)
		goto out;
	e = AE_SIGNER_VALIDITY;
	if (r->not_before > INT64_MAX / 2 || r->not_after > INT64_MAX / 2 ||
	    r->not_after < r->not_before)
		goto out;
	/* CN carries the first DNS name when it fits (64 chars); otherwise the subject is empty and
	 * the SAN critical (RFC 5280 section 4.2.1.6). Written into the certificate's own (empty)
	 * Name: X509_set_subject_name would copy it by encoding and decoding it. */
	for (size_t i = 0; i < r->nids && empty_subject; i++)
		if (r->ids[i].type == ID_DNS && r->ids[i].len <= 64) {
			if (!X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName,
			    MBSTRING_ASC, r->ids[i].val, r->ids[i].len, -1, 0))
				goto out;
			empty_subject = 0;
		}
	e = AE_CRYPTO;
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(p->issuer->cert)) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)r->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)r->not_after) == NULL)
		goto out;
	if ((e = add_extensions(p, r, precert, x, kt, empty_subject)) != AE_OK)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	ASN1_INTEGER_free(serial);
	return e;
}

static int
has_ext(X509 *x, int nid)
{
	return X509_get_ext_by_NID(x, nid, -1) >= 0;
}

static anvil_err
lint_names(const struct profile *p, X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	anvil_err e = AE_SIGNER_NAME;
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

	if (n < 1 || n > p->max_names)
		goto out;
	for (int i = 0; i < n; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		struct ident id;
		int type;
		ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
		int len = ASN1_STRING_length(s);
		if ((type != GEN_DNS && type != GEN_IPADD) || len < 1 || len > PROTO_DNS_MAX)
			goto out;
		id.type = type == GEN_DNS ? ID_DNS : ID_IP;
		id.len = (uint8_t)len;
		memcpy(id.val, ASN1_STRING_get0_data(s), (size_t)len);
		id.val[len] = '\0';
		if (profile_check_ident(p, &id) != AE_OK)
			goto out;
	}
	e = AE_OK;
out:
	GENERAL_NAMES_free(gens);
	return e;
}

anvil_err
tbs_lint(const struct profile *p, X509 *x, int precert, time_t now, struct spki_id *subject)
{
	BASIC_CONSTRAINTS *bc = NULL;
	struct spki_id sk, ik;
	const struct spki_id *issuer_key = NULL;
	ASN1_TIME *nb = X509_getm_notBefore(x), *na = X509_getm_notAfter(x);
	int days = 0, secs = 0;
	time_t tnb = 0;
	struct tm tm;
	anvil_err e = AE_SIGNER_CA;
	uint32_t ku;

	if (subject == NULL)
		subject = &sk;
	subject->kt = KT_NONE;
	subject->len = 0;
	/* Never a CA: basicConstraints present and false, no certificate or CRL signing. */
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	if (bc == NULL || bc->ca || bc->pathlen != NULL)
		goto out;
	ku = X509_get_key_usage(x);
	if (ku == UINT32_MAX || (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) ||
	    X509_check_ca(x) != 0)
		goto out;
	e = AE_SIGNER_KEY;
	if (spki_key_of(X509_get_X509_PUBKEY(x), &subject->kt, subject->id, &subject->len) !=
	    AE_OK || !(p->key_types & (1u << subject->kt)))
		goto out;
	/* The subject key must not be a CA key (compared by identity: any encoding of it). The
	 * prepared profile read its issuer's key once. */
	if (p->exts != NULL) {
		if (p->exts->have_issuer_key)
			issuer_key = &p->exts->issuer_key;
	} else if (p->issuer->cert != NULL &&
	    spki_key_of(X509_get_X509_PUBKEY(p->issuer->cert), &ik.kt, ik.id, &ik.len) == AE_OK) {
		issuer_key = &ik;
	}
	if (issuer_key != NULL && issuer_key->kt == subject->kt &&
	    issuer_key->len == subject->len &&
	    memcmp(issuer_key->id, subject->id, subject->len) == 0)
		goto out;
	e = AE_SIGNER_VALIDITY;
	if (ASN1_TIME_to_tm(nb, &tm) != 1 || (tnb = timegm(&tm)) == (time_t)-1 ||
	    tnb < now - p->max_backdate || tnb > now + PROFILE_NOTBEFORE_AHEAD ||
	    ASN1_TIME_diff(&days, &secs, nb, na) != 1 || days < 0 || secs < 0 ||
	    (int64_t)days * 86400 + secs + 1 > p->max_validity)
		goto out;
	e = AE_SIGNER_CT;
	if (has_ext(x, NID_ct_precert_poison) != precert ||
	    (precert && has_ext(x, NID_ct_precert_scts)))
		goto out;
	e = lint_names(p, x);
out:
	BASIC_CONSTRAINTS_free(bc);
	return e;
}

/* Feeds one DER item into the digest. */
static int
md_item(EVP_MD_CTX *md, int n, unsigned char *der)
{
	uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
	int ok = n > 0 && EVP_DigestUpdate(md, len, 4) && EVP_DigestUpdate(md, der, (size_t)n);
	OPENSSL_free(der);
	return ok;
}

static int
item_der(const void *v, const ASN1_ITEM *it, unsigned char **der)
{
	*der = NULL;
	return ASN1_item_i2d((const ASN1_VALUE *)v, der, it);
}

static int
md_asn1(EVP_MD_CTX *md, const void *v, const ASN1_ITEM *it)
{
	unsigned char *der;
	int n = item_der(v, it, &der);
	return md_item(md, n, der);
}

/* Hashes every TBS field but the signature algorithm, which is only set when signing: the
 * hash identifies what a request asks to be signed, before it is. */
anvil_err
tbs_hash(X509 *x, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t ver = (uint8_t)X509_get_version(x);
	anvil_err e = AE_CRYPTO;
	int ok;

	if (md == NULL)
		return AE_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) && EVP_DigestUpdate(md, &ver, 1) &&
	    md_asn1(md, X509_get0_serialNumber(x), ASN1_ITEM_rptr(ASN1_INTEGER)) &&
	    md_asn1(md, X509_get_issuer_name(x), ASN1_ITEM_rptr(X509_NAME)) &&
	    md_asn1(md, X509_get0_notBefore(x), ASN1_ITEM_rptr(ASN1_TIME)) &&
	    md_asn1(md, X509_get0_notAfter(x), ASN1_ITEM_rptr(ASN1_TIME)) &&
	    md_asn1(md, X509_get_subject_name(x), ASN1_ITEM_rptr(X509_NAME)) &&
	    md_asn1(md, X509_get_X509_PUBKEY(x), ASN1_ITEM_rptr(X509_PUBKEY));
	for (int i = 0; ok && i < X509_get_ext_count(x); i++)
		ok = md_asn1(md, X509_get_ext(x, i), ASN1_ITEM_rptr(X509_EXTENSION));
	if (ok && EVP_DigestFinal_ex(md, out, NULL))
		e = AE_OK;
	EVP_MD_CTX_free(md);
	return e;
}

/* A signed certificate's fields are read from its DER by a walk over its TLVs (lib/der.h):
 * d2i_X509 would also decode its public key through OpenSSL 3's decoders, ~1.5 M instructions
 * (more than the signature's own verification) for a key the signer never uses here. */

/* The whole TLV of the next field, which must carry tag. */
static int
der_field(struct der *in, uint8_t tag, struct der *tlv)
{
	struct der val;
	uint8_t t;

	return der_next(in, &t, tlv, &val) && t == tag;
}

struct tbs_fields {
	struct der version;  /* the [0] TLV; empty when absent (v1) */
	struct der serial, issuer, not_before, not_after, subject, spki;
	struct der exts;     /* contents of the extensions' SEQUENCE; empty when absent */
};

/* The TBSCertificate fields of a DER certificate (RFC 5280 4.1). */
static int
tbs_fields(const uint8_t *der, size_t len, struct tbs_fields *f)
{
	struct der in = { der, len }, cert, tbs, tlv, validity, val;
	uint8_t tag;

	memset(f, 0, sizeof(*f));
	if (!der_next(&in, &tag, &tlv, &cert) || tag != 0x30 ||
	    !der_next(&cert, &tag, &tlv, &tbs) || tag != 0x30)
		return 0;
	if (tbs.n > 0 && tbs.p[0] == 0xa0 && !der_field(&tbs, 0xa0, &f->version))
		return 0;
	if (!der_field(&tbs, 0x02, &f->serial) || !der_field(&tbs, 0x30, &tlv) ||
	    !der_field(&tbs, 0x30, &f->issuer) || !der_next(&tbs, &tag, &tlv, &validity) ||
	    tag != 0x30 || !der_next(&validity, &tag, &f->not_before, &tlv) ||
	    !der_next(&validity, &tag, &f->not_after, &tlv) || validity.n != 0 ||
	    !der_field(&tbs, 0x30, &f->subject) || !der_field(&tbs, 0x30, &f->spki))
		return 0;
	/* issuerUniqueID and subjectUniqueID may come first. */
	while (der_next(&tbs, &tag, &tlv, &val))
		if (tag == 0xa3 && (!der_next(&val, &tag, &tlv, &f->exts) || tag != 0x30 ||
		    val.n != 0))
			return 0;
	return tbs.n == 0;
}

int
tbs_der_signature_ok(const uint8_t *der, size_t len, EVP_PKEY *key, const EVP_MD *md)
{
	struct der in = { der, len }, cert, tbs, tbsv, alg, sigv, t, f;
	EVP_MD_CTX *ctx;
	uint8_t tag;
	int ok;

	if (!der_next(&in, &tag, &t, &cert) || tag != 0x30 || in.n != 0 ||
	    !der_next(&cert, &tag, &tbs, &tbsv) || tag != 0x30 ||
	    !der_next(&cert, &tag, &alg, &f) || tag != 0x30 ||
	    !der_next(&cert, &tag, &t, &sigv) || tag != 0x03 || cert.n != 0 ||
	    sigv.n < 2 || sigv.p[0] != 0)
		return 0;
	/* As X509_verify: the outer algorithm is the one the TBS names (after version, serial). */
	if ((tbsv.n > 0 && tbsv.p[0] == 0xa0 && !der_field(&tbsv, 0xa0, &f)) ||
	    !der_field(&tbsv, 0x02, &f) || !der_field(&tbsv, 0x30, &f) || f.n != alg.n ||
	    memcmp(f.p, alg.p, alg.n) != 0)
		return 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, sigv.p + 1, sigv.n - 1, tbs.p, tbs.n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

anvil_err
tbs_der_issuer(const uint8_t *der, size_t len, const uint8_t **name, size_t *namelen)
{
	struct tbs_fields f;

	if (!tbs_fields(der, len, &f))
		return AE_INTERNAL;
	*name = f.issuer.p;
	*namelen = f.issuer.n;
	return AE_OK;
}

/* Whether the DER of item v is exactly d. */
static int
der_is(const void *v, const ASN1_ITEM *it, const struct der *d)
{
	unsigned char *a;
	int n = item_der(v, it, &a);
	int eq = n > 0 && (size_t)n == d->n && memcmp(a, d->p, d->n) == 0;

	OPENSSL_free(a);
	return eq;
}

/* Whether the extension TLV ext has the OID DER oid (its first field). */
static int
ext_is(const struct der *ext, const uint8_t *oid, size_t oidlen)
{
	struct der in = *ext, seq, tlv;
	uint8_t tag;

	return der_next(&in, &tag, &tlv, &seq) && der_next(&seq, &tag, &tlv, &in) &&
	    tlv.n == oidlen && memcmp(tlv.p, oid, oidlen) == 0;
}

/* Field by field, because the precertificate is signed and the certificate not yet: their
 * TBS signature fields may differ in state but are set by the same issuer key. Extensions must
 * match in order, skipping the poison on one side and the SCT list on the other. The
 * precertificate comes as the journal holds it, DER, and is compared as such. */
anvil_err
tbs_match_precert_der(const uint8_t *pre, size_t len, X509 *cert)
{
	/* OID 1.3.6.1.4.1.11129.2.4.3, the CT poison (RFC 6962 3.1). */
	static const uint8_t poison[] = { 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79,
		0x02, 0x04, 0x03 };
	struct tbs_fields f;
	struct der ext, val;
	long ver = X509_get_version(cert);
	/* [0] EXPLICIT INTEGER version, absent for v1 (DER leaves out the default). */
	uint8_t vder[] = { 0xa0, 0x03, 0x02, 0x01, (uint8_t)ver };
	int j = 0, nc = X509_get_ext_count(cert), have;
	uint8_t tag;

	if (!tbs_fields(pre, len, &f))
		return AE_INTERNAL;  /* the journal holds what the signer signed: a bug */
	if (ver < 0 || ver > 2 ||
	    (ver == 0 ? f.version.n != 0 : f.version.n != sizeof(vder) ||
	    memcmp(f.version.p, vder, sizeof(vder)) != 0) ||
	    !der_is(X509_get0_serialNumber(cert), ASN1_ITEM_rptr(ASN1_INTEGER), &f.serial) ||
	    !der_is(X509_get_issuer_name(cert), ASN1_ITEM_rptr(X509_NAME), &f.issuer) ||
	    !der_is(X509_get_subject_name(cert), ASN1_ITEM_rptr(X509_NAME), &f.subject) ||
	    !der_is(X509_get0_notBefore(cert), ASN1_ITEM_rptr(ASN1_TIME), &f.not_before) ||
	    !der_is(X509_get0_notAfter(cert), ASN1_ITEM_rptr(ASN1_TIME), &f.not_after) ||
	    !der_is(X509_get_X509_PUBKEY(cert), ASN1_ITEM_rptr(X509_PUBKEY), &f.spki))
		return AE_SIGNER_MISMATCH;
	have = der_next(&f.exts, &tag, &ext, &val);
	for (;;) {
		if (have && ext_is(&ext, poison, sizeof(poison))) {
			have = der_next(&f.exts, &tag, &ext, &val);
			continue;
		}
		if (j < nc && OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(cert, j))) ==
		    NID_ct_precert_scts) {
			j++;
			continue;
		}
		if (!have || j == nc)
			break;
		if (!der_is(X509_get_ext(cert, j++), ASN1_ITEM_rptr(X509_EXTENSION), &ext))
			return AE_SIGNER_MISMATCH;
		have = der_next(&f.exts, &tag, &ext, &val);
	}
	/* Both lists used up, and nothing malformed left behind the last extension read. */
	return !have && f.exts.n == 0 && j == nc ? AE_OK : AE_SIGNER_MISMATCH;
}

anvil_err
tbs_match_precert(X509 *precert, X509 *cert)
{
	unsigned char *der = NULL;
	int n = i2d_X509(precert, &der);
	anvil_err e = n > 0 ? tbs_match_precert_der(der, (size_t)n, cert) : AE_CRYPTO;

	OPENSSL_free(der);
	return e;
}

anvil_err
tbs_build_ocsp(const struct issuer *is, const struct ocsp_req *r, OCSP_BASICRESP **out)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	ASN1_INTEGER *serial = NULL;
	/* One SingleResponse per CertID hash a client may send (RFC 6960 allows several): the
	 * precomputed file then answers SHA-1 and SHA-256 requests alike for one signature. RFC
	 * 5019 2.2.1 says a response SHOULD NOT carry more than those requested; a second
	 * signature per certificate and per refresh is what complying would cost, and clients
	 * pick the SingleResponse whose CertID matches theirs (doc/ocsp.md). SHA-1 first: the
	 * hash almost every client asks with. */
	const EVP_MD *const hashes[] = { EVP_sha1(), EVP_sha256() };
	OCSP_CERTID *id = NULL;
	ASN1_TIME *thisu = NULL, *nextu = NULL, *rev = NULL;
	anvil_err e;

	*out = NULL;
	if ((e = serial_to_asn1(r->serial, r->serial_len, &serial)) != AE_OK)
		goto out;
	e = AE_SIGNER_VALIDITY;
	if (r->next_update <= r->this_update || r->next_update > INT64_MAX / 2 ||
	    (r->status == OCSP_REVOKED && (r->revoked_at > r->this_update ||
	    (r->reason != REASON_NONE && (r->reason > 10 || r->reason == 7)))))
		goto out;
	e = AE_CRYPTO;
	if (bs == NULL ||
	    (thisu = ASN1_TIME_set(NULL, (time_t)r->this_update)) == NULL ||
	    (nextu = ASN1_TIME_set(NULL, (time_t)r->next_update)) == NULL)
		goto out;
	if (r->status == OCSP_REVOKED &&
	    (rev = ASN1_TIME_set(NULL, (time_t)r->revoked_at)) == NULL)
		goto out;
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		if ((id = OCSP_cert_id_new(hashes[i], X509_get_subject_name(is->cert),
		    X509_get0_pubkey_bitstr(is->cert), serial)) == NULL ||
		    OCSP_basic_add1_status(bs, id, r->status == OCSP_GOOD ?
		    V_OCSP_CERTSTATUS_GOOD : r->status == OCSP_REVOKED ?
		    V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_UNKNOWN,
		    r->reason == REASON_NONE ? -1 : r->reason, rev, thisu, nextu) == NULL)
			goto out;
		OCSP_CERTID_free(id);
		id = NULL;
	}
	*out = bs;
	bs = NULL;
	e = AE_OK;
out:
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(thisu);
	ASN1_TIME_free(nextu);
	ASN1_TIME_free(rev);
	return e;
}

static anvil_err
crl_add_entry(X509_CRL *crl, const struct crl_entry *en)
{
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *t = NULL;
	ASN1_ENUMERATED *reason = NULL;
	anvil_err e;

	if (rv == NULL)
		return AE_NOMEM;
	if ((e = serial_to_asn1(en->serial, en->serial_len, &serial)) != AE_OK)
		goto out;
	e = AE_CRYPTO;
	if ((t = ASN1_TIME_set(NULL, (time_t)en->revoked_at)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rv, serial) || !X509_REVOKED_set_revocationDate(rv, t))
		goto out;
	if (en->reason != REASON_NONE && en->reason != 0) {
		if (en->reason > 10 || en->reason == 7) {
			e = AE_SIGNER_PROTO;
			goto out;
		}
		if ((reason = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(reason, en->reason) ||
		    !X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, reason, 0, 0))
			goto out;
	}
	if (!X509_CRL_add0_revoked(crl, rv))
		goto out;
	rv = NULL;
	e = AE_OK;
out:
	X509_REVOKED_free(rv);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(reason);
	return e;
}

anvil_err
tbs_build_crl(const struct issuer *is, const struct crl_req *r, X509_CRL **out)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *thisu = NULL, *nextu = NULL;
	ASN1_INTEGER *num = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *ext = NULL;
	char val[PROTO_URL_MAX + 64];
	anvil_err e = AE_SIGNER_VALIDITY;

	*out = NULL;
	if (r->next_update <= r->this_update || r->next_update > INT64_MAX / 2)
		goto out;
	e = AE_CRYPTO;
	if (crl == NULL || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(is->cert)) ||
	    (thisu = ASN1_TIME_set(NULL, (time_t)r->this_update)) == NULL ||
	    (nextu = ASN1_TIME_set(NULL, (time_t)r->next_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, thisu) || !X509_CRL_set1_nextUpdate(crl, nextu) ||
	    (num = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set_uint64(num, r->number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		goto out;
	for (size_t i = 0; i < r->nentries; i++)
		if ((e = crl_add_entry(crl, &r->entries[i])) != AE_OK)
			goto out;
	e = AE_CRYPTO;
	X509V3_set_ctx(&ctx, is->cert, NULL, NULL, crl, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) == NULL || !X509_CRL_add_ext(crl, ext, -1))
		goto out;
	X509_EXTENSION_free(ext);
	ext = NULL;
	if (r->idp[0] != '\0') {
		/* The URL comes from a peer: only printable ASCII without the separators the
		 * extension syntax gives meaning to. */
		for (const char *c = r->idp; *c; c++)
			if (*c <= 0x20 || *c >= 0x7f || *c == ',' || *c == '@') {
				e = AE_SIGNER_PROTO;
				goto out;
			}
		snprintf(val, sizeof(val), "critical,fullname:URI:%s", r->idp);
		if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_issuing_distribution_point,
		    val)) == NULL || !X509_CRL_add_ext(crl, ext, -1))
			goto out;
	}
	X509_CRL_sort(crl);
	*out = crl;
	crl = NULL;
	e = AE_OK;
out:
	X509_EXTENSION_free(ext);
	X509_CRL_free(crl);
	ASN1_TIME_free(thisu);
	ASN1_TIME_free(nextu);
	ASN1_INTEGER_free(num);
	return e;
}
