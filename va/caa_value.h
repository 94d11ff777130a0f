/* One CAA issue/issuewild property value (RFC 8659 §4.2, RFC 8657 parameters) against this CA:
 * a parser of DNS answer bytes with no other dependency, so that it can be fuzzed alone
 * (fuzz/fuzz-caa-value.c). */
#ifndef ANVIL_VA_CAA_VALUE_H
#define ANVIL_VA_CAA_VALUE_H
#include <stddef.h>

#define CAA_VALUE_MAX 1023

/* 1 when the value v[0..len) names one of ids[0..nids) (case-insensitively) and its parameters
 * allow this request: accounturi equal to account_uri (NULL: the CA publishes none, so a value
 * that names one never permits), validationmethods listing method (e.g. "http-01"). 0 otherwise,
 * a malformed value included (unsatisfiable, RFC 8659 §4.2); unknown parameters are ignored. */
int caa_value_permits(const unsigned char *v, size_t len, const char *const *ids, size_t nids,
    const char *account_uri, const char *method);

#endif
