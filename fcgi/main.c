/* anvil-fcgi master: opens the FastCGI socket, preforks fcgi.workers workers on it, replaces
 * the ones that die, reloads the configuration on SIGHUP (a new generation of workers, then
 * the old one finishes its requests and exits) and drains on SIGTERM. The master itself serves
 * no request and holds no database connection. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "fcgi/conf.h"
#include "fcgi/metrics.h"
#include "lib/privdrop.h"
#include "fcgi/worker.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/usock.h"

struct child {
	pid_t pid;
	unsigned gen;
	time_t started;
	time_t term_sent;   /* 0 while it is a current worker */
};

static struct fcgi_conf conf;
static char *sock_path, *pid_path;  /* as opened at start: a reload does not move them */
static char *abs_path;              /* the config file, absolute */
static struct child *children;
static size_t nchildren, capchildren;

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvil-fcgi -c CONFIG [--check] [-f]\n"
	    "  -c CONFIG  deployment file (doc/config.md)\n"
	    "  --check    validate the configuration and exit (0 valid, 1 not)\n"
	    "  -f         stay in the foreground and log to stderr\n");
}

static void
child_free_all(void)
{
	free(children);
	children = NULL;
	nchildren = capchildren = 0;
}

static int
spawn(int fd, unsigned gen)
{
	struct child *c;
	pid_t pid, master = getpid();

	if (nchildren == capchildren) {
		size_t ncap = capchildren ? capchildren * 2 : 16;
		struct child *tmp = realloc(children, ncap * sizeof(*children));
		if (tmp == NULL)
			return -1;
		children = tmp;
		capchildren = ncap;
	}
	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc;
		child_free_all();
		free(abs_path);
		free(sock_path);
		free(pid_path);
		/* Before dropping root: the runtime directory may be root's. */
		worker_wake_open(&conf);
		/* The master keeps root to reload its configuration; workers, which parse
		 * hostile input, run as fcgi.user. */
		if (privdrop_apply(&conf.worker_user) != AE_OK) {
			log_err("worker: cannot become fcgi.user (uid %ld): %s", (long)conf.worker_user.uid,
			    strerror(errno));
			exit(1);
		}
		/* A master killed with SIGKILL must not leave its workers serving as orphans:
		 * they would hold the socket (a new master refuses to start) and never see a
		 * reload. Its death sends them the drain's SIGTERM (blocked until worker_run,
		 * then handled there: the request in hand is finished, then the worker exits).
		 * Set after privdrop_apply, since a change of credentials clears it; and if the
		 * master died before this point no signal comes, so look. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
			log_warn("worker: PR_SET_PDEATHSIG: %s (a killed master leaves this worker "
			    "running)", strerror(errno));
		if (getppid() != master) {
			log_info("worker: the master is gone; exiting");
			exit(0);
		}
		rc = worker_run(&conf, fd);
		fcgi_conf_free(&conf);
		close(fd);
		exit(rc);
	}
	c = &children[nchildren++];
	c->pid = pid;
	c->gen = gen;
	c->started = time(NULL);
	c->term_sent = 0;
	return 0;
}

static size_t
count_current(unsigned gen)
{
	size_t n = 0;

	for (size_t i = 0; i < nchildren; i++)
		if (children[i].gen == gen && children[i].term_sent == 0)
			n++;
	return n;
}

static void
stop_children(unsigned keep_gen, int all)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < nchildren; i++) {
		struct child *c = &children[i];
		if (!all && c->gen == keep_gen)
			continue;
		/* Resent every second: a SIGTERM that lands just before a worker enters accept()
		 * would otherwise leave it waiting for one more request. */
		if (c->term_sent == 0 || now - c->term_sent >= 1) {
			kill(c->pid, SIGTERM);
			c->term_sent = now;
		}
	}
}

/* Returns the number of current-generation workers that died too young (a crash loop). */
static int
reap(unsigned gen)
{
	int status, young = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < nchildren; i++) {
			struct child *c = &children[i];
			if (c->pid != pid)
				continue;
			worker_wake_remove(&conf, pid);
			if (c->term_sent != 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_info("worker pid=%ld exited (generation %u)", (long)pid, c->gen);
			else if (WIFSIGNALED(status))
				log_warn("worker pid=%ld died on signal %d%s", (long)pid,
				    WTERMSIG(status), c->term_sent ? "" : "; replacing it");
			else
				log_warn("worker pid=%ld exited with status %d%s", (long)pid,
				    WEXITSTATUS(status), c->term_sent ? "" : "; replacing it");
			if (c->gen == gen && c->term_sent == 0 && time(NULL) - c->started < 2)
				young++;
			children[i] = children[--nchildren];
			break;
		}
	}
	return young;
}

static void
reload(const char *path, unsigned *gen, int fd)
{
	struct fcgi_conf next;
	struct conf_ctx cc;

	memset(&cc, 0, sizeof(cc));
	if (fcgi_conf_load(&cc, path, &next) != AE_OK) {
		log_err("reload refused, keeping the running configuration: %s", cc.err);
		return;
	}
	if (strcmp(next.socket, sock_path) != 0 || next.socket_mode != conf.socket_mode ||
	    next.backlog != conf.backlog)
		log_warn("reload: fcgi.socket, socket_mode and backlog apply at restart only");
	if ((next.pid_file == NULL) != (pid_path == NULL) ||
	    (next.pid_file && strcmp(next.pid_file, pid_path) != 0))
		log_warn("reload: fcgi.pid_file applies at restart only");
	log_set_level(next.log_level);
	fcgi_conf_free(&conf);
	conf = next;
	(*gen)++;
	for (int64_t i = 0; i < conf.workers; i++)
		if (spawn(fd, *gen) != 0)
			break;
	stop_children(*gen, 0);
	log_info("reloaded: generation %u, %lld workers", *gen, (long long)conf.workers);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct conf_ctx cc;
	int ch, check = 0, foreground = 0, fd = -1, rc = 1, draining = 0, wrote_pid = 0;
	unsigned gen = 1;
	time_t hold_until = 0;
	sigset_t set;

	memset(&cc, 0, sizeof(cc));
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
	/* daemon() changes to /: a reload must still find a relative -c path. */
	if ((abs_path = realpath(path, NULL)) != NULL)
		path = abs_path;
	if (fcgi_conf_load(&cc, path, &conf) != AE_OK) {
		fprintf(stderr, "anvil-fcgi: %s\n", cc.err);
		return 1;
	}
	if (check) {
		printf("anvil-fcgi: %s: configuration OK\n", path);
		rc = 0;
		goto out;
	}
	if (conf.worker_user.set && geteuid() != 0) {
		fprintf(stderr, "anvil-fcgi: %s: fcgi.user is set, so anvil-fcgi must start as root "
		    "(it switches its workers to that user)\n", path);
		goto out;
	}
	log_init("anvil-fcgi", conf.log_syslog || !foreground, conf.log_level);
	if (!foreground && daemon(0, 0) != 0) {
		fprintf(stderr, "anvil-fcgi: daemon: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sock_path = strdup(conf.socket)) == NULL ||
	    (conf.pid_file != NULL && (pid_path = strdup(conf.pid_file)) == NULL))
		goto out;
	/* Before the first fork: every worker of every generation adds to the same counters. */
	if (metrics_init() != 0)
		log_warn("metrics: cannot map the shared counters (%s); /metrics shows "
		    "anvil_metrics_shared 0", strerror(errno));
	if ((fd = usock_listen(sock_path, conf.socket_mode, (int)conf.backlog,
	    "fcgi.socket")) < 0)
		goto out;
	if (pid_path != NULL) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (file_write_durable(pid_path, pid, (size_t)n, 0644, 0) != AE_OK) {
			log_err("fcgi.pid_file %s: cannot write", pid_path);
			goto out;
		}
		wrote_pid = 1;
	}
	log_info("listening on %s with %lld workers", sock_path, (long long)conf.workers);
	for (;;) {
		struct timespec ts = { 1, 0 };
		siginfo_t si;
		time_t now = time(NULL);
		int sig;

		if (!draining && now >= hold_until)
			while (count_current(gen) < (size_t)conf.workers && spawn(fd, gen) == 0)
				;
		if (draining && nchildren == 0)
			break;
		if (draining)
			stop_children(gen, 1);
		else
			stop_children(gen, 0);
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGCHLD) {
			if (reap(gen) > 0 && !draining) {
				/* Workers dying at birth (e.g. a crash on every request): retry once
				 * a second rather than fork in a tight loop. */
				hold_until = time(NULL) + 1;
			}
		} else if (sig == SIGHUP && !draining) {
			log_info("SIGHUP: reloading %s", path);
			reload(path, &gen, fd);
		} else if (sig == SIGTERM || sig == SIGINT) {
			if (!draining)
				log_info("draining: workers finish their requests, then exit");
			draining = 1;
			stop_children(gen, 1);
		}
		(void)reap(gen);
	}
	log_info("all workers gone; exiting");
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		if (rc == 0 || draining)
			unlink(sock_path);
	}
	if (wrote_pid)
		unlink(pid_path);
	free(sock_path);
	free(pid_path);
	child_free_all();
	fcgi_conf_free(&conf);
	free(abs_path);
	return rc;
}
