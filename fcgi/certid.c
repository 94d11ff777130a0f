#include "config.h"
#include <string.h>
#include "fcgi/certid.h"
#include "lib/b64url.h"
#include "lib/hex.h"

anvil_err
ari_certid_parse(const char *certid, uint8_t aki[CERTID_AKI_MAX], size_t *aki_len,
    char hex[DB_SERIAL_HEX_MAX + 1])
{
	const char *dot = strchr(certid, '.');
	uint8_t ser[DB_SERIAL_HEX_MAX / 2 + 1];
	size_t ser_len = 0, off = 0, n = strlen(certid);

	*aki_len = 0;
	if (n == 0 || n > CERTID_MAX || dot == NULL || strchr(dot + 1, '.') != NULL ||
	    b64url_decode(certid, (size_t)(dot - certid), aki, CERTID_AKI_MAX, aki_len) != AE_OK ||
	    b64url_decode(dot + 1, strlen(dot + 1), ser, sizeof(ser), &ser_len) != AE_OK ||
	    *aki_len == 0 || ser_len == 0 || (ser[0] & 0x80) != 0)
		return AE_PARSE;
	if (ser_len > 1 && ser[0] == 0)
		off = 1;  /* the sign byte of a serial whose top bit is set */
	if (ser_len - off > DB_SERIAL_HEX_MAX / 2 || (off && (ser[1] & 0x80) == 0))
		return AE_PARSE;
	hex_encode(ser + off, ser_len - off, hex);
	return AE_OK;
}
