#include "config.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "lib/log.h"
#include "lib/usock.h"

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
	    chmod(path, mode) != 0 || listen(fd, backlog) != 0) {
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
