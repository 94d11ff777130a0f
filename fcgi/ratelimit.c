#include "config.h"
#include <string.h>
#include "fcgi/orders.h"
#include "lib/log.h"

/* 429 rateLimited naming the limit, with Retry-After: when the oldest counted event leaves the
 * window (windowed limits), or the configured poll interval. */
static int
limited(struct req *r, const char *name, int64_t retry, const char *what)
{
	if (retry < 1)
		retry = 1;
	req_problem(r, PROB_RATE_LIMITED, "rate limit %s exceeded: %s; retry after %lld seconds",
	    name, what, (long long)retry);
	buf_reset(&r->headers);
	req_header(r, "Retry-After", "%lld", (long long)retry);
	return -1;
}

static int
db_failed(struct req *r, anvil_err e)
{
	req_fail(r, e, "rate limit count");
	return -1;
}

/* 1: the account is subject to the limits; 0: no limit applies; -1: problem set. */
static int
applies(struct req *r, int64_t account_id)
{
	const struct fcgi_order_conf *o = &r->conf->orders;
	int exempt = 0;
	anvil_err e;

	if (o->rl_new_orders.limit == 0 && o->rl_pending_authz.limit == 0 &&
	    o->rl_failed_validations.limit == 0 && o->rl_certs_per_domain.limit == 0)
		return 0;
	if ((e = db_rl_exempt(r->db, account_id, &exempt)) != AE_OK)
		return db_failed(r, e);
	return exempt ? 0 : 1;
}

static int
check_pending(struct req *r, int64_t account_id, size_t adding)
{
	const struct fcgi_rate_limit *l = &r->conf->orders.rl_pending_authz;
	int64_t n = 0;
	anvil_err e;

	if (l->limit == 0 || adding == 0)
		return 0;
	if ((e = db_rl_pending_authz(r->db, account_id, r->now, &n)) != AE_OK)
		return db_failed(r, e);
	if (n + (int64_t)adding > l->limit)
		return limited(r, "pending_authorizations", r->conf->orders.poll_after,
		    "too many pending authorizations for this account");
	return 0;
}

static int
check_failed(struct req *r, int64_t account_id, const struct order_ident *id)
{
	const struct fcgi_rate_limit *l = &r->conf->orders.rl_failed_validations;
	int64_t n = 0, oldest = 0;
	anvil_err e;

	if (l->limit == 0)
		return 0;
	if ((e = db_rl_failed_since(r->db, account_id, id->type, id->value, r->now - l->window,
	    &n, &oldest)) != AE_OK)
		return db_failed(r, e);
	if (n >= l->limit)
		return limited(r, "failed_validations", oldest + l->window - r->now,
		    "too many failed validations for one of the identifiers");
	return 0;
}

int
rl_check_order(struct req *r, int64_t account_id, const struct order_ident *ids, size_t n,
    size_t new_authz)
{
	const struct fcgi_order_conf *o = &r->conf->orders;
	int64_t count = 0, oldest = 0;
	int rc;
	anvil_err e;

	if ((rc = applies(r, account_id)) <= 0)
		return rc;
	if (o->rl_new_orders.limit > 0) {
		const struct fcgi_rate_limit *l = &o->rl_new_orders;
		if ((e = db_rl_orders_since(r->db, account_id, r->now - l->window, &count,
		    &oldest)) != AE_OK)
			return db_failed(r, e);
		if (count >= l->limit)
			return limited(r, "new_orders", oldest + l->window - r->now,
			    "too many new orders for this account");
	}
	if (check_pending(r, account_id, new_authz) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (check_failed(r, account_id, &ids[i]) != 0)
			return -1;
	if (o->rl_certs_per_domain.limit > 0) {
		const struct fcgi_rate_limit *l = &o->rl_certs_per_domain;
		for (size_t i = 0; i < n; i++) {
			const char *dom = ident_registered_domain(&ids[i]);
			if (dom == NULL)
				continue;
			if ((e = db_rl_certs_since(r->db, dom, r->now - l->window, &count,
			    &oldest)) != AE_OK)
				return db_failed(r, e);
			if (count >= l->limit)
				return limited(r, "certificates_per_domain",
				    oldest + l->window - r->now,
				    "too many certificates for a registered domain of this order");
		}
	}
	return 0;
}

int
rl_check_authz(struct req *r, int64_t account_id, const struct order_ident *id)
{
	int rc;

	if ((rc = applies(r, account_id)) <= 0)
		return rc;
	if (check_pending(r, account_id, 1) != 0 || check_failed(r, account_id, id) != 0)
		return -1;
	return 0;
}
