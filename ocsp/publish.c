#include "config.h"
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ocsp/publish.h"

/* Distinct temporary names for the threads of one process (finalize lanes, refresher
 * workers) and for processes on other hosts sharing the directory. */
static atomic_uint stage_seq;

/* A single path component: an issuer name or a lowercase hex serial. */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n && s[0] != '-';
}

anvil_err
ocsp_file_path(char *out, size_t cap, const char *dir, const char *issuer, const char *serial)
{
	int n;

	if (!name_ok(issuer) || !name_ok(serial))
		return AE_PARSE;
	n = snprintf(out, cap, "%s/%s/%s", dir, issuer, serial);
	return n < 0 || (size_t)n >= cap ? AE_TOOBIG : AE_OK;
}

static anvil_err
issuer_dir(char *out, size_t cap, const char *dir, const char *issuer)
{
	int n;

	if (!name_ok(issuer))
		return AE_PARSE;
	n = snprintf(out, cap, "%s/%s", dir, issuer);
	return n < 0 || (size_t)n >= cap ? AE_TOOBIG : AE_OK;
}

anvil_err
ocsp_stage(struct ocsp_staged *st, const char *dir, const char *issuer, const char *serial,
    const uint8_t *der, size_t len)
{
	char idir[OCSP_PATH_MAX], tdir[OCSP_PATH_MAX];
	anvil_err e;
	int fd = -1, n;

	st->live = 0;
	if ((e = ocsp_file_path(st->path, sizeof(st->path), dir, issuer, serial)) != AE_OK ||
	    (e = issuer_dir(idir, sizeof(idir), dir, issuer)) != AE_OK)
		return e;
	n = snprintf(tdir, sizeof(tdir), "%s/.tmp", idir);
	if (n < 0 || (size_t)n >= sizeof(tdir))
		return AE_TOOBIG;
	/* Group-writable as far as the umask allows: anvil-fcgi (first responses) and anvil-jobs
	 * (refreshes) are two users of one group writing the same issuer directories (init/,
	 * doc/install.md: UMask=0002). */
	if ((mkdir(idir, 0775) != 0 && errno != EEXIST) ||
	    (mkdir(tdir, 0775) != 0 && errno != EEXIST))
		return AE_IO;
	n = snprintf(st->tmp, sizeof(st->tmp), "%s/%s.%ld.%u", tdir, serial, (long)getpid(),
	    atomic_fetch_add(&stage_seq, 1));
	if (n < 0 || (size_t)n >= sizeof(st->tmp))
		return AE_TOOBIG;
	if ((fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return AE_IO;
	st->live = 1;
	e = AE_IO;
	while (len > 0) {
		ssize_t w = write(fd, der, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		der += w;
		len -= (size_t)w;
	}
	if (fsync(fd) == 0)
		e = AE_OK;
out:
	if (close(fd) != 0)
		e = AE_IO;
	if (e != AE_OK)
		ocsp_stage_abort(st);
	return e;
}

anvil_err
ocsp_stage_commit(struct ocsp_staged *st)
{
	if (!st->live)
		return AE_INTERNAL;
	if (rename(st->tmp, st->path) != 0) {
		ocsp_stage_abort(st);
		return AE_IO;
	}
	st->live = 0;
	return AE_OK;
}

void
ocsp_stage_abort(struct ocsp_staged *st)
{
	if (st->live)
		unlink(st->tmp);
	st->live = 0;
}

anvil_err
ocsp_dir_sync(const char *dir, const char *issuer)
{
	char idir[OCSP_PATH_MAX];
	anvil_err e;
	int fd;

	if ((e = issuer_dir(idir, sizeof(idir), dir, issuer)) != AE_OK)
		return e;
	if ((fd = open(idir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return AE_IO;
	e = fsync(fd) == 0 ? AE_OK : AE_IO;
	close(fd);
	return e;
}

anvil_err
ocsp_stage_sweep(const char *dir, const char *issuer, int64_t older_than, size_t *removed)
{
	char tdir[OCSP_PATH_MAX];
	struct dirent *de;
	anvil_err e;
	DIR *d;
	int dfd, n;

	*removed = 0;
	if ((e = issuer_dir(tdir, sizeof(tdir), dir, issuer)) != AE_OK)
		return e;
	n = snprintf(tdir + strlen(tdir), sizeof(tdir) - strlen(tdir), "/.tmp");
	if (n < 0 || (size_t)n >= sizeof(tdir) - strlen(tdir))
		return AE_TOOBIG;
	if ((d = opendir(tdir)) == NULL)
		return errno == ENOENT ? AE_OK : AE_IO;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode) && (int64_t)sb.st_mtime < older_than &&
		    unlinkat(dfd, de->d_name, 0) == 0)
			(*removed)++;
	}
	closedir(d);
	return AE_OK;
}

anvil_err
ocsp_publish(const char *dir, const char *issuer, const char *serial, const uint8_t *der,
    size_t len)
{
	struct ocsp_staged st;
	anvil_err e;

	if ((e = ocsp_stage(&st, dir, issuer, serial, der, len)) != AE_OK ||
	    (e = ocsp_stage_commit(&st)) != AE_OK)
		return e;
	return ocsp_dir_sync(dir, issuer);
}

anvil_err
ocsp_unpublish(const char *dir, const char *issuer, const char *serial)
{
	char path[OCSP_PATH_MAX];
	anvil_err e;

	if ((e = ocsp_file_path(path, sizeof(path), dir, issuer, serial)) != AE_OK)
		return e;
	if (unlink(path) != 0 && errno != ENOENT)
		return AE_IO;
	return AE_OK;
}
