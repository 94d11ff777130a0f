/* anvilctl eab add|list|revoke: External Account Binding keys (RFC 8555 §7.3.4). A key has an
 * expiry, an account limit (single-use unless asked) and optionally a profile scope; newAccount
 * counts the accounts it binds under the key's row lock (db/account.c), newOrder enforces the
 * scope (fcgi/eab.c). */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "db/acme.h"
#include "db/db.h"
#include "lib/b64url.h"
#include "lib/num.h"
#include "lib/rfc3339.h"
#include "tools/anvilctl/ctl.h"

#define EAB_DEFAULT_EXPIRY (30 * 86400)   /* doc/anvilctl.md */

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl eab add [--kid KID] [--alg HS256|HS384|HS512]\n"
	    "                     [--expires DURATION|TIME|never] [--accounts N|unlimited]\n"
	    "                     [--profiles NAME,...] [--json]\n"
	    "       anvilctl eab list [--json]\n"
	    "       anvilctl eab revoke KID\n");
	return 2;
}

/* A kid travels in JWS headers and URLs: keep it to unreserved URI characters. */
static int
kid_ok(const char *kid)
{
	size_t n = strlen(kid);

	return n >= 1 && n <= DB_EAB_KID_MAX && strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._~-") == n;
}

/* "30d", "12h", "90m", "3600s", "never" (0), or an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ:
 * the unix time the key expires. -1 when it is none of those or not in the future. */
static int
expiry_parse(const char *s, int64_t now, int64_t *out)
{
	size_t n = strlen(s);
	int64_t v, unit = 0;
	char num[24];

	if (strcmp(s, "never") == 0) {
		*out = 0;
		return 0;
	}
	if (n >= 2 && n < sizeof(num)) {
		switch (s[n - 1]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: break;
		}
	}
	if (unit != 0) {
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (num_parse_i64(num, 1, INT64_C(100) * 365 * 86400 / unit, &v) != AE_OK)
			return -1;
		*out = now + v * unit;
		return 0;
	}
	if (rfc3339_parse_utc(s, &v) != 0 || v <= now)
		return -1;
	*out = v;
	return 0;
}

/* NAME,NAME: each a profile of the configuration's profiles section. */
static int
profiles_ok(struct ctl *ctl, const char *list)
{
	json_object *profs = NULL, *p = NULL;
	char name[DB_EAB_PROFILES_MAX + 1];

	if (strlen(list) > DB_EAB_PROFILES_MAX || list[0] == '\0') {
		fprintf(stderr, "anvilctl: --profiles must be 1..%d characters\n",
		    DB_EAB_PROFILES_MAX);
		return 0;
	}
	json_object_object_get_ex(ctl->config, "profiles", &profs);
	for (const char *s = list; *s != '\0';) {
		size_t len = strcspn(s, ",");

		memcpy(name, s, len);
		name[len] = '\0';
		if (len == 0 || profs == NULL || !json_object_object_get_ex(profs, name, &p)) {
			fprintf(stderr, "anvilctl: --profiles: '%s' is not a profile of the profiles "
			    "section of %s\n", name, ctl->config_path);
			return 0;
		}
		s += len;
		if (*s == ',' && *++s == '\0') {
			fprintf(stderr, "anvilctl: --profiles: an empty name after ','\n");
			return 0;
		}
	}
	return 1;
}

static const char *
state_of(const struct db_eab_key *k, int64_t now)
{
	if (k->revoked != 0)
		return "revoked";
	if (k->expires != 0 && k->expires <= now)
		return "expired";
	if (k->max_accounts >= 0 && k->accounts_bound >= k->max_accounts)
		return "used";
	return "active";
}

static json_object *
key_json(const struct db_eab_key *k, int64_t now)
{
	json_object *o = json_object_new_object(), *scope = NULL;

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "kid", json_object_new_string(k->kid));
	json_object_object_add(o, "alg", json_object_new_string(k->alg));
	json_object_object_add(o, "created", ctl_json_time(k->created));
	json_object_object_add(o, "expires", ctl_json_time(k->expires));
	if (k->profiles[0] != '\0') {
		char name[DB_EAB_PROFILES_MAX + 1];

		scope = json_object_new_array();
		for (const char *s = k->profiles; scope != NULL && *s != '\0';) {
			size_t len = strcspn(s, ",");

			memcpy(name, s, len);
			name[len] = '\0';
			json_object_array_add(scope, json_object_new_string(name));
			s += len + (s[len] == ',');
		}
	}
	json_object_object_add(o, "profiles", scope);
	json_object_object_add(o, "max_accounts", k->max_accounts < 0 ? NULL :
	    json_object_new_int64(k->max_accounts));
	json_object_object_add(o, "accounts", json_object_new_int64(k->accounts_bound));
	json_object_object_add(o, "revoked", ctl_json_time(k->revoked));
	json_object_object_add(o, "state", json_object_new_string(state_of(k, now)));
	return o;
}

static int
eab_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kid", required_argument, NULL, 'k' },
		{ "alg", required_argument, NULL, 'a' },
		{ "expires", required_argument, NULL, 'e' },
		{ "accounts", required_argument, NULL, 'n' },
		{ "profiles", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_eab_key k;
	struct db *db = NULL;
	const char *kid = NULL, *alg = "HS256", *expires = NULL, *accounts = "1";
	const char *profiles = "";
	char b64[128], gen[24], exp_text[32];
	uint8_t rnd[12];
	int64_t now = (int64_t)time(NULL);
	json_object *o = NULL;
	int ch, rc = 1, json = 0;
	anvil_err e;

	memset(&k, 0, sizeof(k));
	while ((ch = getopt_long(argc, argv, "k:a:e:n:p:j", lo, NULL)) != -1) {
		switch (ch) {
		case 'k': kid = optarg; break;
		case 'a': alg = optarg; break;
		case 'e': expires = optarg; break;
		case 'n': accounts = optarg; break;
		case 'p': profiles = optarg; break;
		case 'j': json = 1; break;
		default: return usage();
		}
	}
	if (optind != argc)
		return usage();
	if (kid == NULL) {
		/* 12 random bytes: a kid nobody guesses, though the HMAC key is the secret. */
		if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
		    b64url_encode(rnd, sizeof(rnd), gen, sizeof(gen)) != AE_OK) {
			fprintf(stderr, "anvilctl: cannot generate a kid\n");
			return 1;
		}
		kid = gen;
	}
	if (!kid_ok(kid)) {
		fprintf(stderr, "anvilctl: --kid must be 1..%d characters of A-Z a-z 0-9 . _ ~ -\n",
		    DB_EAB_KID_MAX);
		return 2;
	}
	if (strcmp(alg, "HS256") == 0)
		k.key_len = 32;
	else if (strcmp(alg, "HS384") == 0)
		k.key_len = 48;
	else if (strcmp(alg, "HS512") == 0)
		k.key_len = 64;
	else {
		fprintf(stderr, "anvilctl: --alg must be HS256, HS384 or HS512\n");
		return 2;
	}
	if (expires == NULL)
		k.expires = now + EAB_DEFAULT_EXPIRY;
	else if (expiry_parse(expires, now, &k.expires) != 0) {
		fprintf(stderr, "anvilctl: --expires must be a duration (30d, 12h, 90m, 3600s), "
		    "a future time YYYY-MM-DDTHH:MM:SSZ, or never\n");
		return 2;
	}
	if (strcmp(accounts, "unlimited") == 0)
		k.max_accounts = -1;
	else if (num_parse_i64(accounts, 1, UINT32_MAX, &k.max_accounts) != AE_OK) {
		fprintf(stderr, "anvilctl: --accounts must be a number from 1 or unlimited\n");
		return 2;
	}
	if (profiles[0] != '\0' && !profiles_ok(ctl, profiles))
		return 2;
	snprintf(k.kid, sizeof(k.kid), "%s", kid);
	snprintf(k.alg, sizeof(k.alg), "%s", alg);
	snprintf(k.profiles, sizeof(k.profiles), "%s", profiles);
	if (RAND_bytes(k.key, (int)k.key_len) != 1 ||
	    b64url_encode(k.key, k.key_len, b64, sizeof(b64)) != AE_OK) {
		fprintf(stderr, "anvilctl: cannot generate a key\n");
		goto out;
	}
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	if ((e = db_eab_add(db, &k)) != AE_OK) {
		if (e == AE_DB_DUPLICATE)
			fprintf(stderr, "anvilctl: an EAB key with kid %s exists already\n", kid);
		else
			fprintf(stderr, "anvilctl: eab add: %s: %s\n", anvil_strerror(e),
			    db_error(db));
		goto out;
	}
	ctl_audit("eab-add kid=%s alg=%s expires=%s accounts=%s profiles=%s", kid, alg,
	    k.expires ? ctl_time(k.expires, exp_text) : "never", accounts,
	    profiles[0] ? profiles : "*");
	if (json) {
		k.created = now;
		if ((o = key_json(&k, now)) == NULL)
			goto out;
		json_object_object_add(o, "hmac_key", json_object_new_string(b64));
		ctl_json_print(o);
	} else {
		printf("%s\n", b64);
		fprintf(stderr, "anvilctl: EAB key %s (%s) created; the key above is not shown "
		    "again\n", kid, alg);
	}
	rc = 0;
out:
	json_object_put(o);
	OPENSSL_cleanse(&k, sizeof(k));
	OPENSSL_cleanse(b64, sizeof(b64));
	db_free(db);
	return rc;
}

struct list_ctx {
	json_object *arr;   /* --json */
	int64_t now;
	size_t n;
};

static anvil_err
list_one(void *arg, const struct db_eab_key *k)
{
	struct list_ctx *c = arg;
	char created[32], expires[32], limit[24];

	if (c->arr != NULL) {
		json_object *o = key_json(k, c->now);

		if (o == NULL || json_object_array_add(c->arr, o) != 0) {
			json_object_put(o);
			return AE_NOMEM;
		}
		return AE_OK;
	}
	if (c->n++ == 0)
		printf("%-24s %-20s %-20s %-9s %6s %-8s %s\n", "KID", "CREATED", "EXPIRES",
		    "LIMIT", "USED", "STATE", "PROFILES");
	if (k->max_accounts < 0)
		snprintf(limit, sizeof(limit), "unlimited");
	else
		snprintf(limit, sizeof(limit), "%lld", (long long)k->max_accounts);
	printf("%-24s %-20s %-20s %-9s %6lld %-8s %s\n", k->kid, ctl_time(k->created, created),
	    k->expires ? ctl_time(k->expires, expires) : "never", limit,
	    (long long)k->accounts_bound, state_of(k, c->now),
	    k->profiles[0] ? k->profiles : "*");
	return AE_OK;
}

static int
eab_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_ctx c = { NULL, (int64_t)time(NULL), 0 };
	struct db *db = NULL;
	int ch, rc = 1, json = 0;
	anvil_err e;

	while ((ch = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
		if (ch != 'j')
			return usage();
		json = 1;
	}
	if (optind != argc)
		return usage();
	if (json && (c.arr = json_object_new_array()) == NULL)
		return 1;
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	if ((e = db_eab_list(db, list_one, &c)) != AE_OK) {
		fprintf(stderr, "anvilctl: eab list: %s: %s\n", anvil_strerror(e), db_error(db));
		goto out;
	}
	if (json)
		ctl_json_print(c.arr);
	rc = 0;
out:
	json_object_put(c.arr);
	db_free(db);
	return rc;
}

static int
eab_revoke(struct ctl *ctl, int argc, char **argv)
{
	struct db *db = NULL;
	const char *kid;
	int rc = 1;
	anvil_err e;

	if (argc != 2)
		return usage();
	kid = argv[1];
	if (!kid_ok(kid)) {
		fprintf(stderr, "anvilctl: '%s' is not a kid\n", kid);
		return 2;
	}
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	e = db_eab_revoke(db, kid, (int64_t)time(NULL));
	if (e == AE_NOTFOUND || e == AE_EXISTS) {
		fprintf(stderr, "anvilctl: EAB key %s: %s\n", kid,
		    e == AE_NOTFOUND ? "no such key" : "revoked already");
		goto out;
	}
	if (e != AE_OK) {
		fprintf(stderr, "anvilctl: eab revoke: %s: %s\n", anvil_strerror(e), db_error(db));
		goto out;
	}
	ctl_audit("eab-revoke kid=%s", kid);
	rc = 0;
out:
	db_free(db);
	return rc;
}

int
ctl_eab(struct ctl *ctl, int argc, char **argv)
{
	int rc;

	if (argc < 2)
		rc = usage();
	else if (strcmp(argv[1], "add") == 0)
		rc = eab_add(ctl, argc - 1, argv + 1);
	else if (strcmp(argv[1], "list") == 0)
		rc = eab_list(ctl, argc - 1, argv + 1);
	else if (strcmp(argv[1], "revoke") == 0)
		rc = eab_revoke(ctl, argc - 1, argv + 1);
	else
		rc = usage();
	ctl_done(ctl);
	return rc;
}
