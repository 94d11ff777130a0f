#include "config.h"
#include <string.h>
#include <openssl/evp.h>
#include "lib/pem.h"

#define LABEL_MAX 64
#define LINE_IN 48   /* DER bytes per line: 64 base64 characters, as PEM_write_bio writes */

size_t
pem_encoded_len(const char *label, size_t len)
{
	size_t l = strlen(label), rest = len % LINE_IN;

	if (len == 0 || len > PEM_DER_MAX || l == 0 || l > LABEL_MAX)
		return 0;
	/* "-----BEGIN " label "-----\n", full lines of 64 + "\n", the last shorter line (with
	 * '=' padding), "-----END " label "-----\n". */
	return (11 + l + 6) + (len / LINE_IN) * 65 + (rest ? 4 * ((rest + 2) / 3) + 1 : 0) +
	    (9 + l + 6);
}

anvil_err
pem_from_der(const char *label, const uint8_t *der, size_t len, char *out, size_t outsz,
    size_t *outlen)
{
	size_t need = pem_encoded_len(label, len), l, o = 0;

	if (need == 0)
		return AE_PARSE;
	if (outsz < need + 1)
		return AE_TOOBIG;
	l = strlen(label);
	memcpy(out, "-----BEGIN ", 11);
	memcpy(out + 11, label, l);
	memcpy(out + 11 + l, "-----\n", 6);
	o = 17 + l;
	for (size_t i = 0; i < len; i += LINE_IN) {
		size_t n = len - i < LINE_IN ? len - i : LINE_IN;
		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, der + i, (int)n);
		out[o++] = '\n';
	}
	memcpy(out + o, "-----END ", 9);
	memcpy(out + o + 9, label, l);
	memcpy(out + o + 9 + l, "-----\n", 6);
	o += 15 + l;
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return o == need ? AE_OK : AE_INTERNAL;
}

int
pem_der_is_one_sequence(const uint8_t *der, size_t len)
{
	size_t body, hdr;

	if (len < 2 || der[0] != 0x30)
		return 0;
	if (der[1] < 0x80) {
		body = der[1];
		hdr = 2;
	} else {
		size_t nb = der[1] & 0x7f;
		if (nb == 0 || nb > 4 || len < 2 + nb || der[2] == 0)
			return 0;
		body = 0;
		for (size_t i = 0; i < nb; i++)
			body = body << 8 | der[2 + i];
		if (body < 0x80 || (nb > 1 && body < (size_t)1 << (8 * (nb - 1))))
			return 0;
		hdr = 2 + nb;
	}
	return body == len - hdr;
}
