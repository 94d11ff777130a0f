/* What issuance needs from the deployment file: the signer's socket, the issuers and profiles
 * (parsed by the signer's own parser, ca/profile.c, in policy mode: one definition of the policy,
 * and the HSM PIN is never read), and the issuance keys of the `acme` section (serial prefix,
 * finalize budget, alternate chains, weak-key list), and the `ocsp` and `crl` sections (ocsp/conf.h):
 * issuance publishes the first OCSP response. Used by anvil-fcgi (validated with its own
 * sections at start and in --check) and by anvil-jobs, through issue_ctx_new. */
#ifndef ANVIL_ISSUE_CONF_H
#define ANVIL_ISSUE_CONF_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "ca/profile.h"
#include "ct/conf.h"
#include "lib/conf.h"
#include "ocsp/conf.h"

#define ISSUE_CHAINS_MAX 4       /* alternate chains per issuer */

struct issue_conf {
	const char *signer_socket;    /* NULL: no signer configured (issuance answers 503) */
	int64_t serial_prefix;        /* 1..255: the first byte of every serial of this instance */
	int64_t finalize_budget_ms;   /* how long finalize may wait for issuance */
	const char *weak_keys_file;   /* NULL: the built-in list only */
	struct signer_conf *policy;   /* issuers and profiles; NULL when none are configured */
	struct ct_conf *ct;           /* the ct section; NULL when there is none */
	struct {                      /* acme.alternate_chains, by issuer index */
		const char *paths[ISSUE_CHAINS_MAX];
		size_t n;
	} alt[MAX_ISSUERS];
	struct ocsp_conf ocsp;        /* where the first OCSP response goes, and its validity */
	struct crl_conf crl;
};

/* Fills out from root; strings point into root. On error cc->err names the dotted key.
 * issue_conf_free releases it (also after an error). */
anvil_err issue_conf_parse(struct conf_ctx *cc, json_object *root, struct issue_conf *out);
void issue_conf_free(struct issue_conf *c);
const struct profile *issue_conf_profile(const struct issue_conf *c, const char *name);
size_t issue_conf_nissuers(const struct issue_conf *c);

#endif
