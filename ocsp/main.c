/* anvil-ocsp master: opens ocsp.responder.socket, preforks ocsp.responder.workers workers on it,
 * replaces the ones that die, reloads on SIGHUP (a new generation of workers with the new
 * configuration and issuer certificates, then the old one finishes its requests and exits) and
 * drains on SIGTERM. It holds no database connection and no key. */
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
#include "lib/log.h"
#include "lib/usock.h"
#include "ocsp/responder.h"

/* Two generations at most: the current one and the one a reload is retiring. */
#define KIDS_MAX 512

struct kid {
	pid_t pid;          /* 0: free slot */
	unsigned gen;
	time_t born;
	time_t term_sent;   /* 0 while it belongs to the current generation */
};

static struct kid kids[KIDS_MAX];
static struct responder_conf conf;
static char *abs_path, *sock_path;  /* as at start: a reload does not move the socket */

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvil-ocsp -c CONFIG [--check] [-f]\n"
	    "  -c CONFIG  deployment file (doc/config.md: ocsp, issuers)\n"
	    "  --check    validate the configuration and exit (0 valid, 1 not)\n"
	    "  -f         stay in the foreground and log to stderr\n");
}

static int
spawn(int fd, unsigned gen)
{
	struct kid *k = NULL;
	pid_t pid, master = getpid();

	for (size_t i = 0; i < KIDS_MAX && k == NULL; i++)
		if (kids[i].pid == 0)
			k = &kids[i];
	if (k == NULL)
		return -1;
	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc;

		/* As anvil-fcgi's workers: a master killed with SIGKILL must not leave workers
		 * holding the socket; its death sends them the drain's SIGTERM (blocked until the
		 * worker's loop handles it after the request in hand). If it died before this point
		 * no signal comes, so look. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
			log_warn("worker: PR_SET_PDEATHSIG: %s (a killed master leaves this worker "
			    "running)", strerror(errno));
		if (getppid() != master)
			exit(0);
		rc = responder_worker_run(&conf, fd);
		responder_conf_free(&conf);
		free(abs_path);
		free(sock_path);
		close(fd);
		exit(rc);
	}
	k->pid = pid;
	k->gen = gen;
	k->born = time(NULL);
	k->term_sent = 0;
	return 0;
}

static size_t
count(unsigned gen, int current_only)
{
	size_t n = 0;

	for (size_t i = 0; i < KIDS_MAX; i++)
		if (kids[i].pid != 0 && (!current_only ||
		    (kids[i].gen == gen && kids[i].term_sent == 0)))
			n++;
	return n;
}

/* SIGTERM to every worker not of generation keep (all with keep_none), again each second: one
 * that was between its check of the flag and accept() when the first came is still waiting. */
static void
stop_kids(unsigned keep, int keep_none)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < KIDS_MAX; i++) {
		struct kid *k = &kids[i];
		if (k->pid == 0 || (!keep_none && k->gen == keep))
			continue;
		if (k->term_sent == 0 || now - k->term_sent >= 1) {
			kill(k->pid, SIGTERM);
			k->term_sent = now;
		}
	}
}

/* Returns how many current workers died within a second of birth (a crash loop: slow down). */
static int
reap(unsigned gen)
{
	int status, young = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < KIDS_MAX; i++) {
			struct kid *k = &kids[i];
			if (k->pid != pid)
				continue;
			if (k->term_sent == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warn("worker pid=%ld ended (%s %d)%s", (long)pid,
				    WIFSIGNALED(status) ? "signal" : "status",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				    k->term_sent ? "" : "; replacing it");
			if (k->gen == gen && k->term_sent == 0 && time(NULL) - k->born < 1)
				young++;
			k->pid = 0;
		}
	return young;
}

static void
reload(const char *path, unsigned *gen, int fd)
{
	struct responder_conf next;
	struct conf_ctx cc;

	memset(&cc, 0, sizeof(cc));
	cc.file = path;
	if (responder_conf_load(&cc, path, &next) != AE_OK) {
		log_err("reload refused, keeping the running configuration: %s", cc.err);
		responder_conf_free(&next);
		return;
	}
	if (strcmp(next.ocsp.responder.socket, sock_path) != 0 ||
	    next.ocsp.responder.socket_mode != conf.ocsp.responder.socket_mode)
		log_warn("reload: ocsp.responder.socket and socket_mode apply at restart only");
	log_set_level(next.log_level);
	responder_conf_free(&conf);
	conf = next;
	(*gen)++;
	for (int64_t i = 0; i < conf.ocsp.responder.workers; i++)
		if (spawn(fd, *gen) != 0)
			break;
	stop_kids(*gen, 0);
	log_info("reloaded: generation %u, %lld workers, %zu issuers", *gen,
	    (long long)conf.ocsp.responder.workers, conf.issuers.n);
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
	int ch, check = 0, foreground = 0, fd = -1, rc = 1, draining = 0;
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
	cc.file = path;
	if (responder_conf_load(&cc, path, &conf) != AE_OK) {
		fprintf(stderr, "anvil-ocsp: %s\n", cc.err);
		goto out;
	}
	if (check) {
		printf("anvil-ocsp: %s: configuration OK\n", path);
		rc = 0;
		goto out;
	}
	if ((sock_path = strdup(conf.ocsp.responder.socket)) == NULL)
		goto out;
	log_init("anvil-ocsp", conf.log_syslog || !foreground, conf.log_level);
	if (!foreground && daemon(0, 0) != 0) {
		fprintf(stderr, "anvil-ocsp: daemon: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((fd = usock_listen(sock_path, conf.ocsp.responder.socket_mode, 1024,
	    "ocsp.responder.socket")) < 0)
		goto out;
	log_info("listening on %s with %lld workers, %zu issuers, responses in %s", sock_path,
	    (long long)conf.ocsp.responder.workers, conf.issuers.n, conf.ocsp.dir);
	for (;;) {
		struct timespec ts = { 1, 0 };
		siginfo_t si;
		int sig;

		if (!draining && time(NULL) >= hold_until)
			while (count(gen, 1) < (size_t)conf.ocsp.responder.workers &&
			    spawn(fd, gen) == 0)
				;
		if (draining && count(gen, 0) == 0)
			break;
		stop_kids(gen, draining);
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGHUP && !draining) {
			log_info("SIGHUP: reloading %s", path);
			reload(path, &gen, fd);
		} else if (sig == SIGTERM || sig == SIGINT) {
			if (!draining)
				log_info("draining: workers finish their requests, then exit");
			draining = 1;
			stop_kids(gen, 1);
		}
		if (reap(gen) > 0 && !draining)
			hold_until = time(NULL) + 1;
	}
	log_info("all workers gone; exiting");
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(sock_path);
	}
	responder_conf_free(&conf);
	free(sock_path);
	free(abs_path);
	return rc;
}
