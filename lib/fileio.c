#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fileio.h"

static anvil_err
fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	anvil_err e = AE_OK;
	int fd;

	if (copy == NULL)
		return AE_NOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		e = AE_IO;
	if (fd >= 0)
		close(fd);
	free(copy);
	return e;
}

anvil_err
file_write_durable(const char *path, const void *data, size_t len, mode_t mode, int no_replace)
{
	char tmp[4096];
	const unsigned char *p = data;
	anvil_err e = AE_IO;
	int fd = -1;

	if (no_replace && access(path, F_OK) == 0)
		return AE_EXISTS;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return AE_TOOBIG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		goto out;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (no_replace) {
		/* link() fails if path exists, so a racing writer cannot be overwritten. */
		if (link(tmp, path) != 0) {
			e = errno == EEXIST ? AE_EXISTS : AE_IO;
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		goto out;
	}
	e = fsync_dir_of(path);
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return e;
}
