/* Key types and key ids: what every layer needs of the CA's keys (profiles, CSR checks, the
 * configuration), apart from PKCS#11 (ca/p11.h, the signer's and the ceremony's alone). */
#ifndef ANVIL_CA_KEYTYPE_H
#define ANVIL_CA_KEYTYPE_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "lib/err.h"

/* Key types the CA uses, shared by profiles (subject keys) and issuers (CA keys). */
enum key_type {
	KT_NONE = 0,
	KT_EC_P256,
	KT_EC_P384,
	KT_RSA_2048,
	KT_RSA_3072,
	KT_RSA_4096,
};
const char *key_type_name(enum key_type t);
enum key_type key_type_parse(const char *s);
/* The key type of a public key, or KT_NONE when it is none of ours. */
enum key_type key_type_of(const EVP_PKEY *pk);
int key_type_is_rsa(enum key_type t);

#endif
