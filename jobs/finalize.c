#include "config.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include "issue/issue.h"
#include "jobs/finalize.h"
#include "lib/log.h"
#include "lib/wake.h"

enum lane_state { LANE_IDLE, LANE_QUEUED, LANE_RUNNING, LANE_FINISHED };

struct lane {
	struct jobs_finalize *f;
	struct db *db;
	struct issue_ctx *ic;
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
			(void)wake_send(f->wake);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

anvil_err
jobs_finalize_new(const struct db_conf *dbc, json_object *root, struct conf_ctx *cc,
    size_t nlanes, const char *wake, struct jobs_finalize **out)
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
