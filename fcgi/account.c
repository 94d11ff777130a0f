#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/orders.h"
#include "lib/jwk.h"
#include "lib/keycache.h"
#include "lib/log.h"

json_object *
api_account_object(struct req *r, const struct db_account *a)
{
	json_object *o = json_object_new_object(), *contact = NULL;
	const char *orders = req_url(r, "/acme/acct/%lld/orders", (long long)a->id);

	if (o == NULL || orders == NULL) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "status",
	    json_object_new_string(db_account_status_name(a->status)));
	/* Stored by us, after validation, as a JSON array. */
	contact = json_tokener_parse(a->contact);
	if (contact != NULL && json_object_is_type(contact, json_type_array) &&
	    json_object_array_length(contact) > 0)
		json_object_object_add(o, "contact", contact);
	else
		json_object_put(contact);
	json_object_object_add(o, "orders", json_object_new_string(orders));
	return o;
}

static void
respond_account(struct req *r, int status, const struct db_account *a)
{
	const char *loc = req_url(r, "/acme/acct/%lld", (long long)a->id);
	json_object *o = api_account_object(r, a);

	if (loc == NULL || o == NULL) {
		json_object_put(o);
		req_fail(r, AE_NOMEM, "account object");
		return;
	}
	req_json(r, status, o);
	req_header(r, "Location", "%s", loc);
}

/* Optional boolean member: 0/1, or -1 (problem set) when it has another type. */
static int
get_flag(struct req *r, json_object *pl, const char *name)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(pl, name, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		req_problem(r, PROB_MALFORMED, "%s must be true or false", name);
		return -1;
	}
	return json_object_get_boolean(v) ? 1 : 0;
}

static void
free_str(void *p)
{
	free(p);
}

/* RFC 8555 §7.3. */
void
api_new_account(struct req *r)
{
	const struct fcgi_conf *c = r->conf;
	struct auth a;
	struct db_account *acct = NULL;
	struct db_rl_net *net = NULL;
	json_object *pl, *contact = NULL, *eab = NULL;
	const char *contact_text = "[]", *eab_kid = NULL;
	char *jwk = NULL;
	int tos, only_existing;
	anvil_err e;

	if (auth_request(r, AUTH_JWK, &a) != 0)
		goto out;
	pl = a.jws->payload_json;
	if (a.jws->post_as_get || !json_object_is_type(pl, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "newAccount needs a JSON object payload");
		goto out;
	}
	if ((tos = get_flag(r, pl, "termsOfServiceAgreed")) < 0 ||
	    (only_existing = get_flag(r, pl, "onlyReturnExisting")) < 0)
		goto out;
	if ((acct = arena_alloc(&r->arena, sizeof(*acct))) == NULL) {
		req_fail(r, AE_NOMEM, "newAccount");
		goto out;
	}
	e = db_account_by_thumbprint(r->db, a.thumbprint, acct);
	if (e == AE_OK) {
		if (acct->status != DB_ACCT_VALID) {
			req_problem(r, PROB_DEACTIVATED, "the account of this key is %s",
			    db_account_status_name(acct->status));
			goto out;
		}
		respond_account(r, 200, acct);
		goto out;
	}
	if (e != AE_NOTFOUND) {
		req_fail(r, e, "account lookup");
		goto out;
	}
	if (only_existing) {
		req_problem(r, PROB_ACCOUNT_DOES_NOT_EXIST, "no account exists with this key");
		goto out;
	}
	/* RFC 8555 §7.3 makes agreement a client statement and names no error type for its
	 * absence (userActionRequired, §7.3.3, is for terms changed after an agreement): like
	 * other ACME servers we answer malformed and point at the terms. */
	if (c->terms_of_service != NULL && !tos) {
		req_problem(r, PROB_MALFORMED, "you must agree to the terms of service "
		    "(termsOfServiceAgreed: true)");
		req_header(r, "Link", "<%s>;rel=\"terms-of-service\"", c->terms_of_service);
		goto out;
	}
	if (json_object_object_get_ex(pl, "contact", &contact) && contact != NULL &&
	    (contact_text = contact_check(r, contact)) == NULL)
		goto out;
	if (json_object_object_get_ex(pl, "externalAccountBinding", &eab) && eab != NULL) {
		if (eab_check(r, eab, a.jws->jwk, &eab_kid) != 0)
			goto out;
	} else if (c->external_account_required) {
		req_problem(r, PROB_EAB_REQUIRED, "this server requires an "
		    "externalAccountBinding to create an account");
		goto out;
	}
	if ((e = jwk_canonical(a.jws->jwk, &jwk)) != AE_OK) {
		req_problem(r, PROB_BAD_PUBLIC_KEY, "the jwk is not an acceptable key");
		goto out;
	}
	arena_defer(&r->arena, free_str, jwk);
	if (strlen(jwk) > DB_JWK_MAX) {
		req_problem(r, PROB_BAD_PUBLIC_KEY, "the key is too large");
		goto out;
	}
	memset(acct, 0, sizeof(*acct));
	net = rl_account_net(r);
	e = db_account_create(r->db, a.thumbprint, jwk, contact_text, eab_kid, net, &acct->id);
	if (e == AE_DENIED && net != NULL) {
		rl_account_refused(r, net);
		goto out;
	}
	if (e == AE_DB_DUPLICATE) {
		/* Another request registered the same key a moment ago: that account it is. */
		if ((e = db_account_by_thumbprint(r->db, a.thumbprint, acct)) == AE_OK) {
			respond_account(r, 200, acct);
			goto out;
		}
	}
	if (e == AE_EXISTS) {
		req_problem(r, PROB_UNAUTHORIZED, "this externalAccountBinding key can bind no "
		    "more accounts (its limit was reached, or it was revoked or expired)");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "account create");
		goto out;
	}
	acct->status = DB_ACCT_VALID;
	snprintf(acct->thumbprint, sizeof(acct->thumbprint), "%s", a.thumbprint);
	snprintf(acct->contact, sizeof(acct->contact), "%s", contact_text);
	log_info("account created id=%lld eab=%s", (long long)acct->id, eab_kid ? "yes" : "no");
	respond_account(r, 201, acct);
out:
	return;
}

/* The account URL (RFC 8555 §7.3.2 update, §7.3.6 deactivation, POST-as-GET). */
void
api_account(struct req *r, int64_t id)
{
	struct auth a;
	json_object *pl, *status = NULL, *contact = NULL;
	const char *text;
	anvil_err e;

	if (auth_request(r, AUTH_KID, &a) != 0)
		goto out;
	if (a.acct->id != id) {
		req_problem(r, PROB_UNAUTHORIZED, "the JWS kid is not this account");
		goto out;
	}
	pl = a.jws->payload_json;
	if (a.jws->post_as_get) {
		respond_account(r, 200, a.acct);
		goto out;
	}
	if (!json_object_is_type(pl, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "the payload must be a JSON object or empty");
		goto out;
	}
	if (json_object_object_get_ex(pl, "status", &status) && status != NULL) {
		if (!json_object_is_type(status, json_type_string) ||
		    strcmp(json_object_get_string(status), "deactivated") != 0) {
			req_problem(r, PROB_MALFORMED, "a client may only set status to "
			    "\"deactivated\"");
			goto out;
		}
		if ((e = db_account_deactivate(r->db, id)) != AE_OK) {
			req_fail(r, e, "account deactivate");
			goto out;
		}
		a.acct->status = DB_ACCT_DEACTIVATED;
		/* The status read with every request refuses it already; this frees the slot. */
		keycache_forget(r->keys, id);
		log_info("account deactivated id=%lld", (long long)id);
		respond_account(r, 200, a.acct);
		goto out;
	}
	if (json_object_object_get_ex(pl, "contact", &contact) && contact != NULL) {
		if ((text = contact_check(r, contact)) == NULL)
			goto out;
		if ((e = db_account_set_contact(r->db, id, text)) != AE_OK) {
			req_fail(r, e, "account contact");
			goto out;
		}
		snprintf(a.acct->contact, sizeof(a.acct->contact), "%s", text);
	}
	respond_account(r, 200, a.acct);
out:
	return;
}

/* RFC 8555 §7.1.2.1, paginated with Link rel="next". */
void
api_account_orders(struct req *r, int64_t id)
{
	struct auth a;

	if (auth_request(r, AUTH_KID, &a) != 0)
		goto out;
	if (a.acct->id != id) {
		req_problem(r, PROB_UNAUTHORIZED, "the JWS kid is not this account");
		goto out;
	}
	if (!a.jws->post_as_get) {
		req_problem(r, PROB_MALFORMED, "the orders list is read with POST-as-GET");
		goto out;
	}
	orders_list(r, id);  /* fcgi/order_list.c */
out:
	return;
}
