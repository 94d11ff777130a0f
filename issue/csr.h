/* Finalize's CSR checks (RFC 8555 §7.4): the DER parses completely, its signature verifies, its
 * names (SAN dNSName/iPAddress, and the CN when present, which must be one of them) are exactly
 * the order's identifiers, and its key fits the key policy: RSA 2048, 3072 or 4096 bits with
 * e = 65537, ECDSA P-256 or P-384, and a key type the order's profile accepts. Account-key
 * reuse, blocked and weak keys are checked after it, with the SPKI hash and thumbprint, by
 * issue_csr_policy (issue/policy.h), the whole policy both front doors apply. */
#ifndef ANVIL_ISSUE_CSR_H
#define ANVIL_ISSUE_CSR_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "lib/err.h"

#define CSR_MAX 16384        /* DER bytes (orders.csr) */
#define CSR_DETAIL_MAX 256
#define CSR_SPKI_MAX 1536    /* DER SubjectPublicKeyInfo bytes: RSA keys up to 8192 bits */
#define CSR_CN_MAX 64        /* ub-common-name (RFC 5280): a longer CN cannot be kept */

enum csr_verdict {
	CSR_OK = 0,
	CSR_BAD_CSR,         /* badCSR */
	CSR_BAD_KEY,         /* badPublicKey */
};

struct csr_info {
	EVP_PKEY *key;                /* the subject key (caller frees with csr_info_free) */
	uint8_t spki_sha256[32];
	uint8_t spki[CSR_SPKI_MAX];   /* the key's DER SubjectPublicKeyInfo, as i2d_PUBKEY */
	size_t spki_len;
	int key_type;                 /* enum key_type (ca/keytype.h) */
	char cn[CSR_CN_MAX + 1];      /* the CSR's commonName when a DNS name of the CSR that fits,
	                               * lowercase; "" otherwise */
};

/* identifiers: the order's JSON array of {"type","value"}; key_types: the profile's mask
 * (bit 1 << enum key_type (ca/keytype.h)). On CSR_BAD_* detail says why, in our words.
 * The last accepted CSR of the process is remembered (its bytes, names and key types compared
 * in full): finalize checks a CSR and issue_finish checks the same bytes again in the same
 * request, and a check costs 1.2 million instructions (the usual ECDSA CSR, see csr_fast_set)
 * to 3 million (callgrind), most of it the signature. */
enum csr_verdict csr_check(const uint8_t *der, size_t len, json_object *identifiers,
    unsigned key_types, struct csr_info *out, char detail[CSR_DETAIL_MAX]);
void csr_info_free(struct csr_info *ci);

/* SHA-256 of the DER SubjectPublicKeyInfo of key. */
anvil_err csr_spki_sha256(EVP_PKEY *key, uint8_t out[32]);
/* The DER SubjectPublicKeyInfo of key, byte for byte what i2d_PUBKEY writes: ECDSA P-256 and
 * P-384 keys on a named curve and RSA keys are written directly (i2d_PUBKEY builds an encoder
 * context each time, about 0.8 million instructions), any other key with i2d_PUBKEY
 * (csr_spki_der_slow, which t/0008-csr compares it with). AE_TOOBIG when outsz is short. */
anvil_err csr_spki_der(EVP_PKEY *key, uint8_t *out, size_t outsz, size_t *len);
anvil_err csr_spki_der_slow(EVP_PKEY *key, uint8_t *out, size_t outsz, size_t *len);
/* Forgets the remembered CSR (tests). */
void csr_memo_clear(void);
/* csr_check decodes and verifies the usual CSR (ECDSA P-256/P-384, uncompressed point, strict
 * DER) without d2i_X509_REQ, which costs 1.4 million instructions in OpenSSL 3; 0 turns that
 * shortcut off (tests compare both paths). Returns how many CSRs the shortcut accepted since
 * the previous call. */
unsigned long csr_fast_set(int on);

#endif
