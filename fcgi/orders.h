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
json_object *authz_object(struct req *r, const struct db_authz *a, const struct db_chall *ch,
    size_t nch);
/* The challenge object (§8). */
json_object *chall_object(struct req *r, const struct db_chall *ch);

/* The account's orders list (§7.1.2.1) after authentication: acme.orders_page_size URLs from
 * the ?cursor=N of the request URL, Link rel="next" when more exist. */
void orders_list(struct req *r, int64_t account_id);

/* Rate limits (acme.rate_limits): 0 when within the ones counted before creating, -1 with 429
 * rateLimited set (or another problem on a database failure). *rl gets the limits the creating
 * transaction counts (db_rl_account_admit: new_orders, pending_authorizations), none for an
 * exempt account; when that transaction answers AE_DENIED, rl_refused sets the 429 (-1). */
int rl_check_order(struct req *r, int64_t account_id, const struct order_ident *ids, size_t n,
    struct db_rl_account *rl);
int rl_check_authz(struct req *r, int64_t account_id, const struct order_ident *id,
    struct db_rl_account *rl);
int rl_refused(struct req *r, const struct db_rl_account *rl);
/* new_accounts_per_ip: the client's network to count in db_account_create, NULL when the limit
 * is off (or REMOTE_ADDR is no address); rl_account_refused sets the 429 for its AE_DENIED. */
struct db_rl_net;
struct db_rl_net *rl_account_net(struct req *r);
int rl_account_refused(struct req *r, const struct db_rl_net *net);

#endif
