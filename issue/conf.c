#include "config.h"
#include <stdio.h>
#include <string.h>
#include "issue/conf.h"

static const char *const kt_names[IKT__N] = { "ecdsa-p256", "ecdsa-p384", "rsa-2048",
	"rsa-3072", "rsa-4096" };

static anvil_err
parse_profiles(struct conf_ctx *cc, json_object *root, struct issue_conf *c)
{
	json_object *prof = NULL;
	anvil_err e;

	if ((e = conf_get_object(cc, root, "", "profiles", 0, &prof)) != AE_OK || prof == NULL)
		return e;
	json_object_object_foreach(prof, name, val) {
		struct issue_profile_conf *p;
		json_object *kts = NULL;
		char where[96];
		int64_t days = 90;

		snprintf(where, sizeof(where), "profiles.%s", name);
		if (c->nprofiles == ISSUE_PROFILES_MAX || strlen(name) > ISSUE_NAME_MAX)
			return conf_fail(cc, "", "profiles", "at most %d profiles with names of at "
			    "most %d characters", ISSUE_PROFILES_MAX, ISSUE_NAME_MAX);
		p = &c->profiles[c->nprofiles];
		p->name = name;
		p->key_types = (1u << IKT__N) - 1;
		if (!json_object_is_type(val, json_type_object))
			return conf_fail(cc, "profiles", name, "must be an object");
		if ((e = conf_get_string(cc, val, where, "issuer", 1, &p->issuer)) != AE_OK ||
		    (e = conf_get_int(cc, val, where, "validity_days", 0, 1, 3650, &days)) != AE_OK ||
		    (e = conf_get_bool(cc, val, where, "ct", 0, &p->ct)) != AE_OK ||
		    (e = conf_get_array(cc, val, where, "key_types", 0, &kts)) != AE_OK)
			return e;
		p->validity = days * 86400;
		if (kts != NULL && json_object_array_length(kts) > 0) {
			p->key_types = 0;
			for (size_t i = 0; i < json_object_array_length(kts); i++) {
				const char *s = json_object_get_string(json_object_array_get_idx(kts, i));
				size_t k;
				for (k = 0; k < IKT__N; k++)
					if (s != NULL && strcmp(s, kt_names[k]) == 0)
						break;
				if (k == IKT__N)
					return conf_fail(cc, where, "key_types", "unknown key type");
				p->key_types |= 1u << k;
			}
		}
		c->nprofiles++;
	}
	return AE_OK;
}

static anvil_err
parse_issuers(struct conf_ctx *cc, json_object *root, struct issue_conf *c)
{
	json_object *iss = NULL;
	anvil_err e;

	if ((e = conf_get_object(cc, root, "", "issuers", 0, &iss)) != AE_OK || iss == NULL)
		return e;
	json_object_object_foreach(iss, name, val) {
		char where[96];

		snprintf(where, sizeof(where), "issuers.%s", name);
		if (c->nissuers == ISSUE_ISSUERS_MAX || strlen(name) > ISSUE_NAME_MAX)
			return conf_fail(cc, "", "issuers", "at most %d issuers with names of at "
			    "most %d characters", ISSUE_ISSUERS_MAX, ISSUE_NAME_MAX);
		if (!json_object_is_type(val, json_type_object))
			return conf_fail(cc, "issuers", name, "must be an object");
		c->issuers[c->nissuers].name = name;
		if ((e = conf_get_string(cc, val, where, "cert", 1,
		    &c->issuers[c->nissuers].cert_path)) != AE_OK)
			return e;
		c->nissuers++;
	}
	return AE_OK;
}

/* acme.alternate_chains: {"issuer": ["/path/chain.pem", ...]}. */
static anvil_err
parse_alt_chains(struct conf_ctx *cc, json_object *acme, struct issue_conf *c)
{
	json_object *alt = NULL;
	anvil_err e;

	if ((e = conf_get_object(cc, acme, "acme", "alternate_chains", 0, &alt)) != AE_OK ||
	    alt == NULL)
		return e;
	json_object_object_foreach(alt, name, val) {
		struct issue_issuer_conf *is = NULL;
		size_t n;

		for (size_t i = 0; i < c->nissuers; i++)
			if (strcmp(c->issuers[i].name, name) == 0)
				is = &c->issuers[i];
		if (is == NULL)
			return conf_fail(cc, "acme.alternate_chains", name, "no issuer of that name");
		if (!json_object_is_type(val, json_type_array) ||
		    (n = json_object_array_length(val)) > ISSUE_CHAINS_MAX)
			return conf_fail(cc, "acme.alternate_chains", name, "must be an array of at "
			    "most %d PEM file paths", ISSUE_CHAINS_MAX);
		for (size_t i = 0; i < n; i++) {
			json_object *v = json_object_array_get_idx(val, i);
			if (!json_object_is_type(v, json_type_string) ||
			    json_object_get_string(v)[0] != '/')
				return conf_fail(cc, "acme.alternate_chains", name, "entry %zu must be "
				    "an absolute path", i);
			is->alt_chains[is->n_alt_chains++] = json_object_get_string(v);
		}
	}
	return AE_OK;
}

anvil_err
issue_conf_parse(struct conf_ctx *cc, json_object *root, struct issue_conf *c)
{
	json_object *acme = NULL, *signer = NULL;
	anvil_err e;

	memset(c, 0, sizeof(*c));
	c->serial_prefix = 1;
	c->finalize_budget_ms = 2000;
	if ((e = conf_get_object(cc, root, "", "acme", 0, &acme)) != AE_OK ||
	    (e = conf_get_object(cc, root, "", "signer", 0, &signer)) != AE_OK ||
	    (signer != NULL && (e = conf_get_string(cc, signer, "signer", "socket", 1,
	    &c->signer_socket)) != AE_OK) ||
	    (e = parse_issuers(cc, root, c)) != AE_OK ||
	    (e = parse_profiles(cc, root, c)) != AE_OK)
		return e;
	for (size_t i = 0; i < c->nprofiles; i++)
		if (issue_conf_issuer(c, c->profiles[i].issuer) == NULL)
			return conf_fail(cc, "profiles", c->profiles[i].name, "names an issuer that "
			    "does not exist");
	if (acme == NULL)
		return AE_OK;
	if ((e = conf_get_int(cc, acme, "acme", "serial_prefix", 0, 1, 255,
	    &c->serial_prefix)) != AE_OK ||
	    (e = conf_get_int(cc, acme, "acme", "finalize_budget_ms", 0, 0, 60000,
	    &c->finalize_budget_ms)) != AE_OK ||
	    (e = conf_get_string(cc, acme, "acme", "weak_keys_file", 0,
	    &c->weak_keys_file)) != AE_OK ||
	    (e = parse_alt_chains(cc, acme, c)) != AE_OK)
		return e;
	if (c->weak_keys_file != NULL && c->weak_keys_file[0] != '/')
		return conf_fail(cc, "acme", "weak_keys_file", "must be an absolute path");
	return AE_OK;
}

const struct issue_profile_conf *
issue_conf_profile(const struct issue_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

const struct issue_issuer_conf *
issue_conf_issuer(const struct issue_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nissuers; i++)
		if (strcmp(c->issuers[i].name, name) == 0)
			return &c->issuers[i];
	return NULL;
}
