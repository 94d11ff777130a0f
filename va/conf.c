/* jobs.validation and jobs.policies (doc/config.md). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "lib/num.h"
#include "va/internal.h"

static anvil_err
parse_resolvers(struct conf_ctx *cc, json_object *arr, struct va_conf *c)
{
	size_t n = json_object_array_length(arr), off = 0;

	if (n > VA_RESOLVERS_MAX)
		return conf_fail(cc, "jobs.validation", "resolvers", "at most %d entries",
		    VA_RESOLVERS_MAX);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		const char *s = json_object_get_string(v), *colon;
		char host[64];
		struct va_addr a;
		int64_t port;
		int w;

		if (!json_object_is_type(v, json_type_string) || s == NULL ||
		    (colon = strrchr(s, ':')) == NULL || (size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (host[0] == '[' && strlen(host) > 2 && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host) - 2);
			host[strlen(host) - 2] = '\0';
		}
		if (va_addr_parse(host, &a) != 0 ||
		    num_parse_i64(colon + 1, 1, 65535, &port) != AE_OK)
			goto bad;
		w = snprintf(c->resolvers + off, sizeof(c->resolvers) - off,
		    a.family == AF_INET6 ? "%s[%s]:%lld" : "%s%s:%lld", i ? "," : "", host,
		    (long long)port);
		if (w < 0 || (size_t)w >= sizeof(c->resolvers) - off)
			goto bad;
		off += (size_t)w;
	}
	return AE_OK;
bad:
	return conf_fail(cc, "jobs.validation", "resolvers",
	    "must be a list of \"ip:port\" strings (IPv6 as \"[ip]:port\")");
}

static anvil_err
parse_net(struct conf_ctx *cc, const char *where, const char *s, struct va_net *n)
{
	char host[64];
	const char *slash = strchr(s, '/');
	struct va_addr a;
	int64_t prefix;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(host))
		goto bad;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	if (va_addr_parse(host, &a) != 0 ||
	    num_parse_i64(slash + 1, 0, a.family == AF_INET ? 32 : 128, &prefix) != AE_OK)
		goto bad;
	n->family = a.family;
	memcpy(n->addr, a.b, sizeof(n->addr));
	n->prefix = (unsigned)prefix;
	return AE_OK;
bad:
	return conf_fail(cc, where, "allow_networks", "\"%s\" is not an address/prefix", s);
}

static anvil_err
parse_policy(struct conf_ctx *cc, const char *name, json_object *o, struct va_policy *p)
{
	static const char *const keys[] = { "deny_private", "allow_networks", "caa", NULL };
	char where[128];
	json_object *nets = NULL;
	anvil_err e;

	snprintf(where, sizeof(where), "jobs.policies.%s", name);
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->deny_private = 1;
	p->caa = 1;
	if ((e = conf_check_keys(cc, o, where, keys)) != AE_OK ||
	    (e = conf_get_bool(cc, o, where, "deny_private", 0, &p->deny_private)) != AE_OK ||
	    (e = conf_get_bool(cc, o, where, "caa", 0, &p->caa)) != AE_OK ||
	    (e = conf_get_array(cc, o, where, "allow_networks", 0, &nets)) != AE_OK)
		return e;
	if (nets == NULL)
		return AE_OK;
	if (json_object_array_length(nets) > VA_NETS_MAX)
		return conf_fail(cc, where, "allow_networks", "at most %d entries", VA_NETS_MAX);
	for (size_t i = 0; i < json_object_array_length(nets); i++) {
		json_object *v = json_object_array_get_idx(nets, i);

		if (!json_object_is_type(v, json_type_string))
			return conf_fail(cc, where, "allow_networks", "must be a list of strings");
		if ((e = parse_net(cc, where, json_object_get_string(v), &p->nets[i])) != AE_OK)
			return e;
		p->nnets++;
	}
	return AE_OK;
}

anvil_err
va_conf_parse(struct conf_ctx *cc, json_object *val, json_object *pol, struct va_conf *c)
{
	static const char *const keys[] = { "resolvers", "http01_port", "https_port",
		"tls_alpn01_port", "dns_timeout_ms", "dns_tries", "connect_timeout_ms",
		"timeout_ms", "body_max", "max_redirects", "user_agent", "caa_identities",
		"account_uri_prefix", NULL };
	static const char *const w = "jobs.validation";
	json_object *arr = NULL;
	anvil_err e;

	memset(c, 0, sizeof(*c));
	c->http01_port = 80;
	c->https_port = 443;
	c->tls_alpn01_port = 443;
	c->dns_timeout_ms = 3000;
	c->dns_tries = 2;
	c->connect_timeout_ms = 5000;
	c->timeout_ms = 20000;
	c->body_max = 8192;
	c->max_redirects = 10;
	c->user_agent = "anvil-va";
	if (val != NULL) {
		if ((e = conf_check_keys(cc, val, w, keys)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "http01_port", 0, 1, 65535,
		    &c->http01_port)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "https_port", 0, 1, 65535,
		    &c->https_port)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "tls_alpn01_port", 0, 1, 65535,
		    &c->tls_alpn01_port)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "dns_timeout_ms", 0, 100, 60000,
		    &c->dns_timeout_ms)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "dns_tries", 0, 1, 10, &c->dns_tries)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "connect_timeout_ms", 0, 100, 60000,
		    &c->connect_timeout_ms)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "timeout_ms", 0, 500, 300000,
		    &c->timeout_ms)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "body_max", 0, 128, 1048576,
		    &c->body_max)) != AE_OK ||
		    (e = conf_get_int(cc, val, w, "max_redirects", 0, 0, 20,
		    &c->max_redirects)) != AE_OK ||
		    (e = conf_get_string(cc, val, w, "user_agent", 0, &c->user_agent)) != AE_OK ||
		    (e = conf_get_string(cc, val, w, "account_uri_prefix", 0,
		    &c->account_uri_prefix)) != AE_OK ||
		    (e = conf_get_array(cc, val, w, "resolvers", 0, &arr)) != AE_OK)
			return e;
		if (arr != NULL && (e = parse_resolvers(cc, arr, c)) != AE_OK)
			return e;
		arr = NULL;
		if ((e = conf_get_array(cc, val, w, "caa_identities", 0, &arr)) != AE_OK)
			return e;
		if (arr != NULL) {
			if (json_object_array_length(arr) > VA_CAA_IDS_MAX)
				return conf_fail(cc, w, "caa_identities", "at most %d entries",
				    VA_CAA_IDS_MAX);
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				json_object *v = json_object_array_get_idx(arr, i);
				if (!json_object_is_type(v, json_type_string) ||
				    json_object_get_string_len(v) == 0)
					return conf_fail(cc, w, "caa_identities",
					    "must be a list of domain names");
				c->caa_ids[c->ncaa_ids++] = json_object_get_string(v);
			}
		}
	}
	if (pol != NULL) {
		if (!json_object_is_type(pol, json_type_object))
			return conf_fail(cc, "jobs", "policies", "must be an object");
		json_object_object_foreach(pol, name, o) {
			if (c->npolicies >= VA_POLICIES_MAX)
				return conf_fail(cc, "jobs", "policies", "at most %d profiles",
				    VA_POLICIES_MAX);
			if (!json_object_is_type(o, json_type_object))
				return conf_fail(cc, "jobs.policies", name, "must be an object");
			if ((e = parse_policy(cc, name, o, &c->policies[c->npolicies])) != AE_OK)
				return e;
			c->npolicies++;
		}
	}
	return AE_OK;
}
