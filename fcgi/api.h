/* The ACME resources (RFC 8555 §7.1) and the router in front of them. Each handler sets the
 * response on r; the router has already checked the method. */
#ifndef ANVIL_FCGI_API_H
#define ANVIL_FCGI_API_H
#include <json-c/json.h>
#include "db/acme.h"
#include "fcgi/request.h"

void api_route(struct req *r);                       /* fcgi/router.c */

void api_directory(struct req *r);                   /* fcgi/directory.c */
void api_new_nonce(struct req *r);                   /* fcgi/directory.c */
void api_new_account(struct req *r);                 /* fcgi/account.c */
void api_account(struct req *r, int64_t id);         /* fcgi/account.c */
void api_account_orders(struct req *r, int64_t id);  /* fcgi/account.c */
void api_key_change(struct req *r);                  /* fcgi/keychange.c */
void api_new_order(struct req *r);                   /* fcgi/order.c */
void api_order(struct req *r, int64_t id);           /* fcgi/order.c */
void api_new_authz(struct req *r);                   /* fcgi/authz.c */
void api_authz(struct req *r, int64_t id);           /* fcgi/authz.c */
void api_challenge(struct req *r, int64_t id);       /* fcgi/challenge.c */
void api_finalize(struct req *r, int64_t order_id);  /* fcgi/finalize.c */
void api_cert(struct req *r, const char *rest);      /* fcgi/cert.c: "SERIAL[/N]" */
void api_revoke_cert(struct req *r);                 /* fcgi/revoke.c */
void api_renewal_info(struct req *r, const char *certid); /* fcgi/renewal.c */
/* RFC 9773 newOrder "replaces" (fcgi/renewal.c): the certificate exists, was issued to
 * account_id and is not replaced yet. 0, or -1 with the problem set (alreadyReplaced...). */
int renewal_check_replaces(struct req *r, int64_t account_id, const char *certid);

/* The account object of RFC 8555 §7.1.2 (NULL when memory is short). */
json_object *api_account_object(struct req *r, const struct db_account *a);

/* Validates a "contact" array (fcgi/contact.c) and returns its canonical JSON text for storage
 * in the arena; on a bad contact sets the problem and returns NULL. */
const char *contact_check(struct req *r, json_object *contact);

/* Verifies newAccount's externalAccountBinding (RFC 8555 §7.3.4, fcgi/eab.c) against the outer
 * JWS's jwk; on success *kid is the EAB key id (in the arena). -1 with the problem set. */
int eab_check(struct req *r, json_object *eab, json_object *outer_jwk, const char **kid);
/* newOrder: -1 with the problem set when the account's EAB key does not allow the profile. */
int eab_scope_check(struct req *r, const struct db_account *acct, const char *profile);

#endif
