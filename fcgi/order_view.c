/* The order object (RFC 8555 §7.1.3) and its status (§7.1.6), one view for every answer that
 * carries an order: the order by POST-as-GET (here), newOrder's 201 (fcgi/order.c) and
 * finalize's 200 (fcgi/finalize.c). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/order_view.h"
#include "fcgi/orders.h"
#include "lib/log.h"
#include "lib/rfc3339.h"

#define ACME_ERR "urn:ietf:params:acme:error:"

static int
view_alloc(struct req *r, struct order_view *v)
{
	v->nauthz = 0;
	v->authz_state = 0;
	if ((v->authz = arena_alloc(&r->arena, DB_ORDER_AUTHZ_MAX * sizeof(*v->authz))) == NULL) {
		req_fail(r, AE_NOMEM, "order");
		return -1;
	}
	return 0;
}

/* The answer to v's read (e: AE_NOTFOUND when there is no such order) for account acct_id. */
static int
view_loaded(struct req *r, anvil_err e, int64_t acct_id, struct order_view *v)
{
	if (e == AE_NOTFOUND) {
		req_problem(r, PROB_NOT_FOUND, "no such order");
		return -1;
	}
	if (e != AE_OK) {
		req_fail(r, e, "order lookup");
		return -1;
	}
	if (v->o.account_id != acct_id) {
		req_problem(r, PROB_UNAUTHORIZED, "this order belongs to another account");
		return -1;
	}
	v->authz_state = 1;
	return 0;
}


int
order_view_authz(struct req *r, struct order_view *v)
{
	anvil_err e;

	if (v->authz_state == 2)
		return 0;
	if (v->authz_state == 0) {
		v->nauthz = 0;
		if ((v->authz = arena_alloc(&r->arena, DB_ORDER_AUTHZ_MAX *
		    sizeof(*v->authz))) == NULL) {
			req_fail(r, AE_NOMEM, "order authorizations");
			return -1;
		}
		if ((e = db_order_authz_list(r->db, v->o.id, v->authz, DB_ORDER_AUTHZ_MAX,
		    &v->nauthz)) != AE_OK) {
			req_fail(r, e, "order authorizations");
			return -1;
		}
	}
	for (size_t i = 0; i < v->nauthz; i++)
		authz_refresh(r, &v->authz[i]);
	v->authz_state = 2;
	return 0;
}

/* The error of an order whose authorization a failed: the failed challenge's problem when
 * there is one, with the identifier added (RFC 8555 §6.7.1 subproblem style). */
static char *
authz_failure(struct req *r, const struct db_authz *a)
{
	struct db_chall *ch = arena_alloc(&r->arena, DB_AUTHZ_CHALL_MAX * sizeof(*ch));
	json_object *err = NULL, *id;
	size_t nch = 0;
	char *out = NULL;
	const char *s;

	if (ch != NULL && db_chall_list(r->db, a->id, ch, DB_AUTHZ_CHALL_MAX, &nch) != AE_OK)
		nch = 0;
	for (size_t i = 0; i < nch && err == NULL; i++)
		if (ch[i].status == DB_CHALL_INVALID && ch[i].error[0] != '\0')
			err = json_tokener_parse(ch[i].error);
	if (err != NULL && !json_object_is_type(err, json_type_object)) {
		json_object_put(err);
		err = NULL;
	}
	if (err == NULL) {
		char detail[512];
		if ((err = json_object_new_object()) == NULL)
			return NULL;
		snprintf(detail, sizeof(detail), "the authorization for %s %s%s is %s",
		    db_ident_type_name(a->type), a->wildcard ? "*." : "", a->value,
		    db_authz_status_name(a->status));
		json_object_object_add(err, "type", json_object_new_string(ACME_ERR
		    "unauthorized"));
		json_object_object_add(err, "detail", json_object_new_string(detail));
		json_object_object_add(err, "status", json_object_new_int(403));
	}
	if ((id = json_object_new_object()) != NULL) {
		json_object_object_add(id, "type",
		    json_object_new_string(db_ident_type_name(a->type)));
		json_object_object_add(id, "value", json_object_new_string(a->value));
		json_object_object_add(err, "identifier", id);
	}
	s = json_object_to_json_string_ext(err, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL && strlen(s) <= DB_PROBLEM_MAX)
		out = arena_strndup(&r->arena, s, strlen(s));
	json_object_put(err);
	return out;
}

/* RFC 8555 §7.1.6: a pending order turns ready when every authorization is valid, and a
 * pending or ready one invalid when one of them is not usable any more or it expired. The
 * change is stored (from the state read, so a concurrent finalize wins). */
int
order_view_refresh(struct req *r, struct order_view *v, int store_ready)
{
	enum db_order_status to = v->o.status;
	const char *err = NULL;
	size_t valid = 0;
	int changed = 0;
	anvil_err e;

	v->stored = v->o.status;
	if (v->o.status != DB_ORDER_PENDING && v->o.status != DB_ORDER_READY)
		return 0;
	for (size_t i = 0; i < v->nauthz && err == NULL; i++) {
		const struct db_authz *a = &v->authz[i];
		if (a->status == DB_AUTHZ_VALID)
			valid++;
		else if (a->status != DB_AUTHZ_PENDING) {
			to = DB_ORDER_INVALID;
			err = authz_failure(r, a);
			if (err == NULL)
				err = "{\"type\":\"" ACME_ERR "unauthorized\",\"detail\":\"an "
				    "authorization of this order failed\"}";
		}
	}
	if (err == NULL && v->o.expires <= r->now) {
		to = DB_ORDER_INVALID;
		err = "{\"type\":\"" ACME_ERR "malformed\",\"detail\":\"the order expired "
		    "before it was finalized\"}";
	}
	if (err == NULL && valid == v->nauthz && v->nauthz > 0)
		to = DB_ORDER_READY;
	if (to == v->o.status)
		return 0;
	if (to == DB_ORDER_READY && !store_ready) {
		v->o.status = to;
		return 0;
	}
	if ((e = db_order_set_status(r->db, v->o.id, v->o.status, to, err, &changed)) != AE_OK) {
		req_fail(r, e, "order status");
		return -1;
	}
	if (!changed) {
		/* Someone else moved it: read it again. */
		if ((e = db_order_get(r->db, v->o.id, &v->o)) != AE_OK) {
			req_fail(r, e, "order lookup");
			return -1;
		}
		v->stored = v->o.status;
		return 0;
	}
	v->stored = to;
	v->o.status = to;
	if (err != NULL)
		snprintf(v->o.error, sizeof(v->o.error), "%s", err);
	log_info("order id=%lld status=%s", (long long)v->o.id, db_order_status_name(to));
	return 0;
}

json_object *
order_view_object(struct req *r, const struct order_view *v)
{
	const struct db_order *o = &v->o;
	json_object *obj = json_object_new_object(), *arr = json_object_new_array(), *x;
	char t[RFC3339_BUF];
	const char *u;

	if (obj == NULL || arr == NULL) {
		json_object_put(obj);
		json_object_put(arr);
		return NULL;
	}
	json_object_object_add(obj, "status", json_object_new_string(
	    db_order_status_name(o->status)));
	rfc3339_format(o->expires, t);
	json_object_object_add(obj, "expires", json_object_new_string(t));
	/* Stored by us as the canonical JSON array. */
	if ((x = json_tokener_parse(o->identifiers)) != NULL)
		json_object_object_add(obj, "identifiers", x);
	if (o->not_before > 0) {
		rfc3339_format(o->not_before, t);
		json_object_object_add(obj, "notBefore", json_object_new_string(t));
	}
	if (o->not_after > 0) {
		rfc3339_format(o->not_after, t);
		json_object_object_add(obj, "notAfter", json_object_new_string(t));
	}
	json_object_object_add(obj, "profile", json_object_new_string(o->profile));
	if (o->replaces[0] != '\0')
		json_object_object_add(obj, "replaces", json_object_new_string(o->replaces));
	for (size_t i = 0; i < v->nauthz; i++)
		if ((u = req_url(r, "/acme/authz/%lld", (long long)v->authz[i].id)) != NULL)
			json_object_array_add(arr, json_object_new_string(u));
	json_object_object_add(obj, "authorizations", arr);
	if ((u = req_url(r, "/acme/order/%lld/finalize", (long long)o->id)) != NULL)
		json_object_object_add(obj, "finalize", json_object_new_string(u));
	if (o->status == DB_ORDER_VALID && o->serial[0] != '\0' &&
	    (u = req_url(r, "/acme/cert/%s", o->serial)) != NULL)
		json_object_object_add(obj, "certificate", json_object_new_string(u));
	if (o->status == DB_ORDER_INVALID && (x = json_tokener_parse(o->error)) != NULL)
		json_object_object_add(obj, "error", x);
	return obj;
}

void
order_view_respond(struct req *r, int status, int location, const struct order_view *v)
{
	json_object *obj = order_view_object(r, v);
	const char *loc = req_url(r, "/acme/order/%lld", (long long)v->o.id);

	if (obj == NULL || loc == NULL) {
		json_object_put(obj);
		req_fail(r, AE_NOMEM, "order object");
		return;
	}
	req_json(r, status, obj);
	if (location)
		req_header(r, "Location", "%s", loc);
	if (v->o.status == DB_ORDER_PENDING || v->o.status == DB_ORDER_PROCESSING)
		req_retry_after(r);
}

/* What is read with the signing account: the order and its authorizations (GET needs them,
 * and finalize too unless the order is past ready). */
struct order_read {
	int64_t id;
	struct order_view *v;
};

static anvil_err
order_read(struct req *r, const struct jws *jws, int64_t acct_id, struct db_account *acct,
    void *arg)
{
	struct order_read *x = arg;

	(void)jws;
	return db_order_get_view_acct(r->db, acct_id, acct, x->id, &x->v->o, x->v->authz,
	    DB_ORDER_AUTHZ_MAX, &x->v->nauthz, &x->v->found);
}

int
order_view_auth(struct req *r, int64_t id, struct auth *au, struct order_view *v)
{
	struct order_read rd = { .id = id, .v = v };

	v->found = 0;
	if (view_alloc(r, v) != 0)
		return -1;
	return auth_request_with(r, AUTH_KID, au, order_read, &rd);
}

int
order_view_loaded(struct req *r, const struct auth *au, struct order_view *v)
{
	return view_loaded(r, v->found ? AE_OK : AE_NOTFOUND, au->acct->id, v);
}

/* RFC 8555 §7.1.3 and §7.4: the order, by POST-as-GET. */
void
api_order(struct req *r, int64_t id)
{
	struct auth au;
	struct order_view *v = NULL;

	if ((v = arena_alloc(&r->arena, sizeof(*v))) == NULL) {
		req_fail(r, AE_NOMEM, "order");
		goto out;
	}
	if (order_view_auth(r, id, &au, v) != 0)
		goto out;
	if (!au.jws->post_as_get) {
		req_problem(r, PROB_MALFORMED, "an order is read with POST-as-GET (an empty "
		    "payload)");
		goto out;
	}
	if (order_view_loaded(r, &au, v) != 0 ||
	    order_view_authz(r, v) != 0 || order_view_refresh(r, v, 1) != 0)
		goto out;
	order_view_respond(r, 200, 0, v);
out:
	return;
}
