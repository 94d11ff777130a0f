#include "config.h"
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include "db/issue.h"
#include "issue/internal.h"
#include "issue/policy.h"
#include "lib/jwk.h"

/* A refusal: the verdict and why. */
static anvil_err
deny(enum csr_verdict v, const char *why, enum csr_verdict *verdict,
    char detail[CSR_DETAIL_MAX])
{
	*verdict = v;
	snprintf(detail, CSR_DETAIL_MAX, "%s", why);
	return AE_DENIED;
}

anvil_err
issue_csr_policy_local(struct issue_ctx *ic, const uint8_t *der, size_t len,
    const char *identifiers, const struct profile *prof, struct csr_info *ci,
    enum csr_verdict *verdict, char detail[CSR_DETAIL_MAX], char tp[JWK_THUMBPRINT_LEN + 1])
{
	json_object *ids = json_tokener_parse(identifiers), *jwk = NULL;
	anvil_err e = AE_OK;

	*verdict = CSR_OK;
	detail[0] = '\0';
	if ((*verdict = csr_check(der, len, ids, prof->key_types, ci, detail)) != CSR_OK) {
		e = AE_DENIED;
		goto out;
	}
	if (issue_key_weak(ic, ci->spki_sha256)) {
		e = deny(CSR_BAD_KEY, "the CSR's key is on the list of known weak keys", verdict,
		    detail);
		goto out;
	}
	if (jwk_from_pkey(ci->key, &jwk) != AE_OK || jwk_thumbprint(jwk, tp) != AE_OK)
		e = AE_NOMEM;
out:
	json_object_put(ids);
	json_object_put(jwk);
	return e;
}

anvil_err
issue_key_verdict(int blocked, int account_key, enum csr_verdict *verdict,
    char detail[CSR_DETAIL_MAX])
{
	if (blocked)
		return deny(CSR_BAD_KEY, "the CSR's key is blocked: a certificate for it was "
		    "revoked because the key was compromised", verdict, detail);
	if (account_key)
		return deny(CSR_BAD_CSR, "the CSR's key is an ACME account key: a certificate key "
		    "must differ from every account key", verdict, detail);
	return AE_OK;
}

anvil_err
issue_csr_policy(struct issue_ctx *ic, const uint8_t *der, size_t len, const char *identifiers,
    const struct profile *prof, struct csr_info *ci, enum csr_verdict *verdict,
    char detail[CSR_DETAIL_MAX])
{
	char tp[JWK_THUMBPRINT_LEN + 1];
	int blocked = 0, account_key = 0;
	anvil_err e;

	e = issue_csr_policy_local(ic, der, len, identifiers, prof, ci, verdict, detail, tp);
	if (e != AE_OK)
		return e;
	if ((e = db_key_check(ic->db, ci->spki_sha256, tp, &blocked, &account_key)) != AE_OK)
		return e;
	return issue_key_verdict(blocked, account_key, verdict, detail);
}
