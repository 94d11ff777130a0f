/* What http-01 reads from a peer's HTTP response besides what libcurl parses: a redirect's
 * target (the Location, as libcurl resolved it against the request URL) and the body compared
 * with the key authorization. Parsers of peer bytes with no other dependency, so that they can
 * be fuzzed alone (fuzz/fuzz-http01.c). */
#ifndef ANVIL_VA_HTTP01_PARSE_H
#define ANVIL_VA_HTTP01_PARSE_H
#include <stddef.h>
#include <stdint.h>

#define VA_REDIRECT_HOST_MAX 255

enum va_redirect_err {
	VA_REDIRECT_OK,
	VA_REDIRECT_BAD_URL,      /* not a URL, or longer than url_max */
	VA_REDIRECT_BAD_SCHEME,   /* not http or https */
	VA_REDIRECT_BAD_HOST,     /* empty, or longer than VA_REDIRECT_HOST_MAX */
};

struct va_redirect {
	int https;
	long port;                /* 1..65535, or 65536 for anything else (never allowed) */
	char host[VA_REDIRECT_HOST_MAX + 1];
};

/* Parses a redirect target of at most url_max - 1 bytes. On VA_REDIRECT_BAD_HOST, https and port
 * are set (the port is checked first, as its message is the more useful one). */
enum va_redirect_err va_redirect_parse(const char *to, size_t url_max, struct va_redirect *out);
/* 1 when body[0..len), without surrounding whitespace, is exactly keyauth. */
int va_keyauth_matches(const uint8_t *body, size_t len, const char *keyauth);
/* At most 64 bytes of the body as text safe inside a quoted detail message ('?' for the rest). */
void va_body_shown(const uint8_t *body, size_t len, char *out, size_t outsz);

#endif
