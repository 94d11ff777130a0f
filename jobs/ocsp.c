#include "config.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ca/client.h"
#include "db/status.h"
#include "issue/conf.h"
#include "jobs/ocsp.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "ocsp/publish.h"
#include "ocsp/sign.h"

#define SWEEP_ROUNDS 8      /* expired batches dropped per poll at most */
#define STAGED_AGE 600      /* s: a staged file this old was left by a dead writer */
#define STAGED_SWEEP 3600   /* s between looks for them (and at start) */
#define SIGN_MARGIN_MS 1000 /* a signature must end this long before the lease does */

/* One claimed row and what became of it. */
struct item {
	struct db_status row;
	anvil_err e;
	int64_t this_update, next_update;
	struct ocsp_staged *st;   /* the signed response, staged next to its file; or NULL */
};

struct signer_thread {
	struct jobs_ocsp *r;
	struct signer_client *sc;
	struct buf der;
	pthread_t th;
	int started;
};

struct jobs_ocsp {
	struct issue_conf ic;     /* the ocsp section and the signer socket */
	const struct ocsp_conf *o;
	char owner[DB_STATUS_OWNER_MAX + 1];
	struct db *db;            /* the coordinating thread's */
	int64_t poll_s, lease_s, retry_s;
	struct db_status *rows;   /* ocsp.batch of them */
	struct item *items;
	struct signer_thread *signers;
	size_t nsigners;
	pthread_t th;
	int started;

	pthread_mutex_t mu;
	pthread_cond_t coord;     /* the coordinating thread: woken, stop, or the batch done */
	pthread_cond_t work;      /* the signing threads: a batch to sign, or stop */
	/* Under mu. */
	int stop, woken;
	size_t n, next, done;     /* items of the batch, handed out, finished */
	uint64_t deadline_ms;     /* Unix ms: every signature of the batch ends by then */
};

static int64_t
now_s(void)
{
	return (int64_t)(clock_wall_ms() / 1000);
}

static void
sign_one(struct signer_thread *t, struct item *it, uint64_t deadline_ms)
{
	struct jobs_ocsp *r = t->r;

	it->st = NULL;
	buf_reset(&t->der);
	if (clock_wall_ms() + 100 >= deadline_ms) {
		it->e = AE_TIMEOUT;   /* the lease runs out: the row is claimed again */
		return;
	}
	it->e = ocsp_sign(t->sc, r->o, &it->row, now_s(), deadline_ms, &t->der,
	    &it->this_update, &it->next_update);
	if (it->e != AE_OK)
		return;
	if ((it->st = malloc(sizeof(*it->st))) == NULL) {
		it->e = AE_NOMEM;
		return;
	}
	/* Written and fsynced here, in parallel; put in place by the coordinating thread only
	 * while it holds the row (publish). */
	it->e = ocsp_stage(it->st, r->o->dir, it->row.issuer, it->row.serial, t->der.data,
	    t->der.len);
	if (it->e != AE_OK) {
		free(it->st);
		it->st = NULL;
	}
}

static void *
signer_main(void *arg)
{
	struct signer_thread *t = arg;
	struct jobs_ocsp *r = t->r;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct item *it;
		uint64_t deadline;

		while (!r->stop && r->next >= r->n)
			pthread_cond_wait(&r->work, &r->mu);
		if (r->next >= r->n)
			break;
		it = &r->items[r->next++];
		deadline = r->deadline_ms;
		if (r->stop) {
			it->e = AE_TIMEOUT;
			it->st = NULL;
		} else {
			pthread_mutex_unlock(&r->mu);
			sign_one(t, it, deadline);
			pthread_mutex_lock(&r->mu);
		}
		if (++r->done == r->n)
			pthread_cond_broadcast(&r->coord);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Puts the signed responses in place and records them, each only while the row is still ours:
 * the UPDATE that checks the lease locks the row until the commit, so a revocation (which
 * clears the lease) either comes first, and this response is dropped, or waits until the file
 * is in place, and its own response replaces it later. */
static void
publish(struct jobs_ocsp *r, size_t n, size_t *published, size_t *denied)
{
	const char *dirs[MAX_ISSUERS];
	size_t ndirs = 0, i;
	anvil_err e;

	*published = *denied = 0;
	if ((e = db_begin(r->db)) != AE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		struct item *it = &r->items[i];
		size_t k;

		if (it->st == NULL)
			continue;
		e = db_status_published(r->db, r->owner, it->row.serial, it->this_update,
		    it->next_update, ocsp_refresh_at(r->o, it->this_update));
		if (e == AE_DENIED) {
			ocsp_stage_abort(it->st);
			(*denied)++;
			continue;
		}
		if (e != AE_OK)
			goto out;
		if ((e = ocsp_stage_commit(it->st)) != AE_OK) {
			log_err("ocsp: cannot rename %s into place under ocsp.dir", it->st->tmp);
			goto out;
		}
		(*published)++;
		for (k = 0; k < ndirs && strcmp(dirs[k], it->row.issuer) != 0; k++)
			;
		if (k == ndirs && ndirs < MAX_ISSUERS)
			dirs[ndirs++] = it->row.issuer;
	}
	/* Durable before the rows say so: a crash must not leave the row of a revoked serial
	 * saying published while the old good response is what the directory holds. */
	for (size_t k = 0; k < ndirs; k++)
		if ((e = ocsp_dir_sync(r->o->dir, dirs[k])) != AE_OK) {
			log_err("ocsp: cannot fsync %s/%s", r->o->dir, dirs[k]);
			goto out;
		}
	e = db_commit(r->db);
out:
	if (e != AE_OK) {
		/* The rows stay leased to us and are claimed again when the lease ends; files
		 * already renamed are newer than their rows say, which is harmless. */
		db_rollback(r->db);
		log_warn("ocsp: publishing a batch of %zu: %s (%s)", n, anvil_strerror(e),
		    db_error(r->db));
		*published = 0;
	}
	for (i = 0; i < n; i++) {
		if (r->items[i].st != NULL)
			ocsp_stage_abort(r->items[i].st);
		free(r->items[i].st);
		r->items[i].st = NULL;
	}
}

/* The rows that were not signed (signer busy, down or refusing, lease running out): due again
 * after a short delay, so that they neither block the rows behind them nor wait a lease. */
static size_t
give_back(struct jobs_ocsp *r, size_t n, int64_t now)
{
	size_t failed = 0;

	for (size_t i = 0; i < n; i++) {
		struct item *it = &r->items[i];

		if (it->e == AE_OK)
			continue;
		/* One line per batch: a signer that is down fails every row alike. */
		if (failed++ == 0)
			log_warn("ocsp: serial=%s issuer=%s not signed: %s (the batch's first)",
			    it->row.serial, it->row.issuer, anvil_strerror(it->e));
		(void)db_status_retry(r->db, r->owner, it->row.serial, now + r->retry_s);
	}
	return failed;
}

/* One batch: claim, sign in parallel, publish. Returns the number of rows claimed. */
static size_t
batch(struct jobs_ocsp *r)
{
	int64_t now = now_s();
	uint64_t t0 = clock_mono_ms();
	size_t n = 0, published, denied, failed;
	anvil_err e;

	if ((e = db_status_due(r->db, now)) != AE_OK) {
		if (e != AE_NOTFOUND)
			log_warn("ocsp: polling cert_status: %s (%s)", anvil_strerror(e),
			    db_error(r->db));
		return 0;
	}
	if ((e = db_status_claim(r->db, r->owner, now, now + r->lease_s, (size_t)r->o->batch,
	    r->rows, &n)) != AE_OK) {
		if (e != AE_NOTFOUND)
			log_warn("ocsp: claiming due responses: %s (%s)", anvil_strerror(e),
			    db_error(r->db));
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&r->items[i], 0, sizeof(r->items[i]));
		r->items[i].row = r->rows[i];
	}
	pthread_mutex_lock(&r->mu);
	if (r->stop) {
		/* The signing threads may be gone: give the batch back unsigned. */
		for (size_t i = 0; i < n; i++)
			r->items[i].e = AE_TIMEOUT;
	} else {
		r->deadline_ms = clock_wall_ms() + (uint64_t)r->lease_s * 1000 - SIGN_MARGIN_MS;
		r->n = n;
		r->next = r->done = 0;
		pthread_cond_broadcast(&r->work);
		while (r->done < r->n)
			pthread_cond_wait(&r->coord, &r->mu);
		r->n = r->next = r->done = 0;
	}
	pthread_mutex_unlock(&r->mu);
	publish(r, n, &published, &denied);
	failed = give_back(r, n, now_s());
	log_info("ocsp: batch of %zu: %zu published, %zu taken over, %zu not signed, %llu ms", n,
	    published, denied, failed, (unsigned long long)(clock_mono_ms() - t0));
	return n;
}

/* Drops the responses of certificates expired for ocsp.expired_grace_seconds: the file first,
 * then (in the transaction that holds the rows) the row, so a crash leaves no file behind
 * that nothing would remove. */
static void
sweep(struct jobs_ocsp *r)
{
	int64_t now = now_s();

	for (int round = 0; round < SWEEP_ROUNDS; round++) {
		size_t n = 0, i;
		anvil_err e;

		if ((e = db_begin(r->db)) != AE_OK ||
		    (e = db_status_expired(r->db, now - r->o->expired_grace, now,
		    (size_t)r->o->batch, r->rows, &n)) != AE_OK)
			goto out;
		for (i = 0; i < n; i++) {
			e = ocsp_unpublish(r->o->dir, r->rows[i].issuer, r->rows[i].serial);
			if (e != AE_OK && e != AE_PARSE) {
				log_err("ocsp: cannot remove the response of serial=%s under "
				    "ocsp.dir", r->rows[i].serial);
				goto out;
			}
			if ((e = db_status_delete(r->db, r->rows[i].serial)) != AE_OK)
				goto out;
		}
		e = db_commit(r->db);
out:
		if (e != AE_OK) {
			db_rollback(r->db);
			log_warn("ocsp: dropping expired responses: %s (%s)", anvil_strerror(e),
			    db_error(r->db));
			return;
		}
		if (n > 0)
			log_info("ocsp: dropped %zu expired responses", n);
		if (n < (size_t)r->o->batch)
			return;
	}
}

/* Staged files a killed writer (this runner's predecessor, an API worker) left behind. */
static void
sweep_staged(struct jobs_ocsp *r)
{
	for (size_t i = 0; r->ic.policy != NULL && i < r->ic.policy->nissuers; i++) {
		const struct issuer *is = &r->ic.policy->issuers[i];
		size_t n = 0;

		if (is->parent == NULL)
			continue;
		if (ocsp_stage_sweep(r->o->dir, is->name, now_s() - STAGED_AGE, &n) != AE_OK)
			log_warn("ocsp: cannot clean %s/%s/.tmp", r->o->dir, is->name);
		else if (n > 0)
			log_info("ocsp: removed %zu staged responses left by a dead writer under "
			    "%s/%s/.tmp", n, r->o->dir, is->name);
	}
}

static void *
coord_main(void *arg)
{
	struct jobs_ocsp *r = arg;
	int64_t next_sweep = 0, next_staged = 0;

	for (;;) {
		struct timespec ts;
		int64_t now;
		size_t n;

		pthread_mutex_lock(&r->mu);
		r->woken = 0;
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		pthread_mutex_unlock(&r->mu);
		now = now_s();
		if (now >= next_sweep) {
			sweep(r);
			next_sweep = now + r->poll_s;
		}
		if (now >= next_staged) {
			sweep_staged(r);
			next_staged = now + STAGED_SWEEP;
		}
		/* A full batch may have left more due rows behind it. */
		if ((n = batch(r)) == (size_t)r->o->batch)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += r->poll_s;
		pthread_mutex_lock(&r->mu);
		while (!r->stop && !r->woken &&
		    pthread_cond_timedwait(&r->coord, &r->mu, &ts) == 0)
			;
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

anvil_err
jobs_ocsp_new(const struct jobs_conf *c, struct conf_ctx *cc, struct jobs_ocsp **out)
{
	struct jobs_ocsp *r;
	pthread_condattr_t ca;
	int64_t bound;
	anvil_err e;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return AE_NOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->coord, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&r->work, NULL);
	if ((e = issue_conf_parse(cc, c->root, &r->ic)) != AE_OK)
		goto fail;
	r->o = &r->ic.ocsp;
	/* Without a signer nothing is issued either (issue/): nothing to refresh. */
	if (r->o->dir == NULL || r->ic.signer_socket == NULL) {
		jobs_ocsp_free(r);
		return AE_OK;
	}
	snprintf(r->owner, sizeof(r->owner), "%s", c->runner_id);
	/* A runner that dies mid-batch holds its rows until the lease ends: short enough that a
	 * revocation among them is still published within the bound after a restart. */
	bound = r->o->revocation_bound;
	r->lease_s = bound / 3 < c->lease ? bound / 3 : c->lease;
	if (r->lease_s < 2)
		r->lease_s = 2;
	r->poll_s = bound / 4 < c->poll_interval ? bound / 4 : c->poll_interval;
	if (r->poll_s < 1)
		r->poll_s = 1;
	r->retry_s = r->poll_s;
	e = AE_NOMEM;
	if ((r->rows = calloc((size_t)r->o->batch, sizeof(*r->rows))) == NULL ||
	    (r->items = calloc((size_t)r->o->batch, sizeof(*r->items))) == NULL ||
	    (r->signers = calloc((size_t)r->o->concurrency, sizeof(*r->signers))) == NULL)
		goto fail;
	if ((e = db_new(&c->db, &r->db)) != AE_OK)
		goto fail;
	for (; r->nsigners < (size_t)r->o->concurrency; r->nsigners++) {
		struct signer_thread *t = &r->signers[r->nsigners];

		t->r = r;
		buf_init(&t->der, PROTO_SIGN_MAX);
		if ((e = signer_client_new(r->ic.signer_socket, &t->sc)) != AE_OK)
			goto fail;
	}
	*out = r;
	return AE_OK;
fail:
	if (cc->err[0] == '\0')
		conf_fail(cc, "ocsp", NULL, "cannot set up the refresher: %s", anvil_strerror(e));
	jobs_ocsp_free(r);
	return e;
}

anvil_err
jobs_ocsp_start(struct jobs_ocsp *r)
{
	sigset_t all, old;
	anvil_err e = AE_OK;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (size_t i = 0; i < r->nsigners && e == AE_OK; i++) {
		if (pthread_create(&r->signers[i].th, NULL, signer_main, &r->signers[i]) != 0)
			e = AE_NOMEM;
		else
			r->signers[i].started = 1;
	}
	if (e == AE_OK) {
		if (pthread_create(&r->th, NULL, coord_main, r) != 0)
			e = AE_NOMEM;
		else
			r->started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e == AE_OK)
		log_info("ocsp: refreshing under %s: batch %lld, %zu signing threads, lease %llds, "
		    "poll %llds", r->o->dir, (long long)r->o->batch, r->nsigners,
		    (long long)r->lease_s, (long long)r->poll_s);
	return e;
}

void
jobs_ocsp_wake(void *arg)
{
	struct jobs_ocsp *r = arg;

	pthread_mutex_lock(&r->mu);
	r->woken = 1;
	pthread_cond_broadcast(&r->coord);
	pthread_mutex_unlock(&r->mu);
}

void
jobs_ocsp_free(struct jobs_ocsp *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->coord);
	pthread_cond_broadcast(&r->work);
	pthread_mutex_unlock(&r->mu);
	if (r->started)
		pthread_join(r->th, NULL);
	for (size_t i = 0; i < r->nsigners; i++) {
		if (r->signers[i].started)
			pthread_join(r->signers[i].th, NULL);
		signer_client_free(r->signers[i].sc);
		buf_free(&r->signers[i].der);
	}
	free(r->signers);
	free(r->items);
	free(r->rows);
	db_free(r->db);
	issue_conf_free(&r->ic);
	pthread_cond_destroy(&r->work);
	pthread_cond_destroy(&r->coord);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
