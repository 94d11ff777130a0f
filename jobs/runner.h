/* The job loop of anvil-jobs: claims due jobs in batches up to jobs.concurrency (finalize jobs
 * only up to its free lanes), hands each to the handler of its kind, renews the leases of the
 * ones in flight, and waits on one event loop (the validation engine's) for network events,
 * wake-ups and timers. */
#ifndef ANVIL_JOBS_RUNNER_H
#define ANVIL_JOBS_RUNNER_H
#include <signal.h>
#include "db/db.h"
#include "jobs/conf.h"
#include "va/va.h"

struct jobs_finalize;

struct runner_env {
	const struct jobs_conf *conf;
	struct db *db;
	struct va *va;
	struct jobs_finalize *finalize; /* NULL: finalize jobs wait (retried) */
	int wake_fd;                /* -1 without jobs.wake_socket */
	/* Told of each wake-up too (work queued elsewhere than the jobs table: a revocation to
	 * publish), from the loop's thread; NULL: nobody. */
	void (*on_wake)(void *arg, int publish); /* publish: see wake_drain */
	void *on_wake_arg;
	volatile sig_atomic_t *stop;
};

/* Runs until *stop; gives back the leases of unfinished jobs on the way out. */
anvil_err runner_run(struct runner_env *env);

#endif
