#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "lib/b64url.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* -1 for bytes outside the alphabet (including '=', whitespace and NUL). */
static int
dec_char(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
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

anvil_err
b64url_decode(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t need = decoded_len(n), i, o = 0;
	const unsigned char *s = (const unsigned char *)in;

	if (need == SIZE_MAX)
		return AE_B64;
	if (need > outsz)
		return AE_TOOBIG;
	for (i = 0; i + 4 <= n; i += 4) {
		int a = dec_char(s[i]), b = dec_char(s[i + 1]);
		int c = dec_char(s[i + 2]), d = dec_char(s[i + 3]);
		if ((a | b | c | d) < 0)
			return AE_B64;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (n - i == 2) {
		int a = dec_char(s[i]), b = dec_char(s[i + 1]);
		/* The low 4 bits of the last character are padding and must be zero. */
		if ((a | b) < 0 || (b & 0x0f) != 0)
			return AE_B64;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
	} else if (n - i == 3) {
		int a = dec_char(s[i]), b = dec_char(s[i + 1]), c = dec_char(s[i + 2]);
		if ((a | b | c) < 0 || (c & 0x03) != 0)
			return AE_B64;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		out[o++] = (uint8_t)((b & 0x0f) << 4 | c >> 2);
	}
	*outlen = o;
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
