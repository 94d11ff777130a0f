#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "db/jobs.h"
#include "db/va.h"
#include "jobs/finalize.h"
#include "jobs/observe.h"
#include "jobs/runner.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/wake.h"

struct slot {
	struct runner_env *env;
	struct slot *next;
	struct db_job job;
	struct db_va_chall ch;
	struct va_task *task;
	int loaded;             /* ch read with the rest of its claim's batch */
	int done;
	int lane_wait;          /* a finalize job waiting for a free lane */
	int on_lane;            /* a finalize job whose attempt runs on a lane */
};

struct runner {
	struct runner_env *env;
	struct slot *slots;
	size_t nslots;
};

typedef anvil_err (*job_fn)(struct runner *r, struct slot *s);

/* Lease and retry times are unix seconds, compared with other hosts' through the table. */
static int64_t
now_s(void)
{
	return (int64_t)(clock_wall_ms() / 1000);
}

/* Tells the API worker waiting for this job's result (jobs.waiter) that it is committed: one
 * datagram, never blocking, errors ignored (the worker re-reads on its own). Only to a worker
 * socket in our own runtime directory (lib/wake.h): the path comes from the database, and a
 * database writer must not make us send to any other socket on this host. */
static void
notify_waiter(const struct runner_env *env, const struct slot *s)
{
	if (s->job.waiter[0] != '\0' &&
	    wake_worker_path_ok(env->conf->wake_socket, s->job.waiter))
		(void)wake_send(s->job.waiter);
}

/* A finalize job's client is polling its order: after an outage the orders in flight finish
 * within this of its end, however many attempts the outage cost. */
#define FINALIZE_BACKOFF_MAX 300

/* Gives the job back for a later attempt with exponential backoff, or fails it for good after
 * jobs.max_attempts. A finalize job is never failed here: it is retried until issue/ ends its
 * order (valid, or invalid once the order has expired, issue/issue.h), so an outage of the
 * signer or the database strands no order; its attempts and age (jobs.attempts, jobs.created)
 * are in this line and in its row for an alert to read. */
static void
job_retry(struct runner *r, struct slot *s, const char *why)
{
	const struct jobs_conf *c = r->env->conf;
	int fin = strcmp(s->job.kind, "finalize") == 0;
	int64_t delay = c->retry_backoff, cap = fin ? FINALIZE_BACKOFF_MAX : 3600, now = now_s();
	int final = !fin && s->job.attempts >= c->max_attempts;
	anvil_err e;

	for (int64_t i = 1; i < s->job.attempts && delay < cap; i++)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	/* A validation given up on still answers its client: the challenge turns invalid instead
	 * of staying `processing` forever. */
	if (final && s->ch.id != 0 && db_va_finish(r->env->db, &s->ch, 0, now, NULL,
	    "{\"type\":\"urn:ietf:params:acme:error:serverInternal\",\"detail\":"
	    "\"Validation could not be completed\",\"status\":500}", s->job.id, c->runner_id)
	    == AE_OK) {
		notify_waiter(r->env, s);
		log_warn("job=%lld challenge=%lld: given up after %lld attempts: %s",
		    (long long)s->job.id, (long long)s->ch.id, (long long)s->job.attempts, why);
		return;
	}
	e = db_job_retry(r->env->db, s->job.id, c->runner_id, now + delay, why, final);
	log_warn("job=%lld kind=%s ref=%lld attempt=%lld age=%llds %s=%llds: %s%s",
	    (long long)s->job.id, s->job.kind, (long long)s->job.ref_id,
	    (long long)s->job.attempts,
	    (long long)(s->job.created > 0 && s->job.created < now ? now - s->job.created : 0),
	    final ? "failed" : "retry_in", final ? 0LL : (long long)delay, why,
	    e != AE_OK ? " (not recorded: lease expires)" : "");
}

static void
on_validated(void *arg, const struct va_result *res)
{
	struct slot *s = arg;
	struct runner_env *env = s->env;
	anvil_err e;

	s->task = NULL;
	s->done = 1;
	e = db_va_finish(env->db, &s->ch, res->valid, now_s(), res->record, res->problem,
	    s->job.id, env->conf->runner_id);
	if (e == AE_OK) {
		char id[512], prob[2048];

		jobs_observe_validated(s->ch.type, res->valid);
		notify_waiter(env, s);
		/* The problem's detail quotes the peer (a response body, a redirect URL): quoted
		 * and escaped, it stays one field whatever the peer sent. */
		log_info("validated challenge=%lld type=%s identifier=\"%s\" result=%s%s%s%s",
		    (long long)s->ch.id, s->ch.type,
		    log_escape(id, sizeof(id), s->ch.ident_value, strlen(s->ch.ident_value)),
		    res->valid ? "valid" : "invalid", res->valid ? "" : " problem=\"",
		    res->valid || res->problem == NULL ? "" :
		    log_escape(prob, sizeof(prob), res->problem, strlen(res->problem)),
		    res->valid ? "" : "\"");
	} else if (e == AE_DENIED) {
		log_warn("job=%lld: lease lost before the result was stored; another runner "
		    "repeats it", (long long)s->job.id);
	} else {
		struct runner r = { .env = env };
		job_retry(&r, s, anvil_strerror(e));
	}
}

static anvil_err
run_validate(struct runner *r, struct slot *s)
{
	struct runner_env *env = r->env;
	struct va_input in;
	anvil_err e;

	e = s->loaded ? AE_OK : db_va_load(env->db, s->job.ref_id, &s->ch);
	if (e == AE_NOTFOUND) {
		s->done = 1;
		return db_job_retry(env->db, s->job.id, env->conf->runner_id, now_s(),
		    "no such challenge", 1);
	}
	if (e != AE_OK)
		return e;
	if ((strcmp(s->ch.status, "pending") != 0 && strcmp(s->ch.status, "processing") != 0) ||
	    strcmp(s->ch.authz_status, "pending") != 0) {
		/* Decided already (a repeated job): nothing to do. */
		s->done = 1;
		if ((e = db_job_done(env->db, s->job.id, env->conf->runner_id)) == AE_OK)
			notify_waiter(env, s);
		return e;
	}
	memset(&in, 0, sizeof(in));
	in.type = s->ch.type;
	in.token = s->ch.token;
	in.thumbprint = s->ch.thumbprint;
	in.ident_type = s->ch.ident_type;
	in.ident_value = s->ch.ident_value;
	in.wildcard = s->ch.wildcard;
	in.profile = s->ch.profile;
	in.account_id = s->ch.account_id;
	return va_task_start(env->va, &in, on_validated, s, &s->task);
}

static void
finalize_submit(struct runner *r, struct slot *s)
{
	if (jobs_finalize_submit(r->env->finalize, s->job.id, s->job.ref_id,
	    r->env->conf->finalize_budget_ms) == AE_OK) {
		s->lane_wait = 0;
		s->on_lane = 1;
	}
}

/* Finishing an issuance that outlived its request (jobs/finalize.h): the attempt runs on a lane,
 * up to jobs.finalize_concurrency at once; meanwhile this loop renews the job's lease and
 * finalize_collect records the result. A job for which no lane is free waits in its slot. */
static anvil_err
run_finalize(struct runner *r, struct slot *s)
{
	if (r->env->finalize == NULL)
		return AE_UNAVAILABLE;
	s->lane_wait = 1;
	finalize_submit(r, s);
	return AE_OK;
}

static void
finalize_result(struct runner *r, int64_t job_id, anvil_err e)
{
	struct slot *s;

	for (s = r->slots; s != NULL; s = s->next)
		if (s->on_lane && s->job.id == job_id)
			break;
	if (s == NULL) {
		/* Abandoned when its lease expired: the runner that took it over decides. */
		log_debug("job=%lld: finalize attempt ended after its slot was dropped",
		    (long long)job_id);
		return;
	}
	s->on_lane = 0;
	s->done = 1;
	if (e != AE_OK)
		job_retry(r, s, anvil_strerror(e));
	/* Valid, or invalid with its problem stored, or nothing to do: done either way.
	 * issue_finish has usually marked the row done already (AE_DENIED then). */
	else if ((e = db_job_done(r->env->db, s->job.id, r->env->conf->runner_id)) != AE_OK &&
	    e != AE_DENIED)
		log_warn("job=%lld: finalize done, not recorded: %s", (long long)job_id,
		    anvil_strerror(e));
}

/* Records the attempts the lanes finished and hands waiting jobs to the lanes freed. */
static void
finalize_collect(struct runner *r, int wait)
{
	int64_t job_id;
	anvil_err e;

	if (r->env->finalize == NULL)
		return;
	while (jobs_finalize_collect(r->env->finalize, wait, &job_id, &e))
		finalize_result(r, job_id, e);
	for (struct slot *s = r->slots; s != NULL && !wait; s = s->next)
		if (s->lane_wait && !s->done)
			finalize_submit(r, s);
}

static const struct {
	const char *kind;
	job_fn fn;
} handlers[] = {
	{ "validate", run_validate },
	{ "finalize", run_finalize },
};

static void
slot_free(struct runner *r, struct slot *s)
{
	struct slot **pp;

	for (pp = &r->slots; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->task != NULL)
		va_task_cancel(r->env->va, s->task);
	r->nslots--;
	free(s);
}

static void
dispatch(struct runner *r, struct slot *s)
{
	job_fn fn = NULL;
	char kind[2 * DB_JOB_KIND_MAX];
	anvil_err e;

	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].kind, s->job.kind) == 0)
			fn = handlers[i].fn;
	if (fn == NULL) {
		s->done = 1;
		db_job_retry(r->env->db, s->job.id, r->env->conf->runner_id, now_s(),
		    "unknown job kind", 1);
		log_err("job=%lld: unknown kind %s", (long long)s->job.id,
		    log_escape(kind, sizeof(kind), s->job.kind, strlen(s->job.kind)));
		return;
	}
	if ((e = fn(r, s)) != AE_OK && !s->done) {
		s->done = 1;
		job_retry(r, s, anvil_strerror(e));
	}
}

/* Room for jobs of kind finalize: the lanes not taken by the finalize jobs we hold, so a runner
 * whose lanes are all busy leaves them to another host. A runner without lanes (no issuance)
 * leaves them all to runners that can issue: an attempt of its own would only push their next
 * one back. */
static size_t
finalize_room(const struct runner *r)
{
	size_t held = 0, lanes = (size_t)r->env->conf->finalize_concurrency;

	if (r->env->finalize == NULL)
		return 0;
	for (const struct slot *s = r->slots; s != NULL; s = s->next)
		if (!s->done && strcmp(s->job.kind, "finalize") == 0)
			held++;
	return held < lanes ? lanes - held : 0;
}

static size_t
room(const struct runner *r)
{
	size_t max = (size_t)r->env->conf->concurrency;

	return r->nslots < max ? max - r->nslots : 0;
}

/* Reads the challenges of a batch's validate jobs in one query instead of one each. A job whose
 * challenge is not among the rows loads it alone in run_validate (and fails if it is gone). */
static void
preload(struct runner *r, struct slot **batch, size_t n)
{
	int64_t ids[DB_VA_LOAD_MAX];
	struct db_va_chall ch[DB_VA_LOAD_MAX];
	size_t nids = 0, nch = 0;

	for (size_t i = 0; i < n; i++)
		if (batch[i] != NULL && strcmp(batch[i]->job.kind, "validate") == 0 &&
		    nids < DB_VA_LOAD_MAX)
			ids[nids++] = batch[i]->job.ref_id;
	/* A lone job reads its challenge as before: the same one query. */
	if (nids < 2 || db_va_load_many(r->env->db, ids, nids, ch, &nch) != AE_OK)
		return;
	for (size_t k = 0; k < nch; k++)
		for (size_t i = 0; i < n; i++)
			if (batch[i] != NULL && !batch[i]->loaded &&
			    strcmp(batch[i]->job.kind, "validate") == 0 &&
			    batch[i]->job.ref_id == ch[k].id) {
				batch[i]->ch = ch[k];
				batch[i]->loaded = 1;
				break;
			}
}

/* Claims due jobs in batches within the free room. Returns 1 when it stopped at
 * jobs.concurrency (more may be due). */
static int
claim(struct runner *r)
{
	const struct jobs_conf *c = r->env->conf;
	struct db_job jobs[DB_JOB_CLAIM_MAX];
	struct slot *batch[DB_JOB_CLAIM_MAX];

	for (;;) {
		size_t free = room(r), n = 0;
		int more = 0;
		anvil_err e;

		if (free == 0)
			return 1;
		if (free > DB_JOB_CLAIM_MAX)
			free = DB_JOB_CLAIM_MAX;
		if ((e = db_job_claim(r->env->db, c->runner_id, now_s(), c->lease, free,
		    finalize_room(r), jobs, &n, &more)) != AE_OK) {
			if (e != AE_NOTFOUND)
				log_warn("claiming jobs: %s (%s)", anvil_strerror(e),
				    db_error(r->env->db));
			return 0;
		}
		for (size_t i = 0; i < n; i++) {
			struct slot *s = calloc(1, sizeof(*s));

			batch[i] = s;
			if (s == NULL) {
				db_job_release(r->env->db, jobs[i].id, c->runner_id);
				continue;
			}
			s->env = r->env;
			s->job = jobs[i];
			log_debug("job=%lld kind=%s ref=%lld attempt=%lld claimed",
			    (long long)s->job.id, s->job.kind, (long long)s->job.ref_id,
			    (long long)s->job.attempts);
			s->next = r->slots;
			r->slots = s;
			r->nslots++;
		}
		preload(r, batch, n);
		for (size_t i = 0; i < n; i++)
			if (batch[i] != NULL)
				dispatch(r, batch[i]);
		/* A batch that came back short saw everything due: asking again now would find
		 * nothing. */
		if (!more)
			return 0;
	}
}

/* The poll fallback (no wake-up came): one plain read says whether a claim is worth its
 * transaction. */
static int
poll_claim(struct runner *r)
{
	size_t free = room(r);
	anvil_err e;

	if (free == 0)
		return 1;
	if ((e = db_job_due(r->env->db, now_s(), finalize_room(r) > 0)) == AE_OK)
		return claim(r);
	if (e != AE_NOTFOUND)
		log_warn("polling jobs: %s (%s)", anvil_strerror(e), db_error(r->env->db));
	return 0;
}

#define SWEEP_BATCH 64
#define SWEEP_MAX 1024      /* orders one sweep looks at, at most: the loop has other work */

/* The stranded-order sweep: an order in `processing` always has a queued finalize job (both are
 * written in one transaction), unless something lost it (a job failed by an older release, a
 * row deleted by hand, a bug). Each one found is queued again and logged. Returns how many. */
static size_t
sweep(struct runner *r)
{
	int64_t ids[SWEEP_BATCH], after = 0;
	size_t n = 0, total = 0, batches = 0;
	anvil_err e;

	do {
		if ((e = db_finalize_stranded(r->env->db, after, ids, SWEEP_BATCH, &n)) != AE_OK) {
			log_warn("sweeping orders in processing: %s (%s)", anvil_strerror(e),
			    db_error(r->env->db));
			break;
		}
		for (size_t i = 0; i < n; i++) {
			after = ids[i];
			if ((e = db_finalize_requeue(r->env->db, ids[i], now_s())) != AE_OK) {
				log_warn("order=%lld: in processing without a finalize job, not "
				    "queued again: %s", (long long)ids[i], anvil_strerror(e));
				continue;
			}
			log_warn("order=%lld: in processing without a finalize job: queued again",
			    (long long)ids[i]);
			total++;
		}
	} while (n == SWEEP_BATCH && ++batches < SWEEP_MAX / SWEEP_BATCH);
	return total;
}

/* Renews leases at half-life; a lease we could not renew is someone else's now: drop the work
 * (its result would be refused anyway). Frees finished slots. */
static void
housekeep(struct runner *r)
{
	const struct jobs_conf *c = r->env->conf;
	struct slot *s, *next;
	int64_t now = now_s();

	finalize_collect(r, 0);
	for (s = r->slots; s != NULL; s = next) {
		next = s->next;
		if (s->done) {
			slot_free(r, s);
			continue;
		}
		if (s->job.lease_until - now > c->lease / 2)
			continue;
		if (db_job_renew(r->env->db, s->job.id, c->runner_id, now + c->lease) == AE_OK) {
			s->job.lease_until = now + c->lease;
		} else if (s->job.lease_until <= now) {
			log_warn("job=%lld: lease expired, abandoning it", (long long)s->job.id);
			slot_free(r, s);
		}
	}
}

anvil_err
runner_run(struct runner_env *env)
{
	struct runner r;
	int64_t next_poll = 0, next_sweep = 0;
	int woken = 1, capped = 0;
	anvil_err e = AE_OK;

	memset(&r, 0, sizeof(r));
	r.env = env;
	while (!*env->stop) {
		int64_t now = now_s();
		int timeout;

		housekeep(&r);
		jobs_observe_tick(env->db);
		/* Only a runner that can issue sweeps: the jobs it queues are for its lanes. */
		if (env->finalize != NULL && now >= next_sweep) {
			if (sweep(&r) > 0)
				woken = 1;
			next_sweep = now + env->conf->sweep_interval;
		}
		/* A wake-up means work was queued (or a lane freed): claim straight away. */
		if (woken || (capped && room(&r) > 0)) {
			capped = claim(&r);
			next_poll = now + env->conf->poll_interval;
		} else if (now >= next_poll) {
			capped = poll_claim(&r);
			next_poll = now + env->conf->poll_interval;
		}
		/* Short waits: signals, lease renewals and the poll fallback are all checked here. */
		timeout = (int)((next_poll - now) * 1000);
		if (timeout > 500)
			timeout = 500;
		if (timeout < 0)
			timeout = 0;
		if ((e = va_run_once(env->va, env->wake_fd, timeout, &woken)) != AE_OK) {
			log_err("event loop: %s", anvil_strerror(e));
			break;
		}
		if (woken) {
			int publish = 0;

			wake_drain(env->wake_fd, &publish);
			if (env->on_wake != NULL)
				env->on_wake(env->on_wake_arg, publish);
		}
	}
	/* Attempts on the lanes end within their budget: their results are recorded, not
	 * thrown away with the lease. */
	finalize_collect(&r, 1);
	/* Leases of unfinished work go back at once so another runner need not wait them out. */
	while (r.slots != NULL) {
		if (!r.slots->done)
			db_job_release(env->db, r.slots->job.id, env->conf->runner_id);
		slot_free(&r, r.slots);
	}
	return e;
}
