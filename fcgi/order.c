#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ca/profile.h"
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/order_view.h"
#include "fcgi/orders.h"
#include "lib/log.h"
#include "lib/num.h"

#define ACME_ERR "urn:ietf:params:acme:error:"

void
orders_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/* n digits at s as a number in [min, max]. */
static int
digits(const char *s, size_t n, int min, int max, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
orders_time_parse(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	const char *p;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 20 || strlen(s) > 64 ||
	    digits(s, 4, 1970, 9999, &y) || s[4] != '-' || digits(s + 5, 2, 1, 12, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, 1, 31, &d) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, 0, 23, &h) || s[13] != ':' || digits(s + 14, 2, 0, 59, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, 0, 60, &sec))
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		/* UTC */
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
	    digits(p + 1, 2, 0, 23, &oh) == 0 && digits(p + 4, 2, 0, 59, &om) == 0) {
		if (*p == '-') {
			oh = -oh;
			om = -om;
		}
	} else {
		return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_mday != d)
		return -1;
	*out = (int64_t)t - (int64_t)oh * 3600 - (int64_t)om * 60;
	return 0;
}

void
orders_retry_after(struct req *r)
{
	req_header(r, "Retry-After", "%lld", (long long)r->conf->orders.poll_after);
}

int
order_view_authz(struct req *r, struct order_view *v)
{
	anvil_err e;

	v->nauthz = 0;
	if ((v->authz = arena_alloc(&r->arena, DB_ORDER_AUTHZ_MAX * sizeof(*v->authz))) == NULL) {
		req_fail(r, AE_NOMEM, "order authorizations");
		return -1;
	}
	if ((e = db_order_authz_list(r->db, v->o.id, v->authz, DB_ORDER_AUTHZ_MAX,
	    &v->nauthz)) != AE_OK) {
		req_fail(r, e, "order authorizations");
		return -1;
	}
	for (size_t i = 0; i < v->nauthz; i++)
		authz_refresh(r, &v->authz[i]);
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

static json_object *
order_object(struct req *r, const struct order_view *v)
{
	const struct db_order *o = &v->o;
	json_object *obj = json_object_new_object(), *arr = json_object_new_array(), *x;
	char t[32];
	const char *u;

	if (obj == NULL || arr == NULL) {
		json_object_put(obj);
		json_object_put(arr);
		return NULL;
	}
	json_object_object_add(obj, "status", json_object_new_string(
	    db_order_status_name(o->status)));
	orders_time(o->expires, t);
	json_object_object_add(obj, "expires", json_object_new_string(t));
	/* Stored by us as the canonical JSON array. */
	if ((x = json_tokener_parse(o->identifiers)) != NULL)
		json_object_object_add(obj, "identifiers", x);
	if (o->not_before > 0) {
		orders_time(o->not_before, t);
		json_object_object_add(obj, "notBefore", json_object_new_string(t));
	}
	if (o->not_after > 0) {
		orders_time(o->not_after, t);
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

static void
respond_order(struct req *r, int status, const struct order_view *v)
{
	json_object *obj = order_object(r, v);
	const char *loc = req_url(r, "/acme/order/%lld", (long long)v->o.id);

	if (obj == NULL || loc == NULL) {
		json_object_put(obj);
		req_fail(r, AE_NOMEM, "order object");
		return;
	}
	req_json(r, status, obj);
	if (status == 201)
		req_header(r, "Location", "%s", loc);
	if (v->o.status == DB_ORDER_PENDING || v->o.status == DB_ORDER_PROCESSING)
		orders_retry_after(r);
}

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
		    orders_time_parse(json_object_get_string(v), outs[i]) != 0 || *outs[i] <= 0) {
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
	respond_order(r, 201, v);
out:
	return;
}

/* RFC 8555 §7.1.3 and §7.4: the order, by POST-as-GET. */
void
api_order(struct req *r, int64_t id)
{
	struct auth au;
	struct order_view *v = NULL;
	anvil_err e;

	if (auth_request(r, AUTH_KID, &au) != 0)
		goto out;
	if (!au.jws->post_as_get) {
		req_problem(r, PROB_MALFORMED, "an order is read with POST-as-GET (an empty "
		    "payload)");
		goto out;
	}
	if ((v = arena_alloc(&r->arena, sizeof(*v))) == NULL) {
		req_fail(r, AE_NOMEM, "order");
		goto out;
	}
	if ((e = db_order_get(r->db, id, &v->o)) == AE_NOTFOUND) {
		req_problem(r, PROB_NOT_FOUND, "no such order");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "order lookup");
		goto out;
	}
	if (v->o.account_id != au.acct->id) {
		req_problem(r, PROB_UNAUTHORIZED, "this order belongs to another account");
		goto out;
	}
	if (order_view_authz(r, v) != 0 || order_view_refresh(r, v, 1) != 0)
		goto out;
	respond_order(r, 200, v);
out:
	return;
}

void
orders_list(struct req *r, int64_t account_id)
{
	const char *q = strchr(r->uri, '?');
	int64_t after = 0, page = r->conf->orders.orders_page_size, *ids = NULL;
	json_object *o = NULL, *arr = NULL;
	size_t nids = 0;
	anvil_err e;

	if (q != NULL) {
		if (strncmp(q, "?cursor=", 8) != 0 ||
		    num_parse_i64(q + 8, 0, INT64_MAX, &after) != AE_OK) {
			req_problem(r, PROB_MALFORMED, "the only query is ?cursor=N from a "
			    "Link rel=\"next\"");
			goto out;
		}
	}
	if ((o = req_keep(r, json_object_new_object())) == NULL ||
	    (arr = json_object_new_array()) == NULL) {
		req_fail(r, AE_NOMEM, "orders list");
		goto out;
	}
	json_object_object_add(o, "orders", arr);
	/* One more than a page: whether a next page exists. */
	if ((ids = arena_alloc(&r->arena, (size_t)(page + 1) * sizeof(*ids))) == NULL) {
		req_fail(r, AE_NOMEM, "orders list");
		goto out;
	}
	if ((e = db_orders_of_account(r->db, account_id, after, r->now, ids, (size_t)page + 1,
	    &nids)) != AE_OK) {
		req_fail(r, e, "orders list");
		goto out;
	}
	for (size_t i = 0; i < nids; i++) {
		const char *u;
		int64_t id = ids[i];
		if (i == (size_t)page) {
			/* One more exists: the page ends at the last listed id. */
			const char *next = req_url(r, "/acme/acct/%lld/orders?cursor=%lld",
			    (long long)account_id, (long long)after);
			if (next == NULL) {
				req_fail(r, AE_NOMEM, "orders list");
				goto out;
			}
			json_object_get(o);
			req_json(r, 200, o);
			req_header(r, "Link", "<%s>;rel=\"next\"", next);
			goto out;
		}
		after = id;
		if ((u = req_url(r, "/acme/order/%lld", (long long)id)) != NULL)
			json_object_array_add(arr, json_object_new_string(u));
	}
	json_object_get(o);
	req_json(r, 200, o);
out:
	return;
}

void
directory_profiles(const struct fcgi_conf *c, json_object *meta)
{
	const struct fcgi_order_conf *o = &c->orders;
	json_object *profs, *d = NULL;
	char desc[160];

	if (o->profiles == NULL || o->profiles->nprofiles == 0 ||
	    (profs = json_object_new_object()) == NULL)
		return;
	for (size_t i = 0; i < o->profiles->nprofiles; i++) {
		const struct profile *p = &o->profiles->profiles[i];
		if (o->profile_descriptions != NULL &&
		    json_object_object_get_ex(o->profile_descriptions, p->name, &d) && d != NULL) {
			json_object_object_add(profs, p->name, json_object_get(d));
			continue;
		}
		snprintf(desc, sizeof(desc), "certificates valid for up to %lld days%s",
		    (long long)(p->max_validity / 86400), strcmp(p->name, o->default_profile) == 0 ?
		    " (the default)" : "");
		json_object_object_add(profs, p->name, json_object_new_string(desc));
	}
	json_object_object_add(meta, "profiles", profs);
}
