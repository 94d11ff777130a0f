#include "config.h"
#include <string.h>
#include "db/acme.h"

static const char SQL_EAB_GET[] =
    "SELECT kid, hmac_key, alg, account_id FROM eab_keys WHERE kid = ?";
static const char SQL_EAB_ADD[] =
    "INSERT INTO eab_keys (kid, hmac_key, alg) VALUES (?, ?, ?)";

anvil_err
db_eab_get(struct db *db, const char *kid, struct db_eab_key *out)
{
	char key[DB_EAB_KEY_MAX + 1];
	struct db_val p[] = { DB_PARAM_STR(kid, strlen(kid)) };
	struct db_val cols[] = {
		DB_COL_STR(out->kid, sizeof(out->kid)),
		DB_COL_STR(key, sizeof(key)),
		DB_COL_STR(out->alg, sizeof(out->alg)),
		DB_COL_I64,
	};
	struct db_result res;
	anvil_err e;

	e = db_exec(db, SQL_EAB_GET, p, 1, cols, 4, &res);
	if (e != AE_OK)
		goto out;
	if (!res.found) {
		e = AE_NOTFOUND;
		goto out;
	}
	memcpy(out->key, key, cols[1].len);
	out->key_len = cols[1].len;
	out->account_id = cols[3].is_null ? 0 : cols[3].i;
out:
	memset(key, 0, sizeof(key));
	return e;
}

anvil_err
db_eab_add(struct db *db, const char *kid, const uint8_t *key, size_t key_len, const char *alg)
{
	struct db_val p[] = {
		DB_PARAM_STR(kid, strlen(kid)),
		DB_PARAM_STR((const char *)key, key_len),
		DB_PARAM_STR(alg, strlen(alg)),
	};
	struct db_result res;

	if (key_len > DB_EAB_KEY_MAX)
		return AE_TOOBIG;
	return db_exec(db, SQL_EAB_ADD, p, 3, NULL, 0, &res);
}
