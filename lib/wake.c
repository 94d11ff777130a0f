#include "config.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

anvil_err
wake_send(const char *path)
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
	if (sendto(fd, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    sizeof(sun)) != 1 && errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN &&
	    errno != EWOULDBLOCK && errno != ENOBUFS && errno != ENOTDIR && errno != EACCES)
		goto out;
	e = AE_OK;
out:
	if (fd >= 0)
		close(fd);
	return e;
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
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || chmod(path, mode) != 0)
		goto fail;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int
wake_drain(int fd)
{
	char b[64];
	int n = 0;

	while (n < 100000 && recv(fd, b, sizeof(b), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}
