/* anvil-jobs: the durable background work of Anvil (DESIGN.md "Processes"). One process, one
 * event loop with its database connection: it validates challenges (va/) and finishes issuances
 * that outlived their request (issue/, on jobs.finalize_concurrency threads of their own),
 * leasing each job from the jobs table so any number of runners on any number of hosts share
 * the work and a dead one loses nothing. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "db/db.h"
#include "jobs/crl.h"
#include "jobs/ctfinal.h"
#include "jobs/finalize.h"
#include "jobs/observe.h"
#include "jobs/conf.h"
#include "jobs/ocsp.h"
#include "lib/privdrop.h"
#include "jobs/runner.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/wake.h"
#include "va/va.h"

static volatile sig_atomic_t stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* Work that is not in the jobs table (a revocation to publish) arrives with a wake-up too:
 * both publishers look at once. A wake-up that only announces a queued job (wake_send_job:
 * one per challenge) leaves them to their own timers: each look is a statement, and at
 * hundreds of validations per second those were ~1.5 statements per certificate. */
struct wake_targets {
	struct jobs_ocsp *ocsp;
	struct jobs_crl *crl;
	struct jobs_ctfinal *ctfinal;
};

static void
on_wake(void *arg, int publish)
{
	struct wake_targets *t = arg;

	if (publish && t->ocsp != NULL)
		jobs_ocsp_wake(t->ocsp);
	if (publish && t->crl != NULL)
		jobs_crl_kick(t->crl);
	if (t->ctfinal != NULL)
		jobs_ctfinal_kick(t->ctfinal);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvil-jobs -c CONFIG [--check] [-f]\n"
	    "  -c CONFIG  deployment file (doc/config.md)\n"
	    "  --check    validate the configuration and exit (0 valid, 1 not)\n"
	    "  -f         stay in the foreground and log to stderr\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jobs_conf conf;
	struct runner_env env;
	struct conf_ctx cc, icc, occ, ccc, fcc;
	struct sigaction sa;
	struct db *db = NULL;
	struct va *va = NULL;
	struct jobs_finalize *finalize = NULL;
	struct jobs_ocsp *ocsp = NULL;
	struct jobs_crl *crl = NULL;
	struct jobs_ctfinal *ctfinal = NULL;
	struct wake_targets wake_targets;
	const char *path = NULL;
	char *abs_path = NULL;
	int ch, check = 0, foreground = 0, rc = 1, wake_fd = -1, loaded = 0, wrote_pid = 0;
	anvil_err e;

	memset(&cc, 0, sizeof(cc));
	memset(&icc, 0, sizeof(icc));
	memset(&occ, 0, sizeof(occ));
	memset(&ccc, 0, sizeof(ccc));
	memset(&fcc, 0, sizeof(fcc));
	memset(&conf, 0, sizeof(conf));
	while ((ch = getopt_long(argc, argv, "c:fnh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 'n': check = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if ((abs_path = realpath(path, NULL)) != NULL)
		path = abs_path;
	if (jobs_conf_load(&cc, path, &conf) != AE_OK) {
		fprintf(stderr, "anvil-jobs: %s\n", cc.err);
		goto out;
	}
	loaded = 1;
	/* The OCSP refresher (jobs/ocsp.h), validated with the rest: a publisher must not start
	 * with a section it cannot honour. */
	occ.file = path;
	if (jobs_ocsp_new(&conf, &occ, &ocsp) != AE_OK) {
		fprintf(stderr, "anvil-jobs: %s\n", occ.err);
		goto out;
	}
	if (check) {
		printf("anvil-jobs: %s: configuration OK\n", path);
		rc = 0;
		goto out;
	}
	if (conf.run_as.set && geteuid() != 0) {
		fprintf(stderr, "anvil-jobs: %s: jobs.user is set, so anvil-jobs must start as root\n",
		    path);
		goto out;
	}
	log_init("anvil-jobs", conf.log_syslog || !foreground, conf.log_level);
	if (!foreground && daemon(0, 0) != 0) {
		fprintf(stderr, "anvil-jobs: daemon: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;   /* no SA_RESTART: the wait returns at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (conf.wake_socket != NULL &&
	    (wake_fd = wake_listen(conf.wake_socket, conf.wake_socket_mode)) < 0) {
		log_err("jobs.wake_socket %s: cannot bind: %s", conf.wake_socket, strerror(errno));
		goto out;
	}
	if (conf.pid_file != NULL) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (file_write_durable(conf.pid_file, pid, (size_t)n, 0644, 0) != AE_OK) {
			log_err("jobs.pid_file %s: cannot write", conf.pid_file);
			goto out;
		}
		wrote_pid = 1;
	}
	if ((e = db_new(&conf.db, &db)) != AE_OK || (e = va_new(&conf.va, &va)) != AE_OK) {
		log_err("start: %s", anvil_strerror(e));
		goto out;
	}
	/* Issuance needs the signer and issuer sections; without them validation still runs and
	 * finalize jobs wait in the table. */
	if (jobs_finalize_new(&conf.db, &conf.va, conf.root, &icc, (size_t)conf.finalize_concurrency,
	    conf.wake_socket, &finalize) != AE_OK) {
		log_warn("finalize jobs wait: %s", icc.err);
		finalize = NULL;
	}
	if ((e = jobs_crl_new(&conf.db, conf.root, &ccc, conf.runner_id, conf.poll_interval,
	    &crl)) != AE_OK && e != AE_NOTFOUND) {
		log_err("CRLs: %s", ccc.err[0] ? ccc.err : anvil_strerror(e));
		goto out;
	}
	/* Final certificates to the CT logs (seed 003): only when a CT profile's policy names
	 * final_certificates logs. Issuance without it is unaffected; the queue then waits. */
	e = jobs_ctfinal_new(&conf.db, conf.root, &fcc, conf.runner_id, &ctfinal);
	if (e != AE_OK && e != AE_NOTFOUND)
		log_warn("ct-final jobs wait: %s", fcc.err[0] ? fcc.err : anvil_strerror(e));
	/* Validation talks to hostile servers: from here on, run as jobs.user (the socket, the
	 * PID file and the issuers' files are already open or read). */
	if (privdrop_apply(&conf.run_as) != AE_OK) {
		log_err("jobs.user: cannot switch to uid %ld: %s", (long)conf.run_as.uid,
		    strerror(errno));
		goto out;
	}
	if (db_connect(db) != AE_OK)
		log_warn("database not reachable yet (%s); retrying", db_error(db));
	/* After the first connection attempt: that initialises the client library, which the
	 * threads' own connections must not race to do. */
	if (finalize != NULL && jobs_finalize_start(finalize) != AE_OK) {
		log_err("finalize: cannot start %lld threads", (long long)conf.finalize_concurrency);
		goto out;
	}
	if (ocsp != NULL && jobs_ocsp_start(ocsp) != AE_OK) {
		log_err("ocsp: cannot start the refresher's threads");
		goto out;
	}
	if (crl != NULL && jobs_crl_start(crl) != AE_OK) {
		log_err("CRLs: cannot start the builder thread");
		goto out;
	}
	if (ctfinal != NULL && jobs_ctfinal_start(ctfinal) != AE_OK) {
		log_err("ct-final: cannot start the submitter thread");
		goto out;
	}
	log_info("runner %s: concurrency %lld, finalize concurrency %lld, lease %llds, "
	    "wake socket %s", conf.runner_id, (long long)conf.concurrency,
	    (long long)(finalize != NULL ? conf.finalize_concurrency : 0), (long long)conf.lease,
	    conf.wake_socket ? conf.wake_socket : "(none)");
	memset(&env, 0, sizeof(env));
	env.conf = &conf;
	env.db = db;
	env.va = va;
	env.finalize = finalize;
	env.wake_fd = wake_fd;
	wake_targets.ocsp = ocsp;
	wake_targets.crl = crl;
	wake_targets.ctfinal = ctfinal;
	env.on_wake = on_wake;
	env.on_wake_arg = &wake_targets;
	env.stop = &stop;
	jobs_observe_init(&conf);
	if (runner_run(&env) == AE_OK)
		rc = 0;
	log_info("stopped");
out:
	jobs_observe_free();
	jobs_ocsp_free(ocsp);
	jobs_crl_free(crl);
	jobs_ctfinal_free(ctfinal);
	jobs_finalize_free(finalize);
	va_free(va);
	db_free(db);
	if (wake_fd >= 0) {
		close(wake_fd);
		unlink(conf.wake_socket);
	}
	if (wrote_pid)
		unlink(conf.pid_file);
	if (loaded)
		jobs_conf_free(&conf);
	free(abs_path);
	return rc;
}
