/* issue_caa_recheck: CAA again at finalize for an authorization checked too long ago (CA/B Forum
 * BR 3.2.2.8: within 8 hours before issuance). Authorizations are reused for up to their
 * lifetime, days after the CAA check that came with their validation; a domain that forbade us
 * since must not get a certificate from an old one. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ca/profile.h"
#include "db/issue.h"
#include "issue/internal.h"
#include "lib/log.h"

void
issue_ctx_set_caa(struct issue_ctx *ic, issue_caa_fn fn, void *arg)
{
	ic->caa = fn;
	ic->caa_arg = arg;
}

anvil_err
issue_caa_recheck(struct issue_ctx *ic, const struct db_order_fin *o, const struct profile *prof,
    int64_t deadline_ms, char *detail, size_t detail_len)
{
	struct db_authz_caa *a = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t n = 0;
	anvil_err e;

	detail[0] = '\0';
	if (prof->caa_recheck < 0)
		return AE_OK;
	if ((a = calloc(DB_ORDER_AUTHZ_MAX, sizeof(*a))) == NULL)
		return AE_NOMEM;
	if ((e = db_order_authz_caa(ic->db, o->id, a, DB_ORDER_AUTHZ_MAX, &n)) != AE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct issue_caa_query q;

		/* CAA governs DNS names only (RFC 8659); an authorization never validated
		 * counts as never checked. */
		if (strcmp(a[i].ident_type, "dns") != 0 ||
		    (a[i].validated > 0 && now - a[i].validated <= prof->caa_recheck))
			continue;
		if (ic->caa == NULL) {
			e = AE_BUSY;
			goto out;
		}
		q.ident = a[i].value;
		q.wildcard = a[i].wildcard;
		q.method = a[i].method;
		q.profile = o->profile;
		q.account_id = o->account_id;
		if ((e = ic->caa(ic->caa_arg, &q, deadline_ms, detail, detail_len)) != AE_OK)
			goto out;
		log_info("order %lld: CAA checked again for %s%s (authorization validated %llds "
		    "ago)", (long long)o->id, a[i].wildcard ? "*." : "", a[i].value,
		    (long long)(a[i].validated > 0 ? now - a[i].validated : -1));
	}
	e = AE_OK;
out:
	free(a);
	return e;
}
