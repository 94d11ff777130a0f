#include "config.h"
#include <string.h>
#include <json-c/json.h>
#include "db/admin.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CERT_COLS "c.serial, c.account_id, c.order_id, c.issuer, c.profile, c.not_before, " \
	"c.not_after, c.status, c.revoked_at, c.revoked_reason, c.created"

static const char SQL_CERTS_ACCOUNT[] =
    "SELECT " CERT_COLS " FROM certificates c WHERE c.account_id = ? AND c.not_after >= ? "
    "LIMIT ?";
static const char SQL_CERTS_KEY[] =
    "SELECT " CERT_COLS " FROM certificates c WHERE c.spki_sha256 = ? AND c.not_after >= ? "
    "LIMIT ?";
static const char SQL_CERTS_LATEST[] =
    "SELECT " CERT_COLS " FROM certificates c WHERE c.not_after >= ? "
    "ORDER BY c.not_after DESC LIMIT ?";
/* order_domains holds an order's registered domains (the rate limits'): the caller asks for
 * each suffix of the name and keeps the orders that name it. */
static const char SQL_CERTS_DOMAIN[] =
    "SELECT " CERT_COLS ", o.identifiers FROM order_domains d "
    "JOIN orders o ON o.id = d.order_id JOIN certificates c ON c.serial = o.serial "
    "WHERE d.domain = ? AND c.not_after >= ? LIMIT ?";
static const char SQL_KEY_BLOCK[] =
    "INSERT IGNORE INTO blocked_keys (spki_sha256, reason, created) VALUES (?, ?, ?)";
static const char SQL_KEY_UNBLOCK[] =
    "DELETE FROM blocked_keys WHERE spki_sha256 = ?";
static const char SQL_KEY_BLOCKED[] =
    "SELECT reason, created FROM blocked_keys WHERE spki_sha256 = ?";
static const char SQL_ACCOUNT_EXTRA[] =
    "SELECT CAST(FLOOR(UNIX_TIMESTAMP(a.created)) AS SIGNED), a.eab_kid, "
    "(SELECT COUNT(*) FROM certificates c WHERE c.account_id = a.id) "
    "FROM accounts a WHERE a.id = ?";
#define JOB_COLS "id, kind, ref_id, state, run_after, lease_owner, lease_until, attempts, " \
	"last_error, created"
/* Two ranges of jobs_due (state, run_after). */
static const char SQL_JOBS_TROUBLED[] =
    "(SELECT " JOB_COLS " FROM jobs WHERE state = 'failed' ORDER BY run_after LIMIT ?) "
    "UNION ALL (SELECT " JOB_COLS " FROM jobs WHERE state = 'queued' AND run_after < ? "
    "AND lease_until < ? ORDER BY run_after LIMIT ?) ORDER BY run_after";
static const char SQL_JOB_GET[] =
    "SELECT " JOB_COLS " FROM jobs WHERE id = ?";
static const char SQL_JOB_REQUEUE[] =
    "UPDATE jobs SET state = 'queued', run_after = ?, attempts = 0, lease_owner = NULL, "
    "lease_until = 0 WHERE id = ? AND state <> 'done'";
static const char SQL_JOBS_DEPTHS[] =
    "SELECT kind, state, COUNT(*), MIN(run_after) FROM jobs "
    "WHERE state IN ('queued', 'failed') GROUP BY kind, state ORDER BY kind, state LIMIT 1000";

struct cert_cols {
	struct db_cert_brief c;
	char status[16];
	char identifiers[DB_IDENTIFIERS_MAX + 1];
	struct db_val v[12];
};

static void
cert_cols_init(struct cert_cols *cc)
{
	struct db_val v[] = {
		DB_COL_STR(cc->c.serial, sizeof(cc->c.serial)),
		DB_COL_I64, DB_COL_I64,
		DB_COL_STR(cc->c.issuer, sizeof(cc->c.issuer)),
		DB_COL_STR(cc->c.profile, sizeof(cc->c.profile)),
		DB_COL_I64, DB_COL_I64,
		DB_COL_STR(cc->status, sizeof(cc->status)),
		DB_COL_I64, DB_COL_I64, DB_COL_I64,
		DB_COL_STR(cc->identifiers, sizeof(cc->identifiers)),
	};

	memcpy(cc->v, v, sizeof(v));
}

struct cert_walk {
	struct cert_cols *cc;
	db_cert_fn fn;
	void *arg;
	const char *name;    /* by name: keep only orders naming it */
};

/* An order's identifiers (the JSON array the API answered) name the DNS name or IP name, or a
 * wildcard covering it. */
static int
names(const char *identifiers, const char *name)
{
	json_object *a = json_tokener_parse(identifiers);
	const char *dot = strchr(name, '.');
	int hit = 0;

	if (a == NULL || !json_object_is_type(a, json_type_array))
		goto out;
	for (size_t i = 0; i < json_object_array_length(a) && !hit; i++) {
		json_object *v;
		const char *s;

		if (!json_object_object_get_ex(json_object_array_get_idx(a, i), "value", &v) ||
		    (s = json_object_get_string(v)) == NULL)
			continue;
		hit = strcmp(s, name) == 0 ||
		    (dot != NULL && s[0] == '*' && s[1] == '.' && strcmp(s + 1, dot) == 0);
	}
out:
	json_object_put(a);
	return hit;
}

static anvil_err
cert_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct cert_walk *w = arg;
	struct db_cert_brief *c = &w->cc->c;

	(void)ncols;
	if (w->name != NULL && !names(w->cc->identifiers, w->name))
		return AE_OK;
	c->account_id = cols[1].i;
	c->order_id = cols[2].i;
	c->not_before = cols[5].i;
	c->not_after = cols[6].i;
	c->revoked = strcmp(w->cc->status, "revoked") == 0;
	c->revoked_at = cols[8].i;
	c->revoked_reason = cols[9].is_null ? -1 : (int)cols[9].i;
	c->created = cols[10].i;
	return w->fn(w->arg, c);
}

static anvil_err
certs(struct db *db, const char *sql, struct db_val *p, size_t np, size_t ncols, size_t max,
    const char *name, db_cert_fn fn, void *arg)
{
	struct cert_cols cc;
	struct cert_walk w = { &cc, fn, arg, name };

	if (max > DB_ADMIN_LIST_MAX)
		return AE_RANGE;
	memset(&cc, 0, sizeof(cc));
	cert_cols_init(&cc);
	p[np - 1] = (struct db_val)DB_PARAM_I64((int64_t)max + 1);
	return db_exec_rows(db, sql, p, np, cc.v, ncols, max, cert_row, &w, NULL);
}

anvil_err
db_certs_of_account(struct db *db, int64_t account_id, int64_t not_after_min, size_t max,
    db_cert_fn fn, void *arg)
{
	struct db_val p[] = { DB_PARAM_I64(account_id), DB_PARAM_I64(not_after_min),
		DB_PARAM_NULL };

	return certs(db, SQL_CERTS_ACCOUNT, p, N(p), 11, max, NULL, fn, arg);
}

anvil_err
db_certs_of_key(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN], int64_t not_after_min,
    size_t max, db_cert_fn fn, void *arg)
{
	struct db_val p[] = { DB_PARAM_STR((const char *)spki, DB_SPKI_HASH_LEN),
		DB_PARAM_I64(not_after_min), DB_PARAM_NULL };

	return certs(db, SQL_CERTS_KEY, p, N(p), 11, max, NULL, fn, arg);
}

anvil_err
db_certs_latest(struct db *db, int64_t not_after_min, size_t max, db_cert_fn fn, void *arg)
{
	struct db_val p[] = { DB_PARAM_I64(not_after_min), DB_PARAM_NULL };

	return certs(db, SQL_CERTS_LATEST, p, N(p), 11, max, NULL, fn, arg);
}

anvil_err
db_certs_of_name(struct db *db, const char *name, int64_t not_after_min, size_t max,
    db_cert_fn fn, void *arg)
{
	const char *s = name;
	anvil_err e = AE_OK;

	/* Every suffix of the name, itself included: one of them is its registered domain. */
	while (s != NULL && *s != '\0') {
		struct db_val p[] = { DB_PARAM_STR(s, strlen(s)), DB_PARAM_I64(not_after_min),
			DB_PARAM_NULL };

		if ((e = certs(db, SQL_CERTS_DOMAIN, p, N(p), 12, max, name, fn, arg)) != AE_OK)
			return e;
		if ((s = strchr(s, '.')) != NULL)
			s++;
	}
	return e;
}

anvil_err
db_key_block(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN], const char *reason,
    int64_t now)
{
	struct db_val p[] = { DB_PARAM_STR((const char *)spki, DB_SPKI_HASH_LEN),
		DB_PARAM_STR(reason, strlen(reason)), DB_PARAM_I64(now) };
	struct db_result res;
	anvil_err e;

	if (strlen(reason) > 64)
		return AE_TOOBIG;
	if ((e = db_exec(db, SQL_KEY_BLOCK, p, N(p), NULL, 0, &res)) != AE_OK)
		return e;
	return res.affected == 0 ? AE_EXISTS : AE_OK;
}

anvil_err
db_key_unblock(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN])
{
	struct db_val p[] = { DB_PARAM_STR((const char *)spki, DB_SPKI_HASH_LEN) };
	struct db_result res;
	anvil_err e;

	if ((e = db_exec(db, SQL_KEY_UNBLOCK, p, N(p), NULL, 0, &res)) != AE_OK)
		return e;
	return res.affected == 0 ? AE_NOTFOUND : AE_OK;
}

anvil_err
db_key_blocked(struct db *db, const uint8_t spki[DB_SPKI_HASH_LEN], int *blocked,
    char reason[65], int64_t *created)
{
	struct db_val p[] = { DB_PARAM_STR((const char *)spki, DB_SPKI_HASH_LEN) };
	struct db_val c[] = { DB_COL_STR(reason, 65), DB_COL_I64 };
	struct db_result res;
	anvil_err e;

	*blocked = 0;
	reason[0] = '\0';
	*created = 0;
	if ((e = db_exec(db, SQL_KEY_BLOCKED, p, N(p), c, N(c), &res)) != AE_OK)
		return e;
	*blocked = res.found;
	*created = c[1].i;
	return AE_OK;
}

anvil_err
db_account_extra(struct db *db, int64_t id, int64_t *created, char eab_kid[DB_EAB_KID_MAX + 1],
    int64_t *certificates)
{
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_val c[] = { DB_COL_I64, DB_COL_STR(eab_kid, DB_EAB_KID_MAX + 1), DB_COL_I64 };
	struct db_result res;
	anvil_err e;

	eab_kid[0] = '\0';
	if ((e = db_exec(db, SQL_ACCOUNT_EXTRA, p, N(p), c, N(c), &res)) != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	*created = c[0].i;
	*certificates = c[2].i;
	return AE_OK;
}

struct job_cols {
	struct db_job_row j;
	struct db_val v[10];
	db_job_fn fn;
	void *arg;
};

static void
job_cols_init(struct job_cols *jc)
{
	struct db_val v[] = {
		DB_COL_I64,
		DB_COL_STR(jc->j.kind, sizeof(jc->j.kind)),
		DB_COL_I64,
		DB_COL_STR(jc->j.state, sizeof(jc->j.state)),
		DB_COL_I64,
		DB_COL_STR(jc->j.owner, sizeof(jc->j.owner)),
		DB_COL_I64, DB_COL_I64,
		DB_COL_STR(jc->j.error, sizeof(jc->j.error)),
		DB_COL_I64,
	};

	memcpy(jc->v, v, sizeof(v));
}

static void
job_fill(struct job_cols *jc)
{
	jc->j.id = jc->v[0].i;
	jc->j.ref_id = jc->v[2].i;
	jc->j.run_after = jc->v[4].i;
	jc->j.lease_until = jc->v[6].i;
	jc->j.attempts = jc->v[7].i;
	jc->j.created = jc->v[9].i;
}

static anvil_err
job_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct job_cols *jc = arg;

	(void)cols;
	(void)ncols;
	job_fill(jc);
	return jc->fn(jc->arg, &jc->j);
}

anvil_err
db_jobs_troubled(struct db *db, int64_t now, int64_t stuck_before, size_t max, db_job_fn fn,
    void *arg)
{
	struct db_val p[] = { DB_PARAM_I64((int64_t)max + 1), DB_PARAM_I64(stuck_before),
		DB_PARAM_I64(now), DB_PARAM_I64((int64_t)max + 1) };
	struct job_cols jc;

	if (max > DB_ADMIN_LIST_MAX)
		return AE_RANGE;
	memset(&jc, 0, sizeof(jc));
	job_cols_init(&jc);
	jc.fn = fn;
	jc.arg = arg;
	return db_exec_rows(db, SQL_JOBS_TROUBLED, p, N(p), jc.v, N(jc.v), max, job_row, &jc,
	    NULL);
}

anvil_err
db_job_row_get(struct db *db, int64_t id, struct db_job_row *out)
{
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct job_cols jc;
	struct db_result res;
	anvil_err e;

	memset(&jc, 0, sizeof(jc));
	job_cols_init(&jc);
	if ((e = db_exec(db, SQL_JOB_GET, p, N(p), jc.v, N(jc.v), &res)) != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	job_fill(&jc);
	*out = jc.j;
	return AE_OK;
}

anvil_err
db_job_requeue(struct db *db, int64_t id, int64_t now)
{
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(id) };
	struct db_job_row j;
	struct db_result res;
	anvil_err e;

	if ((e = db_exec(db, SQL_JOB_REQUEUE, p, N(p), NULL, 0, &res)) != AE_OK)
		return e;
	if (res.affected > 0)
		return AE_OK;
	if ((e = db_job_row_get(db, id, &j)) != AE_OK)
		return e;
	return strcmp(j.state, "done") == 0 ? AE_EXISTS : AE_OK;
}

struct depth_walk {
	char kind[DB_JOB_KIND_MAX + 1], state[16];
	db_depth_fn fn;
	void *arg;
};

static anvil_err
depth_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct depth_walk *w = arg;

	(void)ncols;
	return w->fn(w->arg, w->kind, w->state, cols[2].i, cols[3].i);
}

anvil_err
db_jobs_depths(struct db *db, db_depth_fn fn, void *arg)
{
	struct depth_walk w;
	struct db_val c[] = { DB_COL_STR(w.kind, sizeof(w.kind)),
		DB_COL_STR(w.state, sizeof(w.state)), DB_COL_I64, DB_COL_I64 };

	w.fn = fn;
	w.arg = arg;
	return db_exec_rows(db, SQL_JOBS_DEPTHS, NULL, 0, c, N(c), 999, depth_row, &w, NULL);
}
