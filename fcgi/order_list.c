/* The account's orders list (RFC 8555 §7.1.2.1), a page of order URLs at a time. */
#include "config.h"
#include <stdint.h>
#include <string.h>
#include "fcgi/orders.h"
#include "lib/num.h"

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
