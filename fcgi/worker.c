#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcgiapp.h>
#include "db/acme.h"
#include "fcgi/api.h"
#include "fcgi/metrics.h"
#include "fcgi/observe.h"
#include "fcgi/request.h"
#include "fcgi/worker.h"
#include "issue/issue.h"
#include "lib/clock.h"
#include "lib/keycache.h"
#include "lib/log.h"
#include "lib/usock.h"
#include "lib/wake.h"

#define URI_MAX 2048
#define PURGE_INTERVAL 60    /* seconds between a worker's purges of spent nonces */
#define PURGE_LIMIT 5000     /* rows per purge: bounded work, spread over workers */

static volatile sig_atomic_t stopping;
static int wake_fd = -1;
static char wake_path[WAKE_PATH_MAX + 1];

void
worker_wake_open(const struct fcgi_conf *conf)
{
	const struct privdrop *u = &conf->worker_user;

	if (conf->orders.wake_socket == NULL || conf->orders.validation_wait_ms <= 0)
		return;
	if (wake_worker_path(wake_path, sizeof(wake_path), conf->orders.wake_socket,
	    (long)getpid()) != AE_OK) {
		log_warn("worker: no wake socket next to jobs.wake_socket (path too long); "
		    "challenge answers re-read at acme.validation_recheck_ms");
		wake_path[0] = '\0';
		return;
	}
	if ((wake_fd = wake_listen(wake_path, 0660)) < 0 ||
	    (u->set && usock_set_perms(wake_path, 0660, u->uid, u->gid) != 0)) {
		log_warn("worker: wake socket %s: %s; challenge answers re-read at "
		    "acme.validation_recheck_ms", wake_path, strerror(errno));
		if (wake_fd >= 0) {
			close(wake_fd);
			unlink(wake_path);
		}
		wake_fd = -1;
		wake_path[0] = '\0';
		return;
	}
}

int
worker_wake_fd(void)
{
	return wake_fd;
}

const char *
worker_wake_path(void)
{
	return wake_fd >= 0 ? wake_path : NULL;
}

void
worker_wake_remove(const struct fcgi_conf *conf, pid_t pid)
{
	char path[WAKE_PATH_MAX + 1];
	struct stat st;

	if (conf->orders.wake_socket != NULL &&
	    wake_worker_path(path, sizeof(path), conf->orders.wake_socket, (long)pid) == AE_OK &&
	    lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

static void
wake_close(void)
{
	if (wake_fd < 0)
		return;
	close(wake_fd);
	/* Fails when fcgi.user cannot write the directory: the master removes it then. */
	unlink(wake_path);
	wake_fd = -1;
}

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Path below acme.base_url's path, without the query; NULL if outside it. */
static const char *
route_path(struct req *r)
{
	const char *base = r->conf->base_path;
	size_t blen = strlen(base), n = strcspn(r->uri, "?#");

	if (n < blen || strncmp(r->uri, base, blen) != 0)
		return NULL;
	return arena_strndup(&r->arena, r->uri + blen, n - blen);
}

static void
handle(FCGX_Request *fr, const struct fcgi_conf *conf, struct db *db, struct issue_ctx *ic,
    struct keycache *keys)
{
	struct req r;
	char esc[256];
	uint64_t t0 = clock_mono_us(), errors, connects;
	enum metrics_route route;

	memset(&r, 0, sizeof(r));
	arena_init(&r.arena);
	buf_init(&r.headers, REQ_HEADERS_MAX);
	r.fcgx = fr;
	r.conf = conf;
	r.db = db;
	r.issue = ic;
	r.keys = keys;
	r.now = (int64_t)time(NULL);
	r.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	r.uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	r.content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	if (r.method == NULL)
		r.method = "";
	if (r.uri == NULL || r.uri[0] != '/' || strlen(r.uri) > URI_MAX)
		req_problem(&r, PROB_NOT_FOUND, "no such resource");
	else if (observe_route(&r))
		;
	else if ((r.path = route_path(&r)) == NULL || r.path[0] != '/')
		req_problem(&r, PROB_NOT_FOUND, "no such resource");
	else
		api_route(&r);
	req_send(&r);
	route = metrics_route_of(r.path);
	metrics_request(route, r.status, r.status >= 400 ? r.problem : PROB_NONE,
	    clock_mono_us() - t0);
	if (route == MR_FINALIZE && r.status >= 400)
		metrics_finalize(MF_REFUSED);
	db_stats(db, &errors, &connects);
	metrics_db(errors, connects);
	log_escape(esc, sizeof(esc), r.uri ? r.uri : "", r.uri ? strlen(r.uri) : 0);
	if (r.status >= 500 && r.status != 501)
		log_warn("request method=%.8s uri=\"%s\" status=%d type=%s", r.method, esc,
		    r.status, prob_type(r.problem));
	else
		log_debug("request method=%.8s uri=\"%s\" status=%d", r.method, esc, r.status);
	arena_reset(&r.arena);
	buf_free(&r.headers);
}

int
worker_run(const struct fcgi_conf *conf, int listen_fd)
{
	FCGX_Request fr;
	struct db *db = NULL;
	struct issue_ctx *ic = NULL;
	struct keycache *keys = NULL;
	struct conf_ctx icc = { .file = "configuration" };
	struct sigaction sa;
	sigset_t term, none;
	time_t next_purge;
	int rc = 1, inited = 0;

	memset(&fr, 0, sizeof(fr));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;  /* no SA_RESTART: SIGTERM must interrupt accept() */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	/* Inside a request SIGTERM stays blocked, so no read or write to nginx or the database
	 * is cut short; it is delivered when the worker goes back to accept. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &term, NULL);

	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	next_purge = time(NULL) + random() % PURGE_INTERVAL;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("worker: FastCGI initialisation failed");
		goto out;
	}
	inited = 1;
	if (db_new(&conf->db, &db) != AE_OK)
		goto out;
	if (issue_ctx_new_conf(db, &conf->issue, &icc, &ic) != AE_OK)
		log_err("worker: issuance unavailable (finalize, downloads and revocation answer "
		    "503): %s", icc.err);
	else
		issue_ctx_on_issued(ic, metrics_cert_issued);
	/* Without it every request parses its account key again: slower, not wrong. */
	if ((keys = keycache_new(KEYCACHE_SLOTS)) == NULL)
		log_warn("worker: no memory for the account key cache");
	if (db_connect(db) != AE_OK)
		log_warn("worker: database unavailable at start: %s (requests get 503 until "
		    "it is back)", db_error(db));
	for (;;) {
		int a;

		sigprocmask(SIG_SETMASK, &none, NULL);
		if (stopping)
			break;
		a = FCGX_Accept_r(&fr);
		sigprocmask(SIG_SETMASK, &term, NULL);
		if (a < 0) {
			if (stopping)
				break;
			if (a == -EINTR)
				continue;
			log_err("worker: accept failed: %s", strerror(-a));
			goto out;
		}
		handle(&fr, conf, db, ic, keys);
		FCGX_Finish_r(&fr);
		if (time(NULL) >= next_purge) {
			uint64_t n = 0;
			anvil_err e = db_nonce_purge(db, (int64_t)time(NULL), PURGE_LIMIT, &n);
			if (e != AE_OK)
				log_warn("nonce purge: %s", anvil_strerror(e));
			else if (n > 0)
				log_debug("nonce purge: %llu rows", (unsigned long long)n);
			next_purge = time(NULL) + PURGE_INTERVAL;
		}
	}
	rc = 0;
out:
	if (inited)
		FCGX_Free(&fr, 0);
	keycache_free(keys);
	issue_ctx_free(ic);
	db_free(db);
	wake_close();
	return rc;
}
