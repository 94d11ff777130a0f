/* The OCSP request parser (ocsp/request.c) on hostile bytes, both as a POST body (DER) and as
 * the path of a GET (URL-encoded base64). Whatever it accepts and OpenSSL's decoder also
 * decodes must name the same CertID in both. (OpenSSL may refuse what the parser accepts: the
 * parser checks only the framing of the parts a precomputed response ignores, such as the
 * signature and the extensions.) */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ocsp.h>
#include "ocsp/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const uint8_t *der, size_t len)
{
	struct ocsp_certid id;
	enum ocsp_parse r = ocsp_request_parse(der, len, &id);
	const unsigned char *p = der;
	OCSP_REQUEST *req;
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *md = NULL;
	ASN1_INTEGER *serial = NULL;
	char hex[2 * OCSP_SERIAL_MAX + 1];

	if (r != OCSP_PARSE_OK)
		return;
	if ((id.hash_len != 20 && id.hash_len != 32) || id.serial_len < 1 ||
	    id.serial_len > OCSP_SERIAL_MAX)
		abort();
	ocsp_serial_hex(&id, hex);
	if (strlen(hex) != 2 * id.serial_len)
		abort();
	if ((req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL)
		return;
	if (p != der + len || OCSP_request_onereq_count(req) != 1 ||
	    OCSP_id_get0_info(&nh, &md, &kh, &serial,
	    OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0))) != 1)
		abort();
	if (OBJ_obj2nid(md) != (id.hash == OCSP_HASH_SHA1 ? NID_sha1 : NID_sha256) ||
	    (size_t)ASN1_STRING_length(nh) != id.hash_len ||
	    memcmp(ASN1_STRING_get0_data(nh), id.name_hash, id.hash_len) != 0 ||
	    (size_t)ASN1_STRING_length(kh) != id.hash_len ||
	    memcmp(ASN1_STRING_get0_data(kh), id.key_hash, id.hash_len) != 0)
		abort();
	if (!id.serial_negative && ((size_t)ASN1_STRING_length(serial) != id.serial_len ||
	    memcmp(ASN1_STRING_get0_data(serial), id.serial, id.serial_len) != 0) &&
	    !(id.serial_len == 1 && id.serial[0] == 0))
		abort();
	OCSP_REQUEST_free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t der[OCSP_REQUEST_MAX];
	size_t len = 0;

	if (size > 3 * OCSP_REQUEST_MAX)
		return 0;
	check(data, size);
	if (ocsp_get_decode((const char *)data, size, der, sizeof(der), &len) == 0) {
		if (len > sizeof(der))
			abort();
		check(der, len);
	}
	return 0;
}
