#include "config.h"
#include <ctype.h>
#include <string.h>
#include <curl/curl.h>
#include "va/http01_parse.h"

enum va_redirect_err
va_redirect_parse(const char *to, size_t url_max, struct va_redirect *out)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	enum va_redirect_err rc = VA_REDIRECT_BAD_URL;
	CURLU *u = NULL;
	long p = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(to) >= url_max || (u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, to, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	rc = VA_REDIRECT_BAD_SCHEME;
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		goto out;
	out->https = strcmp(scheme, "https") == 0;
	for (const char *q = port; *q; q++)
		p = *q >= '0' && *q <= '9' && p < 65536 ? p * 10 + (*q - '0') : 65536;
	out->port = p >= 1 && p <= 65535 ? p : 65536;
	rc = VA_REDIRECT_BAD_HOST;
	if (host[0] == '\0' || strlen(host) > VA_REDIRECT_HOST_MAX)
		goto out;
	memcpy(out->host, host, strlen(host) + 1);
	rc = VA_REDIRECT_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int
va_keyauth_matches(const uint8_t *body, size_t len, const char *keyauth)
{
	size_t s = 0, e = len;

	while (s < e && isspace(body[s]))
		s++;
	while (e > s && isspace(body[e - 1]))
		e--;
	return e - s == strlen(keyauth) && memcmp(body + s, keyauth, e - s) == 0;
}

void
va_body_shown(const uint8_t *body, size_t len, char *out, size_t outsz)
{
	size_t i = 0, o = 0;

	if (outsz == 0)
		return;
	for (; i < len && o + 5 < outsz && o < 64; i++)
		out[o++] = body[i] >= 0x20 && body[i] < 0x7f && body[i] != '"' ? (char)body[i] : '?';
	out[o] = '\0';
}
