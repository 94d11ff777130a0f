/* Stateless nonces: round trip, authenticity of every byte, key, expiry, skew, ids. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/b64url.h"
#include "lib/nonce.h"
#include "t/tap.h"

#define NOW INT64_C(1700000000)
#define LIFETIME 3600

static const uint8_t key[NONCE_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const uint8_t key2[NONCE_KEY_LEN] = "0123456789abcdef0123456789abcdeF";

static anvil_err
open_at(const char *s, int64_t now, uint8_t id[NONCE_ID_LEN], int64_t *at)
{
	return nonce_open(key, s, strlen(s), now, LIFETIME, id, at);
}

static void
test_round_trip(void)
{
	char n[NONCE_STR_LEN + 1];
	uint8_t id[NONCE_ID_LEN], id2[NONCE_ID_LEN];
	int64_t at = 0;

	ok(nonce_make(key, NOW, n) == AE_OK && strlen(n) == NONCE_STR_LEN,
	    "make gives %d characters", NONCE_STR_LEN);
	ok(strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	    NONCE_STR_LEN, "base64url alphabet only (safe in a Replay-Nonce header)");
	ok(open_at(n, NOW, id, &at) == AE_OK && at == NOW, "opens at the same second");
	ok(open_at(n, NOW + LIFETIME, id2, &at) == AE_OK && memcmp(id, id2, NONCE_ID_LEN) == 0,
	    "opens at the end of its lifetime with the same id");
	ok(open_at(n, NOW + LIFETIME + 1, id2, &at) == AE_NONCE_EXPIRED,
	    "expired one second after its lifetime");
	ok(open_at(n, NOW - 60, id2, &at) == AE_OK, "60 s of clock skew tolerated");
	ok(open_at(n, NOW - 61, id2, &at) == AE_NONCE_EXPIRED, "issued 61 s in the future refused");
	ok(open_at(n, INT64_MAX, id2, &at) == AE_NONCE_EXPIRED, "now = INT64_MAX (no overflow)");
	ok(open_at(n, INT64_MIN, id2, &at) == AE_NONCE_EXPIRED, "now = INT64_MIN (no overflow)");
	ok(nonce_open(key, n, strlen(n), NOW, -1, id2, &at) == AE_NONCE_EXPIRED,
	    "negative lifetime accepts nothing");
	ok(nonce_open(key, n, strlen(n), NOW + 5, 0, id2, &at) == AE_NONCE_EXPIRED &&
	    nonce_open(key, n, strlen(n), NOW, 0, id2, &at) == AE_OK, "lifetime 0");
	ok(nonce_open(key, n, strlen(n), NOW, LIFETIME, id2, NULL) == AE_OK,
	    "issued_at may be NULL");
	uint8_t be[8] = { 0 };
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)((uint64_t)NOW >> (56 - 8 * i));
	ok(memcmp(id, be, 8) == 0, "the id starts with the big-endian issue time");

	char m[NONCE_STR_LEN + 1];
	ok(nonce_make(key, INT64_MIN, m) == AE_OK && open_at(m, INT64_MIN, id2, &at) == AE_OK &&
	    at == INT64_MIN, "extreme issue time INT64_MIN round-trips");
	ok(nonce_make(key, INT64_MAX, m) == AE_OK && open_at(m, INT64_MIN, id2, &at) ==
	    AE_NONCE_EXPIRED, "INT64_MAX issued, INT64_MIN now: expired, no overflow");
	ok(nonce_make(key, -5, m) == AE_OK && open_at(m, 0, id2, &at) == AE_OK && at == -5,
	    "negative times are plain numbers");
}

static void
test_tamper(void)
{
	char n[NONCE_STR_LEN + 1], t[NONCE_STR_LEN + 1];
	uint8_t raw[44], id[NONCE_ID_LEN];
	size_t rawlen = 0;
	int64_t at;
	int good = 1;

	nonce_make(key, NOW, n);
	b64url_decode(n, NONCE_STR_LEN, raw, sizeof(raw), &rawlen);
	/* Flip each bit of each decoded byte: iv, ciphertext and tag are all authenticated. */
	for (size_t i = 0; i < rawlen && good; i++)
		for (int bit = 0; bit < 8 && good; bit++) {
			raw[i] ^= (uint8_t)(1 << bit);
			b64url_encode(raw, rawlen, t, sizeof(t));
			if (open_at(t, NOW, id, &at) != AE_NONCE_BAD) {
				diag("byte %zu bit %d accepted", i, bit);
				good = 0;
			}
			raw[i] ^= (uint8_t)(1 << bit);
		}
	ok(rawlen == 44 && good, "every single-bit change of all 44 bytes is AE_NONCE_BAD");

	/* Every character replaced by another of the alphabet. */
	good = 1;
	for (size_t i = 0; i < NONCE_STR_LEN && good; i++) {
		memcpy(t, n, sizeof(t));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		anvil_err e = open_at(t, NOW, id, &at);
		if (e != AE_NONCE_BAD) {
			diag("character %zu: %s", i, anvil_strerror(e));
			good = 0;
		}
	}
	ok(good, "every character changed is AE_NONCE_BAD (the last one as non-canonical base64)");

	ok(nonce_open(key2, n, strlen(n), NOW, LIFETIME, id, &at) == AE_NONCE_BAD,
	    "another key: AE_NONCE_BAD");
	ok(nonce_open(key, n, NONCE_STR_LEN - 1, NOW, LIFETIME, id, &at) == AE_NONCE_BAD,
	    "one character short");
	memcpy(t, n, sizeof(t));
	char longer[NONCE_STR_LEN + 3];
	memcpy(longer, n, NONCE_STR_LEN);
	memcpy(longer + NONCE_STR_LEN, "AA", 3);
	ok(nonce_open(key, longer, strlen(longer), NOW, LIFETIME, id, &at) == AE_NONCE_BAD,
	    "two characters longer");
	ok(nonce_open(key, "", 0, NOW, LIFETIME, id, &at) == AE_NONCE_BAD, "empty");
	ok(nonce_open(key, NULL, 0, NOW, LIFETIME, id, &at) == AE_NONCE_BAD, "NULL");
	t[10] = '=';
	ok(open_at(t, NOW, id, &at) == AE_NONCE_BAD, "a character outside the alphabet");
	memcpy(t, n, sizeof(t));
	t[58] = '\0';
	ok(nonce_open(key, t, NONCE_STR_LEN, NOW, LIFETIME, id, &at) == AE_NONCE_BAD,
	    "an embedded NUL");
	char junk[NONCE_STR_LEN + 1];
	memset(junk, 'A', NONCE_STR_LEN);
	junk[NONCE_STR_LEN] = '\0';
	ok(open_at(junk, NOW, id, &at) == AE_NONCE_BAD, "all-zero bytes");
}

static void
test_unique(void)
{
	enum { N = 2000 };
	uint8_t (*ids)[NONCE_ID_LEN] = calloc(N, NONCE_ID_LEN);
	char n[NONCE_STR_LEN + 1], first[NONCE_STR_LEN + 1];
	int64_t at;
	int good = ids != NULL, dup = 0;

	for (int i = 0; i < N && good; i++)
		good = nonce_make(key, NOW, n) == AE_OK && open_at(n, NOW, ids[i], &at) == AE_OK;
	for (int i = 0; i < N && good && !dup; i++)
		for (int k = i + 1; k < N && !dup; k++)
			dup = memcmp(ids[i], ids[k], NONCE_ID_LEN) == 0;
	ok(good && !dup, "%d nonces made in the same second have distinct ids", N);
	nonce_make(key, NOW, first);
	nonce_make(key, NOW, n);
	ok(strcmp(first, n) != 0, "two nonces of the same second differ");
	free(ids);
}

int
main(void)
{
	test_round_trip();
	test_tamper();
	test_unique();
	return done_testing();
}
