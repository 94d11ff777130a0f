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
/* Account id from an account URL of this server (base_url/acme/acct/ID), or -1. */
int64_t auth_account_id(struct req *r, const char *url);

#endif
