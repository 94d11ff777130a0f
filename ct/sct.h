/* Signed Certificate Timestamps (RFC 6962 section 3.2): the binary form, the log's signature
 * over an entry, and the SignedCertificateTimestampList a certificate embeds (section 3.3).
 * Everything here comes from a CT log, so every length is checked against a named cap and
 * nothing is allocated: an SCT fits in struct ct_sct. */
#ifndef ANVIL_CT_SCT_H
#define ANVIL_CT_SCT_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "lib/buf.h"
#include "lib/err.h"

#define CT_SCT_EXT_MAX 512       /* CtExtensions: empty in every v1 log we know */
#define CT_SCT_SIG_MAX 512       /* an RSA-4096 signature; ECDSA P-256 is at most 72 */
#define CT_SCT_MAX (1 + 32 + 8 + 2 + CT_SCT_EXT_MAX + 4 + CT_SCT_SIG_MAX)
#define CT_SCT_LIST_MAX 8192     /* the signer's cap on sct_list (ca/PROTOCOL.md) */
#define CT_SKEW_MS 10000         /* how far a log's clock may run ahead of ours */

enum ct_hash_alg { CT_HASH_SHA256 = 4 };
enum ct_sig_alg { CT_SIG_RSA = 1, CT_SIG_ECDSA = 3 };
enum ct_entry_type { CT_ENTRY_X509 = 0, CT_ENTRY_PRECERT = 1 };

struct ct_sct {
	uint8_t version;             /* 0: v1, the only version accepted */
	uint8_t log_id[32];          /* SHA-256 of the log's DER SubjectPublicKeyInfo */
	uint64_t timestamp;          /* ms since the epoch */
	uint8_t ext[CT_SCT_EXT_MAX];
	size_t ext_len;
	uint8_t hash_alg, sig_alg;
	uint8_t sig[CT_SCT_SIG_MAX];
	size_t sig_len;
};

/* What the log signed: a certificate, or a precertificate's issuer key hash and its TBS with
 * the poison extension removed. der points into the caller's memory (see ct/entry.h). */
struct ct_entry {
	enum ct_entry_type type;
	uint8_t issuer_key_hash[32];
	const uint8_t *der;
	size_t len;
};

/* A log's public key as config gives it: the key and its log id. */
struct ct_log_key {
	EVP_PKEY *pkey;
	uint8_t id[32];
	enum ct_sig_alg alg;         /* what its key type signs with */
};

/* Loads a base64 DER SubjectPublicKeyInfo (ECDSA P-256 or RSA of at least 2048 bits) and sets
 * the log id. why says what is wrong. ct_log_key_clear frees. */
anvil_err ct_log_key_load(struct ct_log_key *k, const char *b64, char *why, size_t whylen);
void ct_log_key_clear(struct ct_log_key *k);

/* Parses one serialized SCT (the body inside a list entry); the whole input must be used. */
anvil_err ct_sct_parse(const uint8_t *p, size_t len, struct ct_sct *out);
/* Appends the serialized SCT to b. */
anvil_err ct_sct_serialize(const struct ct_sct *s, struct buf *b);

/* Checks that s is usable: version v1, issued by key (log id), SHA-256 with the key's
 * algorithm, timestamp not after now_ms + CT_SKEW_MS, and the signature over the RFC 6962
 * section 3.2 signed data of entry. AE_CRYPTO for a bad signature, AE_PARSE for the other
 * checks; why (may be NULL) says which. */
anvil_err ct_sct_verify(const struct ct_sct *s, const struct ct_log_key *key,
    const struct ct_entry *entry, uint64_t now_ms, char *why, size_t whylen);

/* Encodes a SignedCertificateTimestampList (RFC 6962 section 3.3) of n SCTs into b (reset
 * first): what the signer's op 4 embeds. AE_TOOBIG over CT_SCT_LIST_MAX. */
anvil_err ct_sct_list_encode(const struct ct_sct *const *scts, size_t n, struct buf *b);
/* Parses a list back; at most max SCTs into out, *n set. The whole input must be used. */
anvil_err ct_sct_list_parse(const uint8_t *p, size_t len, struct ct_sct *out, size_t max,
    size_t *n);

#endif
