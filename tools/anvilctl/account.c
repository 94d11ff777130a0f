/* anvilctl account show|deactivate, order show: an ACME account and an order as the API
 * stored them. Deactivating is RFC 8555 §7.3.6's, done by the operator: the account's requests
 * are refused from then on; its certificates stay valid (anvilctl revoke --account for those). */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/acme.h"
#include "db/admin.h"
#include "db/order.h"
#include "lib/num.h"
#include "tools/anvilctl/ctl.h"

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl account show|deactivate ID [--json]\n"
	    "       anvilctl order show ID [--json]\n");
	return 2;
}

static int
args(int argc, char **argv, int *json, int64_t *id)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*json = 0;
	while ((ch = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
		if (ch != 'j')
			return -1;
		*json = 1;
	}
	if (optind != argc - 1 || num_parse_i64(argv[optind], 1, INT64_MAX, id) != AE_OK)
		return -1;
	return 0;
}

static void
print(json_object *o, int json)
{
	if (json) {
		ctl_json_print(o);
		return;
	}
	json_object_object_foreach(o, k, v) {
		const char *s = v ? json_object_get_string(v) : "-";
		printf("%-16s %s\n", k, s);
	}
}

int
ctl_account(struct ctl *ctl, int argc, char **argv)
{
	struct db_account *a = malloc(sizeof(*a));
	char kid[DB_EAB_KID_MAX + 1];
	struct db *db = NULL;
	json_object *o = NULL;
	int64_t id, created, ncerts;
	int json, rc = 1, deact;
	anvil_err e;

	if (a == NULL)
		return 1;
	if (argc < 2 || (strcmp(argv[1], "show") != 0 && strcmp(argv[1], "deactivate") != 0) ||
	    args(argc - 1, argv + 1, &json, &id) != 0) {
		rc = usage();
		goto out;
	}
	deact = argv[1][0] == 'd';
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	if ((e = db_account_by_id(db, id, a)) != AE_OK) {
		fprintf(stderr, "anvilctl: account %lld: %s\n", (long long)id,
		    e == AE_NOTFOUND ? "no such account" : anvil_strerror(e));
		goto out;
	}
	if (deact) {
		if (a->status != DB_ACCT_VALID) {
			fprintf(stderr, "anvilctl: account %lld is %s already\n", (long long)id,
			    db_account_status_name(a->status));
			goto out;
		}
		if ((e = db_account_deactivate(db, id)) != AE_OK) {
			fprintf(stderr, "anvilctl: deactivate: %s: %s\n", anvil_strerror(e),
			    db_error(db));
			goto out;
		}
		ctl_audit("account-deactivate account=%lld", (long long)id);
		a->status = DB_ACCT_DEACTIVATED;
	}
	if ((e = db_account_extra(db, id, &created, kid, &ncerts)) != AE_OK) {
		fprintf(stderr, "anvilctl: account %lld: %s\n", (long long)id, anvil_strerror(e));
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "status",
	    json_object_new_string(db_account_status_name(a->status)));
	json_object_object_add(o, "created", ctl_json_time(created));
	json_object_object_add(o, "thumbprint", json_object_new_string(a->thumbprint));
	json_object_object_add(o, "contact", json_tokener_parse(a->contact));
	json_object_object_add(o, "eab_kid", kid[0] ? json_object_new_string(kid) : NULL);
	json_object_object_add(o, "certificates", json_object_new_int64(ncerts));
	json_object_object_add(o, "jwk", json_tokener_parse(a->jwk));
	print(o, json);
	rc = 0;
out:
	json_object_put(o);
	db_free(db);
	ctl_done(ctl);
	free(a);
	return rc;
}

int
ctl_order(struct ctl *ctl, int argc, char **argv)
{
	struct db_order *ord = malloc(sizeof(*ord));
	struct db_authz *az = calloc(DB_ORDER_AUTHZ_MAX, sizeof(*az));
	struct db *db = NULL;
	json_object *o = NULL, *arr;
	int64_t id;
	size_t n = 0;
	int json, rc = 1;
	anvil_err e;

	if (ord == NULL || az == NULL)
		goto out;
	if (argc < 2 || strcmp(argv[1], "show") != 0 || args(argc - 1, argv + 1, &json, &id) != 0) {
		rc = usage();
		goto out;
	}
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	if ((e = db_order_get(db, id, ord)) != AE_OK ||
	    (e = db_order_authz_list(db, id, az, DB_ORDER_AUTHZ_MAX, &n)) != AE_OK) {
		fprintf(stderr, "anvilctl: order %lld: %s\n", (long long)id,
		    e == AE_NOTFOUND ? "no such order" : anvil_strerror(e));
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "account", json_object_new_int64(ord->account_id));
	json_object_object_add(o, "status",
	    json_object_new_string(db_order_status_name(ord->status)));
	json_object_object_add(o, "profile", json_object_new_string(ord->profile));
	json_object_object_add(o, "created", ctl_json_time(ord->created));
	json_object_object_add(o, "expires", ctl_json_time(ord->expires));
	json_object_object_add(o, "identifiers", json_tokener_parse(ord->identifiers));
	json_object_object_add(o, "serial", ord->serial[0] ?
	    json_object_new_string(ord->serial) : NULL);
	json_object_object_add(o, "replaces", ord->replaces[0] ?
	    json_object_new_string(ord->replaces) : NULL);
	json_object_object_add(o, "error", ord->error[0] ? json_tokener_parse(ord->error) : NULL);
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *z = json_object_new_object();
		char v[DB_IDENT_MAX + 3];

		snprintf(v, sizeof(v), "%s%s", az[i].wildcard ? "*." : "", az[i].value);
		json_object_object_add(z, "id", json_object_new_int64(az[i].id));
		json_object_object_add(z, "identifier", json_object_new_string(v));
		json_object_object_add(z, "status",
		    json_object_new_string(db_authz_status_name(az[i].status)));
		json_object_object_add(z, "expires", ctl_json_time(az[i].expires));
		json_object_array_add(arr, z);
	}
	json_object_object_add(o, "authorizations", arr);
	print(o, json);
	rc = 0;
out:
	json_object_put(o);
	db_free(db);
	ctl_done(ctl);
	free(az);
	free(ord);
	return rc;
}
