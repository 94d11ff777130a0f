/* An order with its authorizations, loaded once per request, and the one order object
 * (RFC 8555 §7.1.3) every answer carrying an order is made of (fcgi/order_view.c): the order by
 * POST-as-GET, newOrder (fcgi/order.c) and finalize (fcgi/finalize.c). */
#ifndef ANVIL_FCGI_ORDER_VIEW_H
#define ANVIL_FCGI_ORDER_VIEW_H
#include <stddef.h>
#include <json-c/json.h>
#include "db/order.h"
#include "fcgi/auth.h"
#include "fcgi/request.h"

struct order_view {
	struct db_order o;
	enum db_order_status stored;  /* the status the database holds (o.status may be ahead) */
	struct db_authz *authz;       /* in authorization id order, as the object lists them */
	size_t nauthz;
	int authz_state;              /* 0 unread, 1 read with the order, 2 refreshed */
	int found;                    /* order_view_auth read an order */
};

/* auth_request_with (AUTH_KID) for a request on order id, POST-as-GET or finalize: the signing
 * account, the order and its authorizations in one statement, into *au and v (in the arena).
 * 0 when the request is authentic (its nonce as auth_request says); order_view_loaded then
 * answers for the order. -1 with the problem set. */
int order_view_auth(struct req *r, int64_t id, struct auth *au, struct order_view *v);
/* After order_view_auth: 0, or -1 with notFound, or unauthorized for another account's order.
 * Separate so that a handler's own refusals (finalize without a signer) come first, as they
 * did when the order was read after them. */
int order_view_loaded(struct req *r, const struct auth *au, struct order_view *v);
/* The order's authorizations in v (read by order_view_auth, else now), a pending or valid one
 * past its expiry turned expired (authz_refresh), once. 0, or -1 with the problem set. */
int order_view_authz(struct req *r, struct order_view *v);
/* Brings a pending or ready order's status up to date from v's authorizations: ready, or
 * invalid with an error, stored from the status read so that a concurrent change wins (then v
 * is read again). With store_ready 0, a pending order that turns ready is ready in v only and
 * v->stored stays pending: for finalize, whose own write moves it on from pending. 0, or -1
 * with the problem set. */
int order_view_refresh(struct req *r, struct order_view *v, int store_ready);
/* The order object of v; NULL when out of memory. */
json_object *order_view_object(struct req *r, const struct order_view *v);
/* Answers v's order object with status, a Location header when location is set (newOrder's
 * 201, finalize), and Retry-After while the order is pending or processing. */
void order_view_respond(struct req *r, int status, int location, const struct order_view *v);

#endif
