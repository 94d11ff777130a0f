#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "lib/b64url.h"
#include "lib/buf.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* -1 for bytes outside the alphabet (including '=', whitespace and NUL); c62 and c63 name
 * the alphabet: "-_" for base64url, "+/" for standard base64. */
static int
dec_char(unsigned char c, char c62, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)c62)
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

size_t
b64url_encoded_len(size_t n)
{
	/* SIZE_MAX (never a real length) when the result, plus its NUL, would not fit. */
	size_t full = n / 3, rem = n % 3;
	if (full > (SIZE_MAX - 3) / 4)
		return SIZE_MAX;
	return full * 4 + (rem == 0 ? 0 : rem + 1);
}

anvil_err
b64url_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	size_t need = b64url_encoded_len(n), i, o = 0;

	if (need == SIZE_MAX || outsz < need + 1)
		return AE_TOOBIG;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return AE_OK;
}

char *
b64url_encode_alloc(const uint8_t *in, size_t n)
{
	size_t need = b64url_encoded_len(n);
	char *s;

	if (need == SIZE_MAX)
		return NULL;
	if ((s = malloc(need + 1)) == NULL)
		return NULL;
	if (b64url_encode(in, n, s, need + 1) != AE_OK) {
		free(s);
		return NULL;
	}
	return s;
}

/* Decoded size of n valid characters; SIZE_MAX when n % 4 == 1 (never a valid length). */
static size_t
decoded_len(size_t n)
{
	size_t rem = n % 4;
	if (rem == 1)
		return SIZE_MAX;
	return n / 4 * 3 + (rem == 0 ? 0 : rem - 1);
}

/* Strict decoding of unpadded text in either alphabet. */
static anvil_err
decode_unpadded(const char *in, size_t n, char c62, char c63, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	size_t need = decoded_len(n), i, o = 0;
	const unsigned char *s = (const unsigned char *)in;

	if (need == SIZE_MAX)
		return AE_B64;
	if (need > outsz)
		return AE_TOOBIG;
	for (i = 0; i + 4 <= n; i += 4) {
		int a = dec_char(s[i], c62, c63), b = dec_char(s[i + 1], c62, c63);
		int c = dec_char(s[i + 2], c62, c63), d = dec_char(s[i + 3], c62, c63);
		if ((a | b | c | d) < 0)
			return AE_B64;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (n - i == 2) {
		int a = dec_char(s[i], c62, c63), b = dec_char(s[i + 1], c62, c63);
		/* The low 4 bits of the last character are padding and must be zero. */
		if ((a | b) < 0 || (b & 0x0f) != 0)
			return AE_B64;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
	} else if (n - i == 3) {
		int a = dec_char(s[i], c62, c63), b = dec_char(s[i + 1], c62, c63);
		int c = dec_char(s[i + 2], c62, c63);
		if ((a | b | c) < 0 || (c & 0x03) != 0)
			return AE_B64;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		out[o++] = (uint8_t)((b & 0x0f) << 4 | c >> 2);
	}
	*outlen = o;
	return AE_OK;
}

anvil_err
b64url_decode(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen)
{
	return decode_unpadded(in, n, '-', '_', out, outsz, outlen);
}

anvil_err
b64_decode_unpadded(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen)
{
	return decode_unpadded(in, n, '+', '/', out, outsz, outlen);
}

anvil_err
b64_decode(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t pad = 0;

	*outlen = 0;
	if (n % 4 != 0)
		return AE_B64;
	/* With n a multiple of 4, up to two '=' are exactly the padding the length requires; a
	 * third, or one inside, is outside the alphabet below. */
	while (pad < 2 && n - pad > 0 && in[n - pad - 1] == '=')
		pad++;
	return decode_unpadded(in, n - pad, '+', '/', out, outsz, outlen);
}

anvil_err
b64_encode_buf(struct buf *b, const uint8_t *in, size_t n)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	anvil_err e;

	if (n > (SIZE_MAX / 4) * 3 - 3)
		return AE_TOOBIG;
	if ((e = buf_reserve(b, (n + 2) / 3 * 4)) != AE_OK)
		return e;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		b->data[b->len++] = (uint8_t)std[v >> 18 & 63];
		b->data[b->len++] = (uint8_t)std[v >> 12 & 63];
		b->data[b->len++] = (uint8_t)std[v >> 6 & 63];
		b->data[b->len++] = (uint8_t)std[v & 63];
	}
	if (n - i > 0) {
		uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		b->data[b->len++] = (uint8_t)std[v >> 18 & 63];
		b->data[b->len++] = (uint8_t)std[v >> 12 & 63];
		b->data[b->len++] = n - i == 2 ? (uint8_t)std[v >> 6 & 63] : '=';
		b->data[b->len++] = '=';
	}
	return AE_OK;
}

anvil_err
b64url_decode_alloc(const char *in, size_t n, size_t max, uint8_t **out, size_t *outlen)
{
	size_t need = decoded_len(n), got = 0;
	uint8_t *p = NULL;
	anvil_err e;

	*out = NULL;
	if (need == SIZE_MAX)
		return AE_B64;
	if (need > max)
		return AE_TOOBIG;
	/* need <= SIZE_MAX / 4 * 3 + 2, so need + 1 cannot wrap. */
	if ((p = malloc(need + 1)) == NULL)
		return AE_NOMEM;
	if ((e = b64url_decode(in, n, p, need, &got)) != AE_OK) {
		free(p);
		return e;
	}
	p[got] = '\0';
	*out = p;
	*outlen = got;
	return AE_OK;
}
