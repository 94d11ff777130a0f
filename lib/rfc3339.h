/* RFC 3339 date-times, the one writer and reader every layer uses (ACME objects, renewal
 * information, CT log windows in the config, anvilctl's output, log lines). */
#ifndef ANVIL_RFC3339_H
#define ANVIL_RFC3339_H
#include <stdint.h>

#define RFC3339_BUF 32   /* room for what rfc3339_format writes, with its NUL */

/* t (seconds since 1970) in UTC, "2026-01-02T03:04:05Z". A time outside the years 0 to 9999
 * is written as the epoch, so a caller always gets a well-formed date-time. */
void rfc3339_format(int64_t t, char out[RFC3339_BUF]);
/* A date-time as RFC 3339 §5.6 spells it: 'T' and 'Z' in either case, a fraction (ignored), an
 * offset (honoured), a leap second (read as :59); years 1970 to 9999. 0, or -1 when malformed
 * or a day that does not exist (31 February). */
int rfc3339_parse(const char *s, int64_t *out);
/* Only the spelling rfc3339_format writes: 20 characters, upper-case 'T' and 'Z', no fraction
 * or offset, seconds up to 59 (configuration values, where one spelling is simpler to
 * review). */
int rfc3339_parse_utc(const char *s, int64_t *out);

#endif
