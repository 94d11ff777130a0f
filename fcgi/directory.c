#include "config.h"
#include <stdio.h>
#include <string.h>
#include "ca/profile.h"
#include "fcgi/api.h"
#include "fcgi/orders.h"

/* meta.profiles (draft-ietf-acme-profiles): name -> description. */
static void
directory_profiles(const struct fcgi_conf *c, json_object *meta)
{
	const struct fcgi_order_conf *o = &c->orders;
	json_object *profs, *d = NULL;
	char desc[160];

	if (o->profiles == NULL || o->profiles->nprofiles == 0 ||
	    (profs = json_object_new_object()) == NULL)
		return;
	for (size_t i = 0; i < o->profiles->nprofiles; i++) {
		const struct profile *p = &o->profiles->profiles[i];
		if (o->profile_descriptions != NULL &&
		    json_object_object_get_ex(o->profile_descriptions, p->name, &d) && d != NULL) {
			json_object_object_add(profs, p->name, json_object_get(d));
			continue;
		}
		snprintf(desc, sizeof(desc), "certificates valid for up to %lld days%s",
		    (long long)(p->max_validity / 86400), strcmp(p->name, o->default_profile) == 0 ?
		    " (the default)" : "");
		json_object_object_add(profs, p->name, json_object_new_string(desc));
	}
	json_object_object_add(meta, "profiles", profs);
}

/* RFC 8555 §7.1.1. URLs are built from acme.base_url; meta only holds what is configured. */
void
api_directory(struct req *r)
{
	const struct fcgi_conf *c = r->conf;
	json_object *d = json_object_new_object(), *meta = json_object_new_object();
	static const struct { const char *name, *path; } res[] = {
		{ "newNonce", "/acme/new-nonce" },
		{ "newAccount", "/acme/new-account" },
		{ "newOrder", "/acme/new-order" },
		{ "newAuthz", "/acme/new-authz" },
		{ "revokeCert", "/acme/revoke-cert" },
		{ "keyChange", "/acme/key-change" },
		{ "renewalInfo", "/acme/renewal-info" },
	};

	r->no_index_link = 1;
	if (d == NULL || meta == NULL) {
		json_object_put(d);
		json_object_put(meta);
		req_fail(r, AE_NOMEM, "directory");
		return;
	}
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		char *u = req_url(r, "%s", res[i].path);
		json_object_object_add(d, res[i].name, u ? json_object_new_string(u) : NULL);
	}
	if (c->terms_of_service != NULL)
		json_object_object_add(meta, "termsOfService",
		    json_object_new_string(c->terms_of_service));
	if (c->website != NULL)
		json_object_object_add(meta, "website", json_object_new_string(c->website));
	if (c->caa_identities != NULL && json_object_array_length(c->caa_identities) > 0)
		json_object_object_add(meta, "caaIdentities", json_object_get(c->caa_identities));
	json_object_object_add(meta, "externalAccountRequired",
	    json_object_new_boolean(c->external_account_required));
	directory_profiles(c, meta);
	json_object_object_add(d, "meta", meta);
	req_json(r, 200, d);
}

/* RFC 8555 §7.2: the nonce itself is added to every response by req_send. */
void
api_new_nonce(struct req *r)
{
	req_empty(r, r->method[0] == 'H' ? 200 : 204);
}
