/* The registered domain from the public suffix list (lib/regdomain.c) and the network a client
 * address counts by (lib/netaddr.c): what the rate limits group together. */
#include "config.h"
#include <string.h>
#include "lib/netaddr.h"
#include "lib/regdomain.h"
#include "t/tap.h"

static void
net(const char *addr, int prefix, const char *want)
{
	char out[NETADDR_PREFIX_MAX];
	int rc = netaddr_prefix(addr, prefix, out, sizeof(out));

	if (want == NULL)
		ok(rc == -1, "%s /%d: not an address", addr ? addr : "(null)", prefix);
	else
		ok(rc == 0 && strcmp(out, want) == 0, "%s /%d -> %s (got %s)", addr, prefix, want,
		    rc == 0 ? out : "error");
}

int
main(void)
{
	const char *where = NULL;

	ok(regdomain_load(&where) == AE_OK, "the public suffix list loads (%s)", where);
	is_str(regdomain_of("a.example.co.uk"), "example.co.uk", "a.example.co.uk");
	is_str(regdomain_of("b.example.co.uk"), "example.co.uk", "b.example.co.uk: the same");
	is_str(regdomain_of("example.co.uk"), "example.co.uk", "example.co.uk is its own");
	is_str(regdomain_of("other.co.uk"), "other.co.uk", "other.co.uk is another");
	is_str(regdomain_of("www.example.com"), "example.com", "www.example.com");
	is_str(regdomain_of("x.y.example.org"), "example.org", "two labels below");
	is_str(regdomain_of("co.uk"), "co.uk", "a public suffix itself stays as it is");
	is_str(regdomain_of("a.b.city.kawasaki.jp"), "city.kawasaki.jp",
	    "an exception rule (!city.kawasaki.jp)");
	is_str(regdomain_of("x.foo.kawasaki.jp"), "x.foo.kawasaki.jp", "a wildcard rule");
	is_str(regdomain_of("www.example.xn--fiqs8s"), "example.xn--fiqs8s",
	    "an IDN suffix as the A-label our identifiers hold");
	is_str(regdomain_of("a.b.xn--55qx5d.cn"), "b.xn--55qx5d.cn",
	    "a two-label IDN suffix (公司.cn)");
	is_str(regdomain_of("host.internal-name"), "host.internal-name",
	    "an unknown TLD: the implicit * rule");

	net("192.0.2.7", 64, "192.0.2.7/32");
	net("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64");
	net("2001:db8:1:2::1", 64, "2001:db8:1:2::/64");
	net("2001:db8:1:2ff:1::1", 56, "2001:db8:1:200::/56");
	net("2001:db8:1:2ff:1::1", 60, "2001:db8:1:2f0::/60");
	net("2001:db8::1", 128, "2001:db8::1/128");
	net("::ffff:192.0.2.7", 64, "192.0.2.7/32");
	net("unix:", 64, NULL);
	net("192.0.2.7 ", 64, NULL);
	net(NULL, 64, NULL);
	net("2001:db8::1", 0, NULL);
	{
		char small[8];
		ok(netaddr_prefix("2001:db8::1", 64, small, sizeof(small)) == -1,
		    "too small a buffer is an error, not a cut");
	}
	return done_testing();
}
