/* What http-01 reads of a peer's response (va/http01_parse.c): the redirect target (the first
 * byte picks the URL cap, the rest is the Location as libcurl hands it over) and the body. An
 * accepted redirect is http or https with a host that fits; a body matches only its key
 * authorization; the text shown of a body is printable and never holds a '"'. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "va/http01_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char keyauth[] = "tok.thumb";
	char to[4096 + 1], shown[80];
	struct va_redirect rd;
	size_t url_max;

	if (size < 1 || size > sizeof(to))
		return 0;
	url_max = data[0] & 1 ? 2048 : 64;
	memcpy(to, data + 1, size - 1);
	to[size - 1] = '\0';
	if (strlen(to) == size - 1) {
		enum va_redirect_err rc = va_redirect_parse(to, url_max, &rd);
		if (rc == VA_REDIRECT_OK && (strlen(to) >= url_max || rd.host[0] == '\0' ||
		    strlen(rd.host) > VA_REDIRECT_HOST_MAX || rd.port < 1 || rd.port > 65536))
			abort();
	}
	if (va_keyauth_matches(data, size, keyauth)) {
		size_t s = 0, e = size;
		while (s < e && (data[s] == ' ' || (data[s] >= '\t' && data[s] <= '\r')))
			s++;
		while (e > s && (data[e - 1] == ' ' || (data[e - 1] >= '\t' && data[e - 1] <= '\r')))
			e--;
		if (e - s != strlen(keyauth) || memcmp(data + s, keyauth, e - s) != 0)
			abort();
	}
	va_body_shown(data, size, shown, sizeof(shown));
	for (const char *p = shown; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"')
			abort();
	if (strlen(shown) > 64)
		abort();
	return 0;
}
