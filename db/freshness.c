#include "config.h"
#include <string.h>
#include "db/freshness.h"

/* The rows past their refresh point, in refresh order (cert_status_due). */
static const char SQL_FRESH_DUE[] =
    "SELECT issuer, ocsp_this_update, ocsp_next_update, not_after FROM cert_status "
    "WHERE ocsp_refresh_at < ? ORDER BY ocsp_refresh_at LIMIT ?";
static const char SQL_FRESH_NEXT[] =
    "SELECT issuer, ocsp_this_update, ocsp_next_update, not_after FROM cert_status "
    "WHERE ocsp_refresh_at >= ? ORDER BY ocsp_refresh_at LIMIT ?";
static const char SQL_FRESH_CRL[] =
    "SELECT COUNT(*), COALESCE(MIN(NULLIF(this_update, 0)), 0), "
    "CAST(COALESCE(SUM(this_update = 0), 0) AS SIGNED), "
    "CAST(COALESCE(SUM(next_update < ?), 0) AS SIGNED), "
    "CAST(COALESCE(SUM(due_at < ?), 0) AS SIGNED), COALESCE(MIN(due_at), 0) FROM crl_shards "
    "WHERE issuer = ?";

/* The responses most at risk: the first in refresh order (cert_status_due). */
static const char SQL_OLDEST[] =
    "SELECT serial, issuer FROM cert_status WHERE not_after >= ? "
    "ORDER BY ocsp_refresh_at LIMIT ?";

struct oldest {
	db_oldest_fn fn;
	void *arg;
};

static anvil_err
oldest_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct oldest *o = arg;

	(void)ncols;
	return o->fn(o->arg, cols[0].buf, cols[1].buf);
}

anvil_err
db_oldest_responses(struct db *db, int64_t now, size_t n, db_oldest_fn fn, void *arg)
{
	char serial[DB_SERIAL_HEX_MAX + 1], issuer[DB_CRL_ISSUER_MAX + 1];
	struct oldest o = { fn, arg };
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64((int64_t)n) };
	struct db_val cols[] = { DB_COL_STR(serial, sizeof(serial)),
		DB_COL_STR(issuer, sizeof(issuer)) };

	if (n == 0)
		return AE_OK;
	return db_exec_rows(db, SQL_OLDEST, p, 2, cols, 2, n, oldest_row, &o, NULL);
}

struct fresh {
	struct db_freshness *f;
	size_t n;
	int64_t now;
	int second;         /* the walk past the refresh point: oldest responses only */
	unsigned char seen[64];
	size_t nseen;
};

static anvil_err
fresh_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct fresh *fr = arg;
	int64_t tu = cols[1].i, nu = cols[2].i, na = cols[3].i;

	(void)ncols;
	for (size_t i = 0; i < fr->n; i++) {
		struct db_freshness *f = &fr->f[i];
		if (strlen(f->issuer) != cols[0].len || memcmp(f->issuer, cols[0].buf,
		    cols[0].len) != 0)
			continue;
		if (na < fr->now)
			return AE_OK;
		if (tu > 0 && (f->oldest_this_update == 0 || tu < f->oldest_this_update))
			f->oldest_this_update = tu;
		if (!fr->second) {
			f->past_refresh++;
			if (tu == 0)
				f->unsigned_responses++;
			else if (nu < fr->now)
				f->past_next_update++;
		} else if (i < sizeof(fr->seen) && tu > 0 && !fr->seen[i]) {
			fr->seen[i] = 1;
			/* Every issuer has its oldest response: the walk can stop. */
			if (++fr->nseen == fr->n)
				return AE_EXISTS;
		}
		return AE_OK;
	}
	return AE_OK;
}

anvil_err
db_freshness(struct db *db, int64_t now, int64_t scan_max, struct db_freshness *f, size_t n,
    int *truncated)
{
	char issuer[DB_CRL_ISSUER_MAX + 1];
	struct fresh fr;
	struct db_val p[] = { DB_PARAM_I64(now), DB_PARAM_I64(scan_max + 1) };
	struct db_val cols[] = { DB_COL_STR(issuer, sizeof(issuer)), DB_COL_I64, DB_COL_I64,
		DB_COL_I64 };
	size_t rows = 0;
	anvil_err e;

	*truncated = 0;
	memset(&fr, 0, sizeof(fr));
	fr.f = f;
	fr.n = n;
	fr.now = now;
	for (size_t i = 0; i < n; i++) {
		char name[DB_CRL_ISSUER_MAX + 1];
		memcpy(name, f[i].issuer, sizeof(name));
		memset(&f[i], 0, sizeof(f[i]));
		memcpy(f[i].issuer, name, sizeof(name));
	}
	e = db_exec_rows(db, SQL_FRESH_DUE, p, 2, cols, 4, (size_t)scan_max, fresh_row, &fr,
	    &rows);
	if (e == AE_TOOBIG) {
		*truncated = 1;
		e = AE_OK;
	}
	if (e != AE_OK)
		return e;
	/* Issuers whose responses are all before their refresh point: their oldest one is the
	 * first of theirs in refresh order. */
	fr.second = 1;
	for (size_t i = 0; i < n && i < sizeof(fr.seen); i++)
		if (f[i].oldest_this_update > 0) {
			fr.seen[i] = 1;
			fr.nseen++;
		}
	if (fr.nseen < n) {
		p[1].i = scan_max + 1;
		e = db_exec_rows(db, SQL_FRESH_NEXT, p, 2, cols, 4, (size_t)scan_max, fresh_row,
		    &fr, &rows);
		if (e == AE_EXISTS || e == AE_TOOBIG)
			e = AE_OK;
		if (e != AE_OK)
			return e;
	}
	for (size_t i = 0; i < n; i++) {
		struct db_val q[] = { DB_PARAM_I64(now), DB_PARAM_I64(now),
			DB_PARAM_STR(f[i].issuer, strlen(f[i].issuer)) };
		struct db_val c[] = { DB_COL_I64, DB_COL_I64, DB_COL_I64, DB_COL_I64, DB_COL_I64,
			DB_COL_I64 };
		struct db_result res;
		if ((e = db_exec(db, SQL_FRESH_CRL, q, 3, c, 6, &res)) != AE_OK)
			return e;
		f[i].crl_shards = c[0].i;
		f[i].crl_oldest_this_update = c[1].i;
		f[i].crl_unpublished = c[2].i;
		f[i].crl_past_next_update = c[3].i;
		f[i].crl_overdue = c[4].i;
		f[i].crl_oldest_due_at = c[5].i;
	}
	return AE_OK;
}
