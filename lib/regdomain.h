/* The registered domain of a DNS name (the public suffix plus one label), from the public suffix
 * list through libpsl: rate limits count a.example.co.uk and b.example.co.uk together, but not
 * example.co.uk and other.co.uk. */
#ifndef ANVIL_REGDOMAIN_H
#define ANVIL_REGDOMAIN_H
#include "lib/err.h"

/* Loads the list once per process (the distribution's file, Debian package publicsuffix, or
 * libpsl's built-in copy if that is newer). AE_NOTFOUND when neither holds any rule; the path
 * looked at is in *where (static). Idempotent. */
anvil_err regdomain_load(const char **where);
/* The registered domain of a lower-case A-label name: a pointer into name. A name that is itself
 * a public suffix (or unknown to a list that could not be loaded) is its own. */
const char *regdomain_of(const char *name);

#endif
