/* base64url: RFC 4648 vectors, round trips and every rejection of the strict decoder. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "lib/b64url.h"
#include "t/tap.h"

static const struct {
	const char *plain, *enc;
} vectors[] = {
	{ "", "" },
	{ "f", "Zg" },
	{ "fo", "Zm8" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg" },
	{ "fooba", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy" },
};

static anvil_err
dec(const char *s, uint8_t *out, size_t outsz, size_t *outlen)
{
	return b64url_decode(s, strlen(s), out, outsz, outlen);
}

static void
test_vectors(void)
{
	char enc[80];
	uint8_t out[64];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *p = vectors[i].plain;
		ok(b64url_encoded_len(strlen(p)) == strlen(vectors[i].enc),
		    "encoded_len(\"%s\")", p);
		ok(b64url_encode((const uint8_t *)p, strlen(p), enc, sizeof(enc)) == AE_OK &&
		    strcmp(enc, vectors[i].enc) == 0, "encode \"%s\" -> \"%s\"", p, vectors[i].enc);
		ok(dec(vectors[i].enc, out, sizeof(out), &n) == AE_OK && n == strlen(p) &&
		    memcmp(out, p, n) == 0, "decode \"%s\"", vectors[i].enc);
	}
	/* The two characters that differ from standard base64 ('+/' -> '-_'). */
	static const uint8_t fbff[] = { 0xfb, 0xff };
	ok(b64url_encode(fbff, 2, enc, sizeof(enc)) == AE_OK && strcmp(enc, "-_8") == 0,
	    "0xfb 0xff -> -_8");
	ok(dec("-_8", out, sizeof(out), &n) == AE_OK && n == 2 && memcmp(out, fbff, 2) == 0,
	    "-_8 -> 0xfb 0xff");
	static const uint8_t all[] = { 0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b,
		0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71,
		0xd7, 0x9f, 0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb,
		0xaf, 0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf };
	ok(b64url_encode(all, sizeof(all), enc, sizeof(enc)) == AE_OK &&
	    strcmp(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 0,
	    "whole alphabet in order");
}

static void
test_round_trips(void)
{
	uint8_t in[300], out[300];
	char enc[401];
	size_t n = 0;
	int good = 1;

	if (RAND_bytes(in, sizeof(in)) != 1)
		good = 0;
	for (size_t len = 0; len <= sizeof(in) && good; len++) {
		size_t el = b64url_encoded_len(len);
		if (b64url_encode(in, len, enc, sizeof(enc)) != AE_OK || strlen(enc) != el ||
		    b64url_decode(enc, el, out, sizeof(out), &n) != AE_OK || n != len ||
		    memcmp(in, out, len) != 0) {
			diag("round trip failed at length %zu", len);
			good = 0;
		}
	}
	ok(good, "round trips of 0..300 random bytes");

	char *s = b64url_encode_alloc(in, 100);
	uint8_t *d = NULL;
	ok(s != NULL && strlen(s) == b64url_encoded_len(100), "encode_alloc");
	ok(s != NULL && b64url_decode_alloc(s, strlen(s), 100, &d, &n) == AE_OK && n == 100 &&
	    memcmp(d, in, 100) == 0 && d[100] == '\0', "decode_alloc appends a NUL");
	free(d);
	d = NULL;
	ok(s != NULL && b64url_decode_alloc(s, strlen(s), 99, &d, &n) == AE_TOOBIG && d == NULL,
	    "decode_alloc refuses a result over max before allocating");
	free(s);
	ok(b64url_decode_alloc("", 0, 0, &d, &n) == AE_OK && n == 0 && d != NULL && d[0] == 0,
	    "decode_alloc of the empty string gives an empty NUL-terminated buffer");
	free(d);
	s = b64url_encode_alloc(NULL, 0);
	ok(s != NULL && s[0] == '\0', "encode_alloc of nothing is \"\"");
	free(s);
}

static void
test_rejections(void)
{
	static const struct {
		const char *in;
		const char *why;
	} bad[] = {
		{ "Zg==", "padding" },
		{ "Zm8=", "single pad" },
		{ "Zg=", "partial padding" },
		{ "Zm9v\n", "trailing newline" },
		{ "Zm 9v", "inner space" },
		{ " Zm9v", "leading space" },
		{ "Zm9v\tYg", "tab" },
		{ "Zm9v\r\nYg", "CRLF" },
		{ "+/8", "standard alphabet +/" },
		{ "ab.c", "dot" },
		{ "Zm9vY", "length 5 (4k+1)" },
		{ "Z", "length 1" },
		{ "Zh", "non-zero trailing bits (2 chars)" },
		{ "Zm9", "non-zero trailing bits (3 chars)" },
		{ "Zm9vYh", "non-zero trailing bits after a full group" },
		{ "AB", "non-zero trailing bits, 0x10" },
		{ "\xc3\xa9Zm", "non-ASCII" },
		{ "Zm9v%00", "percent-encoding" },
	};
	uint8_t out[64];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(dec(bad[i].in, out, sizeof(out), &n) == AE_B64, "rejects %s", bad[i].why);
	ok(b64url_decode("Zm\0v", 4, out, sizeof(out), &n) == AE_B64, "rejects embedded NUL");
	ok(b64url_decode("Zm9v", 3, out, sizeof(out), &n) == AE_B64,
	    "counted length honoured (\"Zm9\" has trailing bits)");
	ok(dec("Zm9vYmFy", out, 5, &n) == AE_TOOBIG, "decode into a buffer too small");
	ok(dec("Zm9vYmFy", out, 6, &n) == AE_OK && n == 6, "decode into an exact buffer");

	uint8_t *d = (uint8_t *)"sentinel";
	ok(b64url_decode_alloc("Zg==", 4, 64, &d, &n) == AE_B64 && d == NULL,
	    "decode_alloc rejects padding and leaves *out NULL");
	ok(b64url_decode_alloc("Zh", 2, 64, &d, &n) == AE_B64 && d == NULL,
	    "decode_alloc rejects trailing bits");

	char enc[16];
	ok(b64url_encode((const uint8_t *)"foobar", 6, enc, 8) == AE_TOOBIG,
	    "encode needs room for the NUL");
	ok(b64url_encode((const uint8_t *)"foobar", 6, enc, 9) == AE_OK &&
	    strcmp(enc, "Zm9vYmFy") == 0, "encode into an exact buffer");
	ok(b64url_encoded_len(SIZE_MAX) == SIZE_MAX, "encoded_len saturates on overflow");
	ok(b64url_encode_alloc((const uint8_t *)"x", SIZE_MAX) == NULL,
	    "encode_alloc refuses a length that overflows");
	/* The lengths are checked before any byte is read, so the short string is safe here. */
	ok(b64url_decode_alloc("AAAA", SIZE_MAX - 3, 1 << 20, &d, &n) == AE_TOOBIG && d == NULL,
	    "decode_alloc with an absurd length is refused before reading or allocating");
	ok(b64url_decode_alloc("AAAA", SIZE_MAX - 2, 1 << 20, &d, &n) == AE_B64 && d == NULL,
	    "decode_alloc with an impossible length (4k+1) is refused");
}

int
main(void)
{
	test_vectors();
	test_round_trips();
	test_rejections();
	return done_testing();
}
