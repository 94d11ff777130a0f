/* Finalize's CSR and key policy, below both front doors (DESIGN.md "Layering"): anvil-fcgi's
 * finalize checks a CSR with it before the order turns processing, and issue_finish checks the
 * stored CSR again before anything is signed, so an order that anvil-jobs finishes later (the
 * signer was slow or down) is held to the policy of that moment: a key blocked or listed as
 * weak meanwhile, or a profile's key types changed by a reload, ends the order invalid. */
#ifndef ANVIL_ISSUE_POLICY_H
#define ANVIL_ISSUE_POLICY_H
#include <stddef.h>
#include <stdint.h>
#include "ca/profile.h"
#include "issue/csr.h"
#include "issue/issue.h"
#include "lib/jwk.h"

/* The whole policy for the CSR der of an order with these identifiers (its stored JSON array)
 * in profile prof: csr_check (DER, signature, names exactly the order's, the CN rule, key
 * type and size within the profile's key_types), then the weak-key list
 * (acme.weak_keys_file), the blocked keys (blocked_keys: keyCompromise, anvilctl block-key)
 * and the account keys (a certificate key must differ from every ACME account key).
 *   AE_OK      accepted; ci is filled (the caller frees it with csr_info_free);
 *   AE_DENIED  refused: *verdict is CSR_BAD_KEY (badPublicKey) or CSR_BAD_CSR (badCSR) and
 *              detail says why in words fit for a problem document;
 *   other      the check could not be made (database, memory): retry later. */
anvil_err issue_csr_policy(struct issue_ctx *ic, const uint8_t *der, size_t len,
    const char *identifiers, const struct profile *prof, struct csr_info *ci,
    enum csr_verdict *verdict, char detail[CSR_DETAIL_MAX]);
/* issue_csr_policy without its database look-ups (blocked and account keys), for a caller that
 * makes them in its own write (finalize: db_order_finalize_from); tp is the key's JWK
 * thumbprint for them. Returns as issue_csr_policy. */
anvil_err issue_csr_policy_local(struct issue_ctx *ic, const uint8_t *der, size_t len,
    const char *identifiers, const struct profile *prof, struct csr_info *ci,
    enum csr_verdict *verdict, char detail[CSR_DETAIL_MAX], char tp[JWK_THUMBPRINT_LEN + 1]);
/* The refusal for a blocked or account key (AE_DENIED with *verdict and detail), or AE_OK. */
anvil_err issue_key_verdict(int blocked, int account_key, enum csr_verdict *verdict,
    char detail[CSR_DETAIL_MAX]);

#endif
