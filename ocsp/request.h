/* The OCSP request parser of the responder (RFC 6960 §4.1, RFC 5019 §2.1): untrusted bytes from
 * any relying party, so a strict DER walk with every length checked, no ASN.1 library.
 *
 * Responses are precomputed (RFC 5019), so only the CertID matters: a nonce, a requestor name,
 * request extensions and an optional signature are checked for well-formed DER and ignored.
 * A request must carry exactly one CertID (RFC 5019 §2.1.1: a lightweight client MUST send
 * one); a list of several is malformed, since one precomputed response answers one CertID. */
#ifndef ANVIL_OCSP_REQUEST_H
#define ANVIL_OCSP_REQUEST_H
#include <stddef.h>
#include <stdint.h>

#define OCSP_REQUEST_MAX 4096   /* DER bytes; a one-CertID request is about 80 */
#define OCSP_SERIAL_MAX 20      /* RFC 5280 §4.1.2.2 */

enum ocsp_hash { OCSP_HASH_SHA1 = 0, OCSP_HASH_SHA256 = 1 };

struct ocsp_certid {
	enum ocsp_hash hash;
	uint8_t name_hash[32];      /* issuerNameHash, 20 or 32 bytes as the hash */
	uint8_t key_hash[32];       /* issuerKeyHash */
	size_t hash_len;
	uint8_t serial[OCSP_SERIAL_MAX];  /* magnitude, minimal big-endian bytes */
	size_t serial_len;
	int serial_negative;        /* a negative serial is well formed but never ours */
};

enum ocsp_parse {
	OCSP_PARSE_OK = 0,
	OCSP_PARSE_MALFORMED,       /* not a DER OCSPRequest with exactly one CertID */
	OCSP_PARSE_HASH,            /* a well-formed CertID hashed with an algorithm we do not
	                             * index (neither SHA-1 nor SHA-256): never ours */
};

enum ocsp_parse ocsp_request_parse(const uint8_t *der, size_t len, struct ocsp_certid *out);

/* The request of an RFC 6960 Appendix A.1 GET: path is what follows the responder's URL prefix
 * in the raw request URI (no query), i.e. the URL-encoding of the base64 of the DER. Any
 * percent-encoding is decoded first (%2B, %2F, %3D and any other octet), then the base64
 * (standard alphabet, '=' padding optional); leading '/' are skipped (a URL ending in '/' plus
 * the separator). Writes at most cap bytes to der. Returns 0, or -1 when it is not that. */
int ocsp_get_decode(const char *path, size_t len, uint8_t *der, size_t cap, size_t *outlen);

/* Lowercase hex of the serial (the file name under ocsp.dir/<issuer>/); out needs
 * 2 * OCSP_SERIAL_MAX + 1 bytes. */
void ocsp_serial_hex(const struct ocsp_certid *id, char *out);

#endif
