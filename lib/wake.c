#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "lib/usock.h"
#include "lib/wake.h"

static int
wake_addr(const char *path, struct sockaddr_un *sun)
{
	size_t n = path != NULL ? strlen(path) : 0;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, n + 1);
	return 0;
}

#define WAKE_JOB 'j'    /* wake_send_job */
#define WAKE_ALL 'w'    /* wake_send */

static anvil_err
send_kind(const char *path, char kind)
{
	struct sockaddr_un sun;
	anvil_err e = AE_IO;
	int fd = -1;

	if (wake_addr(path, &sun) != 0)
		goto out;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto out;
	/* Not running, restarting, or already flooded with wake-ups: the job waits in the table
	 * for the next poll either way, so none of these is the caller's problem. */
	if (sendto(fd, &kind, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    sizeof(sun)) != 1 && errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN &&
	    errno != EWOULDBLOCK && errno != ENOBUFS && errno != ENOTDIR && errno != EACCES)
		goto out;
	e = AE_OK;
out:
	if (fd >= 0)
		close(fd);
	return e;
}

anvil_err
wake_send(const char *path)
{
	return send_kind(path, WAKE_ALL);
}

anvil_err
wake_send_job(const char *path)
{
	return send_kind(path, WAKE_JOB);
}

int
wake_listen(const char *path, mode_t mode)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1;

	if (wake_addr(path, &sun) != 0)
		goto fail;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || unlink(path) != 0)
			goto fail;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    usock_set_perms(path, mode, (uid_t)-1, (gid_t)-1) != 0)
		goto fail;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int
wake_drain(int fd, int *publish)
{
	char b[64];
	ssize_t len;
	int n = 0;

	if (publish != NULL)
		*publish = 0;
	while (n < 100000 && (len = recv(fd, b, sizeof(b), MSG_DONTWAIT)) >= 0) {
		if (publish != NULL && (len != 1 || b[0] != WAKE_JOB))
			*publish = 1;
		n++;
	}
	return n;
}

#define WORKER_PREFIX "anvil-fcgi."
#define WORKER_SUFFIX ".wake"

/* Length of jobs_sock's directory part without the last slash ("/" for "/x"), or -1. */
static long
dir_len(const char *jobs_sock)
{
	const char *slash = jobs_sock != NULL ? strrchr(jobs_sock, '/') : NULL;

	return slash == NULL ? -1 : (long)(slash - jobs_sock);
}

anvil_err
wake_worker_path(char *out, size_t cap, const char *jobs_sock, long pid)
{
	long d = dir_len(jobs_sock);
	int n;

	if (d < 0 || cap == 0)
		return AE_PARSE;
	n = snprintf(out, cap, "%.*s/" WORKER_PREFIX "%ld" WORKER_SUFFIX, (int)d, jobs_sock, pid);
	if (n < 0 || (size_t)n >= cap || n > WAKE_PATH_MAX) {
		out[0] = '\0';
		return AE_TOOBIG;
	}
	return AE_OK;
}

int
wake_worker_path_ok(const char *jobs_sock, const char *path)
{
	long d = dir_len(jobs_sock);
	size_t plen = sizeof(WORKER_PREFIX) - 1, slen = sizeof(WORKER_SUFFIX) - 1, n, digits;
	const char *name;

	if (d < 0 || path == NULL || (n = strlen(path)) > WAKE_PATH_MAX || n <= (size_t)d ||
	    strncmp(path, jobs_sock, (size_t)d) != 0 || path[d] != '/')
		return 0;
	name = path + d + 1;
	n = strlen(name);
	if (n <= plen + slen || strncmp(name, WORKER_PREFIX, plen) != 0 ||
	    strcmp(name + n - slen, WORKER_SUFFIX) != 0)
		return 0;
	digits = n - plen - slen;
	if (digits > 10)
		return 0;
	for (size_t i = 0; i < digits; i++)
		if (name[plen + i] < '0' || name[plen + i] > '9')
			return 0;
	return 1;
}
