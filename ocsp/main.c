/* anvil-ocsp master: opens ocsp.responder.socket, preforks ocsp.responder.workers workers on it,
 * replaces the ones that die and drains on SIGTERM. It holds no database connection and no key;
 * a change of the configuration (or of an issuer certificate) applies at restart. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "lib/log.h"
#include "lib/usock.h"
#include "ocsp/responder.h"

#define WORKERS_MAX 256

static pid_t kids[WORKERS_MAX];
static time_t born[WORKERS_MAX];

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvil-ocsp -c CONFIG [--check] [-f]\n"
	    "  -c CONFIG  deployment file (doc/config.md: ocsp, issuers)\n"
	    "  --check    validate the configuration and exit (0 valid, 1 not)\n"
	    "  -f         stay in the foreground and log to stderr\n");
}

static int
spawn(struct responder_conf *c, int fd, size_t slot)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc = responder_worker_run(c, fd);
		responder_conf_free(c);
		close(fd);
		exit(rc);
	}
	kids[slot] = pid;
	born[slot] = time(NULL);
	return 0;
}

static size_t
alive(size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += kids[i] != 0;
	return k;
}

/* Returns how many died within a second of birth (a crash loop: slow down). */
static int
reap(size_t n, int draining)
{
	int status, young = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < n; i++) {
			if (kids[i] != pid)
				continue;
			if (!draining || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warn("worker pid=%ld ended (%s %d)%s", (long)pid,
				    WIFSIGNALED(status) ? "signal" : "status",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				    draining ? "" : "; replacing it");
			if (time(NULL) - born[i] < 1)
				young++;
			kids[i] = 0;
		}
	return young;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct responder_conf conf;
	const char *path = NULL;
	struct conf_ctx cc;
	int ch, check = 0, foreground = 0, fd = -1, rc = 1, draining = 0;
	time_t hold_until = 0, term_sent = 0;
	size_t n;
	sigset_t set;

	memset(&cc, 0, sizeof(cc));
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
	n = (size_t)conf.ocsp.responder.workers;
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
	if ((fd = usock_listen(conf.ocsp.responder.socket, conf.ocsp.responder.socket_mode, 1024,
	    "ocsp.responder.socket")) < 0)
		goto out;
	log_info("listening on %s with %zu workers, %zu issuers, responses in %s",
	    conf.ocsp.responder.socket, n, conf.issuers.n, conf.ocsp.dir);
	for (;;) {
		struct timespec ts = { 1, 0 };
		siginfo_t si;
		int sig;

		if (!draining && time(NULL) >= hold_until)
			for (size_t i = 0; i < n; i++)
				if (kids[i] == 0 && spawn(&conf, fd, i) != 0)
					break;
		if (draining) {
			if (alive(n) == 0)
				break;
			/* Resent every second: a worker may have been between its check of the
			 * flag and accept() when the first one came. */
			if (time(NULL) != term_sent) {
				for (size_t i = 0; i < n; i++)
					if (kids[i] != 0)
						kill(kids[i], SIGTERM);
				term_sent = time(NULL);
			}
		}
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGHUP)
			log_warn("SIGHUP: anvil-ocsp applies configuration changes at restart");
		else if (sig == SIGTERM || sig == SIGINT)
			draining = 1;
		if (reap(n, draining) > 0 && !draining)
			hold_until = time(NULL) + 1;
	}
	log_info("all workers gone; exiting");
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(conf.ocsp.responder.socket);
	}
	responder_conf_free(&conf);
	return rc;
}
