/* Authenticating an ACME POST (RFC 8555 §6.2-6.5): Content-Type, body cap, flattened JWS, the
 * algorithm, jwk-or-kid for the resource, the url, the nonce, the signature, and finally the
 * single-use redemption of the nonce. */
#ifndef ANVIL_FCGI_AUTH_H
#define ANVIL_FCGI_AUTH_H
#include <openssl/evp.h>
#include "db/acme.h"
#include "fcgi/request.h"
#include "lib/jwk.h"
#include "lib/jws.h"

enum auth_mode {
	AUTH_JWK,      /* newAccount: the key itself */
	AUTH_KID,      /* everything else: an existing, valid account */
	AUTH_EITHER,   /* revokeCert */
};

struct auth {
	struct jws *jws;                         /* in the arena */
	EVP_PKEY *key;
	char thumbprint[JWK_THUMBPRINT_LEN + 1]; /* AUTH_JWK: of jws.jwk */
	struct db_account *acct;                 /* AUTH_KID: the signing account */
};

/* Returns 0 when the request is authentic and its nonce now spent, or, for newOrder, challenges
 * and finalize, to be spent by the request's first transaction (db_defer_first; req_send spends
 * it if none committed, and answers badNonce for a replay whatever the handler answered);
 * otherwise -1 with the response set. Everything in *a is released with the request's arena. */
int auth_request(struct req *r, enum auth_mode mode, struct auth *a);
/* A read the handler supplies (AUTH_KID): the signing account acct_id into *acct (AE_NOTFOUND
 * when there is none) and, in the same statement (db/), the resource the request names, kept
 * in arg for the handler; jws tells whether the request is a POST-as-GET. So a POST-as-GET
 * costs the account's read, the nonce and nothing else. It runs where the account was read,
 * before the signature is verified and the nonce spent: what it read is the handler's to use
 * only once auth_request_with returned 0. Any error but AE_NOTFOUND fails the request as a
 * failed account read does. */
typedef anvil_err (*auth_read_fn)(struct req *r, const struct jws *jws, int64_t acct_id,
    struct db_account *acct, void *arg);
/* auth_request with read (NULL: the account alone) as the account's read. */
int auth_request_with(struct req *r, enum auth_mode mode, struct auth *a, auth_read_fn read,
    void *arg);
/* Account id from an account URL of this server (base_url/acme/acct/ID), or -1. */
int64_t auth_account_id(struct req *r, const char *url);

#endif
