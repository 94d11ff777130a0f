/* anvil-bench --ocsp: a relying party's first look at a certificate the flow just downloaded.
 * The request is what RFC 5019 asks of a lightweight client (one SHA-1 CertID, no nonce, GET
 * with the base64 request in the path: it is far under 255 bytes); the answer counts only if
 * OpenSSL's d2i parses it whole, it is successful, its signature verifies with the chain's
 * issuer (OCSP_basic_verify), the certificate's SingleResponse is good, and
 * thisUpdate <= now + 5 s, now < nextUpdate. The response is untrusted network input: its
 * length is checked here and the DER is left to OpenSSL's parser (no parser of our own). */
#include "config.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "tools/bench/acmeb.h"

/* A responder's clock a little ahead of ours must not fail a flow; a response already past
 * its nextUpdate must. */
#define OCSP_SKEW_S 5

const char *
ocsp_request_url(X509 *leaf, X509 *issuer, char *url, size_t urlsz, OCSP_CERTID **id_out)
{
	STACK_OF(OPENSSL_STRING) *aia = NULL;
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL, *id2 = NULL;
	unsigned char *der = NULL;
	unsigned char b64[512];
	const char *why = NULL, *base;
	size_t blen, used;
	int dlen, n;

	*id_out = NULL;
	aia = X509_get1_ocsp(leaf);
	if (aia == NULL || sk_OPENSSL_STRING_num(aia) < 1) {
		why = "ocsp: leaf without an AIA OCSP URL";
		goto out;
	}
	base = sk_OPENSSL_STRING_value(aia, 0);
	blen = strlen(base);
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
		why = "ocsp: AIA OCSP URL is not http(s)";
		goto out;
	}
	if ((id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer)) == NULL ||
	    (req = OCSP_REQUEST_new()) == NULL || (id2 = OCSP_CERTID_dup(id)) == NULL) {
		why = "local: OCSP request";
		goto out;
	}
	if (OCSP_request_add0_id(req, id2) == NULL) {
		OCSP_CERTID_free(id2);
		why = "local: OCSP request";
		goto out;
	}
	/* One CertID with a serial of at most 20 bytes: about 80 bytes of DER. */
	if ((dlen = i2d_OCSP_REQUEST(req, &der)) <= 0 || (size_t)dlen > (sizeof(b64) - 1) / 4 * 3) {
		why = "local: OCSP request";
		goto out;
	}
	n = EVP_EncodeBlock(b64, der, dlen);
	/* The base64 goes into the path percent-encoded where it is not a path character
	 * (RFC 6960 A.1); a '/' left raw would split the path for any cache or proxy. */
	if (blen >= urlsz) {
		why = "ocsp: AIA OCSP URL too long";
		goto out;
	}
	memcpy(url, base, blen);
	used = blen;
	if (used == 0 || url[used - 1] != '/')
		url[used++] = '/';
	for (int i = 0; i < n; i++) {
		unsigned char c = b64[i];
		if (used + 4 > urlsz) {
			why = "ocsp: GET URL too long";
			goto out;
		}
		if (c == '+' || c == '/' || c == '=')
			used += (size_t)snprintf(url + used, 4, "%%%02X", c);
		else
			url[used++] = (char)c;
	}
	url[used] = '\0';
	*id_out = id;
	id = NULL;
out:
	X509_email_free(aia);
	OCSP_REQUEST_free(req);
	OCSP_CERTID_free(id);
	OPENSSL_free(der);
	ERR_clear_error();
	return why;
}

static const char *
resp_status_reason(int st)
{
	switch (st) {
	case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return "ocsp: responseStatus malformedRequest";
	case OCSP_RESPONSE_STATUS_INTERNALERROR: return "ocsp: responseStatus internalError";
	case OCSP_RESPONSE_STATUS_TRYLATER: return "ocsp: responseStatus tryLater";
	case OCSP_RESPONSE_STATUS_SIGREQUIRED: return "ocsp: responseStatus sigRequired";
	case OCSP_RESPONSE_STATUS_UNAUTHORIZED: return "ocsp: responseStatus unauthorized";
	default: return "ocsp: responseStatus not successful";
	}
}

const char *
ocsp_check(const unsigned char *der, size_t len, X509 *issuer, OCSP_CERTID *id, time_t now)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = NULL;
	ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL, *rev = NULL;
	const char *why = NULL;
	time_t t;
	int st, status = -1, reason = -1;

	if (len == 0)
		return "ocsp: empty response";
	if (len > ACMEB_OCSP_MAX)
		return "ocsp: response too large";
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		why = "ocsp: response does not parse";
		goto out;
	}
	if ((st = OCSP_response_status(resp)) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		why = resp_status_reason(st);
		goto out;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		why = "ocsp: not a basic response";
		goto out;
	}
	/* The issuer from the downloaded chain is the trusted signer (OCSP_TRUSTOTHER): Anvil
	 * signs with the issuing key itself. A delegated responder certificate in the response
	 * would be checked against the same issuer through the store. */
	if ((certs = sk_X509_new_null()) == NULL || sk_X509_push(certs, issuer) == 0 ||
	    (store = X509_STORE_new()) == NULL || X509_STORE_add_cert(store, issuer) != 1 ||
	    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) != 1) {
		why = "local: OCSP verify";
		goto out;
	}
	if (OCSP_basic_verify(bs, certs, store, OCSP_TRUSTOTHER) != 1) {
		why = "ocsp: signature does not verify with the chain's issuer";
		goto out;
	}
	if (OCSP_resp_find_status(bs, id, &status, &reason, &rev, &this_upd, &next_upd) != 1) {
		why = "ocsp: no SingleResponse for the certificate";
		goto out;
	}
	if (status != V_OCSP_CERTSTATUS_GOOD) {
		why = status == V_OCSP_CERTSTATUS_REVOKED ? "ocsp: certificate status revoked" :
		    "ocsp: certificate status unknown";
		goto out;
	}
	/* X509_cmp_time: -1 when the time is at or before the reference, 1 after, 0 error. */
	t = now + OCSP_SKEW_S;
	if (this_upd == NULL || X509_cmp_time(this_upd, &t) != -1) {
		why = "ocsp: thisUpdate in the future";
		goto out;
	}
	t = now;
	if (next_upd == NULL) {
		why = "ocsp: response without nextUpdate";
		goto out;
	}
	if (X509_cmp_time(next_upd, &t) != 1) {
		why = "ocsp: nextUpdate not after now";
		goto out;
	}
out:
	X509_STORE_free(store);
	sk_X509_free(certs);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return why;
}
