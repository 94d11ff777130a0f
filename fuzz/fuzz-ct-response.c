/* A CT log's answer, which is hostile input: the first byte modulo 3 picks the parser. 0: the
 * add-chain JSON (ct_response_parse), then the SCT's binary form must parse back to the same
 * SCT, and verification against a fixed log key and entry must fail cleanly. 1: a binary
 * SignedCertificateTimestampList (ct_sct_list_parse); an accepted list must re-encode to the
 * same bytes. 2: a get-sth answer (ct_sth_parse), then its verification.
 * Strict base64 of the rest, both ways. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/b64url.h"
#include "ct/response.h"
#include "ct/sct.h"
#include "ct/sth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* t/data/ct/log-ec.b64 */
static const char log_key[] = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOLP39y1CVvQOutQzhjTMHKj2Y0C3iaJPVjMgFqgc2xhDzKDWyLut+l/yfDxIBR0qA7X4f1deIXffDYZ5g9P6PA==";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ct_log_key key;
	static int have_key;
	static struct ct_sct s, back, list[8];
	static struct ct_sth sth;
	static const uint8_t tbs[] = { 0x30, 0x00 };
	static uint8_t dec[CT_RESPONSE_MAX];
	struct ct_entry entry = { CT_ENTRY_PRECERT, { 0 }, tbs, sizeof(tbs) };
	const struct ct_sct *ptrs[8];
	struct buf b;
	size_t n;

	if (!have_key) {
		if (ct_log_key_load(&key, log_key, NULL, 0) != AE_OK)
			abort();
		have_key = 1;
	}
	if (size < 1 || size > 2 * CT_RESPONSE_MAX)
		return 0;
	buf_init(&b, 16384);
	if (data[0] % 3 == 2) {
		/* The seed is a genuine tree head of this key: verification may succeed. */
		if (ct_sth_parse((const char *)data + 1, size - 1, &sth, NULL, 0) == AE_OK)
			(void)ct_sth_verify(&sth, &key, UINT64_MAX - 2 * CT_SKEW_MS, NULL, 0);
	} else if (data[0] % 3 == 0) {
		if (ct_response_parse((const char *)data + 1, size - 1, &s, NULL, 0) == AE_OK) {
			if (ct_sct_serialize(&s, &b) != AE_OK ||
			    ct_sct_parse(b.data, b.len, &back) != AE_OK ||
			    memcmp(&s, &back, sizeof(s)) != 0)
				abort();
			memcpy(s.log_id, key.id, 32);
			if (ct_sct_verify(&s, &key, &entry, UINT64_MAX - 2 * CT_SKEW_MS, NULL, 0) ==
			    AE_OK)
				abort();
		}
	} else if (ct_sct_list_parse(data + 1, size - 1, list, 8, &n) == AE_OK) {
		for (size_t i = 0; i < n; i++)
			ptrs[i] = &list[i];
		if (ct_sct_list_encode(ptrs, n, &b) != AE_OK || b.len != size - 1 ||
		    memcmp(b.data, data + 1, b.len) != 0)
			abort();
	}
	buf_reset(&b);
	if (b64_decode((const char *)data + 1, size - 1, dec, sizeof(dec), &n) == AE_OK &&
	    (b64_encode_buf(&b, dec, n) != AE_OK || b.len != size - 1 ||
	    memcmp(b.data, data + 1, b.len) != 0))
		abort();
	buf_free(&b);
	return 0;
}
