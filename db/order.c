#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/acme.h"
#include "db/issue.h"
#include "db/order.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const order_names[] = { "pending", "ready", "processing", "valid",
	"invalid" };
static const char *const authz_names[] = { "pending", "valid", "invalid", "deactivated",
	"expired", "revoked" };
static const char *const chall_names[] = { "pending", "processing", "valid", "invalid" };
static const char *const ident_names[] = { "dns", "ip" };

const char *
db_order_status_name(enum db_order_status s)
{
	return (size_t)s < N(order_names) ? order_names[s] : "invalid";
}

const char *
db_authz_status_name(enum db_authz_status s)
{
	return (size_t)s < N(authz_names) ? authz_names[s] : "invalid";
}

const char *
db_chall_status_name(enum db_chall_status s)
{
	return (size_t)s < N(chall_names) ? chall_names[s] : "invalid";
}

const char *
db_ident_type_name(enum db_ident_type t)
{
	return (size_t)t < N(ident_names) ? ident_names[t] : "dns";
}

/* Index of s in names, or dflt. */
static int
name_index(const char *const *names, size_t n, const char *s, int dflt)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return dflt;
}

static const char SQL_AUTHZ_FIND_VALID[] =
    "SELECT id, expires FROM authorizations WHERE account_id = ? AND identifier_type = ? AND "
    "identifier_value = ? AND status = 'valid' AND expires > ? AND wildcard = ? AND "
    "profile = ? AND created >= ? ORDER BY expires DESC LIMIT 1";
static const char SQL_AUTHZ_INSERT[] =
    "INSERT INTO authorizations (account_id, identifier_type, identifier_value, wildcard, "
    "status, expires, profile, created, token_http01, token_dns01, token_tlsalpn01) "
    "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)";
static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders (account_id, status, expires, identifiers, profile, not_before, "
    "not_after, replaces, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ORDER_AUTHZ_INSERT[] =
    "INSERT INTO order_authorizations (order_id, authz_id) VALUES (?, ?)";
static const char SQL_ORDER_DOMAIN_INSERT[] =
    "INSERT IGNORE INTO order_domains (domain, order_id, created) VALUES (?, ?, ?)";
/* An order of several names: its links and domains LINK_ROWS to a statement, not one each.
 * One text for any count: the places a chunk does not fill repeat its first row, which the
 * duplicate key makes a no-op. */
#define LINK_ROWS 16
#define R2 "(?, ?), "
#define R3 "(?, ?, ?), "
static const char SQL_ORDER_AUTHZ_INSERT_N[] =
    "INSERT INTO order_authorizations (order_id, authz_id) VALUES "
    R2 R2 R2 R2 R2 R2 R2 R2 R2 R2 R2 R2 R2 R2 R2 "(?, ?) "
    "ON DUPLICATE KEY UPDATE authz_id = authz_id";
static const char SQL_ORDER_DOMAIN_INSERT_N[] =
    "INSERT IGNORE INTO order_domains (domain, order_id, created) VALUES "
    R3 R3 R3 R3 R3 R3 R3 R3 R3 R3 R3 R3 R3 R3 R3 "(?, ?, ?)";
#undef R2
#undef R3
static const char SQL_ORDER_GET[] =
    "SELECT account_id, status, expires, identifiers, profile, not_before, not_after, error, "
    "serial, replaces, created FROM orders WHERE id = ?";
static const char SQL_ORDER_AUTHZ_LIST[] =
    "SELECT a.id, a.account_id, a.identifier_type, a.identifier_value, a.wildcard, a.status, "
    "a.expires, a.profile, a.created FROM order_authorizations oa JOIN authorizations a ON "
    "a.id = oa.authz_id WHERE oa.order_id = ? ORDER BY oa.authz_id LIMIT ?";
/* The signing account (db/acme.h), the order and its authorizations in one round trip: one row
 * per authorization, the order's columns on each; the long ones (identifiers, error, replaces,
 * the account's key and contacts) on one row only, so that an order of many names is not sent
 * once per name; the subquery is a constant. Driven by the account, so that a missing order is
 * a row with NULL for o.id, and an order without links one with NULL for a.id. Not sorted by
 * the server: ORDER BY on the outer-joined links made MariaDB sort in a temporary table, which
 * the long columns put on disk (2-4x the statement's time: doc/benchmarks.md); order_view_read
 * sorts the few rows. So the row with the long columns says so (column 22). */
#define FIRST_ROW "oa.authz_id = (SELECT MIN(m.authz_id) FROM order_authorizations m " \
    "WHERE m.order_id = o.id)"
#define ONE_ROW "(oa.authz_id IS NULL OR " FIRST_ROW ")"
static const char SQL_ORDER_VIEW_ACCT[] =
    "SELECT o.account_id, o.status, o.expires, IF(" ONE_ROW ", o.identifiers, NULL), "
    "o.profile, o.not_before, o.not_after, IF(" ONE_ROW ", o.error, NULL), o.serial, "
    "IF(" ONE_ROW ", o.replaces, NULL), o.created, a.id, a.account_id, a.identifier_type, "
    "a.identifier_value, a.wildcard, a.status, a.expires, a.profile, a.created, o.id, "
    ONE_ROW ", ac.id, ac.thumbprint, IF(" ONE_ROW ", ac.jwk, NULL), "
    "IF(" ONE_ROW ", ac.contact, NULL), ac.status, ek.profiles FROM " DB_ACCOUNT_FROM
    " LEFT JOIN orders o ON o.id = ? LEFT JOIN (order_authorizations oa JOIN authorizations a "
    "ON a.id = oa.authz_id) ON oa.order_id = o.id WHERE ac.id = ? LIMIT ?";
#undef ONE_ROW
#undef FIRST_ROW
static const char SQL_ORDER_SET_STATUS[] =
    "UPDATE orders SET status = ?, error = ? WHERE id = ? AND status = ?";
/* Finalize: the status to move from is a parameter (see db_order_finalize_from). */
static const char SQL_ORDER_PROCESSING_FROM[] =
    "UPDATE orders SET status = 'processing', csr = ? WHERE id = ? AND status = ?";
/* With the key's checks (db_key_check's) as conditions: no round trip of their own. InnoDB
 * reads them with shared locks, held until this short transaction commits. */
static const char SQL_ORDER_PROCESSING_KEY[] =
    "UPDATE orders SET status = 'processing', csr = ? WHERE id = ? AND status = ? "
    "AND NOT EXISTS (SELECT 1 FROM blocked_keys WHERE spki_sha256 = ?) "
    "AND NOT EXISTS (SELECT 1 FROM accounts WHERE thumbprint = ?)";
static const char SQL_JOB_FINALIZE[] =
    "INSERT INTO jobs (kind, ref_id, state, run_after, created) VALUES ('finalize', ?, "
    "'queued', ?, ?) ON DUPLICATE KEY UPDATE state = 'queued', run_after = VALUES(run_after), "
    "attempts = 0, lease_owner = NULL, lease_until = 0, last_error = NULL";
static const char SQL_ORDERS_OF_ACCOUNT[] =
    "SELECT id FROM orders WHERE account_id = ? AND id > ? AND status <> 'invalid' "
    "AND (status NOT IN ('pending', 'ready') OR expires > ?) ORDER BY id LIMIT ?";

anvil_err
db_authz_find_valid(struct db *db, int64_t account_id, enum db_ident_type type, const char *value,
    int wildcard, const char *profile, int64_t valid_after, int64_t created_after, int64_t *id,
    int64_t *expires)
{
	const char *t = db_ident_type_name(type);
	struct db_val p[] = {
		DB_PARAM_I64(account_id),
		DB_PARAM_STR(t, strlen(t)),
		DB_PARAM_STR(value, strlen(value)),
		DB_PARAM_I64(valid_after),
		DB_PARAM_I64(wildcard ? 1 : 0),
		DB_PARAM_STR(profile, strlen(profile)),
		DB_PARAM_I64(created_after),
	};
	struct db_val c[] = { DB_COL_I64, DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_AUTHZ_FIND_VALID, p, N(p), c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	*id = c[0].i;
	*expires = c[1].i;
	return AE_OK;
}

/* Inside the caller's transaction. The challenges are the row's (db/authz.c): a token per
 * offered type, NULL for the others. */
static anvil_err
authz_insert(struct db *db, int64_t account_id, const char *profile, int64_t expires,
    int64_t now, struct db_new_authz *a)
{
	const char *t = db_ident_type_name(a->type);
	struct db_val p[] = {
		DB_PARAM_I64(account_id),
		DB_PARAM_STR(t, strlen(t)),
		DB_PARAM_STR(a->value, strlen(a->value)),
		DB_PARAM_I64(a->wildcard ? 1 : 0),
		DB_PARAM_I64(expires),
		DB_PARAM_STR(profile, strlen(profile)),
		DB_PARAM_I64(now),
		DB_PARAM_NULL, DB_PARAM_NULL, DB_PARAM_NULL,
	};
	struct db_result res;
	anvil_err e;

	if (a->nchall > DB_AUTHZ_CHALL_MAX)
		return AE_INTERNAL;
	for (size_t i = 0; i < a->nchall; i++) {
		int k = db_chall_type_index(a->chall_types[i]);
		if (k < 0)
			return AE_INTERNAL;
		p[7 + k] = (struct db_val)DB_PARAM_STR(a->tokens[i], strlen(a->tokens[i]));
	}
	if ((e = db_exec(db, SQL_AUTHZ_INSERT, p, N(p), NULL, 0, &res)) != AE_OK)
		return e;
	a->id = (int64_t)res.insert_id;
	return AE_OK;
}

static anvil_err
authz_create_tx(struct db *db, int64_t account_id, const char *profile, int64_t expires,
    int64_t now, struct db_new_authz *a, struct db_rl_account *rl)
{
	anvil_err e;

	if ((e = db_begin(db)) != AE_OK)
		return e;
	if ((rl == NULL || (e = db_rl_account_admit(db, account_id, now, 0, 1, rl)) == AE_OK) &&
	    (e = authz_insert(db, account_id, profile, expires, now, a)) == AE_OK)
		e = db_commit(db);
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_authz_create(struct db *db, int64_t account_id, const char *profile, int64_t expires,
    int64_t now, struct db_new_authz *a, struct db_rl_account *rl)
{
	int tries = 0;
	anvil_err e;

	while ((e = authz_create_tx(db, account_id, profile, expires, now, a, rl)) != AE_OK &&
	    db_deadlock_retry(db, e, &tries))
		;
	return e;
}

/* The order's links to its authorizations and its registered domains (db_order_create). */
static anvil_err
order_links(struct db *db, const struct db_new_order *o, int64_t id, struct db_result *res)
{
	struct db_val p[3 * LINK_ROWS];
	anvil_err e = AE_OK;

	if (o->nauthz == 1) {
		struct db_val q[] = { DB_PARAM_I64(id), DB_PARAM_I64(o->authz[0].id) };
		/* The same reused authorization for two identifiers cannot happen (identifiers
		 * are deduplicated), but a duplicate link is harmless. */
		e = db_exec(db, SQL_ORDER_AUTHZ_INSERT, q, N(q), NULL, 0, res);
		if (e != AE_OK && e != AE_DB_DUPLICATE)
			return e;
		e = AE_OK;
	} else {
		for (size_t i = 0; i < o->nauthz; i += LINK_ROWS) {
			for (size_t k = 0; k < LINK_ROWS; k++) {
				size_t j = i + k < o->nauthz ? i + k : i;
				p[2 * k] = (struct db_val)DB_PARAM_I64(id);
				p[2 * k + 1] = (struct db_val)DB_PARAM_I64(o->authz[j].id);
			}
			e = db_exec(db, SQL_ORDER_AUTHZ_INSERT_N, p, 2 * LINK_ROWS, NULL, 0, res);
			if (e != AE_OK)
				return e;
		}
	}
	if (o->ndomains == 1) {
		struct db_val q[] = {
			DB_PARAM_STR(o->domains[0], strlen(o->domains[0])),
			DB_PARAM_I64(id),
			DB_PARAM_I64(o->now),
		};
		return db_exec(db, SQL_ORDER_DOMAIN_INSERT, q, N(q), NULL, 0, res);
	}
	for (size_t i = 0; i < o->ndomains; i += LINK_ROWS) {
		for (size_t k = 0; k < LINK_ROWS; k++) {
			size_t j = i + k < o->ndomains ? i + k : i;
			p[3 * k] = (struct db_val)DB_PARAM_STR(o->domains[j], strlen(o->domains[j]));
			p[3 * k + 1] = (struct db_val)DB_PARAM_I64(id);
			p[3 * k + 2] = (struct db_val)DB_PARAM_I64(o->now);
		}
		if ((e = db_exec(db, SQL_ORDER_DOMAIN_INSERT_N, p, 3 * LINK_ROWS, NULL, 0, res)) !=
		    AE_OK)
			return e;
	}
	return e;
}

static anvil_err
order_create_tx(struct db *db, struct db_new_order *o, int64_t *id)
{
	int ready = 1;
	size_t fresh = 0;
	struct db_result res;
	anvil_err e;

	for (size_t i = 0; i < o->nauthz; i++)
		if (o->authz[i].reuse_id <= 0) {
			ready = 0;
			fresh++;
		}
	if ((e = db_begin(db)) != AE_OK)
		return e;
	if ((e = db_rl_account_admit(db, o->account_id, o->now, 1, fresh, &o->rl)) != AE_OK)
		goto out;
	for (size_t i = 0; i < o->nauthz; i++) {
		struct db_new_authz *a = &o->authz[i];
		if (a->reuse_id > 0)
			a->id = a->reuse_id;
		else if ((e = authz_insert(db, o->account_id, o->profile, o->authz_expires, o->now,
		    a)) != AE_OK)
			goto out;
	}
	{
		const char *st = ready ? "ready" : "pending";
		struct db_val p[] = {
			DB_PARAM_I64(o->account_id),
			DB_PARAM_STR(st, strlen(st)),
			DB_PARAM_I64(o->expires),
			DB_PARAM_STR(o->identifiers, strlen(o->identifiers)),
			DB_PARAM_STR(o->profile, strlen(o->profile)),
			DB_PARAM_I64(o->not_before),
			DB_PARAM_I64(o->not_after),
			DB_PARAM_NULL,
			DB_PARAM_I64(o->now),
		};
		if (o->not_before == 0)
			p[5].type = DB_NULL;
		if (o->not_after == 0)
			p[6].type = DB_NULL;
		if (o->replaces != NULL) {
			p[7].type = DB_STR;
			p[7].s = o->replaces;
			p[7].len = strlen(o->replaces);
		}
		e = db_exec(db, SQL_ORDER_INSERT, p, N(p), NULL, 0, &res);
		if (e == AE_DB_DUPLICATE && o->replaces != NULL)
			e = AE_EXISTS;
		if (e != AE_OK)
			goto out;
		*id = (int64_t)res.insert_id;
	}
	if ((e = order_links(db, o, *id, &res)) != AE_OK)
		goto out;
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_order_create(struct db *db, struct db_new_order *o, int64_t *id)
{
	int tries = 0;
	anvil_err e;

	while ((e = order_create_tx(db, o, id)) != AE_OK && db_deadlock_retry(db, e, &tries))
		;
	return e;
}

anvil_err
db_order_get(struct db *db, int64_t id, struct db_order *o)
{
	char status[16];
	struct db_val p[] = { DB_PARAM_I64(id) };
	struct db_val c[] = {
		DB_COL_I64,
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64,
		DB_COL_STR(o->identifiers, sizeof(o->identifiers)),
		DB_COL_STR(o->profile, sizeof(o->profile)),
		DB_COL_I64,
		DB_COL_I64,
		DB_COL_STR(o->error, sizeof(o->error)),
		DB_COL_STR(o->serial, sizeof(o->serial)),
		DB_COL_STR(o->replaces, sizeof(o->replaces)),
		DB_COL_I64,
	};
	struct db_result res;
	anvil_err e = db_exec(db, SQL_ORDER_GET, p, N(p), c, N(c), &res);

	if (e != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	o->id = id;
	o->account_id = c[0].i;
	o->status = (enum db_order_status)name_index(order_names, N(order_names), status,
	    DB_ORDER_INVALID);
	o->expires = c[2].i;
	o->not_before = c[5].i;
	o->not_after = c[6].i;
	o->created = c[10].i;
	return AE_OK;
}

/* Fills a from the 9 columns of an authorization row. */
static void
authz_from_cols(const struct db_val *c, const char *type, const char *status,
    struct db_authz *a)
{
	a->id = c[0].i;
	a->account_id = c[1].i;
	a->type = (enum db_ident_type)name_index(ident_names, N(ident_names), type, DB_IDENT_DNS);
	a->wildcard = c[4].i != 0;
	a->status = (enum db_authz_status)name_index(authz_names, N(authz_names), status,
	    DB_AUTHZ_INVALID);
	a->expires = c[6].i;
	a->created = c[8].i;
}

/* Collects rows into an array (db_exec_rows callbacks below). */
struct row_sink {
	void *out;              /* array of the row type */
	size_t n, max;
	const char *type, *status;  /* the scratch row's enum columns */
	const void *scratch;        /* the row the columns were fetched into */
};

static anvil_err
authz_row_add(void *arg, const struct db_val *c, size_t ncols)
{
	struct row_sink *s = arg;
	struct db_authz *a = (struct db_authz *)s->out + s->n;

	(void)ncols;
	if (s->n == s->max)     /* db_exec_rows stops first; never past the array */
		return AE_INTERNAL;
	*a = *(const struct db_authz *)s->scratch;
	authz_from_cols(c, s->type, s->status, a);
	s->n++;
	return AE_OK;
}

anvil_err
db_order_authz_list(struct db *db, int64_t order_id, struct db_authz *out, size_t max,
    size_t *n)
{
	char type[8], status[16];
	struct db_authz scratch;
	struct db_val p[] = { DB_PARAM_I64(order_id), DB_PARAM_I64((int64_t)max + 1) };
	struct db_val c[] = {
		DB_COL_I64,
		DB_COL_I64,
		DB_COL_STR(type, sizeof(type)),
		DB_COL_STR(scratch.value, sizeof(scratch.value)),
		DB_COL_I64,
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64,
		DB_COL_STR(scratch.profile, sizeof(scratch.profile)),
		DB_COL_I64,
	};
	struct row_sink s = { .out = out, .max = max, .type = type, .status = status,
		.scratch = &scratch };
	anvil_err e;

	memset(&scratch, 0, sizeof(scratch));
	e = db_exec_rows(db, SQL_ORDER_AUTHZ_LIST, p, N(p), c, N(c), max, authz_row_add, &s,
	    NULL);
	*n = e == AE_OK ? s.n : 0;
	/* More links than an order can have: the stored data is wrong, not the request. */
	return e == AE_TOOBIG ? AE_DB : e;
}

/* db_order_get_view_acct's rows: the order and the account from the marked one, an
 * authorization from each. */
struct view_sink {
	struct db_order *o, *scratch;
	struct db_authz *authz, *ascratch;
	struct db_account *acct, *acscratch;
	size_t n, max, rows;
	int found, marked;
	const char *ostatus, *type, *status, *acstatus;
};

static anvil_err
view_row_add(void *arg, const struct db_val *c, size_t ncols)
{
	struct view_sink *s = arg;
	/* The row with the long columns. */
	int first = c[21].i != 0;

	(void)ncols;
	s->rows++;
	s->marked |= first;
	if (first) {
		*s->acct = *s->acscratch;
		db_account_fill(s->acct, s->acstatus, c + 22);
	}
	if (first && !c[20].is_null) {
		s->found = 1;
		*s->o = *s->scratch;
		s->o->account_id = c[0].i;
		s->o->status = (enum db_order_status)name_index(order_names, N(order_names),
		    s->ostatus, DB_ORDER_INVALID);
		s->o->expires = c[2].i;
		s->o->not_before = c[5].i;
		s->o->not_after = c[6].i;
		s->o->created = c[10].i;
	}
	if (c[11].is_null)
		return AE_OK;   /* no order, or one without links */
	if (s->n == s->max)
		return AE_DB;   /* more links than an order can have: the stored data is wrong */
	s->authz[s->n] = *s->ascratch;
	authz_from_cols(c + 11, s->type, s->status, &s->authz[s->n]);
	s->n++;
	return AE_OK;
}

static int
authz_id_cmp(const void *x, const void *y)
{
	int64_t a = ((const struct db_authz *)x)->id, b = ((const struct db_authz *)y)->id;

	return (a > b) - (a < b);
}

anvil_err
db_order_get_view_acct(struct db *db, int64_t acct_id, struct db_account *acct, int64_t id,
    struct db_order *o, struct db_authz *authz, size_t max, size_t *n, int *found)
{
	char ostatus[16], type[8], status[16], acstatus[16];
	struct db_order *so;
	struct db_account *sac = NULL;
	struct db_authz sa;
	struct db_val pa[] = { DB_PARAM_I64(id), DB_PARAM_I64(acct_id),
		DB_PARAM_I64((int64_t)max + 1) };
	struct view_sink s = { .o = o, .authz = authz, .ascratch = &sa, .max = max,
		.ostatus = ostatus, .type = type, .status = status, .acstatus = acstatus };
	anvil_err e = AE_NOMEM;

	*n = 0;
	*found = 0;
	/* The long columns come on one row only, NULL (so "") on the others: fetched apart from
	 * o (and from acct), copied from that row. */
	if ((so = calloc(1, sizeof(*so))) == NULL || (sac = calloc(1, sizeof(*sac))) == NULL)
		goto out;
	memset(&sa, 0, sizeof(sa));
	s.scratch = so;
	s.acct = acct;
	s.acscratch = sac;
	{
		struct db_val c[20 + 2 + DB_ACCOUNT_NCOLS] = {
			DB_COL_I64,
			DB_COL_STR(ostatus, sizeof(ostatus)),
			DB_COL_I64,
			DB_COL_STR(so->identifiers, sizeof(so->identifiers)),
			DB_COL_STR(so->profile, sizeof(so->profile)),
			DB_COL_I64,
			DB_COL_I64,
			DB_COL_STR(so->error, sizeof(so->error)),
			DB_COL_STR(so->serial, sizeof(so->serial)),
			DB_COL_STR(so->replaces, sizeof(so->replaces)),
			DB_COL_I64,
			DB_COL_I64,
			DB_COL_I64,
			DB_COL_STR(type, sizeof(type)),
			DB_COL_STR(sa.value, sizeof(sa.value)),
			DB_COL_I64,
			DB_COL_STR(status, sizeof(status)),
			DB_COL_I64,
			DB_COL_STR(sa.profile, sizeof(sa.profile)),
			DB_COL_I64,
			DB_COL_I64,
			DB_COL_I64,
		};
		db_account_bind(sac, acstatus, c + 22);
		e = db_exec_rows(db, SQL_ORDER_VIEW_ACCT, pa, N(pa), c, N(c), max, view_row_add,
		    &s, NULL);
	}
	if (e == AE_TOOBIG)
		e = AE_DB;
	if (e == AE_OK && s.rows == 0) {
		e = AE_NOTFOUND;        /* no such account */
		goto out;
	}
	if (e == AE_OK && !s.marked)
		e = AE_DB;      /* rows, none with the long columns: never the statement's result */
	if (e != AE_OK)
		goto out;
	*found = s.found;
	if (s.found) {
		o->id = id;
		*n = s.n;
		qsort(authz, s.n, sizeof(*authz), authz_id_cmp);
	}
out:
	free(so);
	free(sac);
	return e;
}

anvil_err
db_order_set_status(struct db *db, int64_t id, enum db_order_status from,
    enum db_order_status to, const char *error, int *changed)
{
	const char *f = db_order_status_name(from), *t = db_order_status_name(to);
	struct db_val p[] = {
		DB_PARAM_STR(t, strlen(t)),
		DB_PARAM_NULL,
		DB_PARAM_I64(id),
		DB_PARAM_STR(f, strlen(f)),
	};
	struct db_result res;
	anvil_err e;

	if (error != NULL) {
		p[1].type = DB_STR;
		p[1].s = error;
		p[1].len = strlen(error);
	}
	e = db_exec(db, SQL_ORDER_SET_STATUS, p, N(p), NULL, 0, &res);
	*changed = e == AE_OK && res.affected == 1;
	return e;
}

static anvil_err
order_finalize_tx(struct db *db, int64_t id, enum db_order_status from, const uint8_t *csr,
    size_t csr_len, int64_t now, int64_t run_after, struct db_serial_new *serial,
    struct db_key_q *key)
{
	const char *f = db_order_status_name(from);
	struct db_val up[] = { DB_PARAM_STR((const char *)csr, csr_len), DB_PARAM_I64(id),
		DB_PARAM_STR(f, strlen(f)), DB_PARAM_NULL, DB_PARAM_NULL };
	struct db_val job[] = { DB_PARAM_I64(id), DB_PARAM_I64(run_after), DB_PARAM_I64(now) };
	struct db_result res;
	anvil_err e;

	if (from != DB_ORDER_PENDING && from != DB_ORDER_READY)
		return AE_EXISTS;
	if ((e = db_begin(db)) != AE_OK)
		goto out;
	if (key != NULL) {
		key->blocked = key->account_key = 0;
		up[3] = (struct db_val)DB_PARAM_STR((const char *)key->spki_sha256,
		    DB_SPKI_HASH_LEN);
		up[4] = (struct db_val)DB_PARAM_STR(key->thumbprint, strlen(key->thumbprint));
	}
	if ((e = db_exec(db, key != NULL ? SQL_ORDER_PROCESSING_KEY : SQL_ORDER_PROCESSING_FROM,
	    up, key != NULL ? 5 : 3, NULL, 0, &res)) != AE_OK)
		goto out;
	if (res.affected != 1) {
		/* Moved on, or refused by a key check: which one, only on this rare path. */
		e = AE_EXISTS;
		if (key != NULL && (e = db_key_check(db, key->spki_sha256, key->thumbprint,
		    &key->blocked, &key->account_key)) == AE_OK)
			e = key->blocked || key->account_key ? AE_DENIED : AE_EXISTS;
		goto out;
	}
	if ((e = db_exec(db, SQL_JOB_FINALIZE, job, N(job), NULL, 0, &res)) != AE_OK)
		goto out;
	if (serial != NULL &&
	    (e = db_serial_record(db, serial, id, now, DB_SERIAL_TRIES)) != AE_OK)
		goto out;
	e = db_commit(db);
out:
	if (e != AE_OK)
		db_rollback(db);
	return e;
}

anvil_err
db_order_finalize_from(struct db *db, int64_t id, enum db_order_status from, const uint8_t *csr,
    size_t csr_len, int64_t now, int64_t run_after, struct db_serial_new *serial,
    struct db_key_q *key)
{
	int tries = 0;
	anvil_err e;

	/* Nothing is signed before this commits: a serial drawn by an attempt that rolled back
	 * was never used, and the next attempt draws another. */
	while ((e = order_finalize_tx(db, id, from, csr, csr_len, now, run_after, serial, key))
	    != AE_OK && db_deadlock_retry(db, e, &tries))
		;
	return e;
}

static anvil_err
id_row_add(void *arg, const struct db_val *c, size_t ncols)
{
	struct row_sink *s = arg;

	(void)ncols;
	if (s->n == s->max)
		return AE_INTERNAL;
	((int64_t *)s->out)[s->n++] = c[0].i;
	return AE_OK;
}

anvil_err
db_orders_of_account(struct db *db, int64_t account_id, int64_t after, int64_t now,
    int64_t *ids, size_t max, size_t *n)
{
	struct db_val p[] = { DB_PARAM_I64(account_id), DB_PARAM_I64(after), DB_PARAM_I64(now),
		DB_PARAM_I64((int64_t)max) };
	struct db_val c[] = { DB_COL_I64 };
	struct row_sink s = { .out = ids, .max = max };
	anvil_err e;

	if (max == 0 || max > INT64_MAX - 1) {
		*n = 0;
		return AE_INTERNAL;
	}
	e = db_exec_rows(db, SQL_ORDERS_OF_ACCOUNT, p, N(p), c, N(c), max, id_row_add, &s, NULL);
	*n = e == AE_OK ? s.n : 0;
	return e;
}

anvil_err
db_authz_row(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    struct db_authz *a)
{
	return db_authz_row_ext(db, sql, params, nparams, a, NULL, 0);
}

anvil_err
db_authz_row_ext(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    struct db_authz *a, struct db_val *extra, size_t nextra)
{
	char type[8], status[16];
	struct db_val c[9 + DB_AUTHZ_ROW_EXTRA_MAX] = {
		DB_COL_I64,
		DB_COL_I64,
		DB_COL_STR(type, sizeof(type)),
		DB_COL_STR(a->value, sizeof(a->value)),
		DB_COL_I64,
		DB_COL_STR(status, sizeof(status)),
		DB_COL_I64,
		DB_COL_STR(a->profile, sizeof(a->profile)),
		DB_COL_I64,
	};
	struct db_result res;
	anvil_err e;

	if (nextra > DB_AUTHZ_ROW_EXTRA_MAX)
		return AE_INTERNAL;
	for (size_t i = 0; i < nextra; i++)
		c[9 + i] = extra[i];
	if ((e = db_exec(db, sql, params, nparams, c, 9 + nextra, &res)) != AE_OK)
		return e;
	if (!res.found)
		return AE_NOTFOUND;
	for (size_t i = 0; i < nextra; i++)
		extra[i] = c[9 + i];
	authz_from_cols(c, type, status, a);
	return AE_OK;
}

int
db_chall_status_index(const char *s)
{
	return name_index(chall_names, N(chall_names), s, DB_CHALL_INVALID);
}
