/* va/: the address policy (special-purpose ranges, allow lists, the per-profile fallback) and
 * the validation configuration's checks, without any network. */
#include "config.h"
#include <string.h>
#include <json-c/json.h>
#include "va/internal.h"
#include "t/tap.h"

static int
allows(const struct va_policy *p, const char *s)
{
	struct va_addr a;

	if (va_addr_parse(s, &a) != 0)
		return -1;
	return va_policy_allows(p, &a);
}

static anvil_err
parse(const char *val, const char *pol, struct va_conf *c, struct conf_ctx *cc,
    json_object **hold)
{
	json_object *v = val ? json_tokener_parse(val) : NULL;
	json_object *p = pol ? json_tokener_parse(pol) : NULL;

	memset(cc, 0, sizeof(*cc));
	hold[0] = v;
	hold[1] = p;
	return va_conf_parse(cc, v, p, c);
}

int
main(void)
{
	static const char *const denied[] = { "127.0.0.1", "10.0.0.1", "172.31.255.255",
		"192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
		"255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd12::1",
		"::ffff:127.0.0.1", "2001:db8::1", "ff02::1", "64:ff9b::a00:1", "::7f00:1",
		"::a00:1", "fec0::1", "feff::1", "3fff::1", "3fff:fff:ffff::1" };
	static const char *const public[] = { "8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1",
		"2a00:1450::1", "2606:4700::1111", "3fff:1000::1" };
	struct va_conf c;
	struct conf_ctx cc;
	json_object *hold[2] = { NULL, NULL };
	const struct va_policy *p;

	/* the built-in default: public addresses only */
	memset(&c, 0, sizeof(c));
	p = va_policy_for(&c, "anything");
	ok(p->deny_private && p->caa, "built-in default denies private, checks CAA");
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		ok(allows(p, denied[i]) == 0, "default denies %s", denied[i]);
	for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++)
		ok(allows(p, public[i]) == 1, "default allows %s", public[i]);

	/* configured policies */
	ok(parse("{\"resolvers\": [\"127.0.0.1:8053\", \"[::1]:53\"], \"http01_port\": 5002}",
	    "{\"default\": {\"deny_private\": false}, \"internal\": {\"allow_networks\": "
	    "[\"10.0.0.0/8\", \"fd00::/8\", \"192.168.1.128/25\"], \"caa\": false}}",
	    &c, &cc, hold) == AE_OK, "valid configuration: %s", cc.err);
	is_str(c.resolvers, "127.0.0.1:8053,[::1]:53", "resolvers as c-ares csv");
	ok(c.http01_port == 5002 && c.tls_alpn01_port == 443 && c.max_redirects == 10,
	    "ports and defaults");
	p = va_policy_for(&c, "internal");
	ok(strcmp(p->name, "internal") == 0 && !p->caa, "profile's own policy, caa off");
	ok(allows(p, "10.1.2.3") == 1 && allows(p, "fd00::5") == 1, "allow_networks allowed");
	ok(allows(p, "192.168.1.200") == 1 && allows(p, "192.168.1.127") == 0,
	    "prefix /25 boundary");
	ok(allows(p, "127.0.0.1") == 0 && allows(p, "8.8.8.8") == 0,
	    "outside allow_networks denied, public or not");
	p = va_policy_for(&c, "other");
	ok(strcmp(p->name, "default") == 0 && allows(p, "127.0.0.1") == 1,
	    "unknown profile uses \"default\"");
	json_object_put(hold[0]);
	json_object_put(hold[1]);

	/* errors name the key */
	ok(parse("{\"resolvers\": [\"localhost:53\"]}", NULL, &c, &cc, hold) == AE_CONFIG &&
	    strstr(cc.err, "jobs.validation.resolvers") != NULL, "bad resolver: %s", cc.err);
	json_object_put(hold[0]);
	ok(parse("{\"http01_port\": 0}", NULL, &c, &cc, hold) == AE_CONFIG &&
	    strstr(cc.err, "http01_port") != NULL, "port out of range: %s", cc.err);
	json_object_put(hold[0]);
	ok(parse("{\"colour\": 1}", NULL, &c, &cc, hold) == AE_CONFIG &&
	    strstr(cc.err, "colour") != NULL, "unknown key: %s", cc.err);
	json_object_put(hold[0]);
	ok(parse(NULL, "{\"x\": {\"allow_networks\": [\"10.0.0.0/33\"]}}", &c, &cc, hold) ==
	    AE_CONFIG && strstr(cc.err, "jobs.policies.x") != NULL, "bad prefix: %s", cc.err);
	json_object_put(hold[1]);
	ok(parse(NULL, "{\"x\": {\"deny\": true}}", &c, &cc, hold) == AE_CONFIG &&
	    strstr(cc.err, "deny") != NULL, "unknown policy key: %s", cc.err);
	json_object_put(hold[1]);
	return done_testing();
}
