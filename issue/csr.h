/* Finalize's CSR checks (RFC 8555 §7.4): the DER parses completely, its signature verifies, its
 * names (SAN dNSName/iPAddress, and the CN when present, which must be one of them) are exactly
 * the order's identifiers, and its key fits the key policy: RSA 2048, 3072 or 4096 bits with
 * e = 65537, ECDSA P-256 or P-384, and a key type the order's profile accepts. Account-key
 * reuse, blocked and weak keys are checked by the caller with the SPKI hash and thumbprint. */
#ifndef ANVIL_ISSUE_CSR_H
#define ANVIL_ISSUE_CSR_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "lib/err.h"

#define CSR_MAX 16384        /* DER bytes (orders.csr) */
#define CSR_DETAIL_MAX 256

enum csr_verdict {
	CSR_OK = 0,
	CSR_BAD_CSR,         /* badCSR */
	CSR_BAD_KEY,         /* badPublicKey */
};

struct csr_info {
	EVP_PKEY *key;                /* the subject key (caller frees with csr_info_free) */
	uint8_t spki_sha256[32];
	int key_type;                 /* enum key_type (ca/p11.h) */
};

/* identifiers: the order's JSON array of {"type","value"}; key_types: the profile's mask
 * (bit 1 << enum key_type (ca/p11.h)). On CSR_BAD_* detail says why, in our words. */
enum csr_verdict csr_check(const uint8_t *der, size_t len, json_object *identifiers,
    unsigned key_types, struct csr_info *out, char detail[CSR_DETAIL_MAX]);
void csr_info_free(struct csr_info *ci);

/* SHA-256 of the DER SubjectPublicKeyInfo of key. */
anvil_err csr_spki_sha256(EVP_PKEY *key, uint8_t out[32]);

#endif
