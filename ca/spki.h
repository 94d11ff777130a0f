/* Subject public keys read from their DER without OpenSSL's decoder framework: building an
 * EVP_PKEY from the request's SPKI and encoding it back was 40 % of the signer's CPU per
 * certificate (perf, OpenSSL 3.0). The signer never needs the subject key as an EVP_PKEY: it
 * needs its type, proof that it is a well-formed key of that type, and its identity. */
#ifndef ANVIL_CA_SPKI_H
#define ANVIL_CA_SPKI_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "ca/keytype.h"
#include "lib/err.h"

/* Large enough for an uncompressed P-384 point or a 4096-bit RSAPublicKey. */
#define SPKI_ID_MAX 600

/* The key's type (KT_NONE when it is none the signer issues for: then AE_SIGNER_KEY) and an
 * identity that is equal for equal keys whatever their encoding (an EC point uncompressed,
 * the RSAPublicKey DER). An EC point must lie on its curve; an RSA modulus must be positive,
 * odd, without a factor below 752 and of 2048, 3072 or 4096 bits, its exponent odd and from
 * 65537 to 2^256 - 1 (CA/B Forum BR 6.1.6). */
anvil_err spki_key_of(const X509_PUBKEY *pub, enum key_type *kt, uint8_t id[SPKI_ID_MAX],
    size_t *idlen);

/* A key's type and identity as spki_key_of gives them, to compare keys. */
struct spki_id {
	enum key_type kt;
	size_t len;
	uint8_t id[SPKI_ID_MAX];
};

/* The identity of a public key (an issuer's, from its certificate or the token). */
anvil_err spki_id_of_pkey(EVP_PKEY *pk, struct spki_id *out);

/* Parses the DER of a SubjectPublicKeyInfo (exactly len bytes), checks it as spki_key_of does
 * and sets it into dst, which keeps the algorithm and key bytes as given. */
anvil_err spki_set(X509_PUBKEY *dst, const uint8_t *der, size_t len, enum key_type *kt);

#endif
