#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "fcgi/auth.h"
#include "lib/keycache.h"
#include "lib/log.h"
#include "lib/nonce.h"
#include "lib/num.h"

/* "application/jose+json", case-insensitive, optionally followed by parameters. */
static int
content_type_ok(const char *ct)
{
	static const char want[] = "application/jose+json";
	size_t n = sizeof(want) - 1;

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

int64_t
auth_account_id(struct req *r, const char *url)
{
	static const char tail[] = "/acme/acct/";
	const struct fcgi_conf *c = r->conf;
	size_t n = strlen(url);
	int64_t id;

	if (n <= c->base_url_len + sizeof(tail) - 1 ||
	    memcmp(url, c->base_url, c->base_url_len) != 0 ||
	    memcmp(url + c->base_url_len, tail, sizeof(tail) - 1) != 0)
		return -1;
	url += c->base_url_len + sizeof(tail) - 1;
	n = strlen(url);
	if (n > 19 || url[0] == '0' || url[0] == '+' || url[0] == '-' ||
	    num_parse_i64_n(url, n, 1, INT64_MAX, &id) != AE_OK)
		return -1;
	return id;
}

/* The signing account (through read when given) and its key; *ver (may stay NULL) is the
 * cached verifier of the key. */
static int
load_account_key(struct req *r, struct auth *a, struct jws_verifier **ver, auth_read_fn read,
    void *arg)
{
	int64_t id = auth_account_id(r, a->jws->kid);
	const char *detail = NULL;
	anvil_err e;
	int rc = -1;

	if (id < 0) {
		req_problem(r, PROB_MALFORMED, "kid is not an account URL of this server");
		goto out;
	}
	if ((a->acct = arena_alloc(&r->arena, sizeof(*a->acct))) == NULL) {
		req_fail(r, AE_NOMEM, "account lookup");
		goto out;
	}
	e = read != NULL ? read(r, a->jws, id, a->acct, arg) :
	    db_account_by_id(r->db, id, a->acct);
	if (e == AE_NOTFOUND) {
		req_problem(r, PROB_ACCOUNT_DOES_NOT_EXIST, "no account with this kid");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "account lookup");
		goto out;
	}
	if (a->acct->status != DB_ACCT_VALID) {
		req_problem(r, PROB_DEACTIVATED, "the account is %s",
		    db_account_status_name(a->acct->status));
		goto out;
	}
	/* Keyed by the JWK text just read, so a key changed elsewhere is never served stale. */
	if ((e = keycache_get(r->keys, id, a->acct->jwk, &a->key, ver, &detail)) != AE_OK) {
		log_err("account %lld: stored key unusable", (long long)id);
		req_fail(r, AE_INTERNAL, "account key");
		goto out;
	}
	arena_defer(&r->arena, arena_free_pkey, a->key);
	rc = 0;
out:
	return rc;
}

/* Requests whose handler writes only inside transactions (besides the status refreshes of
 * orders and authorizations, which any reader of them makes too): their nonce is redeemed by the
 * first transaction instead of a durable commit of its own. Everywhere else an autocommit write
 * (account update, key change, deactivation, a new account) would take effect before a replay
 * could be found out, so the nonce is spent first. */
static int
nonce_rides_tx(const struct req *r)
{
	static const char chall[] = "/acme/chall/", order[] = "/acme/order/", fin[] = "/finalize";
	const char *p = r->path;
	size_t n;

	if (p == NULL)
		return 0;
	n = strlen(p);
	return strcmp(p, "/acme/new-order") == 0 || strncmp(p, chall, sizeof(chall) - 1) == 0 ||
	    (strncmp(p, order, sizeof(order) - 1) == 0 && n > sizeof(order) - 1 + sizeof(fin) - 1 &&
	    strcmp(p + n - (sizeof(fin) - 1), fin) == 0);
}

int
auth_request(struct req *r, enum auth_mode mode, struct auth *a)
{
	return auth_request_with(r, mode, a, NULL, NULL);
}

int
auth_request_with(struct req *r, enum auth_mode mode, struct auth *a, auth_read_fn read,
    void *arg)
{
	const struct fcgi_conf *c = r->conf;
	struct jws_verifier *ver = NULL;
	uint8_t id[NONCE_ID_LEN];
	int64_t issued = 0, expires;
	const char *detail = NULL;
	anvil_err e;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (!content_type_ok(r->content_type)) {
		req_problem(r, PROB_MEDIA_TYPE, "Content-Type must be application/jose+json");
		goto out;
	}
	if (req_read_body(r) != 0)
		goto out;
	if ((a->jws = arena_alloc(&r->arena, sizeof(*a->jws))) == NULL) {
		req_fail(r, AE_NOMEM, "jws");
		goto out;
	}
	e = jws_parse(r->body, r->body_len, a->jws);
	arena_defer(&r->arena, arena_free_jws, a->jws);
	if (e == AE_TOOBIG) {
		req_problem(r, PROB_TOO_LARGE, "the request is too large");
		goto out;
	}
	/* "none" has an empty signature, which parsing refuses: the algorithm is the more
	 * useful answer whenever the protected header got far enough to name one. */
	if (e != AE_OK && a->jws->alg != NULL && jws_alg_supported(a->jws->alg) != AE_OK) {
		req_problem(r, PROB_BAD_SIG_ALG, "the JWS algorithm is not supported");
		goto out;
	}
	if (e != AE_OK) {
		req_problem(r, PROB_MALFORMED, "%s", a->jws->detail[0] ? a->jws->detail :
		    "the body is not a flattened JWS");
		goto out;
	}
	if (jws_alg_supported(a->jws->alg) != AE_OK) {
		req_problem(r, PROB_BAD_SIG_ALG, "the JWS algorithm is not supported");
		goto out;
	}
	if (mode == AUTH_JWK && a->jws->jwk == NULL) {
		req_problem(r, PROB_MALFORMED, "this resource requires a jwk, not a kid");
		goto out;
	}
	if (mode == AUTH_KID && a->jws->kid == NULL) {
		req_problem(r, PROB_MALFORMED, "this resource requires a kid, not a jwk");
		goto out;
	}
	if (!req_url_is_request(r, a->jws->url)) {
		req_problem(r, PROB_UNAUTHORIZED, "the JWS url does not match the request URL");
		goto out;
	}
	if (a->jws->nonce == NULL) {
		req_problem(r, PROB_BAD_NONCE, "the JWS has no nonce");
		goto out;
	}
	e = nonce_open(c->nonce_key, a->jws->nonce, strlen(a->jws->nonce), r->now,
	    c->nonce_lifetime, id, &issued);
	if (e != AE_OK) {
		req_problem(r, PROB_BAD_NONCE, e == AE_NONCE_EXPIRED ? "the nonce has expired" :
		    "the nonce is not valid");
		goto out;
	}
	if (a->jws->jwk != NULL) {
		if ((e = jwk_to_pkey(a->jws->jwk, &a->key, &detail)) != AE_OK) {
			req_problem(r, PROB_BAD_PUBLIC_KEY, "%s", detail && e == AE_JWS_BADKEY ?
			    detail : "the jwk is not an acceptable public key");
			goto out;
		}
		arena_defer(&r->arena, arena_free_pkey, a->key);
		if (jwk_thumbprint(a->jws->jwk, a->thumbprint) != AE_OK) {
			req_problem(r, PROB_BAD_PUBLIC_KEY, "the jwk is not an acceptable key");
			goto out;
		}
	} else if (load_account_key(r, a, &ver, read, arg) != 0) {
		goto out;
	}
	e = ver != NULL ? jws_verify_with(a->jws, ver) : jws_verify(a->jws, a->key);
	if (e == AE_CRYPTO || e == AE_NOMEM) {
		req_fail(r, e, "signature verification");
		goto out;
	}
	if (e != AE_OK) {
		if (e == AE_JWS_BADALG)
			req_problem(r, PROB_BAD_SIG_ALG, "the JWS algorithm does not fit the key");
		else
			req_problem(r, PROB_MALFORMED, "the JWS signature is invalid");
		goto out;
	}
	/* Spent only now, so that garbage cannot make us write. Kept until it could no longer
	 * pass nonce_open (lifetime plus the 60 s of allowed clock skew). */
	expires = issued + c->nonce_lifetime + 61;
	if (nonce_rides_tx(r)) {
		/* Settled by req_send when no transaction committed it. */
		if ((e = db_nonce_redeem_deferred(r->db, id, sizeof(id), expires)) != AE_OK) {
			req_fail(r, e, "nonce redeem");
			goto out;
		}
		rc = 0;
		goto out;
	}
	e = db_nonce_redeem(r->db, id, sizeof(id), expires);
	if (e == AE_NONCE_USED) {
		req_problem(r, PROB_BAD_NONCE, "the nonce has already been used");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "nonce redeem");
		goto out;
	}
	rc = 0;
out:
	return rc;
}
