#include "config.h"
#include <string.h>
#include "db/observe.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char SQL_NEWEST_BEAT[] =
    "SELECT COALESCE(MAX(beat_at), 0) FROM runners";
static const char SQL_HEARTBEAT[] =
    "INSERT INTO runners (runner_id, pid, beat_at) VALUES (?, ?, ?) "
    "ON DUPLICATE KEY UPDATE pid = VALUES(pid), beat_at = VALUES(beat_at)";
static const char SQL_COUNTER_ADD[] =
    "INSERT INTO counters (name, labels, value) VALUES (?, ?, ?) "
    "ON DUPLICATE KEY UPDATE value = value + VALUES(value)";
static const char SQL_COUNTERS[] =
    "SELECT name, labels, value FROM counters ORDER BY name, labels LIMIT 257";
static const char SQL_ORDERS_BY_STATUS[] =
    "SELECT status, COUNT(*) FROM orders FORCE INDEX (orders_status) GROUP BY status LIMIT 16";
static const char SQL_CERTS_CREATED[] =
    "SELECT COUNT(*) FROM certificates WHERE created >= ? AND created < ?";
static const char SQL_SAMPLE_PUT[] =
    "INSERT IGNORE INTO status_samples (at, issued, validations_valid, validations_invalid, "
    "queue_depth, queue_oldest_age, signer_latency_us, ocsp_oldest_age) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_SAMPLES[] =
    "SELECT at, issued, validations_valid, validations_invalid, queue_depth, queue_oldest_age, "
    "signer_latency_us, ocsp_oldest_age FROM status_samples WHERE at >= ? ORDER BY at "
    "LIMIT 2881";
static const char SQL_SAMPLES_PRUNE[] =
    "DELETE FROM status_samples WHERE at < ? ORDER BY at LIMIT 1000";

anvil_err
db_newest_beat(struct db *db, int64_t *beat_at)
{
	struct db_val c[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_NEWEST_BEAT, NULL, 0, c, N(c), &res);

	*beat_at = e == AE_OK && res.found ? c[0].i : 0;
	return e;
}

anvil_err
db_heartbeat(struct db *db, const char *runner_id, int64_t pid, int64_t now)
{
	struct db_val p[] = { DB_PARAM_STR(runner_id, strlen(runner_id)), DB_PARAM_I64(pid),
		DB_PARAM_I64(now) };
	struct db_result res;

	return db_exec(db, SQL_HEARTBEAT, p, N(p), NULL, 0, &res);
}

anvil_err
db_counter_add(struct db *db, const char *name, const char *labels, int64_t delta)
{
	struct db_val p[] = { DB_PARAM_STR(name, strlen(name)),
		DB_PARAM_STR(labels, strlen(labels)), DB_PARAM_I64(delta) };
	struct db_result res;

	if (strlen(name) > DB_COUNTER_NAME_MAX || strlen(labels) > DB_COUNTER_LABELS_MAX)
		return AE_TOOBIG;
	return db_exec(db, SQL_COUNTER_ADD, p, N(p), NULL, 0, &res);
}

struct counter_walk {
	char name[DB_COUNTER_NAME_MAX + 1], labels[DB_COUNTER_LABELS_MAX + 1];
	db_counter_fn fn;
	void *arg;
};

static anvil_err
counter_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct counter_walk *w = arg;

	(void)ncols;
	return w->fn(w->arg, w->name, w->labels, cols[2].i);
}

anvil_err
db_counters(struct db *db, db_counter_fn fn, void *arg)
{
	struct counter_walk w;
	struct db_val c[] = { DB_COL_STR(w.name, sizeof(w.name)),
		DB_COL_STR(w.labels, sizeof(w.labels)), DB_COL_I64 };

	w.fn = fn;
	w.arg = arg;
	return db_exec_rows(db, SQL_COUNTERS, NULL, 0, c, N(c), 256, counter_row, &w, NULL);
}

struct status_walk {
	char status[16];
	db_order_status_fn fn;
	void *arg;
};

static anvil_err
status_row(void *arg, const struct db_val *cols, size_t ncols)
{
	struct status_walk *w = arg;

	(void)ncols;
	return w->fn(w->arg, w->status, cols[1].i);
}

anvil_err
db_orders_by_status(struct db *db, db_order_status_fn fn, void *arg)
{
	struct status_walk w;
	struct db_val c[] = { DB_COL_STR(w.status, sizeof(w.status)), DB_COL_I64 };

	w.fn = fn;
	w.arg = arg;
	return db_exec_rows(db, SQL_ORDERS_BY_STATUS, NULL, 0, c, N(c), 15, status_row, &w, NULL);
}

anvil_err
db_certs_created(struct db *db, int64_t from, int64_t to, int64_t *n)
{
	struct db_val p[] = { DB_PARAM_I64(from), DB_PARAM_I64(to) };
	struct db_val c[] = { DB_COL_I64 };
	struct db_result res;
	anvil_err e = db_exec(db, SQL_CERTS_CREATED, p, N(p), c, N(c), &res);

	*n = e == AE_OK && res.found ? c[0].i : 0;
	return e;
}

anvil_err
db_sample_put(struct db *db, const struct db_sample *s)
{
	struct db_val p[] = { DB_PARAM_I64(s->at), DB_PARAM_I64(s->issued),
		DB_PARAM_I64(s->validations_valid), DB_PARAM_I64(s->validations_invalid),
		DB_PARAM_I64(s->queue_depth), DB_PARAM_I64(s->queue_oldest_age),
		DB_PARAM_I64(s->signer_latency_us), DB_PARAM_I64(s->ocsp_oldest_age) };
	struct db_result res;

	return db_exec(db, SQL_SAMPLE_PUT, p, N(p), NULL, 0, &res);
}

struct sample_walk {
	db_sample_fn fn;
	void *arg;
};

static anvil_err
sample_row(void *arg, const struct db_val *c, size_t ncols)
{
	struct sample_walk *w = arg;
	struct db_sample s = { c[0].i, c[1].i, c[2].i, c[3].i, c[4].i, c[5].i, c[6].i, c[7].i };

	(void)ncols;
	return w->fn(w->arg, &s);
}

anvil_err
db_samples(struct db *db, int64_t since, db_sample_fn fn, void *arg)
{
	struct sample_walk w = { fn, arg };
	struct db_val p[] = { DB_PARAM_I64(since) };
	struct db_val c[] = { DB_COL_I64, DB_COL_I64, DB_COL_I64, DB_COL_I64, DB_COL_I64,
		DB_COL_I64, DB_COL_I64, DB_COL_I64 };

	return db_exec_rows(db, SQL_SAMPLES, p, N(p), c, N(c), DB_SAMPLES_MAX, sample_row, &w,
	    NULL);
}

anvil_err
db_samples_prune(struct db *db, int64_t before)
{
	struct db_val p[] = { DB_PARAM_I64(before) };
	struct db_result res;

	return db_exec(db, SQL_SAMPLES_PRUNE, p, N(p), NULL, 0, &res);
}
