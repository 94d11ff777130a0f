/* The ARI certificate identifier (RFC 9773 §4.1): base64url(the AKI keyIdentifier) "."
 * base64url(the serial's DER INTEGER content bytes), from a URL path or newOrder's "replaces".
 * A parser of client bytes with no other dependency, so that it can be fuzzed alone
 * (fuzz/fuzz-ari-certid.c). */
#ifndef ANVIL_FCGI_CERTID_H
#define ANVIL_FCGI_CERTID_H
#include <stddef.h>
#include <stdint.h>
#include "db/issue.h"
#include "lib/err.h"

#define CERTID_MAX 255            /* orders.replaces */
#define CERTID_AKI_MAX 64

/* aki[0..*aki_len) and the serial's magnitude as lowercase hex (certificates.serial), from a
 * NUL-terminated certid. AE_PARSE when it is not one: empty or longer than CERTID_MAX, not two
 * base64url parts, an empty part, a negative or non-minimal serial, a serial longer than ours. */
anvil_err ari_certid_parse(const char *certid, uint8_t aki[CERTID_AKI_MAX], size_t *aki_len,
    char hex[DB_SERIAL_HEX_MAX + 1]);

#endif
