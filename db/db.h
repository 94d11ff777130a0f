/* The database layer: one connection per process (a FastCGI worker, anvilctl), prepared statements
 * cached on it, reconnection after a loss. All SQL of Anvil lives in db/. A lost or unreachable
 * server is AE_DB_DOWN (the API answers 503 + Retry-After), and so is a lock wait timeout or a
 * deadlock that db_deadlock_retry did not get past; a duplicate key AE_DB_DUPLICATE, anything
 * else AE_DB. */
#ifndef ANVIL_DB_H
#define ANVIL_DB_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "lib/conf.h"
#include "lib/err.h"

struct db_conf {
	const char *host;         /* these point into the loaded config object */
	int64_t port;
	const char *unix_socket;
	const char *user;         /* points to user_buf */
	char *user_buf;           /* malloc'd: a plain string or a secret form (one config, one
	                           * database account per daemon: {"env": ...} in each unit) */
	char *password;           /* malloc'd secret (conf_secret_free) */
	const char *name;
	int64_t connect_timeout;
	int64_t read_timeout;
	int64_t write_timeout;
	int64_t lock_wait_timeout; /* s a statement waits for a row or table lock */
};

/* Validates the "database" section of root; on success fills c (free with db_conf_free). */
anvil_err db_conf_parse(struct conf_ctx *cc, json_object *root, struct db_conf *c);
void db_conf_free(struct db_conf *c);

struct db;

/* Allocates a handle; does not connect (db_connect, or the first query, does). */
anvil_err db_new(const struct db_conf *conf, struct db **out);
/* Connects if not connected. After a failed attempt, further attempts within one second fail at
 * once with AE_DB_DOWN, so an outage does not make every request wait a connect timeout. */
anvil_err db_connect(struct db *db);
void db_free(struct db *db);
/* The server's last error text (for logs only; never shown to clients). */
const char *db_error(struct db *db);
/* Failed statements and connection attempts, and connections made, since db_new (metrics). */
void db_stats(const struct db *db, uint64_t *errors, uint64_t *connects);

/* Typed values for parameters and result columns. */
enum db_type { DB_NULL, DB_I64, DB_STR };
struct db_val {
	enum db_type type;
	int64_t i;            /* DB_I64 */
	const char *s;        /* DB_STR parameter */
	size_t len;           /* DB_STR parameter length / result length */
	char *buf;            /* DB_STR result: caller's buffer, NUL-terminated on return */
	size_t cap;           /* its size; a longer value is AE_TOOBIG */
	int is_null;          /* result was NULL */
};

#define DB_PARAM_I64(v) { .type = DB_I64, .i = (v) }
#define DB_PARAM_STR(p, n) { .type = DB_STR, .s = (p), .len = (n) }
#define DB_PARAM_NULL { .type = DB_NULL }
#define DB_COL_I64 { .type = DB_I64 }
#define DB_COL_STR(b, c) { .type = DB_STR, .buf = (b), .cap = (c) }

struct db_result {
	int found;            /* a row was fetched into the columns */
	uint64_t affected;    /* rows changed by INSERT/UPDATE/DELETE */
	uint64_t insert_id;
};

/* Runs sql (a string literal: the statement cache is keyed on its address) as a prepared
 * statement with params, and fetches at most one row into cols. A statement that fails because
 * the connection was gone before it was sent is retried once on a new connection (outside a
 * transaction only). */
anvil_err db_exec(struct db *db, const char *sql, const struct db_val *params, size_t nparams,
    struct db_val *cols, size_t ncols, struct db_result *res);

/* Called by db_exec_rows for each row, with cols filled as db_exec fills them (every length
 * checked against its buffer). It must not run statements on the db handle. Any return other
 * than AE_OK stops the read, and db_exec_rows returns it. */
typedef anvil_err (*db_row_fn)(void *arg, const struct db_val *cols, size_t ncols);

/* db_exec for a statement that selects several rows: one execution, then row() for each row
 * in the order the server sends them. A row beyond max_rows is AE_TOOBIG (row() never sees it),
 * so a caller's array of max_rows entries cannot overflow; give the SQL a LIMIT above max_rows
 * so the client never buffers an unbounded result. *nrows (may be NULL) is the number of rows
 * passed to row(). Retried like db_exec, and only when no row has been passed yet. */
anvil_err db_exec_rows(struct db *db, const char *sql, const struct db_val *params,
    size_t nparams, struct db_val *cols, size_t ncols, size_t max_rows, db_row_fn row, void *arg,
    size_t *nrows);

/* Transactions; db_rollback is safe to call when none is open. */
anvil_err db_begin(struct db *db);
anvil_err db_commit(struct db *db);
void db_rollback(struct db *db);

/* Attempts of a transaction (or of a statement outside one) that InnoDB keeps choosing as its
 * deadlock victim, before the failure (AE_DB_DOWN: 503) stands. */
#define DB_DEADLOCK_TRIES 4
/* ... as long as the first attempt began less than this long ago (ms): a victim is usually
 * chosen within milliseconds, and a request's budget has room for one lock wait, not several. */
#define DB_DEADLOCK_WITHIN_MS 250

/* For a function that begins a transaction, and commits it or rolls it back before it returns,
 * and can run again from the start (its results reset, nothing done outside the database in
 * between):
 *	int tries = 0;
 *	while ((e = tx(db, ...)) != AE_OK && db_deadlock_retry(db, e, &tries))
 *		;
 * 1 when e came from the server choosing that transaction as a deadlock victim (rolled back
 * whole, and with it a db_defer_first write, pending again for the next db_begin) and fewer than
 * DB_DEADLOCK_TRIES attempts were made within DB_DEADLOCK_WITHIN_MS: it has paused a few
 * jittered milliseconds. 0 otherwise. db_exec and db_exec_rows do this themselves for a
 * statement outside a transaction. Until the caller's db_rollback, a deadlocked transaction's
 * db_exec and db_commit fail. */
int db_deadlock_retry(struct db *db, anvil_err e, int *tries);

/* A write that must happen exactly once, preferably inside the next transaction begun on this
 * handle, where it costs no durable commit of its own (the API spends a request's nonce this
 * way: fcgi/auth.c). db_begin runs it right after START TRANSACTION; if it meets a duplicate
 * key, db_begin rolls back and fails with on_duplicate, and so does every db_begin after it until
 * db_settle_first. It is done when that transaction commits; a rollback or a failed commit
 * leaves it pending for the next one. Parameters are copied (at most 4, 64 bytes of strings).
 * AE_INTERNAL while another one is unsettled. */
anvil_err db_defer_first(struct db *db, const char *sql, const struct db_val *params,
    size_t nparams, anvil_err on_duplicate);
/* Ends the deferral: AE_OK when it was committed (or nothing was deferred), on_duplicate when
 * db_begin met the duplicate; a write still pending runs now, on its own, with its result
 * returned (a duplicate key as on_duplicate). */
anvil_err db_settle_first(struct db *db);

/* Plain (not prepared) multi-statement text, for the migration runner only. */
anvil_err db_exec_script(struct db *db, const char *sql, size_t len);

#endif
