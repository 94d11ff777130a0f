#include "config.h"
#include <string.h>
#include <openssl/crypto.h>
#include "fcgi/api.h"
#include "lib/jwk.h"
#include "lib/jws.h"

static void
wipe_key(void *p)
{
	OPENSSL_cleanse(p, sizeof(struct db_eab_key));
}

/* RFC 8555 §7.3.4. Structural faults are malformed; a binding that does not prove possession
 * of a key we issued, or whose key is revoked, expired or used up, is unauthorized. */
int
eab_check(struct req *r, json_object *eab, json_object *outer_jwk, const char **kid)
{
	struct jws *j = arena_alloc(&r->arena, sizeof(*j));
	struct db_eab_key *key = arena_alloc(&r->arena, sizeof(*key));
	char outer_tp[JWK_THUMBPRINT_LEN + 1], inner_tp[JWK_THUMBPRINT_LEN + 1];
	anvil_err e;
	int rc = -1;

	if (j == NULL || key == NULL) {
		req_fail(r, AE_NOMEM, "eab");
		goto out;
	}
	arena_defer(&r->arena, wipe_key, key);
	if (!json_object_is_type(eab, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "externalAccountBinding must be a JWS object");
		goto out;
	}
	e = jws_parse_obj(eab, j);
	arena_defer(&r->arena, arena_free_jws, j);
	if (e != AE_OK || j->kid == NULL) {
		req_problem(r, PROB_MALFORMED, "externalAccountBinding must be a flattened JWS "
		    "with a kid");
		goto out;
	}
	if (strcmp(j->alg, "HS256") != 0 && strcmp(j->alg, "HS384") != 0 &&
	    strcmp(j->alg, "HS512") != 0) {
		req_problem(r, PROB_MALFORMED, "externalAccountBinding must use HS256, HS384 "
		    "or HS512");
		goto out;
	}
	if (j->nonce != NULL) {
		req_problem(r, PROB_MALFORMED, "externalAccountBinding must not have a nonce");
		goto out;
	}
	if (j->payload_json == NULL || jwk_thumbprint(j->payload_json, inner_tp) != AE_OK ||
	    jwk_thumbprint(outer_jwk, outer_tp) != AE_OK || strcmp(inner_tp, outer_tp) != 0) {
		req_problem(r, PROB_UNAUTHORIZED, "externalAccountBinding must bind the account "
		    "key of this request");
		goto out;
	}
	if (!req_url_is_request(r, j->url)) {
		req_problem(r, PROB_UNAUTHORIZED, "externalAccountBinding url must be the "
		    "newAccount URL");
		goto out;
	}
	if (strlen(j->kid) > DB_EAB_KID_MAX ||
	    (e = db_eab_get(r->db, j->kid, key)) == AE_NOTFOUND) {
		req_problem(r, PROB_UNAUTHORIZED, "unknown externalAccountBinding key id");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "eab lookup");
		goto out;
	}
	if (strcmp(key->alg, j->alg) != 0) {
		req_problem(r, PROB_UNAUTHORIZED, "externalAccountBinding must use %s for this "
		    "key", key->alg);
		goto out;
	}
	if (jws_verify_hmac(j, key->key, key->key_len) != AE_OK) {
		req_problem(r, PROB_UNAUTHORIZED, "the externalAccountBinding MAC is invalid");
		goto out;
	}
	/* The key's state after the MAC: only its holder learns it. db_account_create counts
	 * again, under the row lock, for the race with a parallel registration. */
	if (key->revoked != 0) {
		req_problem(r, PROB_UNAUTHORIZED, "this externalAccountBinding key was revoked");
		goto out;
	}
	if (key->expires != 0 && key->expires <= r->now) {
		req_problem(r, PROB_UNAUTHORIZED, "this externalAccountBinding key expired");
		goto out;
	}
	if (key->max_accounts >= 0 && key->accounts_bound >= key->max_accounts) {
		req_problem(r, PROB_UNAUTHORIZED, "this externalAccountBinding key has bound its "
		    "limit of %lld account(s)", (long long)key->max_accounts);
		goto out;
	}
	if ((*kid = arena_strndup(&r->arena, key->kid, strlen(key->kid))) == NULL) {
		req_fail(r, AE_NOMEM, "eab");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* The profile scope of the account's EAB key (anvilctl eab add --profiles), read with the
 * account (db/account.c): a newOrder for another profile is refused, naming it. */
int
eab_scope_check(struct req *r, const struct db_account *acct, const char *profile)
{
	if (acct->eab_scoped && !db_eab_profile_in(acct->eab_profiles, profile)) {
		req_problem(r, PROB_UNAUTHORIZED, "this account's externalAccountBinding key does "
		    "not allow the profile %s (it allows %s)", profile, acct->eab_profiles);
		return -1;
	}
	return 0;
}
