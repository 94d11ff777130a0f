/* libFuzzer target for the signer's reader of subject keys (ca/spki.c), which replaced
 * OpenSSL's decoder on the issuance path: any bytes are accepted or refused without a crash or a
 * leak, and whatever it accepts, OpenSSL's own decoder must read (from the SPKI as the signer
 * re-encodes it into the certificate) as a key of the same type. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <openssl/x509.h>
#include "ca/spki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_PUBKEY *pub = X509_PUBKEY_new();
	enum key_type kt, kt2;
	uint8_t id[SPKI_ID_MAX];
	size_t idlen;
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pk;
	int n;

	if (pub == NULL)
		return 0;
	if (spki_set(pub, data, size, &kt) == AE_OK) {
		if (spki_key_of(pub, &kt2, id, &idlen) != AE_OK || kt2 != kt ||
		    (n = i2d_X509_PUBKEY(pub, &der)) <= 0)
			abort();
		p = der;
		if ((pk = d2i_PUBKEY(NULL, &p, n)) == NULL || key_type_of(pk) != kt)
			abort();
		EVP_PKEY_free(pk);
		OPENSSL_free(der);
	}
	X509_PUBKEY_free(pub);
	return 0;
}
