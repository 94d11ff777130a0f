#include "config.h"
#include <string.h>
#include <fcgiapp.h>
#include "db/acme.h"
#include "fcgi/orders.h"
#include "lib/log.h"
#include "lib/netaddr.h"

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

/* The limits counted in the creating transaction (db_rl_account_admit), off for an exempt
 * account. */
static void
account_limits(struct req *r, struct db_rl_account *rl)
{
	const struct fcgi_order_conf *o = &r->conf->orders;

	memset(rl, 0, sizeof(*rl));
	rl->orders_limit = o->rl_new_orders.limit;
	rl->orders_window = o->rl_new_orders.window;
	rl->pending_limit = o->rl_pending_authz.limit;
}

int
rl_check_order(struct req *r, int64_t account_id, const struct order_ident *ids, size_t n,
    struct db_rl_account *rl)
{
	const struct fcgi_order_conf *o = &r->conf->orders;
	int64_t count = 0, oldest = 0;
	int rc;
	anvil_err e;

	memset(rl, 0, sizeof(*rl));
	if ((rc = applies(r, account_id)) <= 0)
		return rc;
	account_limits(r, rl);
	/* What newOrder does not create (failed validations, issued certificates) is checked
	 * before: a race can only let one more order through, which validation or finalize
	 * still has to pass. */
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
rl_check_authz(struct req *r, int64_t account_id, const struct order_ident *id,
    struct db_rl_account *rl)
{
	int rc;

	memset(rl, 0, sizeof(*rl));
	if ((rc = applies(r, account_id)) <= 0)
		return rc;
	account_limits(r, rl);
	return check_failed(r, account_id, id) != 0 ? -1 : 0;
}

int
rl_refused(struct req *r, const struct db_rl_account *rl)
{
	const struct fcgi_order_conf *o = &r->conf->orders;

	if (rl->hit != NULL && strcmp(rl->hit, "new_orders") == 0)
		return limited(r, "new_orders", rl->oldest + o->rl_new_orders.window - r->now,
		    "too many new orders for this account");
	return limited(r, "pending_authorizations", o->poll_after,
	    "too many pending authorizations for this account");
}

struct db_rl_net *
rl_account_net(struct req *r)
{
	const struct fcgi_rate_limit *l = &r->conf->orders.rl_new_accounts_per_ip;
	const char *addr;
	struct db_rl_net *net;
	char *text;

	if (l->limit == 0)
		return NULL;
	addr = FCGX_GetParam("REMOTE_ADDR", r->fcgx->envp);
	if ((net = arena_alloc(&r->arena, sizeof(*net))) == NULL ||
	    (text = arena_alloc(&r->arena, NETADDR_PREFIX_MAX)) == NULL)
		return NULL;
	/* REMOTE_ADDR is the peer nginx saw, never X-Forwarded-For (the client writes that). */
	if (netaddr_prefix(addr, (int)l->ipv6_prefix, text, NETADDR_PREFIX_MAX) != 0) {
		/* nginx listening on a Unix socket passes "unix:": nothing to count by. */
		log_warn("new_accounts_per_ip: REMOTE_ADDR is not an address, not counted");
		return NULL;
	}
	memset(net, 0, sizeof(*net));
	net->net = text;
	net->limit = l->limit;
	net->window = l->window;
	net->now = r->now;
	return net;
}

int
rl_account_refused(struct req *r, const struct db_rl_net *net)
{
	return limited(r, "new_accounts_per_ip", net->oldest + net->window - r->now,
	    "too many new accounts from this network");
}
