/* Builds what the signer signs from narrow requests — certificates and precertificates, OCSP
 * responses, CRLs — and checks a built certificate against its profile before it is signed. */
#ifndef ANVIL_CA_TBS_H
#define ANVIL_CA_TBS_H
#include <stdint.h>
#include <time.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include "ca/profile.h"
#include "ca/proto.h"
#include "ca/spki.h"

/* An unsigned end-entity certificate (precert: with the CT poison; else with the SCT list when
 * the profile asks for CT). The request is checked on the way (serial, key, validity, names). */
anvil_err tbs_build_cert(const struct profile *p, const struct cert_req *r, int precert,
    time_t now, X509 **out);

/* The same certificate without tbs_lint: the signer looks its TBS up in the journal first
 * (ca/ops.c), so a retry of what it signed gets the same bytes whatever the clock says now,
 * and lints only what it is about to sign. */
anvil_err tbs_assemble_cert(const struct profile *p, const struct cert_req *r, int precert,
    X509 **out);

/* Builds once what every certificate of p carries alike (basic constraints, key usages,
 * authority key identifier, authority information access, policies) from p and its issuer's
 * loaded certificate; certificates of a profile not prepared build them each. Not thread-safe:
 * before any certificate is built. tbs_profile_release frees them. */
anvil_err tbs_profile_prepare(struct profile *p);
void tbs_profile_release(struct profile *p);

/* The checks every certificate passes before its signature, whoever built it: never a CA, key
 * and validity and names inside the profile, poison only on a precertificate. subject (may be
 * NULL) receives the subject key's identity as read here, for the caller's own checks. */
anvil_err tbs_lint(const struct profile *p, X509 *x, int precert, time_t now,
    struct spki_id *subject);

/* SHA-256 of the DER TBSCertificate. */
anvil_err tbs_hash(X509 *x, uint8_t out[32]);

/* AE_OK when cert equals precert in everything but the poison and SCT list extensions. */
anvil_err tbs_match_precert(X509 *precert, X509 *cert);
/* The same with the precertificate's DER, which is not decoded: what the signer journaled.
 * AE_INTERNAL when pre is no certificate. */
anvil_err tbs_match_precert_der(const uint8_t *pre, size_t len, X509 *cert);

/* The issuer Name (its whole DER TLV, pointing into der) of a DER certificate, without
 * decoding the rest; AE_INTERNAL when der is no certificate. */
anvil_err tbs_der_issuer(const uint8_t *der, size_t len, const uint8_t **name,
    size_t *namelen);

/* Whether the signature of a DER certificate verifies with key and md over its TBS exactly as
 * encoded there, its outer signature algorithm equal to the TBS's: the check X509_verify makes,
 * on the bytes handed out, without encoding the certificate again. */
int tbs_der_signature_ok(const uint8_t *der, size_t len, EVP_PKEY *key, const EVP_MD *md);

/* Unsigned OCSP BasicOCSPResponse for one serial of an issuer. */
anvil_err tbs_build_ocsp(const struct issuer *is, const struct ocsp_req *r, OCSP_BASICRESP **out);
/* Unsigned CRL. */
anvil_err tbs_build_crl(const struct issuer *is, const struct crl_req *r, X509_CRL **out);

#endif
