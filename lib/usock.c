#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "lib/log.h"
#include "lib/usock.h"

int
usock_set_perms(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	char self[64];
	struct stat st;
	int fd, rc = -1, saved;

	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISSOCK(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTSOCK;
		goto out;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0)
		goto out;
	/* No fchmod on an O_PATH descriptor; its /proc link names the inode opened above, not
	 * whatever the path names now. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (chmod(self, mode) != 0)
		goto out;
	rc = 0;
out:
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
usock_listen(const char *path, mode_t mode, int backlog, const char *key)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, probe = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("%s %s: path too long", key, path);
		goto fail;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("%s %s exists and is not a socket", key, path);
			goto fail;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			log_err("%s %s is in use by a running server", key, path);
			goto fail;
		}
		if (unlink(path) != 0) {
			log_err("%s %s: cannot remove stale socket: %s", key, path, strerror(errno));
			goto fail;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    usock_set_perms(path, mode, (uid_t)-1, (gid_t)-1) != 0 ||
	    listen(fd, backlog) != 0) {
		log_err("%s %s: %s", key, path, strerror(errno));
		goto fail;
	}
	if (probe >= 0)
		close(probe);
	return fd;
fail:
	if (probe >= 0)
		close(probe);
	if (fd >= 0)
		close(fd);
	return -1;
}
