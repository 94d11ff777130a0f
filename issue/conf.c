#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "issue/conf.h"

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
		struct issuer *is = c->policy != NULL ? conf_issuer(c->policy, name) : NULL;
		size_t n;

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
			c->alt[is->index].paths[c->alt[is->index].n++] = json_object_get_string(v);
		}
	}
	return AE_OK;
}

static anvil_err
parse_policy(struct conf_ctx *cc, json_object *root, struct issue_conf *c)
{
	json_object *iss = NULL;

	if (!json_object_object_get_ex(root, "issuers", &iss))
		return AE_OK;
	if ((c->policy = calloc(1, sizeof(*c->policy))) == NULL)
		return AE_NOMEM;
	return signer_conf_parse(cc, root, SIGNER_CONF_POLICY, c->policy);
}

/* Every certificate of an issuer that names an OCSP responder gets its response at issuance:
 * there must be somewhere to write it. */
static anvil_err
check_ocsp(struct conf_ctx *cc, struct issue_conf *c)
{
	for (size_t i = 0; c->policy != NULL && i < c->policy->nissuers; i++) {
		const struct issuer *is = &c->policy->issuers[i];

		if (is->parent != NULL && is->ocsp_url != NULL && c->ocsp.dir == NULL)
			return conf_fail(cc, "ocsp", "dir", "is required: issuers.%s.ocsp_url is "
			    "set, and its responses are published there", is->name);
	}
	return AE_OK;
}

/* The ct section, and every profile bound to its CT policy (ct/conf.h). Without a ct section a
 * profile with CT cannot issue; that is reported at finalize, as before CT support. */
static anvil_err
parse_ct(struct conf_ctx *cc, json_object *root, struct issue_conf *c)
{
	anvil_err e;

	if (!json_object_object_get_ex(root, "ct", NULL))
		return AE_OK;
	if ((c->ct = calloc(1, sizeof(*c->ct))) == NULL)
		return AE_NOMEM;
	if ((e = ct_conf_parse(cc, root, c->ct)) != AE_OK)
		return e;
	for (size_t i = 0; c->policy != NULL && i < c->policy->nprofiles; i++) {
		const struct profile *p = &c->policy->profiles[i];
		if ((e = ct_conf_bind_profile(cc, c->ct, p->name, p->ct, p->max_validity)) != AE_OK)
			return e;
	}
	return ct_conf_bind_done(cc, c->ct);
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
	    (e = parse_policy(cc, root, c)) != AE_OK ||
	    (e = ocsp_conf_parse(cc, root, &c->ocsp, &c->crl)) != AE_OK ||
	    (e = check_ocsp(cc, c)) != AE_OK ||
	    (e = parse_ct(cc, root, c)) != AE_OK)
		return e;
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

void
issue_conf_free(struct issue_conf *c)
{
	if (c->policy != NULL)
		signer_conf_free(c->policy);
	free(c->policy);
	c->policy = NULL;
	if (c->ct != NULL)
		ct_conf_free(c->ct);
	free(c->ct);
	c->ct = NULL;
}

const struct profile *
issue_conf_profile(const struct issue_conf *c, const char *name)
{
	for (size_t i = 0; c->policy != NULL && i < c->policy->nprofiles; i++)
		if (strcmp(c->policy->profiles[i].name, name) == 0)
			return &c->policy->profiles[i];
	return NULL;
}

size_t
issue_conf_nissuers(const struct issue_conf *c)
{
	return c->policy != NULL ? c->policy->nissuers : 0;
}
