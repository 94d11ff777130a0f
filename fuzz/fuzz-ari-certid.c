/* The ARI certificate identifier (fcgi/certid.c), from a renewalInfo URL or newOrder's
 * "replaces": whatever it accepts names one certificate in exactly one spelling, so encoding
 * what it parsed (the serial with its sign byte back) gives the input again. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fcgi/certid.h"
#include "lib/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[CERTID_MAX + 8], hex[DB_SERIAL_HEX_MAX + 1], again[2 * CERTID_MAX];
	uint8_t aki[CERTID_AKI_MAX], ser[DB_SERIAL_HEX_MAX / 2 + 1];
	size_t aki_len = 0, n, hl, off;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (ari_certid_parse(in, aki, &aki_len, hex) != AE_OK)
		return 0;
	hl = strlen(hex);
	if (aki_len == 0 || aki_len > CERTID_AKI_MAX || hl == 0 || hl % 2 != 0 ||
	    hl > DB_SERIAL_HEX_MAX || (hl > 2 && hex[0] == '0' && hex[1] == '0'))
		abort();
	off = unhex(hex[0]) >= 8 ? 1 : 0;
	ser[0] = 0;
	for (size_t i = 0; i < hl / 2; i++) {
		int h = unhex(hex[2 * i]), l = unhex(hex[2 * i + 1]);
		if (h < 0 || l < 0)
			abort();
		ser[off + i] = (uint8_t)(h << 4 | l);
	}
	if (b64url_encode(aki, aki_len, again, sizeof(again)) != AE_OK)
		abort();
	n = strlen(again);
	again[n++] = '.';
	if (b64url_encode(ser, off + hl / 2, again + n, sizeof(again) - n) != AE_OK ||
	    strcmp(again, in) != 0)
		abort();
	return 0;
}
