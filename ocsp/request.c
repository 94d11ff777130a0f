#include "config.h"
#include <string.h>
#include "lib/b64url.h"
#include "lib/der.h"
#include "ocsp/request.h"
#include "lib/hex.h"

static const uint8_t OID_SHA1[] = { 0x2b, 0x0e, 0x03, 0x02, 0x1a };
static const uint8_t OID_SHA256[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 };

/* The next TLV must have tag want. */
static int
der_expect(struct der *d, uint8_t want, struct der *c)
{
	uint8_t tag;

	if (d->n == 0 || d->p[0] != want)
		return -1;
	return der_next(d, &tag, NULL, c) ? 0 : -1;
}

/* An optional element with tag t: skipped (checked only for well-formed framing). */
static int
der_skip_opt(struct der *d, uint8_t t)
{
	struct der c;

	if (d->n == 0 || d->p[0] != t)
		return 0;
	return der_expect(d, t, &c);
}

static enum ocsp_parse
parse_certid(struct der *d, struct ocsp_certid *out)
{
	struct der alg, oid, params, nh, kh, ser;
	size_t want = 0;
	int known = 1;

	if (der_expect(d, 0x30, &alg) != 0 || der_expect(&alg, 0x06, &oid) != 0)
		return OCSP_PARSE_MALFORMED;
	/* Parameters: absent or NULL (both occur for SHA-1 and SHA-2). */
	if (alg.n > 0 && (der_expect(&alg, 0x05, &params) != 0 || params.n != 0))
		return OCSP_PARSE_MALFORMED;
	if (alg.n != 0 || oid.n == 0)
		return OCSP_PARSE_MALFORMED;
	if (oid.n == sizeof(OID_SHA1) && memcmp(oid.p, OID_SHA1, oid.n) == 0) {
		out->hash = OCSP_HASH_SHA1;
		want = 20;
	} else if (oid.n == sizeof(OID_SHA256) && memcmp(oid.p, OID_SHA256, oid.n) == 0) {
		out->hash = OCSP_HASH_SHA256;
		want = 32;
	} else {
		known = 0;
	}
	if (der_expect(d, 0x04, &nh) != 0 || der_expect(d, 0x04, &kh) != 0 ||
	    der_expect(d, 0x02, &ser) != 0 || d->n != 0)
		return OCSP_PARSE_MALFORMED;
	if (known ? (nh.n != want || kh.n != want) : (nh.n == 0 || nh.n > 64 || kh.n != nh.n))
		return OCSP_PARSE_MALFORMED;
	/* INTEGER: at least one byte, minimal (no redundant 00 or ff), at most 20 bytes of
	 * magnitude (a positive serial of 20 bytes may carry a leading 00). */
	if (ser.n == 0 || ser.n > OCSP_SERIAL_MAX + 1 ||
	    (ser.n > 1 && ((ser.p[0] == 0x00 && ser.p[1] < 0x80) ||
	    (ser.p[0] == 0xff && ser.p[1] >= 0x80))))
		return OCSP_PARSE_MALFORMED;
	out->serial_negative = (ser.p[0] & 0x80) != 0;
	if (ser.n > 1 && ser.p[0] == 0x00) {
		ser.p++;
		ser.n--;
	}
	if (ser.n > OCSP_SERIAL_MAX)
		return OCSP_PARSE_MALFORMED;
	if (!known)
		return OCSP_PARSE_HASH;
	memcpy(out->name_hash, nh.p, want);
	memcpy(out->key_hash, kh.p, want);
	out->hash_len = want;
	memcpy(out->serial, ser.p, ser.n);
	out->serial_len = ser.n;
	return OCSP_PARSE_OK;
}

enum ocsp_parse
ocsp_request_parse(const uint8_t *der, size_t len, struct ocsp_certid *out)
{
	struct der all = { der, len }, req, tbs, ver, list, one, certid, v;
	enum ocsp_parse r;

	memset(out, 0, sizeof(*out));
	if (len > OCSP_REQUEST_MAX)
		return OCSP_PARSE_MALFORMED;
	/* OCSPRequest ::= SEQUENCE { tbsRequest, optionalSignature [0] EXPLICIT OPTIONAL } */
	if (der_expect(&all, 0x30, &req) != 0 || all.n != 0 ||
	    der_expect(&req, 0x30, &tbs) != 0 || der_skip_opt(&req, 0xa0) != 0 || req.n != 0)
		return OCSP_PARSE_MALFORMED;
	/* TBSRequest ::= SEQUENCE { version [0] DEFAULT v1, requestorName [1] OPTIONAL,
	 * requestList SEQUENCE OF Request, requestExtensions [2] OPTIONAL } */
	if (tbs.n > 0 && tbs.p[0] == 0xa0) {
		/* DER omits a DEFAULT value, but clients that send v1 explicitly are common. */
		if (der_expect(&tbs, 0xa0, &ver) != 0 || der_expect(&ver, 0x02, &v) != 0 ||
		    ver.n != 0 || v.n != 1 || v.p[0] != 0)
			return OCSP_PARSE_MALFORMED;
	}
	if (der_skip_opt(&tbs, 0xa1) != 0 || der_expect(&tbs, 0x30, &list) != 0 ||
	    der_skip_opt(&tbs, 0xa2) != 0 || tbs.n != 0)
		return OCSP_PARSE_MALFORMED;
	/* Exactly one Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] OPT } */
	if (der_expect(&list, 0x30, &one) != 0 || list.n != 0 ||
	    der_expect(&one, 0x30, &certid) != 0 || der_skip_opt(&one, 0xa0) != 0 || one.n != 0)
		return OCSP_PARSE_MALFORMED;
	r = parse_certid(&certid, out);
	if (r != OCSP_PARSE_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

int
ocsp_get_decode(const char *path, size_t len, uint8_t *der, size_t cap, size_t *outlen)
{
	/* The base64 of OCSP_REQUEST_MAX bytes, with padding. */
	char text[(OCSP_REQUEST_MAX + 2) / 3 * 4];
	size_t n = 0, i = 0, pad = 0;

	*outlen = 0;
	while (i < len) {
		char c = path[i];
		if (c == '%') {
			int hi, lo;
			if (len - i < 3 || (hi = hex_digit(path[i + 1])) < 0 ||
			    (lo = hex_digit(path[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 3;
		} else {
			i++;
		}
		if (c == '/' && n == 0)
			continue;
		if (n == sizeof(text))
			return -1;
		text[n++] = c;
	}
	while (pad < 2 && n > 0 && text[n - 1] == '=') {
		pad++;
		n--;
	}
	/* Padding is optional, but when given it must be what the length requires. */
	if (n == 0 || (pad > 0 && (n + pad) % 4 != 0))
		return -1;
	return b64_decode_unpadded(text, n, der, cap, outlen) == AE_OK ? 0 : -1;
}

void
ocsp_serial_hex(const struct ocsp_certid *id, char *out)
{
	hex_encode(id->serial, id->serial_len < OCSP_SERIAL_MAX ? id->serial_len :
	    OCSP_SERIAL_MAX, out);
}
