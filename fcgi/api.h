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

/* The account object of RFC 8555 §7.1.2 (NULL when memory is short). */
json_object *api_account_object(struct req *r, const struct db_account *a);

/* Validates a "contact" array (fcgi/contact.c) and returns its canonical JSON text for storage
 * in the arena; on a bad contact sets the problem and returns NULL. */
const char *contact_check(struct req *r, json_object *contact);

/* Verifies newAccount's externalAccountBinding (RFC 8555 §7.3.4, fcgi/eab.c) against the outer
 * JWS's jwk; on success *kid is the EAB key id (in the arena). -1 with the problem set. */
int eab_check(struct req *r, json_object *eab, json_object *outer_jwk, const char **kid);

#endif
