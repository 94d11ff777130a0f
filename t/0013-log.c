/* lib/log.c keeps the pid it prints instead of asking the kernel per line: a process forked
 * after log_init (anvil-fcgi's and anvil-ocsp's workers, daemon()) must print its own pid,
 * not its parent's. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lib/log.h"
#include "t/tap.h"

/* The pid in "... anvil-test[PID] info ..." of the line f holds; -1 if none. */
static long
pid_in(FILE *f)
{
	char line[512];
	const char *b;

	rewind(f);
	if (fgets(line, sizeof(line), f) == NULL || (b = strstr(line, "anvil-test[")) == NULL)
		return -1;
	return strtol(b + strlen("anvil-test["), NULL, 10);
}

/* Runs fn with stderr sent to a temporary file and returns the pid of the line it logged. */
static long
logged_pid(void (*fn)(void))
{
	FILE *f = tmpfile();
	int saved = dup(2);
	long pid;

	if (f == NULL || saved < 0)
		return -1;
	fflush(stderr);
	dup2(fileno(f), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	pid = pid_in(f);
	fclose(f);
	return pid;
}

static void
say(void)
{
	log_info("hello");
}

int
main(void)
{
	long parent;
	pid_t pid;
	int p[2], st = 0;

	log_init("anvil-test", 0, LOG_LVL_INFO);
	parent = logged_pid(say);
	ok(parent == (long)getpid(), "a line carries the process's pid (%ld)", parent);
	if (pipe(p) != 0)
		return 1;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		long child = logged_pid(say);
		ssize_t n = write(p[1], &child, sizeof(child));
		_exit(n == (ssize_t)sizeof(child) ? 0 : 1);
	}
	{
		long child = -1;
		ssize_t n = read(p[0], &child, sizeof(child));
		waitpid(pid, &st, 0);
		ok(n == (ssize_t)sizeof(child) && child == (long)pid,
		    "a child forked after log_init prints its own pid (%ld, fork gave %ld)", child,
		    (long)pid);
	}
	ok(logged_pid(say) == (long)getpid(), "the parent's lines keep its pid");
	return done_testing();
}
