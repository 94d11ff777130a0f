/* anvil-bench --ocsp's relying-party checks (tools/bench/acmeb_ocsp.c) against responses made
 * here with OpenSSL, one per way a response can be wrong, and the GET URL it builds, decoded
 * by anvil-ocsp's own parser (ocsp/request.c): what the bench sends is what the responder
 * reads. t/5900-bench-smoke.py runs the same code against the real stack. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "ocsp/request.h"
#include "t/tap.h"
#include "tools/bench/acmeb.h"

#define AIA "http://127.0.0.1:8080/ocsp"

static EVP_PKEY *ca_key, *other_key, *leaf_key;
static X509 *ca, *other_ca, *leaf, *leaf2, *bare;

static X509 *
mkcert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, long serial, int aia)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	int good;

	if (c == NULL || n == NULL)
		abort();
	good = X509_set_version(c, 2) == 1 &&
	    ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1 &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	    0) == 1 && X509_set_subject_name(c, n) == 1 &&
	    X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : n) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(c), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(c), 86400) != NULL && X509_set_pubkey(c, key) == 1;
	if (good && aia) {
		X509V3_set_ctx(&ctx, issuer != NULL ? issuer : c, c, NULL, NULL, 0);
		good = (ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_info_access,
		    "OCSP;URI:" AIA)) != NULL && X509_add_ext(c, ext, -1) == 1;
	}
	if (!good || X509_sign(c, ikey, EVP_sha256()) <= 0)
		abort();
	X509_EXTENSION_free(ext);
	X509_NAME_free(n);
	return c;
}

/* A basic response for `for` (its CertID with idissuer) signed by signer/skey; times are
 * offsets from now in seconds, next_off 0 for no nextUpdate. */
static int
mkresp(X509 *signer, EVP_PKEY *skey, X509 *for_cert, X509 *idissuer, int status, long this_off,
    long next_off, unsigned char **der)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), for_cert, idissuer);
	ASN1_TIME *tu = X509_gmtime_adj(NULL, this_off);
	ASN1_TIME *nu = next_off != 0 ? X509_gmtime_adj(NULL, next_off) : NULL;
	ASN1_TIME *rt = X509_gmtime_adj(NULL, -10);
	OCSP_RESPONSE *r = NULL;
	int len = -1;

	*der = NULL;
	if (bs == NULL || id == NULL || tu == NULL || rt == NULL || (next_off != 0 && nu == NULL))
		abort();
	if (OCSP_basic_add1_status(bs, id, status, status == V_OCSP_CERTSTATUS_REVOKED ?
	    OCSP_REVOKED_STATUS_KEYCOMPROMISE : -1, status == V_OCSP_CERTSTATUS_REVOKED ? rt :
	    NULL, tu, nu) == NULL ||
	    OCSP_basic_sign(bs, signer, skey, EVP_sha256(), NULL,
	    OCSP_NOCERTS | OCSP_RESPID_KEY) != 1 ||
	    (r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) == NULL ||
	    (len = i2d_OCSP_RESPONSE(r, der)) <= 0)
		abort();
	OCSP_RESPONSE_free(r);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(rt);
	return len;
}

static void
check(const char *name, X509 *signer, EVP_PKEY *skey, X509 *for_cert, int status,
    long this_off, long next_off, OCSP_CERTID *id, const char *want)
{
	unsigned char *der;
	int len = mkresp(signer, skey, for_cert, ca, status, this_off, next_off, &der);
	const char *got = ocsp_check(der, (size_t)len, ca, id, time(NULL));

	if (want == NULL)
		ok(got == NULL, "%s: accepted%s%s", name, got ? ", got " : "", got ? got : "");
	else
		ok(got != NULL && strcmp(got, want) == 0, "%s: \"%s\" (got \"%s\")", name, want,
		    got != NULL ? got : "accepted");
	OPENSSL_free(der);
}

static void
test_checks(OCSP_CERTID *id)
{
	unsigned char *der, *big;
	int len;
	static const unsigned char unauthorized[] = { 0x30, 0x03, 0x0a, 0x01, 0x06 };
	const char *got;

	check("good, signed by the issuer", ca, ca_key, leaf, V_OCSP_CERTSTATUS_GOOD, -60, 86400,
	    id, NULL);
	check("thisUpdate 2 s ahead (within the skew)", ca, ca_key, leaf, V_OCSP_CERTSTATUS_GOOD,
	    2, 86400, id, NULL);
	check("signed by another key", other_ca, other_key, leaf, V_OCSP_CERTSTATUS_GOOD, -60,
	    86400, id, "ocsp: signature does not verify with the chain's issuer");
	check("revoked", ca, ca_key, leaf, V_OCSP_CERTSTATUS_REVOKED, -60, 86400, id,
	    "ocsp: certificate status revoked");
	check("unknown", ca, ca_key, leaf, V_OCSP_CERTSTATUS_UNKNOWN, -60, 86400, id,
	    "ocsp: certificate status unknown");
	check("thisUpdate a minute ahead", ca, ca_key, leaf, V_OCSP_CERTSTATUS_GOOD, 60, 86400, id,
	    "ocsp: thisUpdate in the future");
	check("nextUpdate past", ca, ca_key, leaf, V_OCSP_CERTSTATUS_GOOD, -7200, -5, id,
	    "ocsp: nextUpdate not after now");
	check("no nextUpdate", ca, ca_key, leaf, V_OCSP_CERTSTATUS_GOOD, -60, 0, id,
	    "ocsp: response without nextUpdate");
	check("a response for another certificate", ca, ca_key, leaf2, V_OCSP_CERTSTATUS_GOOD,
	    -60, 86400, id, "ocsp: no SingleResponse for the certificate");

	got = ocsp_check(unauthorized, sizeof(unauthorized), ca, id, time(NULL));
	is_str(got, "ocsp: responseStatus unauthorized", "unauthorized: its responseStatus");
	len = mkresp(ca, ca_key, leaf, ca, V_OCSP_CERTSTATUS_GOOD, -60, 86400, &der);
	big = malloc(ACMEB_OCSP_MAX + 2);
	if (big == NULL)
		abort();
	memcpy(big, der, (size_t)len);
	big[len] = 0;
	is_str(ocsp_check(big, (size_t)len + 1, ca, id, time(NULL)), "ocsp: response does not parse",
	    "a trailing byte");
	is_str(ocsp_check(der, (size_t)len - 1, ca, id, time(NULL)), "ocsp: response does not parse",
	    "truncated by one byte");
	is_str(ocsp_check(der, 0, ca, id, time(NULL)), "ocsp: empty response", "empty");
	is_str(ocsp_check(big, ACMEB_OCSP_MAX + 1, ca, id, time(NULL)), "ocsp: response too large",
	    "over ACMEB_OCSP_MAX");
	ok(ocsp_check(der, (size_t)len, ca, id, time(NULL) + 2 * 86400) != NULL,
	    "the same response two days later is refused");
	free(big);
	OPENSSL_free(der);
}

/* The URL: AIA plus '/', the base64 with no raw '+', '/' or '=', and anvil-ocsp's decoder and
 * parser find the leaf's serial and the CertID's hashes in it. */
static void
test_url(OCSP_CERTID *id)
{
	char url[ACMEB_URL_MAX];
	uint8_t der[4096];
	size_t dlen = 0, pre = strlen(AIA "/");
	struct ocsp_certid cid;
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_INTEGER *sn = NULL;
	OCSP_CERTID *id2 = NULL;
	const char *rest;

	is_str(ocsp_request_url(bare, ca, url, sizeof(url), &id2), "ocsp: leaf without an AIA "
	    "OCSP URL", "a leaf without AIA");
	ok(id2 == NULL, "no CertID then");
	ok(ocsp_request_url(leaf, ca, url, 40, &id2) != NULL && id2 == NULL,
	    "a URL that does not fit the buffer is refused");
	ok(ocsp_request_url(leaf, ca, url, sizeof(url), &id2) == NULL && id2 != NULL,
	    "the GET URL is built: %s", url);
	if (id2 == NULL)
		return;
	ok(OCSP_id_cmp(id, id2) == 0, "its CertID is the leaf's SHA-1 CertID");
	ok(strncmp(url, AIA "/", pre) == 0, "it starts with the AIA URL and a '/'");
	rest = url + pre;
	ok(strpbrk(rest, "+/=") == NULL, "no raw '+', '/' or '=' after it");
	ok(strlen(url) <= 255, "under RFC 5019's 255 bytes for GET (%zu)", strlen(url));
	ok(ocsp_get_decode(rest, strlen(rest), der, sizeof(der), &dlen) == 0,
	    "anvil-ocsp decodes the path");
	ok(ocsp_request_parse(der, dlen, &cid) == OCSP_PARSE_OK && cid.hash == OCSP_HASH_SHA1,
	    "anvil-ocsp parses one SHA-1 CertID");
	if (OCSP_id_get0_info(&nh, NULL, &kh, &sn, id2) != 1)
		abort();
	ok(cid.hash_len == 20 && memcmp(cid.name_hash, ASN1_STRING_get0_data(nh), 20) == 0 &&
	    memcmp(cid.key_hash, ASN1_STRING_get0_data(kh), 20) == 0,
	    "the issuer name and key hashes are the issuer's");
	ok(ASN1_INTEGER_get(sn) == 0x1234567 && cid.serial_len == 4 &&
	    memcmp(cid.serial, "\x01\x23\x45\x67", 4) == 0, "the serial is the leaf's");
	OCSP_CERTID_free(id2);
}

int
main(void)
{
	OCSP_CERTID *id;

	if ((ca_key = EVP_EC_gen("P-256")) == NULL || (other_key = EVP_EC_gen("P-256")) == NULL ||
	    (leaf_key = EVP_EC_gen("P-256")) == NULL)
		abort();
	ca = mkcert("Bench Test CA", ca_key, NULL, ca_key, 1, 0);
	/* The same name as the issuer, another key: only the signature tells them apart. */
	other_ca = mkcert("Bench Test CA", other_key, NULL, other_key, 2, 0);
	leaf = mkcert("a.bench.test", leaf_key, ca, ca_key, 0x1234567, 1);
	leaf2 = mkcert("b.bench.test", leaf_key, ca, ca_key, 0x7654321, 1);
	bare = mkcert("c.bench.test", leaf_key, ca, ca_key, 99, 0);
	if ((id = OCSP_cert_to_id(EVP_sha1(), leaf, ca)) == NULL)
		abort();
	test_checks(id);
	test_url(id);
	OCSP_CERTID_free(id);
	X509_free(ca);
	X509_free(other_ca);
	X509_free(leaf);
	X509_free(leaf2);
	X509_free(bare);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(leaf_key);
	return done_testing();
}
