/* lib/wake.h: a wake-up never blocks and never fails for want of a listener; a listener gets
 * each datagram; a stale socket file is replaced, anything else at the path refused. A worker's
 * socket is named after its pid next to jobs.wake_socket, and anvil-jobs accepts only that
 * name in that directory. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "lib/usock.h"
#include "lib/wake.h"
#include "t/tap.h"

int
main(void)
{
	char dir[] = "/tmp/anvil-wake-XXXXXX", path[256], file[256];
	int fd, fd2, n, pub = -1;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/jobs.wake", dir);
	snprintf(file, sizeof(file), "%s/plain", dir);
	ok(wake_send(path) == AE_OK, "no listener: AE_OK");
	ok(wake_send("/nonexistent-dir/jobs.wake") == AE_OK, "missing directory: AE_OK");
	ok(wake_send("") == AE_IO, "empty path: AE_IO");
	ok((fd = wake_listen(path, 0660)) >= 0, "listen");
	ok(wake_drain(fd, NULL) == 0, "nothing pending");
	for (int i = 0; i < 3; i++)
		wake_send(path);
	ok(wake_drain(fd, &pub) == 3 && pub == 1, "three wake-ups, three datagrams, publish asked");
	/* A job queued is not work for the OCSP and CRL publishers (jobs/main.c on_wake). */
	wake_send_job(path);
	wake_send_job(path);
	ok(wake_drain(fd, &pub) == 2 && pub == 0, "job wake-ups only: publishers left alone");
	wake_send_job(path);
	wake_send(path);
	wake_send_job(path);
	ok(wake_drain(fd, &pub) == 3 && pub == 1, "one full wake-up among job ones: publish");
	/* An older sender's datagram, whatever it holds, means everything. */
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_DGRAM, 0);

		size_t len = strlen(path);

		if (len < sizeof(sun.sun_path))
			memcpy(sun.sun_path, path, len + 1);
		ok(s >= 0 && len < sizeof(sun.sun_path) && sendto(s, "xy", 2, 0, (struct sockaddr *)&sun, sizeof(sun)) == 2 &&
		    sendto(s, "", 0, 0, (struct sockaddr *)&sun, sizeof(sun)) == 0,
		    "two unknown datagrams sent");
		if (s >= 0)
			close(s);
		ok(wake_drain(fd, &pub) == 2 && pub == 1, "unknown datagrams: publish");
	}
	/* Far more than the socket buffer holds: the sender must neither block nor fail. */
	n = 0;
	for (int i = 0; i < 100000; i++)
		n += wake_send(path) == AE_OK;
	ok(n == 100000, "a flooded listener: every send AE_OK, none blocked");
	ok(wake_drain(fd, NULL) > 0, "the listener still reads");
	close(fd);
	ok((fd2 = wake_listen(path, 0600)) >= 0, "a stale socket file is replaced");
	if (fd2 >= 0)
		close(fd2);
	if ((f = fopen(file, "w")) != NULL)
		fclose(f);
	ok(wake_listen(file, 0600) < 0, "a regular file at the path is refused");

	/* usock_set_perms (the mode and owner of every daemon's socket, set as root after bind):
	 * a symlink swapped in at the path is refused, its target left alone. */
	{
		char link[256];
		struct stat st;
		int lfd;

		snprintf(link, sizeof(link), "%s/swapped", dir);
		chmod(file, 0600);
		ok(symlink(file, link) == 0, "a symlink to a regular file");
		errno = 0;
		ok(usock_set_perms(link, 0666, (uid_t)-1, (gid_t)-1) == -1 && errno == ELOOP,
		    "usock_set_perms refuses a symlink (ELOOP)");
		ok(stat(file, &st) == 0 && (st.st_mode & 07777) == 0600,
		    "and its target keeps its mode (%o)", (unsigned)(st.st_mode & 07777));
		ok(usock_set_perms(link, 0666, getuid(), getgid()) == -1 &&
		    stat(file, &st) == 0 && (st.st_mode & 07777) == 0600,
		    "with an owner too: refused, target unchanged");
		errno = 0;
		ok(usock_set_perms(file, 0666, (uid_t)-1, (gid_t)-1) == -1 && errno == ENOTSOCK,
		    "a regular file is refused (ENOTSOCK)");
		ok((lfd = wake_listen(path, 0600)) >= 0 &&
		    usock_set_perms(path, 0640, getuid(), getgid()) == 0 &&
		    lstat(path, &st) == 0 && (st.st_mode & 07777) == 0640,
		    "a socket gets its mode (%o)", (unsigned)(st.st_mode & 07777));
		if (lfd >= 0)
			close(lfd);
		unlink(link);
	}
	unlink(path);
	unlink(file);
	rmdir(dir);

	{
		char w[WAKE_PATH_MAX + 1], small[16], longdir[200];

		ok(wake_worker_path(w, sizeof(w), "/run/anvil/jobs.wake", 4242) == AE_OK &&
		    strcmp(w, "/run/anvil/anvil-fcgi.4242.wake") == 0, "worker path next to jobs'");
		ok(wake_worker_path_ok("/run/anvil/jobs.wake", w), "accepted by the runner");
		ok(wake_worker_path(small, sizeof(small), "/run/anvil/jobs.wake", 1) == AE_TOOBIG,
		    "a short buffer: AE_TOOBIG");
		memset(longdir, 'd', sizeof(longdir) - 1);
		longdir[0] = '/';
		longdir[100] = '/';
		longdir[101] = 'j';
		longdir[102] = '\0';
		ok(wake_worker_path(w, sizeof(w), longdir, 1234567) == AE_TOOBIG,
		    "over sun_path: AE_TOOBIG");
		ok(wake_worker_path(w, sizeof(w), "jobs.wake", 1) == AE_PARSE, "no directory");
		ok(!wake_worker_path_ok("/run/anvil/jobs.wake", "/run/other/anvil-fcgi.1.wake"),
		    "another directory: refused");
		ok(!wake_worker_path_ok("/run/anvil/jobs.wake", "/run/anvil/x/anvil-fcgi.1.wake"),
		    "a subdirectory: refused");
		ok(!wake_worker_path_ok("/run/anvil/jobs.wake", "/run/anvil/../anvil-fcgi.1.wake"),
		    "dot-dot: refused");
		ok(!wake_worker_path_ok("/run/anvil/jobs.wake", "/run/anvilx/anvil-fcgi.1.wake"),
		    "a directory with the same prefix: refused");
		ok(!wake_worker_path_ok("/run/anvil/jobs.wake", "/run/anvil/jobs.wake"),
		    "jobs' own socket: refused");
		ok(!wake_worker_path_ok("/run/anvil/jobs.wake", "/run/anvil/anvil-fcgi..wake"),
		    "no pid: refused");
		ok(!wake_worker_path_ok("/run/anvil/jobs.wake", "/run/anvil/anvil-fcgi.1x.wake"),
		    "not digits: refused");
		ok(!wake_worker_path_ok(NULL, "/run/anvil/anvil-fcgi.1.wake"),
		    "no jobs.wake_socket: refused");
	}
	return done_testing();
}
