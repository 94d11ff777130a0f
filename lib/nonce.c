#include "config.h"
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "lib/b64url.h"
#include "lib/nonce.h"

#define IV_LEN 12
#define TAG_LEN 16
#define RAW_LEN (IV_LEN + NONCE_ID_LEN + TAG_LEN) /* 44 */
#define CLOCK_SKEW 60

_Static_assert(NONCE_STR_LEN == 59, "NONCE_STR_LEN is b64url of 44 bytes");

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

anvil_err
nonce_make(const uint8_t key[NONCE_KEY_LEN], int64_t now, char out[NONCE_STR_LEN + 1])
{
	uint8_t raw[RAW_LEN], pt[NONCE_ID_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, fin = 0;
	anvil_err e = AE_CRYPTO;

	out[0] = '\0';
	put_be64(pt, (uint64_t)now);
	if (RAND_bytes(raw, IV_LEN) != 1 || RAND_bytes(pt + 8, 8) != 1)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		e = AE_NOMEM;
		goto out;
	}
	if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, raw, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + IV_LEN, &n, pt, NONCE_ID_LEN) != 1 ||
	    n != NONCE_ID_LEN ||
	    EVP_EncryptFinal_ex(ctx, raw + IV_LEN + n, &fin) != 1 || fin != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    raw + IV_LEN + NONCE_ID_LEN) != 1)
		goto out;
	e = b64url_encode(raw, RAW_LEN, out, NONCE_STR_LEN + 1);
out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(pt, sizeof(pt));
	if (e != AE_OK)
		ERR_clear_error();
	return e;
}

anvil_err
nonce_open(const uint8_t key[NONCE_KEY_LEN], const char *s, size_t len, int64_t now,
    int64_t lifetime, uint8_t id[NONCE_ID_LEN], int64_t *issued_at)
{
	uint8_t raw[RAW_LEN], pt[NONCE_ID_LEN];
	size_t rawlen = 0;
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, fin = 0;
	int64_t t;
	anvil_err e = AE_NONCE_BAD;

	if (s == NULL || len != NONCE_STR_LEN ||
	    b64url_decode(s, len, raw, sizeof(raw), &rawlen) != AE_OK || rawlen != RAW_LEN)
		return AE_NONCE_BAD;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		e = AE_NOMEM;
		goto out;
	}
	/* The tag is set before Final, which fails (and we reject) unless it matches. */
	if (EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, raw, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, pt, &n, raw + IV_LEN, NONCE_ID_LEN) != 1 ||
	    n != NONCE_ID_LEN ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    raw + IV_LEN + NONCE_ID_LEN) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1 || fin != 0)
		goto out;
	t = (int64_t)get_be64(pt);
	/* Differences taken in uint64_t: exact for a > b, whatever the signs. */
	if (t > now) {
		if ((uint64_t)t - (uint64_t)now > CLOCK_SKEW) {
			e = AE_NONCE_EXPIRED;
			goto out;
		}
	} else if (lifetime < 0 || (uint64_t)now - (uint64_t)t > (uint64_t)lifetime) {
		e = AE_NONCE_EXPIRED;
		goto out;
	}
	memcpy(id, pt, NONCE_ID_LEN);
	if (issued_at != NULL)
		*issued_at = t;
	e = AE_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(pt, sizeof(pt));
	if (e != AE_OK)
		ERR_clear_error();
	return e;
}
