/* What the health check, the metrics and the status page read and anvil-jobs writes for them
 * (migrations/0008, fcgi/README.md "Observability"): runner heartbeats, counters kept by
 * anvil-jobs, orders by status, and the status page's rolling store of one sample a minute. */
#ifndef ANVIL_DB_OBSERVE_H
#define ANVIL_DB_OBSERVE_H
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include "lib/err.h"

#define DB_COUNTER_NAME_MAX 64
#define DB_COUNTER_LABELS_MAX 128
#define DB_SAMPLES_MAX 2880   /* 48 hours of one a minute */

/* The readiness probe's one statement: the newest heartbeat of any runner (0: none). */
anvil_err db_newest_beat(struct db *db, int64_t *beat_at);

/* A runner's heartbeat (its row written or rewritten). */
anvil_err db_heartbeat(struct db *db, const char *runner_id, int64_t pid, int64_t now);

/* Inside the caller's transaction: adds delta to the counter (name, labels). */
anvil_err db_counter_add(struct db *db, const char *name, const char *labels, int64_t delta);

/* Every counter (at most 256 rows); fn gets each. */
typedef anvil_err (*db_counter_fn)(void *arg, const char *name, const char *labels,
    int64_t value);
anvil_err db_counters(struct db *db, db_counter_fn fn, void *arg);

/* Orders per status, through orders_status (an index-only walk). */
typedef anvil_err (*db_order_status_fn)(void *arg, const char *status, int64_t n);
anvil_err db_orders_by_status(struct db *db, db_order_status_fn fn, void *arg);

/* Certificates created in [from, to), through certificates_created. */
anvil_err db_certs_created(struct db *db, int64_t from, int64_t to, int64_t *n);

struct db_sample {
	int64_t at, issued, validations_valid, validations_invalid, queue_depth, queue_oldest_age;
	int64_t signer_latency_us, ocsp_oldest_age;   /* -1: not known */
};
/* The sample of minute s->at; a sample already there (another runner's) is kept. */
anvil_err db_sample_put(struct db *db, const struct db_sample *s);
/* Samples with at >= since, oldest first, at most DB_SAMPLES_MAX. */
typedef anvil_err (*db_sample_fn)(void *arg, const struct db_sample *s);
anvil_err db_samples(struct db *db, int64_t since, db_sample_fn fn, void *arg);
/* Drops samples older than before (at most 1000 rows a call). */
anvil_err db_samples_prune(struct db *db, int64_t before);

#endif
