#include "config.h"
#include <string.h>
#include "ca/profile.h"
#include "fcgi/conf.h"
#include "lib/regdomain.h"

static anvil_err
parse_limit(struct conf_ctx *cc, json_object *rl, const char *name, int windowed,
    struct fcgi_rate_limit *out)
{
	static const char *const keys_w[] = { "limit", "window", NULL };
	static const char *const keys_ip[] = { "limit", "window", "ipv6_prefix", NULL };
	static const char *const keys[] = { "limit", NULL };
	int per_ip = strcmp(name, "new_accounts_per_ip") == 0;
	json_object *o = NULL;
	anvil_err e;

	out->limit = 0;
	out->window = 3600;
	/* A /64 is one subscriber's LAN (RFC 6177; SLAAC): any host picks new addresses in
	 * it at will, so counting /128s limits nothing, while a /56 or /48 would lump together the
	 * customers of a provider that gives each of them a /64 (mobile networks do). */
	out->ipv6_prefix = 64;
	if ((e = conf_get_object(cc, rl, "acme.rate_limits", name, 0, &o)) != AE_OK || o == NULL)
		return e;
	{
		char where[64];
		snprintf(where, sizeof(where), "acme.rate_limits.%s", name);
		if ((e = conf_check_keys(cc, o, where, per_ip ? keys_ip :
		    windowed ? keys_w : keys)) != AE_OK ||
		    (e = conf_get_int(cc, o, where, "limit", 1, 0, 100000000, &out->limit)) != AE_OK)
			return e;
		if (windowed && (e = conf_get_int(cc, o, where, "window", 1, 1, 366 * 86400,
		    &out->window)) != AE_OK)
			return e;
		if (per_ip && (e = conf_get_int(cc, o, where, "ipv6_prefix", 0, 32, 128,
		    &out->ipv6_prefix)) != AE_OK)
			return e;
	}
	return AE_OK;
}

anvil_err
fcgi_conf_orders_parse(struct conf_ctx *cc, json_object *root, json_object *acme,
    struct signer_conf *policy, struct fcgi_order_conf *o)
{
	static const char *const rl_keys[] = { "new_orders", "pending_authorizations",
		"failed_validations", "certificates_per_domain", "new_accounts_per_ip", NULL };
	json_object *rl = NULL, *jobs = NULL, *ws = NULL;
	anvil_err e;

	o->order_lifetime = 7 * 86400;
	o->authz_lifetime = 7 * 86400;
	o->authz_reuse = 30 * 86400;
	o->validation_wait_ms = 1000;
	o->validation_recheck_ms = 50;
	o->orders_page_size = 100;
	o->poll_after = 2;
	if ((e = conf_get_int(cc, acme, "acme", "order_lifetime", 0, 60, 366 * 86400,
	    &o->order_lifetime)) != AE_OK ||
	    (e = conf_get_int(cc, acme, "acme", "authz_lifetime", 0, 60, 366 * 86400,
	    &o->authz_lifetime)) != AE_OK ||
	    (e = conf_get_int(cc, acme, "acme", "authz_reuse", 0, 0, 398 * 86400,
	    &o->authz_reuse)) != AE_OK ||
	    (e = conf_get_int(cc, acme, "acme", "validation_wait_ms", 0, 0, 30000,
	    &o->validation_wait_ms)) != AE_OK ||
	    (e = conf_get_int(cc, acme, "acme", "validation_recheck_ms", 0, 1, 30000,
	    &o->validation_recheck_ms)) != AE_OK ||
	    (e = conf_get_int(cc, acme, "acme", "orders_page_size", 0, 1, 1000,
	    &o->orders_page_size)) != AE_OK ||
	    (e = conf_get_int(cc, acme, "acme", "poll_after", 0, 1, 3600,
	    &o->poll_after)) != AE_OK ||
	    (e = conf_get_string(cc, acme, "acme", "default_profile", 0,
	    &o->default_profile)) != AE_OK ||
	    (e = conf_get_object(cc, acme, "acme", "profile_descriptions", 0,
	    &o->profile_descriptions)) != AE_OK ||
	    (e = conf_get_object(cc, acme, "acme", "rate_limits", 0, &rl)) != AE_OK)
		return e;
	if (rl != NULL &&
	    ((e = conf_check_keys(cc, rl, "acme.rate_limits", rl_keys)) != AE_OK ||
	    (e = parse_limit(cc, rl, "new_orders", 1, &o->rl_new_orders)) != AE_OK ||
	    (e = parse_limit(cc, rl, "pending_authorizations", 0, &o->rl_pending_authz)) != AE_OK ||
	    (e = parse_limit(cc, rl, "failed_validations", 1, &o->rl_failed_validations)) != AE_OK ||
	    (e = parse_limit(cc, rl, "certificates_per_domain", 1,
	    &o->rl_certs_per_domain)) != AE_OK ||
	    (e = parse_limit(cc, rl, "new_accounts_per_ip", 1,
	    &o->rl_new_accounts_per_ip)) != AE_OK))
		return e;
	if (o->rl_certs_per_domain.limit > 0) {
		const char *where = NULL;
		if (regdomain_load(&where) != AE_OK)
			return conf_fail(cc, "acme.rate_limits", "certificates_per_domain",
			    "needs the public suffix list, found none at %s (Debian package "
			    "publicsuffix)", where);
	}
	/* The jobs section is anvil-jobs' to validate; the worker only needs where to wake it. */
	if (json_object_object_get_ex(root, "jobs", &jobs) && jobs != NULL &&
	    json_object_is_type(jobs, json_type_object) &&
	    json_object_object_get_ex(jobs, "wake_socket", &ws) && ws != NULL &&
	    json_object_is_type(ws, json_type_string))
		o->wake_socket = json_object_get_string(ws);
	o->profiles = policy;
	if (o->profiles == NULL || o->profiles->nprofiles == 0) {
		if (o->default_profile != NULL)
			return conf_fail(cc, "acme", "default_profile", "no profiles are configured");
		return AE_OK;
	}
	if (o->default_profile == NULL) {
		struct profile *p = conf_profile(o->profiles, "default");
		o->default_profile = p ? p->name : o->profiles->profiles[0].name;
	} else if (conf_profile(o->profiles, o->default_profile) == NULL) {
		return conf_fail(cc, "acme", "default_profile", "no profile named '%s'",
		    o->default_profile);
	}
	if (o->profile_descriptions != NULL) {
		json_object_object_foreach(o->profile_descriptions, name, val) {
			if (conf_profile(o->profiles, name) == NULL)
				return conf_fail(cc, "acme.profile_descriptions", name,
				    "no profile of this name");
			if (!json_object_is_type(val, json_type_string))
				return conf_fail(cc, "acme.profile_descriptions", name,
				    "must be a string");
		}
	}
	return AE_OK;
}
