/* The TBS builder and its lint, without an HSM: an in-memory issuer signs what the builder
 * makes, and every refusal the lint owns is provoked (a CA certificate among them, which no
 * request can ask for, so it is built here by hand). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include "ca/tbs.h"
#include "t/tap.h"

static EVP_PKEY *
ec_key(const char *curve)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

static X509 *
self_signed(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"T1", -1, -1, 0);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, k);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 365);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, k, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static size_t
spki(EVP_PKEY *k, uint8_t *out)
{
	unsigned char *p = out;
	return (size_t)i2d_PUBKEY(k, &p);
}

static void
set_dns(struct ident *id, const char *name)
{
	id->type = ID_DNS;
	id->len = (uint8_t)strlen(name);
	memcpy(id->val, name, id->len + 1);
}

/* What a relying party sees: the certificate signed, encoded and parsed again. */
static int
same_key_after_signing(X509 *x, EVP_PKEY *ik, EVP_PKEY *want)
{
	unsigned char *der = NULL;
	const unsigned char *q;
	X509 *y = NULL;
	int n, same = 0;

	if (X509_sign(x, ik, EVP_sha256()) > 0 && (n = i2d_X509(x, &der)) > 0) {
		q = der;
		if ((y = d2i_X509(NULL, &q, n)) != NULL)
			same = EVP_PKEY_eq(X509_get0_pubkey(y), want) == 1 &&
			    X509_verify(y, ik) == 1;
	}
	X509_free(y);
	OPENSSL_free(der);
	return same;
}

static EVP_PKEY *
compressed(EVP_PKEY *k)
{
	EVP_PKEY *c = EVP_PKEY_dup(k);
	if (c != NULL)
		EVP_PKEY_set_utf8_string_param(c, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		    "compressed");
	return c;
}

/* The subject key is read from the request's DER without OpenSSL's decoders (ca/spki.c): every
 * key it must refuse, and the SPKI carried into the certificate byte for byte. */
static void
spki_cases(struct profile *p, struct cert_req *r, EVP_PKEY *ik, EVP_PKEY *sk, time_t now)
{
	const uint8_t *keep = r->spki;
	size_t keep_len = r->spki_len;
	uint8_t der[1200], bad[1200];
	unsigned char *q;
	EVP_PKEY *ic = compressed(ik), *sc = compressed(sk);
	EVP_PKEY *rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	unsigned saved_types = p->key_types;
	X509 *x = NULL;
	size_t n;
	int len;

	ok(tbs_build_cert(p, r, 1, now, &x) == AE_OK && x != NULL &&
	    (len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), NULL)) == (int)r->spki_len &&
	    (q = der, i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &q)) == len &&
	    memcmp(der, r->spki, r->spki_len) == 0, "the certificate carries the request's SPKI");
	ok(x != NULL && same_key_after_signing(x, ik, sk),
	    "signed, OpenSSL reads it back as the subject's key");
	X509_free(x);
	x = NULL;

	n = spki(ic, der);
	r->spki = der;
	r->spki_len = n;
	ok(n > 0 && n < keep_len && tbs_build_cert(p, r, 1, now, &x) == AE_SIGNER_KEY,
	    "the issuer's key refused in its compressed encoding too");
	n = spki(sc, der);
	r->spki_len = n;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_OK, "a compressed subject point accepted");
	X509_free(x);
	x = NULL;

	memcpy(bad, keep, keep_len);
	bad[keep_len - 1] ^= 0x01;
	r->spki = bad;
	r->spki_len = keep_len;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_SIGNER_KEY, "a point off the curve refused");
	memcpy(bad, keep, keep_len);
	bad[keep_len] = 0;
	r->spki_len = keep_len + 1;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_SIGNER_KEY, "a byte after the SPKI refused");
	r->spki_len = keep_len - 1;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_SIGNER_KEY, "a truncated SPKI refused");
	r->spki_len = 0;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_SIGNER_KEY, "an empty SPKI refused");

	p->key_types |= 1u << KT_RSA_2048;
	n = spki(rsa2048, der);
	r->spki = der;
	r->spki_len = n;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_OK, "RSA-2048 accepted where the profile allows");
	ok(x != NULL && same_key_after_signing(x, ik, rsa2048), "with the subject's key");
	ok(x != NULL && (X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT) &&
	    (X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE), "an RSA key may also encipher");
	X509_free(x);
	x = NULL;
	n = spki(rsa1024, der);
	r->spki_len = n;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_SIGNER_KEY, "RSA-1024 refused");
	p->key_types = saved_types;
	n = spki(rsa2048, der);
	r->spki_len = n;
	ok(tbs_build_cert(p, r, 1, now, &x) == AE_SIGNER_KEY,
	    "RSA-2048 refused where the profile allows only P-256");

	r->spki = keep;
	r->spki_len = keep_len;
	EVP_PKEY_free(ic);
	EVP_PKEY_free(sc);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa1024);
}

/* Whether x carries, in this order, the extensions the builder once made from their text forms
 * for every certificate (ca/tbs.c builds them once per profile, the subject key identifier and
 * CRL distribution point by hand): byte for byte the same. */
static int
same_as_text_forms(X509 *x, const struct profile *p, const struct cert_req *r)
{
	const struct issuer *is = p->issuer;
	char aia[512], crl[256];
	struct { int nid; const char *val; } want[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "serverAuth" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ NID_subject_alt_name, NULL },  /* the request's, not configured */
		{ NID_info_access, aia },
		{ NID_crl_distribution_points, crl },
	};
	X509V3_CTX ctx;
	int same = 1;

	snprintf(aia, sizeof(aia), "OCSP;URI:%s,caIssuers;URI:%s", is->ocsp_url, is->issuer_url);
	snprintf(crl, sizeof(crl), "URI:%s%u.crl", is->crl_url,
	    issuer_crl_shard(r->serial, r->serial_len, is->crl_shards));
	X509V3_set_ctx(&ctx, is->cert, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		X509_EXTENSION *got = X509_get_ext(x, (int)i), *ref;
		unsigned char *a = NULL, *b = NULL;
		int na, nb;

		if (got == NULL || OBJ_obj2nid(X509_EXTENSION_get_object(got)) != want[i].nid) {
			diag("extension %zu is not %s", i, OBJ_nid2sn(want[i].nid));
			same = 0;
			continue;
		}
		if (want[i].val == NULL)
			continue;
		ref = X509V3_EXT_nconf_nid(NULL, &ctx, want[i].nid, want[i].val);
		na = i2d_X509_EXTENSION(got, &a);
		nb = ref ? i2d_X509_EXTENSION(ref, &b) : -1;
		if (na <= 0 || na != nb || memcmp(a, b, (size_t)na) != 0) {
			diag("%s differs from its text form", OBJ_nid2sn(want[i].nid));
			same = 0;
		}
		OPENSSL_free(a);
		OPENSSL_free(b);
		X509_EXTENSION_free(ref);
	}
	return same;
}

int
main(void)
{
	EVP_PKEY *ik = ec_key("P-256"), *sk = ec_key("P-256"), *k521 = ec_key("P-521");
	struct issuer is;
	struct profile p;
	struct cert_req r;
	struct ident ids[3];
	uint8_t sp[1024], sp521[1024], sct[64];
	X509 *pre = NULL, *fin = NULL, *x = NULL;
	time_t now = time(NULL);
	anvil_err e;

	memset(&is, 0, sizeof(is));
	snprintf(is.name, sizeof(is.name), "int");
	is.parent = "root";
	is.key_type = KT_EC_P256;
	is.cert = self_signed(ik);
	is.ocsp_url = "http://ocsp.test/";
	is.issuer_url = "http://pki.test/int.der";
	is.crl_url = "http://pki.test/crl/";
	is.crl_shards = 8;
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "default");
	p.issuer = &is;
	p.max_validity = 90 * 86400;
	p.max_backdate = 3600;
	p.ct = 1;
	p.key_types = 1u << KT_EC_P256;
	p.server_auth = 1;
	p.max_names = 10;
	p.is_public = 1;
	p.policies[0] = "2.23.140.1.2.1";
	p.npolicies = 1;

	memset(&r, 0, sizeof(r));
	snprintf(r.profile, sizeof(r.profile), "default");
	r.serial_len = 16;
	memset(r.serial, 0x42, 16);
	r.spki = sp;
	r.spki_len = spki(sk, sp);
	set_dns(&ids[0], "www.example.com");
	set_dns(&ids[1], "example.com");
	r.ids = ids;
	r.nids = 2;
	r.not_before = (uint64_t)now;
	r.not_after = (uint64_t)now + 90 * 86400 - 1;

	e = tbs_build_cert(&p, &r, 1, now, &pre);
	ok(e == AE_OK, "precertificate builds (%s)", anvil_strerror(e));
	if (e != AE_OK)
		ERR_print_errors_fp(stdout);
	ok(pre != NULL && X509_get_ext_by_NID(pre, NID_ct_precert_poison, -1) >= 0,
	    "precertificate carries the poison");
	ok(pre != NULL && X509_sign(pre, ik, EVP_sha256()) > 0 && X509_verify(pre, ik) == 1,
	    "precertificate signs and verifies");
	ok(pre != NULL && X509_check_ca(pre) == 0, "precertificate is not a CA");

	/* Final certificate: same request plus SCTs. */
	sct[0] = 0; sct[1] = 6; sct[2] = 0; sct[3] = 4; memset(sct + 4, 1, 4);
	r.sct = sct;
	r.sct_len = 8;
	e = tbs_build_cert(&p, &r, 0, now, &fin);
	ok(e == AE_OK, "certificate builds (%s)", anvil_strerror(e));
	ok(fin != NULL && X509_get_ext_by_NID(fin, NID_ct_precert_scts, -1) >= 0 &&
	    X509_get_ext_by_NID(fin, NID_ct_precert_poison, -1) < 0, "certificate has SCTs, no poison");
	ok(pre && fin && tbs_match_precert(pre, fin) == AE_OK,
	    "certificate matches its precertificate");
	ok(fin != NULL && same_as_text_forms(fin, &p, &r),
	    "the profile's extensions equal their text forms (not prepared)");
	/* Prepared once, as the signer does at start: the same certificate, byte for byte. */
	{
		X509 *y = NULL;
		uint8_t h1[32], h2[32];
		ok(tbs_profile_prepare(&p) == AE_OK && p.exts != NULL, "the profile prepares");
		e = tbs_build_cert(&p, &r, 0, now, &y);
		ok(e == AE_OK && y != NULL && same_as_text_forms(y, &p, &r),
		    "the prepared profile's extensions equal their text forms");
		ok(y != NULL && fin != NULL && tbs_hash(y, h1) == AE_OK &&
		    tbs_hash(fin, h2) == AE_OK && memcmp(h1, h2, 32) == 0,
		    "prepared or not, the same TBS");
		X509_free(y);
		y = NULL;
		r.serial[15] = 0x47;  /* another CRL shard */
		e = tbs_build_cert(&p, &r, 0, now, &y);
		ok(e == AE_OK && y != NULL && same_as_text_forms(y, &p, &r),
		    "another shard's distribution point equals its text form");
		r.serial[15] = 0x42;
		X509_free(y);
	}
	r.not_after -= 1;
	e = tbs_build_cert(&p, &r, 0, now, &x);
	ok(e == AE_OK && tbs_match_precert(pre, x) == AE_SIGNER_MISMATCH,
	    "a different validity is a mismatch");
	/* The precertificate as the journal holds it: DER, read without d2i_X509. */
	{
		unsigned char *der = NULL;
		const uint8_t *name = NULL, *want = NULL;
		size_t nlen = 0, wlen = 0;
		int n = pre ? i2d_X509(pre, &der) : 0;
		ok(n > 0 && tbs_match_precert_der(der, (size_t)n, fin) == AE_OK,
		    "certificate matches its precertificate's DER");
		ok(n > 0 && tbs_match_precert_der(der, (size_t)n, x) == AE_SIGNER_MISMATCH,
		    "a different validity is a mismatch against the DER");
		ok(n > 0 && tbs_match_precert_der(der, (size_t)n - 1, fin) == AE_INTERNAL,
		    "a truncated precertificate is no certificate");
		ok(n > 0 && tbs_match_precert_der(der, 40, fin) == AE_INTERNAL,
		    "a precertificate cut inside its TBS is no certificate");
		ok(n > 0 && tbs_match_precert_der(der, (size_t)n, pre) == AE_SIGNER_MISMATCH,
		    "the precertificate itself is no certificate of it (poison on both sides)");
		ok(n > 0 && tbs_der_issuer(der, (size_t)n, &name, &nlen) == AE_OK &&
		    X509_NAME_get0_der(X509_get_subject_name(is.cert), &want, &wlen) &&
		    nlen == wlen && memcmp(name, want, wlen) == 0,
		    "the issuer Name read from the DER is the issuer's subject");
		ok(n > 0 && tbs_der_issuer(der, 30, &name, &nlen) == AE_INTERNAL,
		    "no issuer Name from a cut certificate");
		/* The signer's check of a signature on the bytes it hands out. */
		ok(n > 0 && tbs_der_signature_ok(der, (size_t)n, ik, EVP_sha256()),
		    "the signature verifies on the DER");
		ok(n > 0 && !tbs_der_signature_ok(der, (size_t)n, sk, EVP_sha256()),
		    "not with another key");
		ok(n > 0 && !tbs_der_signature_ok(der, (size_t)n - 1, ik, EVP_sha256()),
		    "not on a cut certificate");
		if (n > 40) {
			der[40] ^= 1;
			ok(!tbs_der_signature_ok(der, (size_t)n, ik, EVP_sha256()),
			    "not when a byte of the TBS changed");
			der[40] ^= 1;
			der[n - 1] ^= 1;
			ok(!tbs_der_signature_ok(der, (size_t)n, ik, EVP_sha256()),
			    "not when a byte of the signature changed");
			der[n - 1] ^= 1;
		}
		OPENSSL_free(der);
	}
	X509_free(x);
	x = NULL;
	r.not_after += 1;
	r.sct_len = 5;
	ok(tbs_build_cert(&p, &r, 0, now, &x) == AE_SIGNER_CT, "malformed SCT list refused");
	r.sct_len = 0;
	ok(tbs_build_cert(&p, &r, 0, now, &x) == AE_SIGNER_CT, "CT profile without SCTs refused");

	/* Refusals. */
	r.not_after = (uint64_t)now + 91 * 86400;
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_VALIDITY, "validity over max refused");
	r.not_after = (uint64_t)now + 90 * 86400 - 1;
	r.not_before = (uint64_t)now - 7200;
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_VALIDITY, "backdating over max refused");
	r.not_before = (uint64_t)now;
	r.spki_len = spki(k521, sp521);
	r.spki = sp521;
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_KEY, "P-521 key refused");
	r.spki = sp;
	r.spki_len = spki(ik, sp);
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_KEY, "the issuer's own key refused");
	r.spki_len = spki(sk, sp);
	spki_cases(&p, &r, ik, sk, now);
	set_dns(&ids[1], "Bad_Name.example.com");
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_NAME, "malformed DNS name refused");
	set_dns(&ids[1], "localhost");
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_NAME,
	    "single-label name refused in a public profile");
	set_dns(&ids[1], "*.example.com");
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_NAME, "wildcard refused unless allowed");
	p.dns_suffixes[0] = "corp.test";
	p.n_dns_suffixes = 1;
	set_dns(&ids[1], "a.corp.test");
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_NAME, "name outside suffixes refused");
	set_dns(&ids[0], "b.corp.test");
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_OK, "names inside suffixes accepted");
	X509_free(x);
	x = NULL;
	ids[2].type = ID_IP;
	ids[2].len = 4;
	memcpy(ids[2].val, "\x0a\x01\x02\x03", 4);
	r.nids = 3;
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_SIGNER_NAME, "IP outside ranges refused");
	p.ip_ranges[0] = (struct ip_range){ { 10 }, 4, 8 };
	p.n_ip_ranges = 1;
	ok(tbs_build_cert(&p, &r, 1, now, &x) == AE_OK, "IP inside ranges accepted");
	ok(x != NULL && tbs_lint(&p, x, 0, now, NULL) == AE_SIGNER_CT,
	    "lint: a poisoned TBS is not a final certificate");
	r.nids = 2;
	r.serial[0] = 0;
	X509 *y = NULL;
	ok(tbs_build_cert(&p, &r, 1, now, &y) == AE_SIGNER_SERIAL, "non-minimal serial refused");
	X509_free(y);

	/* A CA certificate: no request can ask for one, so it is made by hand. */
	if (x != NULL) {
		int pos = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
		X509V3_CTX ctx;
		X509_EXTENSION *bc;
		X509_EXTENSION_free(X509_delete_ext(x, pos));
		X509V3_set_ctx(&ctx, is.cert, x, NULL, NULL, 0);
		bc = X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, bc, -1);
		X509_EXTENSION_free(bc);
		ok(tbs_lint(&p, x, 1, now, NULL) == AE_SIGNER_CA, "lint: CA:TRUE refused");
		X509_EXTENSION_free(X509_delete_ext(x, X509_get_ext_by_NID(x,
		    NID_basic_constraints, -1)));
		ok(tbs_lint(&p, x, 1, now, NULL) == AE_SIGNER_CA,
		    "lint: missing basicConstraints refused");
	}
	ok(issuer_crl_shard((const uint8_t *)"\x00\x00\x00\x09", 4, 8) == 1, "CRL shard from serial");

	ok(p.exts != NULL, "the issuer's own key was refused by a prepared profile");
	tbs_profile_release(&p);
	ok(p.exts == NULL, "the profile's extensions released");
	r.serial[0] = 0x42;
	r.spki = sp;
	r.spki_len = spki(ik, sp);
	y = NULL;
	ok(tbs_build_cert(&p, &r, 1, now, &y) == AE_SIGNER_KEY,
	    "the issuer's own key refused by a profile not prepared");
	X509_free(y);
	X509_free(x);
	X509_free(pre);
	X509_free(fin);
	X509_free(is.cert);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(k521);
	return done_testing();
}
