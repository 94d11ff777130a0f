/* Bounded number parsing: the only way Anvil turns text into numbers (atoi is banned). */
#ifndef ANVIL_NUM_H
#define ANVIL_NUM_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

/* Whole string must be a base-10 integer within [min, max]. */
anvil_err num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Same over a counted string (not NUL-terminated). */
anvil_err num_parse_i64_n(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

#endif
