#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include "db/db.h"
#include "lib/clock.h"
#include "lib/log.h"

#define DB_STMT_MAX 128   /* distinct statements one process prepares */
#define DB_PARAMS_MAX 66  /* db/status.c leases 64 rows per statement */
#define DB_COLS_MAX 32  /* db/order.c reads an order with its authorizations and account: 26 */

struct db_stmt {
	const char *sql;
	MYSQL_STMT *st;
};

/* The write deferred by db_defer_first, with copies of its parameters. */
#define DB_FIRST_PARAMS 4
#define DB_FIRST_BYTES 64

enum db_first_state {
	DB_FIRST_NONE,
	DB_FIRST_PENDING,     /* for the next transaction, or db_settle_first */
	DB_FIRST_IN_TX,       /* ran in the open transaction: done when it commits */
	DB_FIRST_DONE,        /* committed */
	DB_FIRST_REFUSED,     /* met a duplicate key: on_duplicate is the outcome */
};

struct db_first {
	enum db_first_state state;
	const char *sql;
	struct db_val params[DB_FIRST_PARAMS];
	size_t nparams;
	char bytes[DB_FIRST_BYTES];
	anvil_err on_duplicate;
};

struct db {
	const struct db_conf *conf;
	MYSQL *my;
	int in_tx;
	struct db_first first;
	int deadlocked;       /* the server rolled back our transaction: db_deadlock_retry */
	uint64_t attempt_ms;  /* when the last transaction (or lone statement) began */
	uint64_t series_ms;   /* when the first attempt of the one db_deadlock_retry repeats began */
	time_t last_fail;
	struct db_stmt stmts[DB_STMT_MAX];
	size_t nstmts;
	char err[256];
	uint64_t n_errors, n_connects;   /* for the metrics (db_stats) */
};

/* Session settings every connection gets: strict modes so bad data is an error, not a warning,
 * and UTC so DATETIME columns mean the same on every host. */
#define DB_INIT_COMMAND "SET SESSION sql_mode='STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE," \
	"ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone='+00:00', " \
	"innodb_lock_wait_timeout=%lld, lock_wait_timeout=%lld"

anvil_err
db_conf_parse(struct conf_ctx *cc, json_object *root, struct db_conf *c)
{
	static const char *const keys[] = { "host", "port", "unix_socket", "user", "password",
		"name", "connect_timeout", "read_timeout", "write_timeout", "lock_wait_timeout",
		NULL };
	json_object *sec = NULL;
	anvil_err e;

	memset(c, 0, sizeof(*c));
	c->host = "localhost";
	c->port = 3306;
	c->connect_timeout = 3;
	c->read_timeout = 10;
	c->write_timeout = 10;
	c->lock_wait_timeout = 10;
	if ((e = conf_get_object(cc, root, "", "database", 1, &sec)) != AE_OK ||
	    (e = conf_check_keys(cc, sec, "database", keys)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "database", "host", 0, &c->host)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "database", "port", 0, 1, 65535, &c->port)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "database", "unix_socket", 0, &c->unix_socket)) != AE_OK ||
	    (e = conf_get_secret(cc, sec, "database", "user", 1, &c->user_buf)) != AE_OK ||
	    (e = conf_get_secret(cc, sec, "database", "password", 0, &c->password)) != AE_OK ||
	    (e = conf_get_string(cc, sec, "database", "name", 1, &c->name)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "database", "connect_timeout", 0, 1, 3600,
	    &c->connect_timeout)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "database", "read_timeout", 0, 1, 3600,
	    &c->read_timeout)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "database", "write_timeout", 0, 1, 3600,
	    &c->write_timeout)) != AE_OK ||
	    (e = conf_get_int(cc, sec, "database", "lock_wait_timeout", 0, 1, 3600,
	    &c->lock_wait_timeout)) != AE_OK)
		goto out;
	c->user = c->user_buf;
	if (*c->name == '\0')
		e = conf_fail(cc, "database", "name", "must not be empty");
out:
	if (e != AE_OK)
		db_conf_free(c);
	return e;
}

void
db_conf_free(struct db_conf *c)
{
	conf_secret_free(c->password);
	c->password = NULL;
	conf_secret_free(c->user_buf);
	c->user_buf = NULL;
	c->user = NULL;
}

void
db_stats(const struct db *db, uint64_t *errors, uint64_t *connects)
{
	*errors = db->n_errors;
	*connects = db->n_connects;
}

const char *
db_error(struct db *db)
{
	return db->err;
}

static void
db_disconnect(struct db *db)
{
	for (size_t i = 0; i < db->nstmts; i++)
		mysql_stmt_close(db->stmts[i].st);
	db->nstmts = 0;
	if (db->my != NULL)
		mysql_close(db->my);
	db->my = NULL;
	db->in_tx = 0;
}

anvil_err
db_new(const struct db_conf *conf, struct db **out)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return AE_NOMEM;
	db->conf = conf;
	*out = db;
	return AE_OK;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

/* Errors that mean the server is unreachable, gone or overloaded: 503, never 500. */
static anvil_err
db_classify(unsigned int no)
{
	switch (no) {
	case ER_DUP_ENTRY:
	case ER_DUP_ENTRY_WITH_KEY_NAME:
		return AE_DB_DUPLICATE;
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_UNKNOWN_HOST:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case ER_CON_COUNT_ERROR:
	case ER_SERVER_SHUTDOWN:
	case ER_CONNECTION_KILLED:
	case ER_QUERY_INTERRUPTED:
	case ER_LOCK_WAIT_TIMEOUT:
	case ER_LOCK_DEADLOCK:
	case ER_UNKNOWN_COM_ERROR:
	case ER_NET_READ_ERROR:
	case ER_NET_READ_INTERRUPTED:
	case ER_NET_WRITE_INTERRUPTED:
	case ER_NET_ERROR_ON_WRITE:
		return AE_DB_DOWN;
	default:
		return AE_DB;
	}
}

/* Records the error; a connection-level failure drops the connection so the next call
 * reconnects. */
static anvil_err
db_fail(struct db *db, unsigned int no, const char *msg)
{
	anvil_err e = db_classify(no);

	snprintf(db->err, sizeof(db->err), "%u %s", no, msg ? msg : "");
	db->n_errors++;
	/* A deadlock victim's connection is sound and its whole transaction is already rolled
	 * back (statement and all, outside one): kept, so that db_deadlock_retry runs the
	 * transaction again without a reconnect. */
	if (no == ER_LOCK_DEADLOCK)
		db->deadlocked = 1;
	else if (e == AE_DB_DOWN)
		db_disconnect(db);
	return e;
}

anvil_err
db_connect(struct db *db)
{
	const struct db_conf *c = db->conf;
	unsigned int ct, rt, wt;
	char init[sizeof(DB_INIT_COMMAND) + 64];
	time_t now = time(NULL);
	anvil_err e = AE_OK;

	if (db->my != NULL)
		return AE_OK;
	if (db->last_fail != 0 && now - db->last_fail < 1) {
		snprintf(db->err, sizeof(db->err), "not retrying within a second of a failure");
		return AE_DB_DOWN;
	}
	if ((db->my = mysql_init(NULL)) == NULL)
		return AE_NOMEM;
	ct = (unsigned int)c->connect_timeout;
	rt = (unsigned int)c->read_timeout;
	wt = (unsigned int)c->write_timeout;
	mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(db->my, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_options(db->my, MYSQL_OPT_WRITE_TIMEOUT, &wt);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* Row and table lock waits end within the request's budget (the server's default is 50 s
	 * for rows and a day for tables): a request held by another's lock answers 503 +
	 * Retry-After instead of outliving nginx's timeout. */
	snprintf(init, sizeof(init), DB_INIT_COMMAND, (long long)c->lock_wait_timeout,
	    (long long)c->lock_wait_timeout);
	mysql_options(db->my, MYSQL_INIT_COMMAND, init);
	if (mysql_real_connect(db->my, c->unix_socket ? NULL : c->host, c->user, c->password,
	    c->name, (unsigned int)c->port, c->unix_socket, CLIENT_MULTI_STATEMENTS) == NULL) {
		unsigned int no = mysql_errno(db->my);
		snprintf(db->err, sizeof(db->err), "%u %s", no, mysql_error(db->my));
		mysql_close(db->my);
		db->my = NULL;
		db->last_fail = now;
		db->n_errors++;
		/* Bad credentials or an unknown database are configuration errors, but for a
		 * client they are the same as an outage: the service is unavailable. */
		e = AE_DB_DOWN;
		goto out;
	}
	db->last_fail = 0;
	db->n_connects++;
out:
	return e;
}

static anvil_err
db_stmt_get(struct db *db, const char *sql, MYSQL_STMT **out)
{
	MYSQL_STMT *st = NULL;

	for (size_t i = 0; i < db->nstmts; i++)
		if (db->stmts[i].sql == sql) {
			*out = db->stmts[i].st;
			return AE_OK;
		}
	if (db->nstmts == DB_STMT_MAX)
		return AE_INTERNAL;
	if ((st = mysql_stmt_init(db->my)) == NULL)
		return AE_NOMEM;
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		unsigned int no = mysql_stmt_errno(st);
		char msg[200];
		snprintf(msg, sizeof(msg), "%s", mysql_stmt_error(st));
		mysql_stmt_close(st);
		return db_fail(db, no, msg);
	}
	db->stmts[db->nstmts].sql = sql;
	db->stmts[db->nstmts].st = st;
	db->nstmts++;
	*out = st;
	return AE_OK;
}

/* Where db_run hands the rows of a db_exec_rows call (NULL for db_exec: the first row only). */
struct db_rows {
	size_t max;
	db_row_fn fn;
	void *arg;
	size_t n;             /* rows passed to fn */
};

static anvil_err
db_run(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    struct db_val *cols, size_t ncols, struct db_result *res, struct db_rows *rows,
    unsigned int *errnum)
{
	MYSQL_BIND pb[DB_PARAMS_MAX], rb[DB_COLS_MAX];
	unsigned long plen[DB_PARAMS_MAX], rlen[DB_COLS_MAX];
	long long pint[DB_PARAMS_MAX], rint[DB_COLS_MAX];
	my_bool rnull[DB_COLS_MAX], rerr[DB_COLS_MAX];
	MYSQL_STMT *st = NULL;
	anvil_err e = AE_OK;
	int rc, stored = 0;

	*errnum = 0;
	/* Outside a transaction the flag describes this statement only. */
	if (!db->in_tx) {
		db->deadlocked = 0;
		db->attempt_ms = clock_mono_ms();
	}
	if (nparams > DB_PARAMS_MAX || ncols > DB_COLS_MAX) {
		e = AE_INTERNAL;
		goto out;
	}
	if (db->in_tx && db->deadlocked) {
		/* What follows would run outside the transaction the caller believes open. */
		snprintf(db->err, sizeof(db->err), "transaction rolled back by a deadlock");
		e = AE_DB_DOWN;
		goto out;
	}
	if ((e = db_connect(db)) != AE_OK)
		goto out;
	if ((e = db_stmt_get(db, sql, &st)) != AE_OK) {
		if (db->my == NULL)
			*errnum = CR_SERVER_GONE_ERROR;
		st = NULL;
		goto out;
	}
	if (mysql_stmt_param_count(st) != nparams || mysql_stmt_field_count(st) != ncols) {
		snprintf(db->err, sizeof(db->err), "statement shape differs from its call");
		e = AE_INTERNAL;
		goto out;
	}
	memset(pb, 0, sizeof(pb));
	for (size_t i = 0; i < nparams; i++) {
		switch (params[i].type) {
		case DB_I64:
			pint[i] = params[i].i;
			pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
			pb[i].buffer = &pint[i];
			break;
		case DB_STR:
			plen[i] = (unsigned long)params[i].len;
			pb[i].buffer_type = MYSQL_TYPE_STRING;
			pb[i].buffer = (void *)(uintptr_t)params[i].s;
			pb[i].buffer_length = plen[i];
			pb[i].length = &plen[i];
			break;
		case DB_NULL:
			pb[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		}
	}
	if ((nparams > 0 && mysql_stmt_bind_param(st, pb) != 0) || mysql_stmt_execute(st) != 0)
		goto fail;
	if (res != NULL) {
		res->found = 0;
		res->affected = mysql_stmt_affected_rows(st);
		res->insert_id = mysql_stmt_insert_id(st);
	}
	if (ncols == 0)
		goto out;
	memset(rb, 0, sizeof(rb));
	for (size_t i = 0; i < ncols; i++) {
		rb[i].is_null = &rnull[i];
		rb[i].error = &rerr[i];
		rb[i].length = &rlen[i];
		if (cols[i].type == DB_STR) {
			if (cols[i].buf == NULL || cols[i].cap < 1) {
				e = AE_INTERNAL;
				goto out;
			}
			rb[i].buffer_type = MYSQL_TYPE_STRING;
			rb[i].buffer = cols[i].buf;
			rb[i].buffer_length = cols[i].cap - 1;
		} else {
			rb[i].buffer_type = MYSQL_TYPE_LONGLONG;
			rb[i].buffer = &rint[i];
		}
	}
	if (mysql_stmt_bind_result(st, rb) != 0 || mysql_stmt_store_result(st) != 0)
		goto fail;
	stored = 1;
	while ((rc = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
		if (rc == 1)
			goto fail;
		if (rc == MYSQL_DATA_TRUNCATED) {
			snprintf(db->err, sizeof(db->err), "a column is larger than its buffer");
			e = AE_TOOBIG;
			goto out;
		}
		if (rows != NULL && rows->n == rows->max) {
			snprintf(db->err, sizeof(db->err), "more than %zu rows", rows->max);
			e = AE_TOOBIG;
			goto out;
		}
		for (size_t i = 0; i < ncols; i++) {
			cols[i].is_null = rnull[i] != 0;
			if (cols[i].type == DB_STR) {
				cols[i].len = rnull[i] ? 0 : rlen[i];
				cols[i].buf[cols[i].len] = '\0';
			} else {
				cols[i].i = rnull[i] ? 0 : rint[i];
			}
		}
		if (res != NULL)
			res->found = 1;
		if (rows == NULL)
			break;
		rows->n++;
		if ((e = rows->fn(rows->arg, cols, ncols)) != AE_OK)
			goto out;
	}
	goto out;
fail:
	{
		char msg[200];
		*errnum = mysql_stmt_errno(st);
		snprintf(msg, sizeof(msg), "%s", mysql_stmt_error(st));
		if (stored) {
			mysql_stmt_free_result(st);
			stored = 0;
		}
		/* May close the connection and with it st. */
		e = db_fail(db, *errnum, msg);
		st = NULL;
	}
out:
	if (stored)
		mysql_stmt_free_result(st);
	return e;
}

int
db_deadlock_retry(struct db *db, anvil_err e, int *tries)
{
	struct timespec ts;
	long range, ms;

	if (e != AE_DB_DOWN || !db->deadlocked || db->in_tx)
		return 0;
	db->deadlocked = 0;
	if (*tries == 0)
		db->series_ms = db->attempt_ms;
	/* A victim that had waited long for its locks already spent the lock wait the request's
	 * budget allows for (database.lock_wait_timeout): the next attempt may wait that long. */
	if (++*tries >= DB_DEADLOCK_TRIES ||
	    clock_mono_ms() - db->series_ms > DB_DEADLOCK_WITHIN_MS)
		return 0;
	/* Jittered and growing (1..4, 1..8, 1..16 ms): the winner usually commits within
	 * that, and two victims of one another do not come back in step. */
	range = 2L << *tries;
	ms = 1 + (long)((clock_mono_us() ^ (uint64_t)random()) % (uint64_t)range);
	ts.tv_sec = 0;
	ts.tv_nsec = ms * 1000000L;
	log_info("db: deadlock victim %lld ms after its begin, attempt %d of %d in %ld ms",
	    (long long)(clock_mono_ms() - db->attempt_ms), *tries + 1, DB_DEADLOCK_TRIES,
	    ms);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 1;
}

anvil_err
db_exec(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    struct db_val *cols, size_t ncols, struct db_result *res)
{
	unsigned int no = 0;
	int in_tx = db->in_tx, tries = 0;
	anvil_err e;

	do {
		e = db_run(db, sql, params, nparams, cols, ncols, res, NULL, &no);
		/* A connection that died while idle (server restart, wait_timeout) fails the
		 * first statement before anything was sent: safe to send again on a new
		 * connection. */
		if (e == AE_DB_DOWN && no == CR_SERVER_GONE_ERROR && !in_tx) {
			db->last_fail = 0;
			e = db_run(db, sql, params, nparams, cols, ncols, res, NULL, &no);
		}
		/* Outside a transaction the statement is its own: a deadlock victim undid all
		 * of it. Inside one, the caller's db_deadlock_retry runs the whole again. */
	} while (!in_tx && db_deadlock_retry(db, e, &tries));
	return e;
}

anvil_err
db_exec_rows(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    struct db_val *cols, size_t ncols, size_t max_rows, db_row_fn row, void *arg,
    size_t *nrows)
{
	struct db_rows rows = { .max = max_rows, .fn = row, .arg = arg, .n = 0 };
	unsigned int no = 0;
	int in_tx = db->in_tx, tries = 0;
	anvil_err e = AE_INTERNAL;

	if (row == NULL || ncols == 0)
		goto out;
	do {
		e = db_run(db, sql, params, nparams, cols, ncols, NULL, &rows, &no);
		/* As in db_exec; a row already handed over must not be handed over twice. */
		if (e == AE_DB_DOWN && no == CR_SERVER_GONE_ERROR && !in_tx && rows.n == 0) {
			db->last_fail = 0;
			e = db_run(db, sql, params, nparams, cols, ncols, NULL, &rows, &no);
		}
	} while (!in_tx && rows.n == 0 && db_deadlock_retry(db, e, &tries));
out:
	if (nrows != NULL)
		*nrows = rows.n;
	return e;
}

static anvil_err
db_query_simple(struct db *db, const char *q)
{
	if (mysql_query(db->my, q) != 0)
		return db_fail(db, mysql_errno(db->my), mysql_error(db->my));
	return AE_OK;
}

/* The deferred write, as the first statement of the transaction just begun. A failure ends the
 * transaction: the caller's db_begin failed, and it owns nothing to roll back. */
static anvil_err
db_first_run(struct db *db)
{
	struct db_result res;
	anvil_err e = db_exec(db, db->first.sql, db->first.params, db->first.nparams, NULL, 0,
	    &res);

	if (e == AE_OK) {
		db->first.state = DB_FIRST_IN_TX;
		return AE_OK;
	}
	db_rollback(db);
	if (e == AE_DB_DUPLICATE) {
		db->first.state = DB_FIRST_REFUSED;
		e = db->first.on_duplicate;
	}
	return e;
}

anvil_err
db_begin(struct db *db)
{
	anvil_err e;

	/* A caller that carries on after the refusal must not get to write either. */
	if (db->first.state == DB_FIRST_REFUSED)
		return db->first.on_duplicate;
	db->deadlocked = 0;
	db->attempt_ms = clock_mono_ms();
	if ((e = db_connect(db)) != AE_OK)
		return e;
	e = db_query_simple(db, "START TRANSACTION");
	if (e == AE_DB_DOWN) {
		db->last_fail = 0;
		if ((e = db_connect(db)) != AE_OK)
			return e;
		e = db_query_simple(db, "START TRANSACTION");
	}
	if (e != AE_OK)
		return e;
	db->in_tx = 1;
	if (db->first.state == DB_FIRST_PENDING)
		e = db_first_run(db);
	return e;
}

anvil_err
db_commit(struct db *db)
{
	anvil_err e = AE_OK;

	if (db->my == NULL)
		e = AE_DB_DOWN;
	else if (db->in_tx && db->deadlocked)
		e = AE_DB_DOWN;         /* nothing left to commit: it would "succeed" */
	else if (mysql_commit(db->my) != 0)
		e = db_fail(db, mysql_errno(db->my), mysql_error(db->my));
	db->in_tx = 0;
	/* A failed commit may have happened or not: pending again, the standalone attempt of
	 * db_settle_first finds out (a duplicate then is answered as one). */
	if (db->first.state == DB_FIRST_IN_TX)
		db->first.state = e == AE_OK ? DB_FIRST_DONE : DB_FIRST_PENDING;
	return e;
}

void
db_rollback(struct db *db)
{
	if (db->my != NULL && db->in_tx && mysql_rollback(db->my) != 0)
		(void)db_fail(db, mysql_errno(db->my), mysql_error(db->my));
	db->in_tx = 0;
	if (db->first.state == DB_FIRST_IN_TX)
		db->first.state = DB_FIRST_PENDING;
}

anvil_err
db_defer_first(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    anvil_err on_duplicate)
{
	struct db_first *f = &db->first;
	size_t used = 0;

	/* One at a time: a second would be a caller that never settled the first. */
	if (f->state != DB_FIRST_NONE || nparams > DB_FIRST_PARAMS)
		return AE_INTERNAL;
	for (size_t i = 0; i < nparams; i++) {
		f->params[i] = params[i];
		if (params[i].type != DB_STR || params[i].len == 0)
			continue;
		if (params[i].len > sizeof(f->bytes) - used)
			return AE_INTERNAL;
		memcpy(f->bytes + used, params[i].s, params[i].len);
		f->params[i].s = f->bytes + used;
		used += params[i].len;
	}
	f->sql = sql;
	f->nparams = nparams;
	f->on_duplicate = on_duplicate;
	f->state = DB_FIRST_PENDING;
	return AE_OK;
}

anvil_err
db_settle_first(struct db *db)
{
	struct db_first *f = &db->first;
	struct db_result res;
	anvil_err e = AE_OK;

	if (f->state == DB_FIRST_IN_TX) {
		/* Every transaction of ours ends before its caller returns; this one did not. */
		log_err("db: a transaction was left open; rolled back");
		db_rollback(db);
	}
	if (f->state == DB_FIRST_PENDING) {
		e = db_exec(db, f->sql, f->params, f->nparams, NULL, 0, &res);
		if (e == AE_DB_DUPLICATE)
			e = f->on_duplicate;
	} else if (f->state == DB_FIRST_REFUSED) {
		e = f->on_duplicate;
	}
	f->state = DB_FIRST_NONE;
	return e;
}

anvil_err
db_exec_script(struct db *db, const char *sql, size_t len)
{
	anvil_err e;
	int status;

	if ((e = db_connect(db)) != AE_OK)
		return e;
	if (mysql_real_query(db->my, sql, (unsigned long)len) != 0)
		return db_fail(db, mysql_errno(db->my), mysql_error(db->my));
	do {
		MYSQL_RES *r = mysql_store_result(db->my);
		if (r != NULL)
			mysql_free_result(r);
		else if (mysql_field_count(db->my) != 0)
			return db_fail(db, mysql_errno(db->my), mysql_error(db->my));
		status = mysql_next_result(db->my);
	} while (status == 0);
	if (status > 0)
		return db_fail(db, mysql_errno(db->my), mysql_error(db->my));
	return AE_OK;
}
