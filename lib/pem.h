/* PEM (RFC 7468) written straight from DER bytes. Certificates already stored as DER need no
 * parse to be served as PEM: OpenSSL 3's d2i_X509 decodes the public key through its provider
 * decoders (about 1.4 million instructions per certificate, measured with callgrind), only for
 * PEM_write_bio_X509 to encode the same bytes again. The output is byte for byte what
 * PEM_write_bio_X509 writes for a DER certificate (t/0007-pem). */
#ifndef ANVIL_PEM_H
#define ANVIL_PEM_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

#define PEM_DER_MAX (1024 * 1024)  /* DER bytes accepted by pem_from_der */

/* Characters of the PEM text of len DER bytes under label (no NUL counted); 0 when len is 0,
 * over PEM_DER_MAX or the label is longer than 64 characters. */
size_t pem_encoded_len(const char *label, size_t len);
/* "-----BEGIN label-----\n", base64 in lines of 64 characters, "-----END label-----\n" into
 * out (outsz bytes, NUL-terminated); AE_TOOBIG when outsz < pem_encoded_len + 1, AE_PARSE
 * when pem_encoded_len is 0. *outlen (if not NULL) gets the length without the NUL. */
anvil_err pem_from_der(const char *label, const uint8_t *der, size_t len, char *out,
    size_t outsz, size_t *outlen);
/* 1 if der[0..len) is exactly one DER SEQUENCE TLV (definite length, minimal length bytes,
 * nothing after it): the shape of a stored certificate, checked without parsing it. */
int pem_der_is_one_sequence(const uint8_t *der, size_t len);

#endif
