#include "config.h"
#include <string.h>
#include "lib/hex.h"

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

anvil_err
hex_decode(const char *hex, uint8_t *out, size_t outmax, size_t *outlen)
{
	size_t n = strlen(hex);

	if (n % 2 != 0 || n / 2 > outmax)
		return AE_PARSE;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]);
		int lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return AE_PARSE;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = n / 2;
	return AE_OK;
}

anvil_err
hex_decode_exact(const char *hex, uint8_t *out, size_t len)
{
	size_t n = 0;

	if (strlen(hex) != 2 * len)
		return AE_PARSE;
	return hex_decode(hex, out, len, &n);
}
