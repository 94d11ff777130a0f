/* Shared by the order, authorization and challenge handlers (fcgi/order.c, order_view.c,
 * order_list.c, authz.c, challenge.c): identifiers (fcgi/identifier.c), the authorization and
 * challenge objects of RFC 8555 §7.1.4-7.1.5 (fcgi/authz.c), the orders list
 * (fcgi/order_list.c), and the application rate limits (fcgi/ratelimit.c). */
#ifndef ANVIL_FCGI_ORDERS_H
#define ANVIL_FCGI_ORDERS_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/order.h"
#include "fcgi/request.h"

struct profile;

struct order_ident {
	enum db_ident_type type;
	int wildcard;
	char value[DB_IDENT_MAX + 1];   /* lowercase DNS name without "*.", or canonical IP */
};

/* The profile a request names (NULL: the default). On failure the problem is set (no profiles
 * configured, or invalidProfile) and NULL returned. */
const struct profile *orders_profile(struct req *r, const char *name);

/* Parses one identifier object ({"type","value"}) into id, checked against the profile's name
 * policy; wildcards only when allow_wildcard (newAuthz never). -1 with the problem set. */
int ident_parse(struct req *r, json_object *obj, const struct profile *p, int allow_wildcard,
    struct order_ident *id);
/* Parses a newOrder "identifiers" array: sorted, deduplicated, at most the profile's max_names.
 * *ids is in the arena. */
int ident_parse_list(struct req *r, json_object *arr, const struct profile *p,
    struct order_ident **ids, size_t *n);
/* {"type","value"} as answered to the client ("*." restored for a wildcard). */
json_object *ident_json(const struct order_ident *id);
/* The registered domain of a DNS identifier for the rate limits (its last two labels), or NULL
 * for an IP. Points into id. */
const char *ident_registered_domain(const struct order_ident *id);
/* The challenge types offered for the identifier (RFC 8555 §8, RFC 8738 §7). */
size_t ident_challenge_types(const struct order_ident *id, const char *types[3]);
/* Fills a new authorization for id: challenge types and fresh tokens (in the arena). */
int ident_new_authz(struct req *r, const struct order_ident *id, struct db_new_authz *a);

/* An authorization's status as a client sees it now: a pending or valid one past its expiry is
 * expired (and stored so). */
void authz_refresh(struct req *r, struct db_authz *a);
/* The authorization object (§7.1.4) with its challenges; NULL with the problem set. */
json_object *authz_object(struct req *r, const struct db_authz *a);
/* The challenge object (§8). */
json_object *chall_object(struct req *r, const struct db_chall *ch);

/* The account's orders list (§7.1.2.1) after authentication: acme.orders_page_size URLs from
 * the ?cursor=N of the request URL, Link rel="next" when more exist. */
void orders_list(struct req *r, int64_t account_id);

/* Rate limits (acme.rate_limits): 0 when within them, -1 with 429 rateLimited set (or another
 * problem on a database failure). new_authz: authorizations this request creates. */
int rl_check_order(struct req *r, int64_t account_id, const struct order_ident *ids, size_t n,
    size_t new_authz);
int rl_check_authz(struct req *r, int64_t account_id, const struct order_ident *id);

#endif
