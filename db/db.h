/* The database layer: one connection per process (a FastCGI worker, anvilctl), prepared statements
 * cached on it, reconnection after a loss. All SQL of Anvil lives in db/. A lost or unreachable
 * server is AE_DB_DOWN (the API answers 503 + Retry-After), a duplicate key AE_DB_DUPLICATE,
 * anything else AE_DB. */
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
	const char *user;
	char *password;           /* malloc'd secret (conf_secret_free) */
	const char *name;
	int64_t connect_timeout;
	int64_t read_timeout;
	int64_t write_timeout;
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

/* Transactions; db_rollback is safe to call when none is open. */
anvil_err db_begin(struct db *db);
anvil_err db_commit(struct db *db);
void db_rollback(struct db *db);

/* Plain (not prepared) multi-statement text, for the migration runner only. */
anvil_err db_exec_script(struct db *db, const char *sql, size_t len);

#endif
