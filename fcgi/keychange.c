#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "lib/jwk.h"
#include "lib/keycache.h"
#include "lib/log.h"

static void
free_str(void *p)
{
	free(p);
}

static void
conflict(struct req *r, const struct db_account *other)
{
	req_problem(r, PROB_CONFLICT, "the new key is already the key of an account");
	req_header(r, "Location", "%s/acme/acct/%lld", r->conf->base_url, (long long)other->id);
}

/* RFC 8555 §7.3.5: the outer JWS is signed by the old key (kid), its payload is a JWS signed
 * by the new key (jwk) over {account, oldKey}. */
void
api_key_change(struct req *r)
{
	struct auth a;
	struct jws *in = arena_alloc(&r->arena, sizeof(*in));
	struct db_account *other = arena_alloc(&r->arena, sizeof(*other));
	EVP_PKEY *newkey = NULL;
	json_object *account = NULL, *old_key = NULL;
	char old_tp[JWK_THUMBPRINT_LEN + 1], new_tp[JWK_THUMBPRINT_LEN + 1];
	char *jwk = NULL;
	const char *detail = NULL;
	anvil_err e;

	if (in == NULL || other == NULL) {
		req_fail(r, AE_NOMEM, "keyChange");
		goto out;
	}
	if (auth_request(r, AUTH_KID, &a) != 0)
		goto out;
	if (!json_object_is_type(a.jws->payload_json, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "the keyChange payload must be a JWS");
		goto out;
	}
	e = jws_parse_obj(a.jws->payload_json, in);
	arena_defer(&r->arena, arena_free_jws, in);
	if (e != AE_OK) {
		req_problem(r, PROB_MALFORMED, "the inner JWS: %s", in->detail[0] ? in->detail :
		    "not a flattened JWS");
		goto out;
	}
	if (in->jwk == NULL) {
		req_problem(r, PROB_MALFORMED, "the inner JWS must carry the new key as jwk");
		goto out;
	}
	if (jws_alg_supported(in->alg) != AE_OK) {
		req_problem(r, PROB_BAD_SIG_ALG, "the inner JWS algorithm is not supported");
		goto out;
	}
	if (!req_url_is_request(r, in->url)) {
		req_problem(r, PROB_MALFORMED, "the inner JWS url must equal the outer url");
		goto out;
	}
	if ((e = jwk_to_pkey(in->jwk, &newkey, &detail)) != AE_OK) {
		req_problem(r, PROB_BAD_PUBLIC_KEY, "%s", detail && e == AE_JWS_BADKEY ? detail :
		    "the new key is not acceptable");
		goto out;
	}
	arena_defer(&r->arena, arena_free_pkey, newkey);
	if ((e = jws_verify(in, newkey)) != AE_OK) {
		if (e == AE_JWS_BADALG)
			req_problem(r, PROB_BAD_SIG_ALG, "the inner JWS algorithm does not fit "
			    "the new key");
		else
			req_problem(r, PROB_MALFORMED, "the inner JWS signature is invalid");
		goto out;
	}
	if (!json_object_is_type(in->payload_json, json_type_object) ||
	    !json_object_object_get_ex(in->payload_json, "account", &account) ||
	    !json_object_is_type(account, json_type_string) ||
	    !json_object_object_get_ex(in->payload_json, "oldKey", &old_key) ||
	    !json_object_is_type(old_key, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "the inner payload must be {account, oldKey}");
		goto out;
	}
	if (strcmp(json_object_get_string(account), a.jws->kid) != 0) {
		req_problem(r, PROB_UNAUTHORIZED, "the inner account is not the outer kid");
		goto out;
	}
	if (jwk_thumbprint(old_key, old_tp) != AE_OK ||
	    strcmp(old_tp, a.acct->thumbprint) != 0) {
		req_problem(r, PROB_UNAUTHORIZED, "oldKey is not the account's current key");
		goto out;
	}
	if (jwk_thumbprint(in->jwk, new_tp) != AE_OK ||
	    jwk_canonical(in->jwk, &jwk) != AE_OK) {
		req_problem(r, PROB_BAD_PUBLIC_KEY, "the new key is not acceptable");
		goto out;
	}
	arena_defer(&r->arena, free_str, jwk);
	if (strlen(jwk) > DB_JWK_MAX) {
		req_problem(r, PROB_BAD_PUBLIC_KEY, "the new key is too large");
		goto out;
	}
	if ((e = db_account_by_thumbprint(r->db, new_tp, other)) == AE_OK) {
		conflict(r, other);
		goto out;
	}
	if (e != AE_NOTFOUND) {
		req_fail(r, e, "keyChange lookup");
		goto out;
	}
	e = db_account_set_key(r->db, a.acct->id, a.acct->thumbprint, new_tp, jwk);
	if (e == AE_DB_DUPLICATE && db_account_by_thumbprint(r->db, new_tp, other) == AE_OK) {
		conflict(r, other);
		goto out;
	}
	if (e == AE_NOTFOUND) {
		req_problem(r, PROB_UNAUTHORIZED, "the account key changed meanwhile");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "keyChange");
		goto out;
	}
	/* The cache would miss on the new JWK text anyway; this frees the old key at once. */
	keycache_forget(r->keys, a.acct->id);
	log_info("account key changed id=%lld", (long long)a.acct->id);
	snprintf(a.acct->thumbprint, sizeof(a.acct->thumbprint), "%s", new_tp);
	req_json(r, 200, api_account_object(r, a.acct));
	req_header(r, "Location", "%s/acme/acct/%lld", r->conf->base_url, (long long)a.acct->id);
out:
	return;
}
