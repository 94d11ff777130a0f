/* The OCSP request parser (ocsp/request.c): accepted requests, and one case per rejection, as
 * data; then the GET path decoder (RFC 6960 A.1) and the serial's file name. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ocsp/request.h"
#include "t/tap.h"

enum want { OK, NEG, HASH, MALFORMED };

static const struct {
	const char *name;
	enum want want;
	const char *hex;
} cases[] = {
	{ "SHA-1, no nonce", OK,
	    "305530533051304f304d300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220214337db41ba5"
	    "cbb1c252155b1c63c3b13ccbc2240e" },
	{ "SHA-256", OK,
	    "3071306f306d306b3069300d060960864801650304020105000420111111111111111111"
	    "111111111111111111111111111111111111111111111104202222222222222222222222"
	    "2222222222222222222222222222222222222222220214337db41ba5cbb1c252155b1c63"
	    "c3b13ccbc2240e" },
	{ "no NULL parameters", OK,
	    "30533051304f304d304b300706052b0e03021a0414111111111111111111111111111111"
	    "1111111111041422222222222222222222222222222222222222220214337db41ba5cbb1"
	    "c252155b1c63c3b13ccbc2240e" },
	{ "nonce extension", OK,
	    "307a30783051304f304d300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220214337db41ba5"
	    "cbb1c252155b1c63c3b13ccbc2240ea2233021301f06092b060105050730010204120410"
	    "55555555555555555555555555555555" },
	{ "explicit version v1", OK,
	    "305a3058a0030201003051304f304d300906052b0e03021a050004141111111111111111"
	    "111111111111111111111111041422222222222222222222222222222222222222220214"
	    "337db41ba5cbb1c252155b1c63c3b13ccbc2240e" },
	{ "signature (ignored)", OK,
	    "306b30533051304f304d300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220214337db41ba5"
	    "cbb1c252155b1c63c3b13ccbc2240ea0143012300b060960864801650304020103030001"
	    "02" },
	{ "serial with a sign byte", OK,
	    "304430423040303e303c300906052b0e03021a0500041411111111111111111111111111"
	    "111111111111110414222222222222222222222222222222222222222202030080ff" },
	{ "negative serial", NEG,
	    "30433041303f303d303b300906052b0e03021a0500041411111111111111111111111111"
	    "1111111111111104142222222222222222222222222222222222222222020280ff" },
	{ "MD5 CertID", HASH,
	    "3050304e304c304a3048300c06082a864886f70d02050500041011111111111111111111"
	    "1111111111110410222222222222222222222222222222220214337db41ba5cbb1c25215"
	    "5b1c63c3b13ccbc2240e" },
	{ "empty", MALFORMED,
	    "" },
	{ "empty SEQUENCE", MALFORMED,
	    "3000" },
	{ "truncated", MALFORMED,
	    "305530533051304f304d300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220214337db41ba5"
	    "cbb1c252155b1c63c3b13ccbc224" },
	{ "trailing byte", MALFORMED,
	    "305530533051304f304d300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220214337db41ba5"
	    "cbb1c252155b1c63c3b13ccbc2240e00" },
	{ "two CertIDs", MALFORMED,
	    "3081a83081a53081a2304f304d300906052b0e03021a0500041411111111111111111111"
	    "11111111111111111111041422222222222222222222222222222222222222220214337d"
	    "b41ba5cbb1c252155b1c63c3b13ccbc2240e304f304d300906052b0e03021a0500041411"
	    "111111111111111111111111111111111111110414222222222222222222222222222222"
	    "22222222220214337db41ba5cbb1c252155b1c63c3b13ccbc2240e" },
	{ "no CertID", MALFORMED,
	    "300430023000" },
	{ "version v2", MALFORMED,
	    "305a3058a0030201013051304f304d300906052b0e03021a050004141111111111111111"
	    "111111111111111111111111041422222222222222222222222222222222222222220214"
	    "337db41ba5cbb1c252155b1c63c3b13ccbc2240e" },
	{ "SHA-1 with 32-byte hashes", MALFORMED,
	    "306d306b306930673065300906052b0e03021a0500042011111111111111111111111111"
	    "111111111111111111111111111111111111110420222222222222222222222222222222"
	    "22222222222222222222222222222222220214337db41ba5cbb1c252155b1c63c3b13ccb"
	    "c2240e" },
	{ "SHA-256 with 20-byte hashes", MALFORMED,
	    "30593057305530533051300d060960864801650304020105000414111111111111111111"
	    "111111111111111111111104142222222222222222222222222222222222222222021433"
	    "7db41ba5cbb1c252155b1c63c3b13ccbc2240e" },
	{ "parameters not NULL", MALFORMED,
	    "3056305430523050304e300a06052b0e03021a0501000414111111111111111111111111"
	    "1111111111111111041422222222222222222222222222222222222222220214337db41b"
	    "a5cbb1c252155b1c63c3b13ccbc2240e" },
	{ "serial 00 01 (not minimal)", MALFORMED,
	    "30433041303f303d303b300906052b0e03021a0500041411111111111111111111111111"
	    "111111111111110414222222222222222222222222222222222222222202020001" },
	{ "serial ff 80 (not minimal)", MALFORMED,
	    "30433041303f303d303b300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220202ff80" },
	{ "serial of 21 bytes", MALFORMED,
	    "3056305430523050304e300906052b0e03021a0500041411111111111111111111111111"
	    "111111111111110414222222222222222222222222222222222222222202150101010101"
	    "01010101010101010101010101010101" },
	{ "empty serial", MALFORMED,
	    "3041303f303d303b3039300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220200" },
	{ "indefinite length", MALFORMED,
	    "308030533051304f304d300906052b0e03021a0500041411111111111111111111111111"
	    "11111111111111041422222222222222222222222222222222222222220214337db41ba5"
	    "cbb1c252155b1c63c3b13ccbc2240e0000" },
	{ "non-minimal length", MALFORMED,
	    "30815530533051304f304d300906052b0e03021a05000414111111111111111111111111"
	    "1111111111111111041422222222222222222222222222222222222222220214337db41b"
	    "a5cbb1c252155b1c63c3b13ccbc2240e" },
	{ "high tag number", MALFORMED,
	    "3f0100" },
	{ "3-byte length", MALFORMED,
	    "30830000553030533051304f304d300906052b0e03021a05000414111111111111111111"
	    "111111111111111111111104142222222222222222222222222222222222222222021433"
	    "7db41ba5cbb1c252155b1c63c3b13ccbc2240e" },
};

static size_t
unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	for (size_t i = 0; i < n && i < cap; i++) {
		char b[3] = { h[2 * i], h[2 * i + 1], 0 };
		out[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return n < cap ? n : cap;
}

static void
test_der(void)
{
	uint8_t der[OCSP_REQUEST_MAX + 16];
	struct ocsp_certid id;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = unhex(cases[i].hex, der, sizeof(der));
		enum ocsp_parse r = ocsp_request_parse(der, n, &id);
		switch (cases[i].want) {
		case OK:
			ok(r == OCSP_PARSE_OK && !id.serial_negative, "%s: accepted", cases[i].name);
			break;
		case NEG:
			ok(r == OCSP_PARSE_OK && id.serial_negative, "%s: accepted, marked negative",
			    cases[i].name);
			break;
		case HASH:
			ok(r == OCSP_PARSE_HASH, "%s: well formed, hash not indexed", cases[i].name);
			break;
		case MALFORMED:
			ok(r == OCSP_PARSE_MALFORMED, "%s: malformed", cases[i].name);
			break;
		}
	}
	/* What the first accepted cases carry. */
	{
		size_t n = unhex(cases[0].hex, der, sizeof(der));
		char hex[2 * OCSP_SERIAL_MAX + 1];
		uint8_t h11[20], h22[20];

		memset(h11, 0x11, sizeof(h11));
		memset(h22, 0x22, sizeof(h22));
		ok(ocsp_request_parse(der, n, &id) == OCSP_PARSE_OK && id.hash == OCSP_HASH_SHA1 &&
		    id.hash_len == 20 && memcmp(id.name_hash, h11, 20) == 0 &&
		    memcmp(id.key_hash, h22, 20) == 0, "SHA-1 CertID: hashes as sent");
		ocsp_serial_hex(&id, hex);
		is_str(hex, "337db41ba5cbb1c252155b1c63c3b13ccbc2240e", "serial as lowercase hex");
		n = unhex(cases[1].hex, der, sizeof(der));
		ok(ocsp_request_parse(der, n, &id) == OCSP_PARSE_OK && id.hash == OCSP_HASH_SHA256 &&
		    id.hash_len == 32, "SHA-256 CertID");
		n = unhex(cases[6].hex, der, sizeof(der));
		ok(ocsp_request_parse(der, n, &id) == OCSP_PARSE_OK, "%s", cases[6].name);
		ocsp_serial_hex(&id, hex);
		is_str(hex, "80ff", "the sign byte is not part of the file name");
	}
	memset(der, 0x30, sizeof(der));
	ok(ocsp_request_parse(der, OCSP_REQUEST_MAX + 1, &id) == OCSP_PARSE_MALFORMED,
	    "over OCSP_REQUEST_MAX: malformed before parsing");
}

static int
get(const char *path, uint8_t *out, size_t cap, size_t *n)
{
	return ocsp_get_decode(path, strlen(path), out, cap, n);
}

static void
test_get(void)
{
	uint8_t out[OCSP_REQUEST_MAX];
	static char big[4 * OCSP_REQUEST_MAX];
	size_t n = 0;

	/* 0xfb 0xff 0xbf encodes as "+/+/": both characters that need care in a path. */
	ok(get("+/+/", out, sizeof(out), &n) == 0 && n == 3 && out[0] == 0xfb && out[1] == 0xff &&
	    out[2] == 0xbf, "raw '+' and '/'");
	ok(get("%2B%2F%2b%2f", out, sizeof(out), &n) == 0 && n == 3 && out[1] == 0xff,
	    "percent-encoded, upper and lower case hex");
	ok(get("%2B/%2B/", out, sizeof(out), &n) == 0 && n == 3, "mixed");
	ok(get("//MA==", out, sizeof(out), &n) == 0 && n == 1 && out[0] == 0x30,
	    "leading slashes skipped");
	ok(get("%2FMA%3D%3D", out, sizeof(out), &n) == 0 && n == 1, "an encoded leading slash");
	ok(get("MA", out, sizeof(out), &n) == 0 && n == 1, "no padding");
	ok(get("MDA=", out, sizeof(out), &n) == 0 && n == 2, "one '='");
	ok(get("%4D%41%3D%3D", out, sizeof(out), &n) == 0 && n == 1, "every character encoded");
	ok(get("", out, sizeof(out), &n) != 0, "empty: refused");
	ok(get("/", out, sizeof(out), &n) != 0, "only a slash: refused");
	ok(get("M", out, sizeof(out), &n) != 0, "one character: refused");
	ok(get("MB==", out, sizeof(out), &n) != 0, "non-zero trailing bits: refused");
	ok(get("MA=", out, sizeof(out), &n) != 0, "wrong padding: refused");
	ok(get("MA===", out, sizeof(out), &n) != 0, "three '=': refused");
	ok(get("M=A=", out, sizeof(out), &n) != 0, "'=' inside: refused");
	ok(get("MA-_", out, sizeof(out), &n) != 0, "base64url characters: refused");
	ok(get("MA %3D", out, sizeof(out), &n) != 0, "a space: refused");
	ok(get("%zzMA", out, sizeof(out), &n) != 0, "a bad escape: refused");
	ok(get("MA%3", out, sizeof(out), &n) != 0, "a cut escape: refused");
	ok(get("MA==?x=1", out, sizeof(out), &n) != 0, "a query (the caller strips it): refused");
	ok(get("MDAw", out, 2, &n) != 0, "longer than the buffer: refused");
	memset(big, 'A', sizeof(big) - 1);
	ok(get(big, out, sizeof(out), &n) != 0, "base64 text over the cap: refused");
}

int
main(void)
{
	test_der();
	test_get();
	return done_testing();
}
