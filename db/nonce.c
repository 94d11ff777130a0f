#include "config.h"
#include "db/acme.h"

static const char SQL_NONCE_INSERT[] = "INSERT INTO nonces (id, expires) VALUES (?, ?)";
static const char SQL_NONCE_PURGE[] = "DELETE FROM nonces WHERE expires < ? LIMIT ?";

anvil_err
db_nonce_redeem(struct db *db, const uint8_t *id, size_t id_len, int64_t expires)
{
	struct db_val p[] = { DB_PARAM_STR((const char *)id, id_len), DB_PARAM_I64(expires) };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_NONCE_INSERT, p, 2, NULL, 0, &res);

	return e == AE_DB_DUPLICATE ? AE_NONCE_USED : e;
}

anvil_err
db_nonce_redeem_deferred(struct db *db, const uint8_t *id, size_t id_len, int64_t expires)
{
	struct db_val p[] = { DB_PARAM_STR((const char *)id, id_len), DB_PARAM_I64(expires) };

	return db_defer_first(db, SQL_NONCE_INSERT, p, 2, AE_NONCE_USED);
}

anvil_err
db_nonce_purge(struct db *db, int64_t now, int64_t limit, uint64_t *deleted)
{
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(limit) };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_NONCE_PURGE, p, 2, NULL, 0, &res);

	*deleted = e == AE_OK ? res.affected : 0;
	return e;
}
