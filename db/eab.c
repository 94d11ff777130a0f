#include "config.h"
#include <string.h>
#include "db/acme.h"

#define EAB_COLS "kid, alg, CAST(FLOOR(UNIX_TIMESTAMP(created)) AS SIGNED), expires, revoked, " \
    "max_accounts, accounts_bound, profiles"

static const char SQL_EAB_GET[] =
    "SELECT " EAB_COLS ", hmac_key FROM eab_keys WHERE kid = ?";
static const char SQL_EAB_LIST[] =
    "SELECT " EAB_COLS " FROM eab_keys ORDER BY kid LIMIT 1000001";
static const char SQL_EAB_ADD[] =
    "INSERT INTO eab_keys (kid, hmac_key, alg, expires, max_accounts, profiles) "
    "VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_EAB_REVOKE[] =
    "UPDATE eab_keys SET revoked = ? WHERE kid = ? AND revoked IS NULL";
static const char SQL_EAB_EXISTS[] = "SELECT 1 FROM eab_keys WHERE kid = ?";

#define EAB_NCOLS 8
#define EAB_LIST_MAX 1000000

/* The EAB_COLS of one row into k. */
static void
eab_cols(struct db_eab_key *k, struct db_val cols[EAB_NCOLS])
{
	struct db_val c[EAB_NCOLS] = {
		DB_COL_STR(k->kid, sizeof(k->kid)),
		DB_COL_STR(k->alg, sizeof(k->alg)),
		DB_COL_I64, DB_COL_I64, DB_COL_I64, DB_COL_I64, DB_COL_I64,
		DB_COL_STR(k->profiles, sizeof(k->profiles)),
	};

	memcpy(cols, c, sizeof(c));
}

static void
eab_fill(struct db_eab_key *k, const struct db_val *cols)
{
	k->created = cols[2].i;
	k->expires = cols[3].is_null ? 0 : cols[3].i;
	k->revoked = cols[4].is_null ? 0 : cols[4].i;
	k->max_accounts = cols[5].is_null ? -1 : cols[5].i;
	k->accounts_bound = cols[6].i;
	if (cols[7].is_null)
		k->profiles[0] = '\0';
}

anvil_err
db_eab_get(struct db *db, const char *kid, struct db_eab_key *out)
{
	char key[DB_EAB_KEY_MAX + 1];
	struct db_val p[] = { DB_PARAM_STR(kid, strlen(kid)) };
	struct db_val cols[EAB_NCOLS + 1];
	struct db_result res;
	anvil_err e;

	memset(out, 0, sizeof(*out));
	eab_cols(out, cols);
	cols[EAB_NCOLS] = (struct db_val)DB_COL_STR(key, sizeof(key));
	e = db_exec(db, SQL_EAB_GET, p, 1, cols, EAB_NCOLS + 1, &res);
	if (e != AE_OK)
		goto out;
	if (!res.found) {
		e = AE_NOTFOUND;
		goto out;
	}
	eab_fill(out, cols);
	memcpy(out->key, key, cols[EAB_NCOLS].len);
	out->key_len = cols[EAB_NCOLS].len;
out:
	memset(key, 0, sizeof(key));
	return e;
}

anvil_err
db_eab_add(struct db *db, const struct db_eab_key *in)
{
	struct db_val p[] = {
		DB_PARAM_STR(in->kid, strlen(in->kid)),
		DB_PARAM_STR((const char *)in->key, in->key_len),
		DB_PARAM_STR(in->alg, strlen(in->alg)),
		DB_PARAM_I64(in->expires),
		DB_PARAM_I64(in->max_accounts),
		DB_PARAM_STR(in->profiles, strlen(in->profiles)),
	};
	struct db_result res;

	if (in->key_len > DB_EAB_KEY_MAX || strlen(in->profiles) > DB_EAB_PROFILES_MAX)
		return AE_TOOBIG;
	if (in->expires == 0)
		p[3] = (struct db_val)DB_PARAM_NULL;
	if (in->max_accounts < 0)
		p[4] = (struct db_val)DB_PARAM_NULL;
	if (in->profiles[0] == '\0')
		p[5] = (struct db_val)DB_PARAM_NULL;
	return db_exec(db, SQL_EAB_ADD, p, 6, NULL, 0, &res);
}

struct list_ctx {
	struct db_eab_key *k;
	db_eab_fn fn;
	void *arg;
};

static anvil_err
list_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct list_ctx *c = arg;

	(void)ncols;
	eab_fill(c->k, cols);
	return c->fn(c->arg, c->k);
}

anvil_err
db_eab_list(struct db *db, db_eab_fn fn, void *arg)
{
	struct db_eab_key k;
	struct db_val cols[EAB_NCOLS];
	struct list_ctx c = { &k, fn, arg };

	memset(&k, 0, sizeof(k));
	eab_cols(&k, cols);
	return db_exec_rows(db, SQL_EAB_LIST, NULL, 0, cols, EAB_NCOLS, EAB_LIST_MAX, list_row,
	    &c, NULL);
}

anvil_err
db_eab_revoke(struct db *db, const char *kid, int64_t now)
{
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_STR(kid, strlen(kid)) };
	struct db_val q[] = { DB_PARAM_STR(kid, strlen(kid)) };
	struct db_val one[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e;

	if ((e = db_exec(db, SQL_EAB_REVOKE, p, 2, NULL, 0, &res)) != AE_OK)
		return e;
	if (res.affected == 1)
		return AE_OK;
	if ((e = db_exec(db, SQL_EAB_EXISTS, q, 1, one, 1, &res)) != AE_OK)
		return e;
	return res.found ? AE_EXISTS : AE_NOTFOUND;
}

int
db_eab_profile_in(const char *profiles, const char *name)
{
	size_t n = strlen(name);

	for (const char *s = profiles; *s != '\0';) {
		size_t len = strcspn(s, ",");

		if (len == n && memcmp(s, name, n) == 0)
			return 1;
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}
