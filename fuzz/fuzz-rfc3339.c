/* libFuzzer target for the RFC 3339 reader (lib/rfc3339.c), which reads newOrder's notBefore and
 * notAfter from any client: any bytes are accepted or refused without a crash or a read past
 * the input, and what is accepted agrees with the writer and the strict reader. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/rfc3339.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], out[RFC3339_BUF];
	int64_t t = 0, u = 0;
	int rc;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = rfc3339_parse(s, &t);
	/* What the strict reader accepts, the full one reads to the same second. */
	if (rfc3339_parse_utc(s, &u) == 0 && (rc != 0 || u != t))
		abort();
	if (rc != 0)
		return 0;
	/* An offset may move an accepted time just outside 1970-9999; within it, the writer
	 * writes what the strict reader reads back. */
	if (t >= 0 && t <= 253402300799) {
		rfc3339_format(t, out);
		if (rfc3339_parse_utc(out, &u) != 0 || u != t)
			abort();
	}
	return 0;
}
