/* The address policy for validation targets: what a profile's validations may connect to.
 * Public profiles never reach private, loopback or otherwise special-purpose addresses (the
 * IANA special-purpose registries), so a challenge cannot turn the CA into a probe of its own
 * network; an internal profile lists the networks it may reach instead. */
#include "config.h"
#include <string.h>
#include <sys/socket.h>
#include "va/internal.h"

static const struct { const char *net; unsigned prefix; } reserved[] = {
	{ "0.0.0.0", 8 }, { "10.0.0.0", 8 }, { "100.64.0.0", 10 }, { "127.0.0.0", 8 },
	{ "169.254.0.0", 16 }, { "172.16.0.0", 12 }, { "192.0.0.0", 24 }, { "192.0.2.0", 24 },
	{ "192.88.99.0", 24 }, { "192.168.0.0", 16 }, { "198.18.0.0", 15 },
	{ "198.51.100.0", 24 }, { "203.0.113.0", 24 }, { "224.0.0.0", 4 }, { "240.0.0.0", 4 },
	{ "::", 128 }, { "::1", 128 }, { "::ffff:0:0", 96 }, { "64:ff9b::", 96 },
	{ "64:ff9b:1::", 48 }, { "100::", 64 }, { "2001::", 23 }, { "2001:db8::", 32 },
	{ "2002::", 16 }, { "fc00::", 7 }, { "fe80::", 10 }, { "ff00::", 8 },
	/* IPv4-compatible (deprecated, RFC 4291 2.5.5.1: an IPv4 target in disguise), site-local
	 * (deprecated, RFC 3879, still routed inside some networks), documentation (RFC 9637). */
	{ "::", 96 }, { "fec0::", 10 }, { "3fff::", 20 },
};

static int
in_net(const struct va_net *n, const struct va_addr *a)
{
	unsigned full, rest;

	if (n->family != a->family)
		return 0;
	full = n->prefix / 8;
	rest = n->prefix % 8;
	if (memcmp(n->addr, a->b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((n->addr[full] ^ a->b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static int
is_reserved(const struct va_addr *a)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		struct va_net n;
		struct va_addr base;

		if (va_addr_parse(reserved[i].net, &base) != 0)
			continue;
		n.family = base.family;
		memcpy(n.addr, base.b, sizeof(n.addr));
		n.prefix = reserved[i].prefix;
		if (in_net(&n, a))
			return 1;
	}
	return 0;
}

int
va_policy_allows(const struct va_policy *p, const struct va_addr *a)
{
	if (p->nnets > 0) {
		for (size_t i = 0; i < p->nnets; i++)
			if (in_net(&p->nets[i], a))
				return 1;
		return 0;
	}
	return !(p->deny_private && is_reserved(a));
}

static const struct va_policy builtin = { .name = "default", .deny_private = 1, .caa = 1 };

const struct va_policy *
va_policy_for(const struct va_conf *c, const char *profile)
{
	const struct va_policy *def = &builtin;

	for (size_t i = 0; i < c->npolicies; i++) {
		if (strcmp(c->policies[i].name, profile) == 0)
			return &c->policies[i];
		if (strcmp(c->policies[i].name, "default") == 0)
			def = &c->policies[i];
	}
	return def;
}
