#include "config.h"
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ca/client.h"
#include "db/admin.h"
#include "db/freshness.h"
#include "db/observe.h"
#include "jobs/observe.h"
#include "lib/clock.h"
#include "lib/log.h"

#define KEEP_SECONDS (48 * 3600)
#define SIGNER_TIMEOUT_MS 500
#define ISSUERS_MAX 16
#define FRESH_SCAN_MAX 10000

static const char *const types[] = { "http-01", "dns-01", "tls-alpn-01" };
#define NTYPES (sizeof(types) / sizeof(types[0]))

static const struct jobs_conf *conf;
static _Atomic int64_t validated[NTYPES][2];   /* [type][valid]: not yet in the table */
static _Atomic int64_t issued;
static int64_t next_beat, next_sample, last_sample_at;
static int64_t last_valid = -1, last_invalid = -1;   /* table totals at the last sample */

static int64_t
now_s(void)
{
	return (int64_t)(clock_wall_ms() / 1000);
}

void
jobs_observe_init(const struct jobs_conf *c)
{
	conf = c;
	next_beat = next_sample = 0;
}

void
jobs_observe_validated(const char *type, int valid)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (strcmp(type, types[i]) == 0)
			atomic_fetch_add(&validated[i][valid ? 1 : 0], 1);
}

void
jobs_observe_issued(void)
{
	atomic_fetch_add(&issued, 1);
}

/* The heartbeat and the counts since the last one, in one transaction: a count is taken out
 * of memory only once it is committed (put back otherwise). */
static void
beat(struct db *db, int64_t now)
{
	int64_t take[NTYPES][2], took_issued;
	char labels[64];
	anvil_err e;

	took_issued = atomic_exchange(&issued, 0);
	for (size_t i = 0; i < NTYPES; i++)
		for (int v = 0; v < 2; v++)
			take[i][v] = atomic_exchange(&validated[i][v], 0);
	if ((e = db_begin(db)) != AE_OK)
		goto fail;
	if ((e = db_heartbeat(db, conf->runner_id, (int64_t)getpid(), now)) != AE_OK)
		goto fail;
	if (took_issued > 0 && (e = db_counter_add(db, "issued", "", took_issued)) != AE_OK)
		goto fail;
	for (size_t i = 0; i < NTYPES; i++)
		for (int v = 0; v < 2; v++) {
			if (take[i][v] == 0)
				continue;
			snprintf(labels, sizeof(labels), "%s %s", types[i], v ? "valid" : "invalid");
			if ((e = db_counter_add(db, "validations", labels, take[i][v])) != AE_OK)
				goto fail;
		}
	if ((e = db_commit(db)) != AE_OK)
		goto fail;
	return;
fail:
	db_rollback(db);
	atomic_fetch_add(&issued, took_issued);
	for (size_t i = 0; i < NTYPES; i++)
		for (int v = 0; v < 2; v++)
			atomic_fetch_add(&validated[i][v], take[i][v]);
	log_warn("heartbeat: %s (%s)", anvil_strerror(e), db_error(db));
}

struct totals {
	int64_t valid, invalid;
};

static anvil_err
total_row(void *arg, const char *name, const char *labels, int64_t value)
{
	struct totals *t = arg;
	size_t n = strlen(labels);

	if (strcmp(name, "validations") != 0)
		return AE_OK;
	if (n > 8 && strcmp(labels + n - 8, " invalid") == 0)
		t->invalid += value;
	else if (n > 6 && strcmp(labels + n - 6, " valid") == 0)
		t->valid += value;
	return AE_OK;
}

struct depth {
	int64_t queued, oldest, now;
};

static anvil_err
depth_row(void *arg, const char *kind, const char *state, int64_t n, int64_t oldest)
{
	struct depth *d = arg;

	(void)kind;
	if (strcmp(state, "queued") != 0)
		return AE_OK;
	d->queued += n;
	if (n > 0 && oldest < d->now && d->now - oldest > d->oldest)
		d->oldest = d->now - oldest;
	return AE_OK;
}

/* The HSM's average operation time from the signer's stats; -1 when not known (no signer
 * section, the signer down, or this uid not allowed stats). */
static int64_t
signer_latency_us(void)
{
	json_object *s, *v, *stats = NULL;
	struct signer_client *signer = NULL;
	const char *path;
	struct request q;
	struct buf out;
	uint32_t retry = 0;
	int64_t us = -1;

	if (!json_object_object_get_ex(conf->root, "signer", &s) ||
	    !json_object_object_get_ex(s, "socket", &v) || !json_object_is_type(v, json_type_string))
		return -1;
	path = json_object_get_string(v);
	/* Once a sample: a connection each time rather than one held between them. */
	if (signer_client_new(path, &signer) != AE_OK)
		return -1;
	buf_init(&out, 8192);
	memset(&q, 0, sizeof(q));
	q.op = OP_STATS;
	q.id = 1;
	q.deadline_ms = clock_wall_ms() + SIGNER_TIMEOUT_MS;
	if (signer_call(signer, &q, &out, &retry) == AE_OK && buf_nul(&out) == AE_OK &&
	    (stats = json_tokener_parse((const char *)out.data)) != NULL &&
	    json_object_object_get_ex(stats, "hsm_avg_us", &v))
		us = json_object_get_int64(v);
	json_object_put(stats);
	buf_free(&out);
	signer_client_free(signer);
	return us;
}

/* The oldest published OCSP response of any issuer; -1 when there is none or no issuers. */
static int64_t
ocsp_oldest_age(struct db *db, int64_t now)
{
	struct db_freshness f[ISSUERS_MAX];
	json_object *is;
	size_t n = 0;
	int truncated = 0;
	int64_t oldest = 0;

	memset(f, 0, sizeof(f));
	if (!json_object_object_get_ex(conf->root, "issuers", &is) ||
	    !json_object_is_type(is, json_type_object))
		return -1;
	json_object_object_foreach(is, name, v) {
		(void)v;
		if (n < ISSUERS_MAX && strlen(name) < sizeof(f[0].issuer))
			snprintf(f[n++].issuer, sizeof(f[0].issuer), "%s", name);
	}
	if (n == 0 || db_freshness(db, now, FRESH_SCAN_MAX, f, n, &truncated) != AE_OK)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (f[i].oldest_this_update > 0 &&
		    (oldest == 0 || f[i].oldest_this_update < oldest))
			oldest = f[i].oldest_this_update;
	return oldest > 0 && oldest <= now ? now - oldest : -1;
}

static void
sample(struct db *db, int64_t now)
{
	int64_t step = conf->status_sample_seconds, at = now - now % step;
	struct totals t = { 0, 0 };
	struct depth d = { 0, 0, now };
	struct db_sample s;
	anvil_err e;

	memset(&s, 0, sizeof(s));
	s.at = at;
	/* From the last sample of this runner, so that a late turn of the loop loses nothing. */
	if ((e = db_certs_created(db, last_sample_at > 0 ? last_sample_at : at - step, at,
	    &s.issued)) != AE_OK ||
	    (e = db_counters(db, total_row, &t)) != AE_OK ||
	    (e = db_jobs_depths(db, depth_row, &d)) != AE_OK)
		goto fail;
	s.validations_valid = last_valid >= 0 && t.valid >= last_valid ? t.valid - last_valid : 0;
	s.validations_invalid = last_invalid >= 0 && t.invalid >= last_invalid ?
	    t.invalid - last_invalid : 0;
	s.queue_depth = d.queued;
	s.queue_oldest_age = d.oldest;
	s.signer_latency_us = signer_latency_us();
	s.ocsp_oldest_age = ocsp_oldest_age(db, now);
	if ((e = db_sample_put(db, &s)) != AE_OK)
		goto fail;
	last_valid = t.valid;
	last_invalid = t.invalid;
	last_sample_at = at;
	if ((e = db_samples_prune(db, now - KEEP_SECONDS)) != AE_OK)
		goto fail;
	return;
fail:
	log_warn("status sample: %s (%s)", anvil_strerror(e), db_error(db));
}

static void
sample_baseline(struct db *db, int64_t now)
{
	struct totals t = { 0, 0 };

	if (db_counters(db, total_row, &t) != AE_OK)
		return;   /* the first sample then counts no validations */
	last_valid = t.valid;
	last_invalid = t.invalid;
	last_sample_at = now - now % conf->status_sample_seconds;
}

void
jobs_observe_tick(struct db *db)
{
	int64_t now = now_s();

	if (conf == NULL)
		return;
	if (now >= next_beat) {
		beat(db, now);
		next_beat = now + JOBS_BEAT;
	}
	if (now >= next_sample) {
		int64_t step = conf->status_sample_seconds;

		/* The first turn only records where the counts stand; then one row per step. */
		if (next_sample != 0)
			sample(db, now);
		else
			sample_baseline(db, now);
		next_sample = now - now % step + step;
	}
}

void
jobs_observe_free(void)
{
	conf = NULL;
}
