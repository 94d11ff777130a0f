#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db/ctfinal.h"
#include "db/issue.h"
#include "db/jobs.h"
#include "issue/issue.h"
#include "jobs/ctfinal.h"
#include "lib/clock.h"
#include "lib/log.h"

#define SUBMIT_TIMEOUT_MS 10000   /* one add-chain: a final certificate is in no hurry */
#define LEASE_S 30              /* well past a batch's submissions (SUBMIT_TIMEOUT_MS) */
#define RETRY_FIRST_S 5
#define RETRY_MAX_S 3600
#define POLL_MS 1000

struct jobs_ctfinal {
	char owner[128];
	struct db *db;
	struct issue_ctx *ic;
	const struct ct_conf *ct;
	uint64_t logs;                    /* logs some CT profile sends final certificates to */
	double tokens[DB_CT_FINAL_LOGS];  /* per-log rate: a bucket of ct.final_rate_per_second */
	uint64_t refilled_ms;
	uint8_t der[DB_CERT_DER_MAX + 1];
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked, stop;                 /* under mu */
};

anvil_err
jobs_ctfinal_new(const struct db_conf *dbc, json_object *root, struct conf_ctx *cc,
    const char *owner, struct jobs_ctfinal **out)
{
	struct jobs_ctfinal *f = calloc(1, sizeof(*f));
	anvil_err e = AE_NOMEM;

	*out = NULL;
	if (f == NULL)
		return AE_NOMEM;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	snprintf(f->owner, sizeof(f->owner), "%s", owner);
	if ((e = db_new(dbc, &f->db)) != AE_OK ||
	    (e = issue_ctx_new(f->db, root, cc, &f->ic)) != AE_OK)
		goto fail;
	f->ct = issue_ctx_conf(f->ic)->ct;
	if ((f->logs = issue_ct_final_logs_all(f->ic)) == 0) {
		e = AE_NOTFOUND;
		goto fail;
	}
	for (size_t i = 0; i < DB_CT_FINAL_LOGS; i++)
		f->tokens[i] = 1;
	f->refilled_ms = clock_mono_ms();
	*out = f;
	return AE_OK;
fail:
	jobs_ctfinal_free(f);
	return e;
}

static int
stopping(struct jobs_ctfinal *f)
{
	int s;

	pthread_mutex_lock(&f->mu);
	s = f->stop;
	pthread_mutex_unlock(&f->mu);
	return s;
}

static void
refill(struct jobs_ctfinal *f)
{
	uint64_t now = clock_mono_ms();
	double rate = (double)f->ct->final_rate, add = rate * (double)(now - f->refilled_ms) / 1000;

	f->refilled_ms = now;
	for (size_t i = 0; i < DB_CT_FINAL_LOGS; i++) {
		f->tokens[i] += add;
		if (f->tokens[i] > rate)
			f->tokens[i] = rate;   /* a burst of one second's worth at most */
	}
}

/* One job's outcome recorded: done, or retried with backoff, or failed past the give-up. */
static void
record(struct jobs_ctfinal *f, const struct db_ct_final *j, anvil_err e, const char *why)
{
	int64_t now = (int64_t)time(NULL), delay = RETRY_FIRST_S;
	int final;
	anvil_err r;

	if (e == AE_OK) {
		if ((r = db_job_done(f->db, j->id, f->owner)) != AE_OK)
			log_warn("ct-final job=%lld: done, not recorded: %s", (long long)j->id,
			    anvil_strerror(r));
		else
			log_info("ct-final order=%lld log=%s: logged", (long long)j->order_id,
			    f->ct->logs[j->log].name);
		return;
	}
	for (int64_t i = 1; i < j->attempts && delay < RETRY_MAX_S; i++)
		delay *= 2;
	if (delay > RETRY_MAX_S)
		delay = RETRY_MAX_S;
	final = e == AE_NOTFOUND || now - j->created >= f->ct->final_give_up_s;
	r = db_job_retry(f->db, j->id, f->owner, now + delay, why, final);
	log_warn("ct-final job=%lld order=%lld log=%s attempt=%lld %s: %s%s", (long long)j->id,
	    (long long)j->order_id, j->log < f->ct->nlogs ? f->ct->logs[j->log].name : "?",
	    (long long)j->attempts, final ? "given up" : "retry", why,
	    r != AE_OK ? " (not recorded: lease expires)" : "");
}

/* Up to the log's tokens of its due jobs, submitted at once and decided. 1 when any was
 * claimed. */
static int
work_log(struct jobs_ctfinal *f, size_t log)
{
	struct db_ct_final jobs[DB_CT_FINAL_CLAIM_MAX];
	struct issue_ct_final *sub[DB_CT_FINAL_CLAIM_MAX] = { 0 };
	anvil_err res[DB_CT_FINAL_CLAIM_MAX];
	char why[DB_CT_FINAL_CLAIM_MAX][512];
	size_t n = 0, want = (size_t)f->tokens[log];
	int64_t now = (int64_t)time(NULL);
	anvil_err e;

	if (want == 0)
		return 0;
	if ((e = db_ct_final_claim(f->db, f->owner, log, now, LEASE_S, want, jobs, &n)) != AE_OK) {
		if (e != AE_NOTFOUND)
			log_warn("ct-final: claim: %s (%s)", anvil_strerror(e), db_error(f->db));
		return 0;
	}
	f->tokens[log] -= (double)n;
	for (size_t k = 0; k < n; k++) {
		char issuer[DB_NAME_MAX + 1];
		size_t len = 0;

		why[k][0] = '\0';
		res[k] = AE_BUSY;
		if (!(f->logs >> jobs[k].log & 1)) {
			res[k] = AE_NOTFOUND;
			snprintf(why[k], sizeof(why[k]), "ct.logs[%zu] no longer receives final "
			    "certificates", jobs[k].log);
			continue;
		}
		e = db_ct_final_cert(f->db, jobs[k].order_id, f->der, sizeof(f->der), &len,
		    issuer, sizeof(issuer));
		if (e != AE_OK) {
			res[k] = e;
			snprintf(why[k], sizeof(why[k]), "the certificate: %s", anvil_strerror(e));
			continue;
		}
		if ((e = issue_ct_final_start(f->ic, jobs[k].log, f->der, len, issuer,
		    SUBMIT_TIMEOUT_MS, &sub[k], why[k], sizeof(why[k]))) != AE_OK)
			res[k] = e;
	}
	for (;;) {
		int pending = 0;

		for (size_t k = 0; k < n; k++) {
			if (sub[k] == NULL || ct_submit_decided(sub[k]->s))
				continue;
			pending = 1;
			(void)ct_submit_perform(sub[k]->s, 20);
		}
		if (!pending)
			break;
	}
	for (size_t k = 0; k < n; k++) {
		if (sub[k] != NULL) {
			struct buf list;
			buf_init(&list, CT_SCT_LIST_MAX);
			res[k] = ct_submit_result(sub[k]->s, &list, why[k], sizeof(why[k]));
			if (res[k] != AE_OK && res[k] != AE_NOTFOUND)
				res[k] = AE_UNAVAILABLE;
			buf_free(&list);
			issue_ct_final_free(sub[k]);
		}
		record(f, &jobs[k], res[k], why[k]);
	}
	return 1;
}

/* One round over the logs; the milliseconds to wait before the next. */
static int64_t
work(struct jobs_ctfinal *f)
{
	int any = 0, starved = 0;

	refill(f);
	for (size_t i = 0; i < f->ct->nlogs; i++) {
		if (!(f->logs >> i & 1))
			continue;
		if (f->tokens[i] < 1)
			starved = 1;
		else
			any |= work_log(f, i);
	}
	/* Work found: look again soon, when the next token is there. */
	if (any || starved) {
		int64_t next = (int64_t)(1000 / f->ct->final_rate);
		return next < 10 ? 10 : next > POLL_MS ? POLL_MS : next;
	}
	return POLL_MS;
}

static void *
ctfinal_main(void *arg)
{
	struct jobs_ctfinal *f = arg;

	while (!stopping(f)) {
		int64_t wait = work(f);
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&f->mu);
		while (!f->stop && !f->kicked)
			if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT)
				break;
		f->kicked = 0;
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

anvil_err
jobs_ctfinal_start(struct jobs_ctfinal *f)
{
	sigset_t all, old;
	anvil_err e = AE_OK;

	log_info("ct-final: submitting final certificates to %d logs, %lld per second each, "
	    "given up after %llds", __builtin_popcountll(f->logs), (long long)f->ct->final_rate,
	    (long long)f->ct->final_give_up_s);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&f->th, NULL, ctfinal_main, f) != 0)
		e = AE_NOMEM;
	else
		f->started = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

void
jobs_ctfinal_kick(void *arg)
{
	struct jobs_ctfinal *f = arg;

	pthread_mutex_lock(&f->mu);
	f->kicked = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void
jobs_ctfinal_free(struct jobs_ctfinal *f)
{
	if (f == NULL)
		return;
	if (f->started) {
		pthread_mutex_lock(&f->mu);
		f->stop = 1;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->th, NULL);
	}
	issue_ctx_free(f->ic);
	db_free(f->db);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
