#include "config.h"
#include <string.h>
#include "ct/b64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
dec_char(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

anvil_err
ct_b64_encode(struct buf *b, const uint8_t *in, size_t n)
{
	size_t i;
	anvil_err e;

	if (n > (SIZE_MAX / 4) * 3 - 3)
		return AE_TOOBIG;
	if ((e = buf_reserve(b, (n + 2) / 3 * 4)) != AE_OK)
		return e;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		b->data[b->len++] = (uint8_t)alphabet[v >> 18 & 63];
		b->data[b->len++] = (uint8_t)alphabet[v >> 12 & 63];
		b->data[b->len++] = (uint8_t)alphabet[v >> 6 & 63];
		b->data[b->len++] = (uint8_t)alphabet[v & 63];
	}
	if (n - i > 0) {
		uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		b->data[b->len++] = (uint8_t)alphabet[v >> 18 & 63];
		b->data[b->len++] = (uint8_t)alphabet[v >> 12 & 63];
		b->data[b->len++] = n - i == 2 ? (uint8_t)alphabet[v >> 6 & 63] : '=';
		b->data[b->len++] = '=';
	}
	return AE_OK;
}

anvil_err
ct_b64_decode(const char *in, size_t n, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t pad = 0, o = 0, need;

	*outlen = 0;
	if (n % 4 != 0)
		return AE_B64;
	if (n > 0 && in[n - 1] == '=')
		pad = n > 1 && in[n - 2] == '=' ? 2 : 1;
	need = n / 4 * 3 - pad;
	if (need > outsz)
		return AE_TOOBIG;
	for (size_t i = 0; i < n; i += 4) {
		int last = i + 4 == n;
		int c[4];
		uint32_t v = 0;

		for (int k = 0; k < 4; k++) {
			if (last && k >= 4 - (int)pad) {
				c[k] = 0;
				continue;
			}
			if ((c[k] = dec_char((unsigned char)in[i + k])) < 0)
				return AE_B64;
			v |= (uint32_t)c[k] << (18 - 6 * k);
		}
		/* Bits below the last encoded byte must be zero: one value, one spelling. */
		if (last && pad > 0 && (v & (pad == 2 ? 0xffffu : 0xffu)) != 0)
			return AE_B64;
		out[o++] = (uint8_t)(v >> 16);
		if (!(last && pad == 2))
			out[o++] = (uint8_t)(v >> 8);
		if (!(last && pad >= 1))
			out[o++] = (uint8_t)v;
	}
	*outlen = o;
	return AE_OK;
}
