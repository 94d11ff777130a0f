#include "config.h"
#include <string.h>
#include "fcgi/api.h"
#include "lib/num.h"

enum methods { M_GET = 1, M_HEAD = 2, M_POST = 4 };

static int
method_bit(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return M_GET;
	if (strcmp(m, "HEAD") == 0)
		return M_HEAD;
	if (strcmp(m, "POST") == 0)
		return M_POST;
	return 0;
}

static void
not_allowed(struct req *r, int allowed)
{
	req_problem(r, PROB_METHOD, "this resource does not allow the %s method",
	    method_bit(r->method) ? r->method : "request");
	req_header(r, "Allow", "%s", allowed == M_POST ? "POST" : "GET, HEAD");
}

/* "/acme/acct/ID" or "/acme/acct/ID/orders": the id, or -1. */
static int64_t
acct_path(const char *p, int *orders)
{
	static const char pre[] = "/acme/acct/", suf[] = "/orders";
	const char *end;
	size_t n;
	int64_t id;

	if (strncmp(p, pre, sizeof(pre) - 1) != 0)
		return -1;
	p += sizeof(pre) - 1;
	end = strchr(p, '/');
	n = end ? (size_t)(end - p) : strlen(p);
	*orders = end != NULL;
	if (end != NULL && strcmp(end, suf) != 0)
		return -1;
	if (n == 0 || n > 19 || p[0] < '1' || p[0] > '9' ||
	    num_parse_i64_n(p, n, 1, INT64_MAX, &id) != AE_OK)
		return -1;
	return id;
}

/* "PRE" + ID (+ "/" + rest): the id and *rest ("" or from the slash on), or -1. */
static int64_t
id_path(const char *p, const char *pre, const char **rest)
{
	size_t plen = strlen(pre), n;
	int64_t id;

	if (strncmp(p, pre, plen) != 0)
		return -1;
	p += plen;
	n = strcspn(p, "/");
	*rest = p + n;
	if (n == 0 || n > 19 || p[0] < '1' || p[0] > '9' ||
	    num_parse_i64_n(p, n, 1, INT64_MAX, &id) != AE_OK)
		return -1;
	return id;
}

/* Orders, authorizations, challenges: POST only (POST-as-GET included). */
static int
route_ids(struct req *r, int m)
{
	static const struct {
		const char *pre;
		void (*fn)(struct req *, int64_t);
	} ids[] = {
		{ "/acme/order/", api_order },
		{ "/acme/authz/", api_authz },
		{ "/acme/chall/", api_challenge },
	};
	const char *rest;
	int64_t id;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if ((id = id_path(r->path, ids[i].pre, &rest)) <= 0 || *rest != '\0')
			continue;
		if (m != M_POST)
			not_allowed(r, M_POST);
		else
			ids[i].fn(r, id);
		return 1;
	}
	return 0;
}

/* Finalize, certificates, renewal information (fcgi/finalize.c, cert.c, renewal.c). */
static int
route_issue(struct req *r, int m)
{
	static const char cert[] = "/acme/cert/", ari[] = "/acme/renewal-info/";
	const char *rest;
	int64_t id;

	if ((id = id_path(r->path, "/acme/order/", &rest)) > 0 && strcmp(rest, "/finalize") == 0) {
		if (m != M_POST)
			not_allowed(r, M_POST);
		else
			api_finalize(r, id);
		return 1;
	}
	if (strncmp(r->path, cert, sizeof(cert) - 1) == 0) {
		if (m != M_POST)
			not_allowed(r, M_POST);
		else
			api_cert(r, r->path + sizeof(cert) - 1);
		return 1;
	}
	if (strncmp(r->path, ari, sizeof(ari) - 1) == 0) {
		if (m != M_GET && m != M_HEAD)
			not_allowed(r, M_GET | M_HEAD);
		else
			api_renewal_info(r, r->path + sizeof(ari) - 1);
		return 1;
	}
	return 0;
}

void
api_route(struct req *r)
{
	static const struct {
		const char *path;
		int methods;
		void (*fn)(struct req *);
	} routes[] = {
		{ "/acme/directory", M_GET | M_HEAD, api_directory },
		{ "/acme/new-nonce", M_GET | M_HEAD, api_new_nonce },
		{ "/acme/new-account", M_POST, api_new_account },
		{ "/acme/new-order", M_POST, api_new_order },
		{ "/acme/new-authz", M_POST, api_new_authz },
		{ "/acme/revoke-cert", M_POST, api_revoke_cert },
		{ "/acme/key-change", M_POST, api_key_change },
	};
	int m = method_bit(r->method), orders = 0;
	int64_t id;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(r->path, routes[i].path) != 0)
			continue;
		if ((routes[i].methods & m) == 0) {
			not_allowed(r, routes[i].methods);
			return;
		}
		routes[i].fn(r);
		return;
	}
	if ((id = acct_path(r->path, &orders)) > 0) {
		if (m != M_POST) {
			not_allowed(r, M_POST);
			return;
		}
		if (orders)
			api_account_orders(r, id);
		else
			api_account(r, id);
		return;
	}
	if (route_ids(r, m))
		return;
	if (route_issue(r, m))
		return;
	req_problem(r, PROB_NOT_FOUND, "no such resource");
}
