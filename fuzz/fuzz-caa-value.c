/* One CAA issue/issuewild value (va/caa_value.c) from a DNS answer: the first byte picks the
 * account URI and the method, the rest is the value. Beyond memory safety: a value that permits
 * must name one of our identities, and adding a parameter can only narrow what a value permits
 * (RFC 8657: a parameter never widens). */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "va/caa_value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ids[] = { "anvil.invalid", "ca.example" };
static const char *const methods[] = { "http-01", "dns-01", "tls-alpn-01", "" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *acct, *method;
	uint8_t narrowed[CAA_VALUE_MAX + 64];
	static const char extra[] = ";validationmethods=dns-01";
	int ok;

	if (size < 1)
		return 0;
	acct = data[0] & 1 ? "https://acme.example/acme/acct/7" : NULL;
	method = methods[(data[0] >> 1) & 3];
	data++;
	size--;
	ok = caa_value_permits(data, size, ids, 2, acct, method);
	if (ok) {
		/* The issuer is the text before any ';', trimmed: it must be one of ours. */
		size_t i = 0, e;
		while (i < size && (data[i] == ' ' || data[i] == '\t'))
			i++;
		for (e = i; e < size && data[e] != ';'; e++)
			;
		while (e > i && (data[e - 1] == ' ' || data[e - 1] == '\t'))
			e--;
		if (!((e - i == strlen(ids[0]) && strncasecmp((const char *)data + i, ids[0],
		    e - i) == 0) || (e - i == strlen(ids[1]) &&
		    strncasecmp((const char *)data + i, ids[1], e - i) == 0)))
			abort();
	}
	if (size + sizeof(extra) <= sizeof(narrowed) && memchr(data, ';', size) != NULL) {
		memcpy(narrowed, data, size);
		memcpy(narrowed + size, extra, sizeof(extra) - 1);
		if (caa_value_permits(narrowed, size + sizeof(extra) - 1, ids, 2, acct, method) &&
		    !ok)
			abort();
	}
	return 0;
}
