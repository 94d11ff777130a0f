/* What the filesystem under ocsp.dir charges per certificate for its first OCSP response: N
 * calls of ocsp_publish (issue/status.c's call: a new file written, synced, renamed into place,
 * the directory synced), the process's CPU and wall time per call. The same work is done by
 * anvil-fcgi in every finalize, so this is the part of "server CPU per certificate" that the
 * disk, not Anvil, decides (doc/benchmarks.md).
 *
 *     tools/bench/anvil-bench-publish DIR [COUNT]
 *
 * DIR is created if missing and must not hold anything of value: COUNT files are written
 * under DIR/bench/ and removed afterwards. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ocsp/publish.h"

static double
cpu_s(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 +
	    (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static double
wall_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void
clean(const char *dir)
{
	char path[OCSP_PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/bench", dir) >= (int)sizeof(path) ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char f[OCSP_PATH_MAX * 2];

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(f, sizeof(f), "%s/%s", path, de->d_name) < (int)sizeof(f))
			unlink(f);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	uint8_t der[512];
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
	double c0, w0;

	if (argc < 2 || n <= 0 || n > 1000000) {
		fprintf(stderr, "usage: %s DIR [COUNT 1..1000000]\n", argv[0]);
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* The size of a typical first response (one SingleResponse, ECDSA signature). */
	memset(der, 0x30, sizeof(der));
	c0 = cpu_s();
	w0 = wall_s();
	for (long i = 0; i < n; i++) {
		char serial[40];

		snprintf(serial, sizeof(serial), "%08lx%08lx%016lx", i * 2654435761UL, (long)getpid(), i);
		if (ocsp_publish(argv[1], "bench", serial, der, sizeof(der)) != AE_OK) {
			fprintf(stderr, "ocsp_publish under %s failed after %ld files: %s\n", argv[1], i,
			    strerror(errno));
			clean(argv[1]);
			return 1;
		}
	}
	printf("ocsp_publish under %s: %ld files, CPU %.1f us and wall %.1f us per file\n",
	    argv[1], n, (cpu_s() - c0) / (double)n * 1e6, (wall_s() - w0) / (double)n * 1e6);
	clean(argv[1]);
	return 0;
}
