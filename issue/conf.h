/* What issuance needs from the deployment file: the signer's socket, the profiles and issuers
 * (read, not re-validated: anvil-signer owns those sections and checks them strictly), and the
 * issuance keys of the `acme` section (serial prefix, finalize budget, alternate chains, weak-key
 * list). Used by anvil-fcgi (validated with its own sections at start and in --check) and by
 * anvil-jobs, through issue_ctx_new. Secrets (the HSM PIN) are never read here. */
#ifndef ANVIL_ISSUE_CONF_H
#define ANVIL_ISSUE_CONF_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "lib/conf.h"

#define ISSUE_NAME_MAX 64
#define ISSUE_PROFILES_MAX 32
#define ISSUE_ISSUERS_MAX 16
#define ISSUE_CHAINS_MAX 4       /* alternate chains per issuer */

/* Key types as the signer names them (ca/profile.h key_type order is not relied upon). */
enum issue_kt { IKT_EC_P256 = 0, IKT_EC_P384, IKT_RSA_2048, IKT_RSA_3072, IKT_RSA_4096, IKT__N };

struct issue_issuer_conf {
	const char *name;
	const char *cert_path;        /* PEM: the issuer's own certificate (the default chain) */
	const char *alt_chains[ISSUE_CHAINS_MAX];  /* PEM files: alternate chains */
	size_t n_alt_chains;
};

struct issue_profile_conf {
	const char *name;
	const char *issuer;
	int64_t validity;             /* seconds */
	int ct;
	unsigned key_types;           /* bit (1 << enum issue_kt) */
};

struct issue_conf {
	const char *signer_socket;    /* NULL: no signer configured (issuance answers 503) */
	int64_t serial_prefix;        /* 1..255: the first byte of every serial of this instance */
	int64_t finalize_budget_ms;   /* how long finalize may wait for issuance */
	const char *weak_keys_file;   /* NULL: the built-in list only */
	struct issue_issuer_conf issuers[ISSUE_ISSUERS_MAX];
	size_t nissuers;
	struct issue_profile_conf profiles[ISSUE_PROFILES_MAX];
	size_t nprofiles;
};

/* Fills out from root; strings point into root. On error cc->err names the dotted key. */
anvil_err issue_conf_parse(struct conf_ctx *cc, json_object *root, struct issue_conf *out);
const struct issue_profile_conf *issue_conf_profile(const struct issue_conf *c, const char *name);
const struct issue_issuer_conf *issue_conf_issuer(const struct issue_conf *c, const char *name);

#endif
