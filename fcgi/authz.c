#include "config.h"
#include <stdio.h>
#include <string.h>
#include "ca/profile.h"
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/orders.h"
#include "lib/log.h"
#include "lib/rfc3339.h"

void
authz_refresh(struct req *r, struct db_authz *a)
{
	anvil_err e;

	if ((a->status != DB_AUTHZ_PENDING && a->status != DB_AUTHZ_VALID) || a->expires > r->now)
		return;
	a->status = DB_AUTHZ_EXPIRED;
	/* Best effort: the status a client sees does not depend on the write. */
	if ((e = db_authz_expire(r->db, a->id, r->now)) != AE_OK)
		log_warn("authz %lld: expire: %s", (long long)a->id, anvil_strerror(e));
}

/* A problem document we stored ourselves (JSON object), or NULL. */
static json_object *
stored_json(const char *s)
{
	json_object *o;

	if (s == NULL || *s == '\0' || (o = json_tokener_parse(s)) == NULL)
		return NULL;
	return o;
}

json_object *
chall_object(struct req *r, const struct db_chall *ch)
{
	json_object *o = json_object_new_object(), *v;
	const char *url = req_url(r, "/acme/chall/%lld", (long long)ch->id);
	char t[RFC3339_BUF];

	if (o == NULL || url == NULL) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "type", json_object_new_string(ch->type));
	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "status",
	    json_object_new_string(db_chall_status_name(ch->status)));
	json_object_object_add(o, "token", json_object_new_string(ch->token));
	if (ch->validated > 0) {
		rfc3339_format(ch->validated, t);
		json_object_object_add(o, "validated", json_object_new_string(t));
	}
	if ((v = stored_json(ch->error)) != NULL)
		json_object_object_add(o, "error", v);
	if ((v = stored_json(ch->record)) != NULL)
		json_object_object_add(o, "validationRecord", v);
	return o;
}

json_object *
authz_object(struct req *r, const struct db_authz *a, const struct db_chall *ch, size_t nch)
{
	json_object *o = json_object_new_object(), *id = json_object_new_object();
	json_object *chs = json_object_new_array(), *all = json_object_new_array();
	int nvalid = 0;
	char t[RFC3339_BUF];

	if (o == NULL || id == NULL || chs == NULL || all == NULL) {
		req_fail(r, AE_NOMEM, "authorization object");
		goto fail;
	}
	json_object_object_add(id, "type", json_object_new_string(db_ident_type_name(a->type)));
	json_object_object_add(id, "value", json_object_new_string(a->value));
	json_object_object_add(o, "identifier", id);
	id = NULL;
	json_object_object_add(o, "status", json_object_new_string(
	    db_authz_status_name(a->status)));
	rfc3339_format(a->expires, t);
	json_object_object_add(o, "expires", json_object_new_string(t));
	for (size_t i = 0; i < nch; i++) {
		json_object *c;
		if ((c = chall_object(r, &ch[i])) == NULL) {
			req_fail(r, AE_NOMEM, "challenge object");
			goto fail;
		}
		/* §7.1.4: a valid authorization lists the challenge that was validated. */
		if (ch[i].status == DB_CHALL_VALID) {
			json_object_array_add(chs, json_object_get(c));
			nvalid++;
		}
		json_object_array_add(all, c);
	}
	if (a->status == DB_AUTHZ_VALID && nvalid > 0) {
		json_object_object_add(o, "challenges", chs);
		json_object_put(all);
	} else {
		json_object_object_add(o, "challenges", all);
		json_object_put(chs);
	}
	if (a->wildcard)
		json_object_object_add(o, "wildcard", json_object_new_boolean(1));
	return o;
fail:
	json_object_put(o);
	json_object_put(id);
	json_object_put(chs);
	json_object_put(all);
	return NULL;
}

static void
respond_authz(struct req *r, int status, const struct db_authz *a, const struct db_chall *ch,
    size_t nch)
{
	json_object *o = authz_object(r, a, ch, nch);
	const char *loc = req_url(r, "/acme/authz/%lld", (long long)a->id);

	if (o == NULL)
		return;   /* problem set */
	if (loc == NULL) {
		json_object_put(o);
		req_fail(r, AE_NOMEM, "authorization object");
		return;
	}
	req_json(r, status, o);
	if (status == 201)
		req_header(r, "Location", "%s", loc);
	if (a->status == DB_AUTHZ_PENDING)
		req_retry_after(r);
}

/* What api_authz reads with the signing account. */
struct authz_read {
	int64_t id;
	struct db_authz *a;
	struct db_chall *ch;
	size_t nch;
	int found;
};

/* The authorization and its challenges are one row (db/authz.c), read with the account. */
static anvil_err
authz_read(struct req *r, const struct jws *jws, int64_t acct_id, struct db_account *acct,
    void *arg)
{
	struct authz_read *x = arg;
	anvil_err e;

	(void)jws;
	e = db_authz_get_challs_acct(r->db, acct_id, acct, x->id, x->a, x->ch,
	    DB_AUTHZ_CHALL_MAX, &x->nch, &x->found);
	return e == AE_TOOBIG ? AE_DB : e;
}

/* RFC 8555 §7.5 (POST-as-GET) and §7.5.2 (deactivation). */
void
api_authz(struct req *r, int64_t id)
{
	struct auth au;
	struct authz_read rd = { .id = id };
	struct db_authz *a = NULL;
	struct db_chall *ch = NULL;
	size_t nch = 0;
	json_object *pl, *st = NULL;
	int changed = 0;
	anvil_err e;

	if ((a = arena_alloc(&r->arena, sizeof(*a))) == NULL ||
	    (ch = arena_alloc(&r->arena, DB_AUTHZ_CHALL_MAX * sizeof(*ch))) == NULL) {
		req_fail(r, AE_NOMEM, "authorization");
		goto out;
	}
	rd.a = a;
	rd.ch = ch;
	if (auth_request_with(r, AUTH_KID, &au, authz_read, &rd) != 0)
		goto out;
	if (!rd.found) {
		req_problem(r, PROB_NOT_FOUND, "no such authorization");
		goto out;
	}
	nch = rd.nch;
	if (a->account_id != au.acct->id) {
		req_problem(r, PROB_UNAUTHORIZED, "this authorization belongs to another account");
		goto out;
	}
	authz_refresh(r, a);
	pl = au.jws->payload_json;
	if (au.jws->post_as_get) {
		respond_authz(r, 200, a, ch, nch);
		goto out;
	}
	if (!json_object_is_type(pl, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "the payload must be a JSON object or empty");
		goto out;
	}
	if (!json_object_object_get_ex(pl, "status", &st) || st == NULL) {
		respond_authz(r, 200, a, ch, nch);
		goto out;
	}
	if (!json_object_is_type(st, json_type_string) ||
	    strcmp(json_object_get_string(st), "deactivated") != 0) {
		req_problem(r, PROB_MALFORMED, "a client may only set status to \"deactivated\"");
		goto out;
	}
	if ((e = db_authz_deactivate(r->db, id, &changed)) != AE_OK) {
		req_fail(r, e, "authorization deactivate");
		goto out;
	}
	if (!changed) {
		req_problem(r, PROB_MALFORMED, "only a pending or valid authorization can be "
		    "deactivated; this one is %s", db_authz_status_name(a->status));
		goto out;
	}
	a->status = DB_AUTHZ_DEACTIVATED;
	log_info("authz deactivated id=%lld account=%lld", (long long)id,
	    (long long)au.acct->id);
	respond_authz(r, 200, a, ch, nch);
out:
	return;
}

/* RFC 8555 §7.4.1: pre-authorization of one exact identifier, in the default profile. */
void
api_new_authz(struct req *r)
{
	struct auth au;
	struct order_ident id;
	struct db_new_authz na;
	struct db_authz *a = NULL;
	struct db_chall *ch = NULL;
	struct db_rl_account rl;
	const struct profile *p;
	json_object *pl, *ido = NULL;
	anvil_err e;

	if (auth_request(r, AUTH_KID, &au) != 0)
		goto out;
	pl = au.jws->payload_json;
	if (au.jws->post_as_get || !json_object_is_type(pl, json_type_object) ||
	    !json_object_object_get_ex(pl, "identifier", &ido)) {
		req_problem(r, PROB_MALFORMED, "newAuthz needs an object with an \"identifier\"");
		goto out;
	}
	if ((p = orders_profile(r, NULL)) == NULL ||
	    ident_parse(r, ido, p, 0, &id) != 0 ||
	    rl_check_authz(r, au.acct->id, &id, &rl) != 0 ||
	    ident_new_authz(r, &id, &na) != 0)
		goto out;
	if ((a = arena_alloc(&r->arena, sizeof(*a))) == NULL ||
	    (ch = arena_alloc(&r->arena, DB_AUTHZ_CHALL_MAX * sizeof(*ch))) == NULL ||
	    na.nchall > DB_AUTHZ_CHALL_MAX) {
		req_fail(r, AE_NOMEM, "newAuthz");
		goto out;
	}
	e = db_authz_create(r->db, au.acct->id, p->name, r->now + r->conf->orders.authz_lifetime,
	    r->now, &na, &rl);
	if (e == AE_DENIED && rl.hit != NULL) {
		rl_refused(r, &rl);
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "authorization create");
		goto out;
	}
	memset(a, 0, sizeof(*a));
	a->id = na.id;
	a->account_id = au.acct->id;
	a->type = id.type;
	snprintf(a->value, sizeof(a->value), "%s", id.value);
	a->status = DB_AUTHZ_PENDING;
	a->expires = r->now + r->conf->orders.authz_lifetime;
	snprintf(a->profile, sizeof(a->profile), "%s", p->name);
	a->created = r->now;
	/* What was just written is the answer: no read back. */
	for (size_t i = 0; i < na.nchall; i++) {
		memset(&ch[i], 0, sizeof(ch[i]));
		ch[i].id = db_chall_id(a->id, db_chall_type_index(na.chall_types[i]));
		ch[i].authz_id = a->id;
		snprintf(ch[i].type, sizeof(ch[i].type), "%s", na.chall_types[i]);
		snprintf(ch[i].token, sizeof(ch[i].token), "%s", na.tokens[i]);
		ch[i].status = DB_CHALL_PENDING;
	}
	log_info("authz created id=%lld account=%lld", (long long)a->id, (long long)a->account_id);
	respond_authz(r, 201, a, ch, na.nchall);
out:
	return;
}
