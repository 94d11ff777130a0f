#include "config.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "issue/issue.h"
#include "jobs/finalize.h"
#include "jobs/observe.h"
#include "lib/log.h"
#include "lib/wake.h"

enum lane_state { LANE_IDLE, LANE_QUEUED, LANE_RUNNING, LANE_FINISHED };

struct lane {
	struct jobs_finalize *f;
	struct db *db;
	struct issue_ctx *ic;
	struct va *va;          /* the lane's own engine, for issuance's CAA re-checks */
	pthread_t th;
	int started;
	/* Under f->mu. */
	enum lane_state state;
	int64_t job_id, order_id, budget_ms;
	anvil_err result;
};

struct jobs_finalize {
	pthread_mutex_t mu;
	pthread_cond_t work;    /* a lane has a job, or stop */
	pthread_cond_t ended;   /* an attempt finished */
	int stop;
	const char *wake;
	size_t nlanes;
	struct lane *lanes;
};

struct caa_wait {
	int done, valid;
	char detail[256];
	int caa;                /* the problem is a CAA refusal (not DNS trouble) */
};

static void
caa_done(void *arg, const struct va_result *r)
{
	struct caa_wait *w = arg;
	json_object *p = NULL, *v;

	w->done = 1;
	w->valid = r->valid;
	if (r->valid || r->problem == NULL || (p = json_tokener_parse(r->problem)) == NULL)
		return;
	if (json_object_object_get_ex(p, "type", &v) && json_object_get_string(v) != NULL)
		w->caa = strcmp(json_object_get_string(v), "urn:ietf:params:acme:error:caa") == 0;
	if (json_object_object_get_ex(p, "detail", &v) && json_object_get_string(v) != NULL)
		snprintf(w->detail, sizeof(w->detail), "%s", json_object_get_string(v));
	json_object_put(p);
}

/* issue/'s CAA hook (issue_ctx_set_caa): one CAA-only task on the lane's engine, waited for
 * on this thread until it ends or the attempt's deadline passes. */
static anvil_err
lane_caa(void *arg, const struct issue_caa_query *q, int64_t deadline_ms, char *detail,
    size_t detail_len)
{
	struct lane *l = arg;
	struct caa_wait w;
	struct va_input in;
	struct va_task *t = NULL;
	anvil_err e;

	memset(&w, 0, sizeof(w));
	memset(&in, 0, sizeof(in));
	in.type = q->method;
	in.token = "";
	in.thumbprint = "";
	in.ident_type = "dns";
	in.ident_value = q->ident;
	in.wildcard = q->wildcard;
	in.profile = q->profile;
	in.account_id = q->account_id;
	in.caa_only = 1;
	if ((e = va_task_start(l->va, &in, caa_done, &w, &t)) != AE_OK)
		return e == AE_BUSY ? AE_BUSY : AE_UNAVAILABLE;
	while (!w.done) {
		int64_t left = deadline_ms - issue_now_ms();
		int ready = 0;

		if (left <= 0) {
			va_task_cancel(l->va, t);
			snprintf(detail, detail_len, "CAA lookup for %s did not finish in time",
			    q->ident);
			return AE_TIMEOUT;
		}
		if ((e = va_run_once(l->va, -1, left > 100 ? 100 : (int)left, &ready)) != AE_OK) {
			if (!w.done)
				va_task_cancel(l->va, t);
			return AE_UNAVAILABLE;
		}
	}
	snprintf(detail, detail_len, "%s", w.detail);
	if (w.valid)
		return AE_OK;
	return w.caa ? AE_DENIED : AE_UNAVAILABLE;
}

static anvil_err
finalize_run(struct lane *l, int64_t order_id, int64_t budget_ms)
{
	anvil_err e = issue_finish(l->ic, order_id, issue_now_ms() + budget_ms);

	switch (e) {
	case AE_BUSY: case AE_TIMEOUT: case AE_UNAVAILABLE: case AE_DB_DOWN: case AE_DB:
	case AE_NOMEM:
		return e;
	default:
		log_info("finalize order=%lld: %s", (long long)order_id,
		    e == AE_OK ? "valid" : anvil_strerror(e));
		return AE_OK;
	}
}

static void *
lane_main(void *arg)
{
	struct lane *l = arg;
	struct jobs_finalize *f = l->f;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		int64_t order_id, budget_ms;
		anvil_err e;

		while (!f->stop && l->state != LANE_QUEUED)
			pthread_cond_wait(&f->work, &f->mu);
		if (l->state != LANE_QUEUED)
			break;
		l->state = LANE_RUNNING;
		order_id = l->order_id;
		budget_ms = l->budget_ms;
		pthread_mutex_unlock(&f->mu);
		e = finalize_run(l, order_id, budget_ms);
		pthread_mutex_lock(&f->mu);
		l->result = e;
		l->state = LANE_FINISHED;
		pthread_cond_broadcast(&f->ended);
		if (f->wake != NULL)
			(void)wake_send_job(f->wake);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

anvil_err
jobs_finalize_new(const struct db_conf *dbc, const struct va_conf *vc, json_object *root,
    struct conf_ctx *cc, size_t nlanes, const char *wake, struct jobs_finalize **out)
{
	struct jobs_finalize *f;
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if (nlanes == 0 || (f = calloc(1, sizeof(*f))) == NULL)
		return AE_NOMEM;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->work, NULL);
	pthread_cond_init(&f->ended, NULL);
	f->wake = wake;
	if ((f->lanes = calloc(nlanes, sizeof(*f->lanes))) == NULL)
		goto fail;
	for (; f->nlanes < nlanes; f->nlanes++) {
		struct lane *l = &f->lanes[f->nlanes];

		l->f = f;
		if ((e = db_new(dbc, &l->db)) != AE_OK)
			goto fail;
		if ((e = issue_ctx_new(l->db, root, cc, &l->ic)) != AE_OK) {
			db_free(l->db);
			l->db = NULL;
			goto fail;
		}
		issue_ctx_on_issued(l->ic, jobs_observe_issued);
		if ((e = va_new(vc, &l->va)) != AE_OK) {
			snprintf(cc->err, sizeof(cc->err), "finalize: no validation engine for "
			    "CAA re-checks: %s", anvil_strerror(e));
			f->nlanes++;   /* freed with the others */
			goto fail;
		}
		issue_ctx_set_caa(l->ic, lane_caa, l);
	}
	*out = f;
	return AE_OK;
fail:
	jobs_finalize_free(f);
	return e;
}

anvil_err
jobs_finalize_start(struct jobs_finalize *f)
{
	sigset_t all, old;
	anvil_err e = AE_OK;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (size_t i = 0; i < f->nlanes; i++) {
		struct lane *l = &f->lanes[i];

		if (l->started)
			continue;
		if (pthread_create(&l->th, NULL, lane_main, l) != 0) {
			e = AE_NOMEM;
			break;
		}
		l->started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

void
jobs_finalize_free(struct jobs_finalize *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_broadcast(&f->work);
	pthread_mutex_unlock(&f->mu);
	for (size_t i = 0; i < f->nlanes; i++) {
		struct lane *l = &f->lanes[i];

		if (l->started)
			pthread_join(l->th, NULL);
		issue_ctx_free(l->ic);
		va_free(l->va);
		db_free(l->db);
	}
	free(f->lanes);
	pthread_cond_destroy(&f->ended);
	pthread_cond_destroy(&f->work);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

anvil_err
jobs_finalize_submit(struct jobs_finalize *f, int64_t job_id, int64_t order_id,
    int64_t budget_ms)
{
	anvil_err e = AE_BUSY;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nlanes; i++) {
		struct lane *l = &f->lanes[i];

		if (!l->started || l->state != LANE_IDLE)
			continue;
		l->job_id = job_id;
		l->order_id = order_id;
		l->budget_ms = budget_ms;
		l->state = LANE_QUEUED;
		pthread_cond_broadcast(&f->work);
		e = AE_OK;
		break;
	}
	pthread_mutex_unlock(&f->mu);
	return e;
}

int
jobs_finalize_collect(struct jobs_finalize *f, int wait, int64_t *job_id, anvil_err *result)
{
	int found = 0;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		int busy = 0;

		for (size_t i = 0; i < f->nlanes && !found; i++) {
			struct lane *l = &f->lanes[i];

			if (l->state == LANE_FINISHED) {
				*job_id = l->job_id;
				*result = l->result;
				l->state = LANE_IDLE;
				found = 1;
			} else if (l->state != LANE_IDLE) {
				busy = 1;
			}
		}
		if (found || !wait || !busy)
			break;
		pthread_cond_wait(&f->ended, &f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return found;
}
