#include "config.h"
#include <string.h>
#include "lib/num.h"

anvil_err
num_parse_i64_n(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0;
	const uint64_t lim = (uint64_t)INT64_MAX + 1;

	if (s == NULL || len == 0)
		return AE_PARSE;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return AE_PARSE;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return AE_PARSE;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10)
			return AE_RANGE;
		v = v * 10 + d;
	}
	if (!neg && v > (uint64_t)INT64_MAX)
		return AE_RANGE;
	int64_t r = neg ? (v == lim ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	if (r < min || r > max)
		return AE_RANGE;
	*out = r;
	return AE_OK;
}

anvil_err
num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	if (s == NULL)
		return AE_PARSE;
	return num_parse_i64_n(s, strlen(s), min, max, out);
}
