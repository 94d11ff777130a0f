/* RFC 3339 date-times (lib/rfc3339.h): the writer, the reader of ACME's notBefore/notAfter
 * (offsets, fractions, case, leap seconds, days that do not exist) and the strict reader of
 * configuration values, as data. */
#include "config.h"
#include <stdint.h>
#include <string.h>
#include "lib/rfc3339.h"
#include "t/tap.h"

static const struct {
	const char *s;
	int64_t t;    /* -1: refused */
	int utc;      /* rfc3339_parse_utc accepts it too */
} cases[] = {
	{ "1970-01-01T00:00:00Z", 0, 1 },
	{ "2026-01-01T00:00:00Z", 1767225600, 1 },
	{ "2024-02-29T12:00:00Z", 1709208000, 1 },
	{ "9999-12-31T23:59:59Z", 253402300799, 1 },
	{ "2026-01-01t00:00:00z", 1767225600, 0 },
	{ "2026-01-01T00:00:00.123456Z", 1767225600, 0 },
	{ "2026-01-01T01:00:00+01:00", 1767225600, 0 },
	{ "2025-12-31T22:30:00-01:30", 1767225600, 0 },
	{ "2026-06-30T23:59:60Z", 1782863999, 0 },
	{ "2025-02-29T00:00:00Z", -1, 0 },
	{ "2026-04-31T00:00:00Z", -1, 0 },
	{ "2026-13-01T00:00:00Z", -1, 0 },
	{ "2026-00-01T00:00:00Z", -1, 0 },
	{ "2026-01-00T00:00:00Z", -1, 0 },
	{ "2026-01-01T24:00:00Z", -1, 0 },
	{ "2026-01-01T00:60:00Z", -1, 0 },
	{ "2026-01-01T00:00:61Z", -1, 0 },
	{ "1969-12-31T23:59:59Z", -1, 0 },
	{ "2026-01-01 00:00:00Z", -1, 0 },
	{ "2026-01-01T00:00:00", -1, 0 },
	{ "2026-01-01T00:00:00.Z", -1, 0 },
	{ "2026-01-01T00:00:00+0100", -1, 0 },
	{ "2026-01-01T00:00:00+24:00", -1, 0 },
	{ "2026-01-01T00:00:00Zjunk", -1, 0 },
	{ "2026-1-01T00:00:00Z", -1, 0 },
	{ "+026-01-01T00:00:00Z", -1, 0 },
	{ "", -1, 0 },
	{ "2026-01-01T00:00:00.0000000000000000000000000000000000000000000000Z", -1, 0 },
};

int
main(void)
{
	char out[RFC3339_BUF];
	int64_t t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = rfc3339_parse(cases[i].s, &t);
		if (cases[i].t < 0)
			ok(rc == -1, "refused: \"%s\"", cases[i].s);
		else
			ok(rc == 0 && t == cases[i].t, "\"%s\" is %lld", cases[i].s,
			    (long long)cases[i].t);
		t = -7;
		rc = rfc3339_parse_utc(cases[i].s, &t);
		if (cases[i].utc)
			ok(rc == 0 && t == cases[i].t, "configuration spelling: \"%s\"", cases[i].s);
		else
			ok(rc == -1 && t == -7, "configuration spelling refuses \"%s\"", cases[i].s);
	}
	rfc3339_format(0, out);
	is_str(out, "1970-01-01T00:00:00Z", "the epoch");
	rfc3339_format(1767225600, out);
	is_str(out, "2026-01-01T00:00:00Z", "written in UTC with Z");
	for (int64_t v = 0; v < 253402300800; v += 987654321) {
		rfc3339_format(v, out);
		if (rfc3339_parse_utc(out, &t) != 0 || t != v) {
			ok(0, "round trip of %lld (%s)", (long long)v, out);
			return done_testing();
		}
	}
	ok(1, "what rfc3339_format writes reads back to the same second, 1970 to 9999");
	rfc3339_format(INT64_MAX, out);
	is_str(out, "1970-01-01T00:00:00Z", "a time gmtime_r cannot write is the epoch");
	rfc3339_format(253402300800, out);
	is_str(out, "1970-01-01T00:00:00Z", "a year past 9999 too (the reader refuses it)");
	return done_testing();
}
