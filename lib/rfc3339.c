#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "lib/rfc3339.h"

void
rfc3339_format(int64_t t, char out[RFC3339_BUF])
{
	struct tm tm;
	time_t tt = (time_t)t;

	/* RFC 3339 has four-digit years only. */
	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900 ||
	    strftime(out, RFC3339_BUF, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, RFC3339_BUF, "1970-01-01T00:00:00Z");
}

/* n digits at s as a number in [min, max]. */
static int
digits(const char *s, size_t n, int min, int max, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
rfc3339_parse(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	size_t len = strnlen(s, 65);
	const char *p;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (len < 20 || len > 64 ||
	    digits(s, 4, 1970, 9999, &y) || s[4] != '-' || digits(s + 5, 2, 1, 12, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, 1, 31, &d) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, 0, 23, &h) || s[13] != ':' || digits(s + 14, 2, 0, 59, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, 0, 60, &sec))
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		/* UTC */
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
	    digits(p + 1, 2, 0, 23, &oh) == 0 && digits(p + 4, 2, 0, 59, &om) == 0) {
		if (*p == '-') {
			oh = -oh;
			om = -om;
		}
	} else {
		return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;
	/* timegm normalises 31 February into March: a day that moved did not exist. */
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_mday != d)
		return -1;
	*out = (int64_t)t - (int64_t)oh * 3600 - (int64_t)om * 60;
	return 0;
}

int
rfc3339_parse_utc(const char *s, int64_t *out)
{
	if (strnlen(s, 21) != 20 || s[10] != 'T' || strncmp(s + 17, "60", 2) == 0 || s[19] != 'Z')
		return -1;
	return rfc3339_parse(s, out);
}
