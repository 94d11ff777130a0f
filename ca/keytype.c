/* Key type names (ca/keytype.h): what the configuration parser
 * (ca/profile.c) needs, so that the programs that read the policy without touching an HSM
 * (anvil-fcgi, anvil-jobs, anvil-ocsp) link no PKCS#11 code. */
#include "config.h"
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include "ca/keytype.h"

static const struct {
	enum key_type t;
	const char *name;
} key_types[] = {
	{ KT_EC_P256, "ecdsa-p256" }, { KT_EC_P384, "ecdsa-p384" },
	{ KT_RSA_2048, "rsa-2048" }, { KT_RSA_3072, "rsa-3072" }, { KT_RSA_4096, "rsa-4096" },
};

const char *
key_type_name(enum key_type t)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (key_types[i].t == t)
			return key_types[i].name;
	return "none";
}

enum key_type
key_type_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strcmp(key_types[i].name, s) == 0)
			return key_types[i].t;
	return KT_NONE;
}

int
key_type_is_rsa(enum key_type t)
{
	return t == KT_RSA_2048 || t == KT_RSA_3072 || t == KT_RSA_4096;
}

enum key_type
key_type_of(const EVP_PKEY *pk)
{
	char group[64];
	size_t glen = 0;

	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA) {
		switch (EVP_PKEY_get_bits(pk)) {
		case 2048: return KT_RSA_2048;
		case 3072: return KT_RSA_3072;
		case 4096: return KT_RSA_4096;
		default: return KT_NONE;
		}
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), &glen))
		return KT_NONE;
	if (strcmp(group, "prime256v1") == 0)
		return KT_EC_P256;
	if (strcmp(group, "secp384r1") == 0)
		return KT_EC_P384;
	return KT_NONE;
}
