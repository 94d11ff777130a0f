/* RFC 8555 §7.4 newOrder: identifiers, profile, validity and "replaces" checked, the
 * authorizations reused or created, the order stored, and its object answered from what was
 * stored (fcgi/order_view.c). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ca/profile.h"
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/order_view.h"
#include "fcgi/orders.h"
#include "lib/log.h"
#include "lib/rfc3339.h"

/* notBefore/notAfter (§7.4) within the profile's validity and backdating; 0 when absent. */
static int
order_validity(struct req *r, json_object *pl, const struct profile *p, int64_t *nb,
    int64_t *na)
{
	static const char *const names[] = { "notBefore", "notAfter" };
	int64_t *outs[] = { nb, na }, start;
	json_object *v = NULL;

	for (int i = 0; i < 2; i++) {
		*outs[i] = 0;
		if (!json_object_object_get_ex(pl, names[i], &v) || v == NULL)
			continue;
		if (!json_object_is_type(v, json_type_string) ||
		    rfc3339_parse(json_object_get_string(v), outs[i]) != 0 || *outs[i] <= 0) {
			req_problem(r, PROB_MALFORMED, "%s must be an RFC 3339 date-time",
			    names[i]);
			return -1;
		}
	}
	start = *nb ? *nb : r->now;
	if (*nb && *nb < r->now - p->max_backdate) {
		req_problem(r, PROB_MALFORMED, "notBefore may lie at most %lld seconds in the past "
		    "in the profile %s", (long long)p->max_backdate, p->name);
		return -1;
	}
	/* The signer's bound (ca/profile.h), not the order's lifetime: a notBefore it would
	 * refuse is refused here, not at finalize with a 500. */
	if (*nb && *nb > r->now + PROFILE_NOTBEFORE_AHEAD) {
		req_problem(r, PROB_MALFORMED, "notBefore may lie at most %d seconds ahead",
		    PROFILE_NOTBEFORE_AHEAD);
		return -1;
	}
	if (*na && (*na <= start || *na <= r->now)) {
		req_problem(r, PROB_MALFORMED, "notAfter must lie after notBefore and in the "
		    "future");
		return -1;
	}
	if (*na && *na - start + 1 > p->max_validity) {
		req_problem(r, PROB_MALFORMED, "the profile %s allows a validity of at most %lld "
		    "days", p->name, (long long)(p->max_validity / 86400));
		return -1;
	}
	return 0;
}

/* RFC 9773 §5: a certificate identifier, base64url "." base64url. */
static int
order_replaces(struct req *r, json_object *pl, const char **out)
{
	json_object *v = NULL;
	const char *s;
	size_t n;

	*out = NULL;
	if (!json_object_object_get_ex(pl, "replaces", &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    (n = (size_t)json_object_get_string_len(v)) == 0 || n > DB_REPLACES_MAX ||
	    strspn((s = json_object_get_string(v)), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_.") != n || strchr(s, '.') == NULL) {
		req_problem(r, PROB_MALFORMED, "replaces must be a certificate identifier "
		    "(RFC 9773 §4.1)");
		return -1;
	}
	/* That it names a certificate of this account: renewal_check_replaces (fcgi/renewal.c). */
	*out = s;
	return 0;
}

/* The view of the order db_order_create just stored, made from what it stored (the same values
 * the rows hold), so newOrder answers without reading them back. aexp[i] is the expiry of the
 * authorization of ids[i]. The authorizations are listed in id order as order_view_authz reads
 * them: a reused one may be older than the new ones. */
static int
view_of_new(struct req *r, struct order_view *v, const struct db_new_order *no,
    const int64_t *aexp, const struct order_ident *ids)
{
	struct db_order *o = &v->o;
	size_t fresh = 0;

	if ((v->authz = arena_alloc(&r->arena, no->nauthz * sizeof(*v->authz))) == NULL) {
		req_fail(r, AE_NOMEM, "order object");
		return -1;
	}
	v->nauthz = 0;
	for (size_t i = 0; i < no->nauthz; i++) {
		const struct db_new_authz *na = &no->authz[i];
		struct db_authz a;
		size_t k;
		memset(&a, 0, sizeof(a));
		a.id = na->id;
		a.account_id = no->account_id;
		a.type = ids[i].type;
		snprintf(a.value, sizeof(a.value), "%s", ids[i].value);
		a.wildcard = ids[i].wildcard;
		a.status = na->reuse_id > 0 ? DB_AUTHZ_VALID : DB_AUTHZ_PENDING;
		a.expires = aexp[i];
		snprintf(a.profile, sizeof(a.profile), "%s", no->profile);
		/* A reused authorization's creation time is not known here; nothing shows it. */
		a.created = na->reuse_id > 0 ? 0 : no->now;
		if (na->reuse_id <= 0)
			fresh++;
		/* Insertion by id; one link per authorization, as the join reads them. */
		for (k = v->nauthz; k > 0 && v->authz[k - 1].id > a.id; k--)
			;
		if (k > 0 && v->authz[k - 1].id == a.id)
			continue;
		memmove(&v->authz[k + 1], &v->authz[k], (v->nauthz - k) * sizeof(a));
		v->authz[k] = a;
		v->nauthz++;
	}
	/* o->id, not_before and not_after are set already. */
	o->account_id = no->account_id;
	o->status = fresh == 0 ? DB_ORDER_READY : DB_ORDER_PENDING;
	v->stored = o->status;
	o->expires = no->expires;
	snprintf(o->identifiers, sizeof(o->identifiers), "%s", no->identifiers);
	snprintf(o->profile, sizeof(o->profile), "%s", no->profile);
	o->error[0] = '\0';
	o->serial[0] = '\0';
	snprintf(o->replaces, sizeof(o->replaces), "%s", no->replaces != NULL ? no->replaces : "");
	o->created = no->now;
	return 0;
}

/* RFC 8555 §7.4. */
void
api_new_order(struct req *r)
{
	const struct fcgi_order_conf *oc = &r->conf->orders;
	struct auth au;
	struct order_ident *ids = NULL;
	struct order_view *v = NULL;
	struct db_new_order *no = NULL;
	const struct profile *p;
	json_object *pl, *prof = NULL, *arr = NULL, *idj = NULL;
	const char *replaces = NULL, *text;
	int64_t *authz_exp = NULL;
	size_t n = 0, fresh = 0;
	anvil_err e;

	if (auth_request(r, AUTH_KID, &au) != 0)
		goto out;
	pl = au.jws->payload_json;
	if (au.jws->post_as_get || !json_object_is_type(pl, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "newOrder needs a JSON object payload");
		goto out;
	}
	if (json_object_object_get_ex(pl, "profile", &prof) && prof != NULL &&
	    (!json_object_is_type(prof, json_type_string) ||
	    json_object_get_string_len(prof) > DB_PROFILE_MAX)) {
		req_problem(r, PROB_INVALID_PROFILE, "profile must be one of the names in the "
		    "directory's meta.profiles");
		goto out;
	}
	json_object_object_get_ex(pl, "identifiers", &arr);
	if ((p = orders_profile(r, prof ? json_object_get_string(prof) : NULL)) == NULL ||
	    eab_scope_check(r, au.acct, p->name) != 0 ||
	    ident_parse_list(r, arr, p, &ids, &n) != 0 ||
	    (no = arena_alloc(&r->arena, sizeof(*no))) == NULL ||
	    (v = arena_alloc(&r->arena, sizeof(*v))) == NULL ||
	    (authz_exp = arena_alloc(&r->arena, n * sizeof(*authz_exp))) == NULL ||
	    (no->authz = arena_alloc(&r->arena, n * sizeof(*no->authz))) == NULL) {
		if (r->status == 0)
			req_fail(r, AE_NOMEM, "newOrder");
		goto out;
	}
	memset(v, 0, sizeof(*v));
	if (order_validity(r, pl, p, &v->o.not_before, &v->o.not_after) != 0 ||
	    order_replaces(r, pl, &replaces) != 0 ||
	    (replaces != NULL && renewal_check_replaces(r, au.acct->id, replaces) != 0))
		goto out;
	no->account_id = au.acct->id;
	no->now = r->now;
	no->expires = r->now + oc->order_lifetime;
	no->authz_expires = r->now + oc->authz_lifetime;
	no->profile = p->name;
	no->not_before = v->o.not_before;
	no->not_after = v->o.not_after;
	no->replaces = replaces;
	no->nauthz = n;
	no->ndomains = 0;
	for (size_t i = 0; i < n; i++) {
		struct db_new_authz *a = &no->authz[i];
		int64_t reuse = 0, aexp = no->authz_expires;
		const char *dom = ident_registered_domain(&ids[i]);
		if (oc->authz_reuse > 0) {
			e = db_authz_find_valid(r->db, au.acct->id, ids[i].type, ids[i].value,
			    ids[i].wildcard, p->name, r->now, r->now - oc->authz_reuse, &reuse,
			    &aexp);
			if (e != AE_OK && e != AE_NOTFOUND) {
				req_fail(r, e, "authorization reuse");
				goto out;
			}
		}
		if (reuse > 0) {
			memset(a, 0, sizeof(*a));
			a->reuse_id = reuse;
		} else {
			if (ident_new_authz(r, &ids[i], a) != 0)
				goto out;
			fresh++;
		}
		/* An order is no use once one of its authorizations expired. */
		if (aexp < no->expires)
			no->expires = aexp;
		authz_exp[i] = aexp;
		if (dom != NULL) {
			size_t k = 0;
			while (k < no->ndomains && strcmp(no->domains[k], dom) != 0)
				k++;
			if (k == no->ndomains)
				no->domains[no->ndomains++] = dom;
		}
	}
	if (rl_check_order(r, au.acct->id, ids, n, &no->rl) != 0)
		goto out;
	if ((idj = req_keep(r, json_object_new_array())) == NULL) {
		req_fail(r, AE_NOMEM, "newOrder");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		json_object_array_add(idj, ident_json(&ids[i]));
	text = json_object_to_json_string_ext(idj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL || strlen(text) > DB_IDENTIFIERS_MAX) {
		req_problem(r, PROB_REJECTED_IDENTIFIER, "the identifiers are too long together");
		goto out;
	}
	no->identifiers = text;
	e = db_order_create(r->db, no, &v->o.id);
	if (e == AE_DENIED && no->rl.hit != NULL) {
		rl_refused(r, &no->rl);
		goto out;
	}
	if (e == AE_EXISTS) {
		req_problem(r, PROB_ALREADY_REPLACED, "the certificate named by replaces has "
		    "already been replaced by another order");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "order create");
		goto out;
	}
	if (view_of_new(r, v, no, authz_exp, ids) != 0)
		goto out;
	log_info("order created id=%lld account=%lld identifiers=%zu new_authz=%zu profile=%s",
	    (long long)v->o.id, (long long)au.acct->id, n, fresh, p->name);
	order_view_respond(r, 201, 1, v);
out:
	return;
}
