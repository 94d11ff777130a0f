#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include "ca/hsmkey.h"
#include "ca/pool.h"
#include "lib/clock.h"
#include "lib/log.h"

/* Queueing delay histogram, log-linear: 8 buckets per power of two (12.5% resolution). */
#define HIST_BUCKETS (8 * 40)

struct worker {
	struct pool *pool;
	pthread_t tid;
	int started;
	struct hsm_thread ht;
	CK_OBJECT_HANDLE keys[2 * MAX_ISSUERS];  /* issuers' keys, then their responders' */
	int up;  /* session open and logged in */
};

struct pool {
	struct signer_conf *sc;
	struct p11_module *m;
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct job *head, *tail;
	size_t qlen;
	size_t active;  /* jobs a session has taken and not finished */
	int stopping;
	struct worker *w;
	size_t nw;
	uint64_t hist[HIST_BUCKETS];
	uint64_t signed_ok, failed, busy, deadline, reopened, hsm_us_total, hsm_n;
	double ewma_us;  /* service time of one job on one session */
};


/* Opens the worker's session and looks its key handles up once; they are reused until the
 * session breaks. */
static anvil_err
session_up(struct worker *w)
{
	struct pool *p = w->pool;
	CK_RV rv = CKR_OK;
	anvil_err e;

	if ((e = p11_session_open(p->m, p->sc->pin, 0, &w->ht.session, &rv)) != AE_OK) {
		log_err("event=hsm_session_open rv=0x%lx", (unsigned long)rv);
		return e;
	}
	for (size_t i = 0; i < p->sc->nissuers; i++) {
		struct issuer *is = &p->sc->issuers[i];
		w->keys[i] = CK_INVALID_HANDLE;
		w->keys[MAX_ISSUERS + i] = CK_INVALID_HANDLE;
		if (is->key == NULL)
			continue;
		e = p11_find(p->m, w->ht.session, CKO_PRIVATE_KEY, is->key_label,
		    is->key_id_len ? is->key_id : NULL, is->key_id_len, &w->keys[i], &rv);
		if (e != AE_OK) {
			log_err("event=hsm_key_lookup issuer=%s result=%s rv=0x%lx", is->name,
			    anvil_strerror(e), (unsigned long)rv);
			p11_session_close(p->m, w->ht.session);
			return AE_SIGNER_HSM;
		}
		if (is->responder_key == NULL)
			continue;
		e = p11_find(p->m, w->ht.session, CKO_PRIVATE_KEY, is->responder_key_label, NULL,
		    0, &w->keys[MAX_ISSUERS + i], &rv);
		if (e != AE_OK) {
			log_err("event=hsm_key_lookup issuer=%s key=ocsp_responder result=%s rv=0x%lx",
			    is->name, anvil_strerror(e), (unsigned long)rv);
			p11_session_close(p->m, w->ht.session);
			return AE_SIGNER_HSM;
		}
	}
	w->up = 1;
	return AE_OK;
}

static void
session_down(struct worker *w)
{
	if (w->up)
		p11_session_close(w->pool->m, w->ht.session);
	w->up = 0;
}

static int
hist_bucket(uint64_t us)
{
	int o = 0, b;

	if (us < 8)
		return (int)us;
	for (uint64_t v = us; v > 1; v >>= 1)
		o++;
	b = (o - 2) * 8 + (int)((us >> (o - 3)) & 7);
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* The upper bound, in us, of bucket b. */
static uint64_t
hist_upper(int b)
{
	int o = b / 8 + 2, sub = b % 8;

	if (b < 8)
		return (uint64_t)b + 1;
	return (uint64_t)(8 + sub + 1) << (o - 3);
}

static void
run_job(struct worker *w, struct job *j)
{
	struct pool *p = w->pool;
	uint64_t t0;
	int ok = 0;

	for (int attempt = 0; attempt < 2 && !ok; attempt++) {
		if (clock_wall_ms() > j->deadline_ms) {
			j->result = AE_SIGNER_DEADLINE;
			return;
		}
		if (!w->up && session_up(w) != AE_OK) {
			j->result = AE_SIGNER_HSM;
			return;
		}
		w->ht.last_rv = CKR_OK;
		t0 = clock_mono_us();
		ok = j->fn(j);
		j->hsm_us = clock_mono_us() - t0;
		ERR_clear_error();
		if (!ok && p11_rv_reopen(w->ht.last_rv)) {
			/* The device was reset or the login lost: reopen, log in, retry once. */
			log_warn("event=hsm_session_reopen rv=0x%lx", (unsigned long)w->ht.last_rv);
			session_down(w);
			pthread_mutex_lock(&p->mu);
			p->reopened++;
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		break;
	}
	j->result = ok ? AE_OK : AE_SIGNER_HSM;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;

	w->ht.m = p->m;
	w->ht.keys = w->keys;
	w->ht.nkeys = 2 * MAX_ISSUERS;
	hsmkey_set_thread(&w->ht);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct job *j;
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->head == NULL)
			break;
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->qlen--;
		p->active++;
		pthread_mutex_unlock(&p->mu);

		j->queued_us = clock_mono_us() - j->queued_us;
		run_job(w, j);

		pthread_mutex_lock(&p->mu);
		p->active--;
		p->hist[hist_bucket(j->queued_us)]++;
		if (j->result == AE_OK) {
			p->signed_ok++;
			p->hsm_us_total += j->hsm_us;
			p->hsm_n++;
			p->ewma_us = p->ewma_us == 0 ? (double)j->hsm_us :
			    0.9 * p->ewma_us + 0.1 * (double)j->hsm_us;
		} else if (j->result == AE_SIGNER_DEADLINE) {
			p->deadline++;
		} else {
			p->failed++;
		}
		j->done = 1;
		pthread_cond_signal(&j->cv);
	}
	pthread_mutex_unlock(&p->mu);
	session_down(w);
	hsmkey_set_thread(NULL);
	return NULL;
}

anvil_err
pool_start(struct signer_conf *sc, struct p11_module *m, struct pool **out, char *err,
    size_t errlen)
{
	struct pool *p = calloc(1, sizeof(*p));
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if (p == NULL)
		return AE_NOMEM;
	p->sc = sc;
	p->m = m;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	p->nw = (size_t)sc->sessions;
	if ((p->w = calloc(p->nw, sizeof(*p->w))) == NULL)
		goto out;
	for (size_t i = 0; i < p->nw; i++) {
		p->w[i].pool = p;
		/* Open every session up front so that a wrong PIN or key stops the start. */
		p->w[i].ht.m = m;
		if ((e = session_up(&p->w[i])) != AE_OK) {
			snprintf(err, errlen, "cannot open HSM session %zu (see the log above)", i);
			goto out;
		}
	}
	for (size_t i = 0; i < p->nw; i++) {
		if (pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i]) != 0) {
			snprintf(err, errlen, "cannot start worker thread");
			e = AE_INTERNAL;
			goto out;
		}
		p->w[i].started = 1;
	}
	*out = p;
	p = NULL;
	e = AE_OK;
out:
	pool_stop(p);
	return e;
}

anvil_err
pool_run(struct pool *p, struct job *j, uint32_t *retry_ms)
{
	j->done = 0;
	j->next = NULL;
	j->result = AE_INTERNAL;
	if (clock_wall_ms() > j->deadline_ms)
		return AE_SIGNER_DEADLINE;
	pthread_mutex_lock(&p->mu);
	if (p->qlen >= (size_t)p->sc->queue_max || p->stopping) {
		/* Everything queued, plus this one, spread over the sessions. */
		double per = p->ewma_us > 0 ? p->ewma_us : 1000.0;
		double wait_ms = (double)(p->qlen + 1) * per / (double)p->nw / 1000.0;
		*retry_ms = wait_ms < 1 ? 1 : wait_ms > 3600000 ? 3600000 : (uint32_t)wait_ms;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		return AE_BUSY;
	}
	j->queued_us = clock_mono_us();
	pthread_cond_init(&j->cv, NULL);
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->qlen++;
	pthread_cond_signal(&p->work);
	while (!j->done)
		pthread_cond_wait(&j->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	pthread_cond_destroy(&j->cv);
	return j->result;
}

static uint64_t
percentile(const uint64_t *hist, uint64_t total, double q)
{
	uint64_t want = (uint64_t)((double)total * q), seen = 0;

	for (int b = 0; b < HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen > want || (seen == total && seen > 0))
			return hist_upper(b);
	}
	return 0;
}

void
pool_get_stats(struct pool *p, struct pool_stats *st)
{
	uint64_t total = 0;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&p->mu);
	for (int b = 0; b < HIST_BUCKETS; b++)
		total += p->hist[b];
	st->signed_ok = p->signed_ok;
	st->failed = p->failed;
	st->busy = p->busy;
	st->deadline = p->deadline;
	st->reopened = p->reopened;
	st->queue_len = p->qlen;
	st->active = p->active;
	st->queue_max = (uint64_t)p->sc->queue_max;
	st->sessions = p->nw;
	for (size_t i = 0; i < p->nw; i++)
		st->sessions_up += p->w[i].up ? 1 : 0;
	st->qdelay_p50_us = percentile(p->hist, total, 0.50);
	st->qdelay_p99_us = percentile(p->hist, total, 0.99);
	st->hsm_avg_us = p->hsm_n ? p->hsm_us_total / p->hsm_n : 0;
	pthread_mutex_unlock(&p->mu);
}

void
pool_stop(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; p->w != NULL && i < p->nw; i++) {
		if (p->w[i].started)
			pthread_join(p->w[i].tid, NULL);
		else
			session_down(&p->w[i]);
	}
	free(p->w);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
