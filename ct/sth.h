/* A log's Signed Tree Head (RFC 6962 section 4.3, get-sth): parsed as hostile input and
 * verified with the configured key. `anvilctl ct-logs` uses it to prove, before issuance
 * depends on it, that each configured URL answers and is the log its key says. */
#ifndef ANVIL_CT_STH_H
#define ANVIL_CT_STH_H
#include <stddef.h>
#include <stdint.h>
#include "ct/sct.h"
#include "lib/err.h"

struct ct_sth {
	uint64_t tree_size;
	uint64_t timestamp;          /* ms since the epoch */
	uint8_t root_hash[32];
	uint8_t hash_alg, sig_alg;
	uint8_t sig[CT_SCT_SIG_MAX];
	size_t sig_len;
};

/* Parses a get-sth answer (at most CT_RESPONSE_MAX bytes). why names the field at fault. */
anvil_err ct_sth_parse(const char *body, size_t len, struct ct_sth *out, char *why,
    size_t whylen);
/* Checks the tree head signature (section 3.5) with key, and that the timestamp is not after
 * now_ms + CT_SKEW_MS. AE_CRYPTO for a bad signature, AE_PARSE for the rest. */
anvil_err ct_sth_verify(const struct ct_sth *sth, const struct ct_log_key *key, uint64_t now_ms,
    char *why, size_t whylen);

#endif
