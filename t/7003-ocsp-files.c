/* ocsp/publish.c: where responses go and how they are replaced. A name from the database
 * (issuer, serial) can only ever name one file in one issuer directory; a publish leaves the
 * new bytes and nothing else; a staged file is invisible until renamed; the sweep removes only
 * staged files older than its cut-off. */
#include "config.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "ocsp/publish.h"
#include "t/tap.h"

static char root[256];

static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int
content_is(const char *path, const char *want)
{
	char buf[64];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return n == strlen(want) && memcmp(buf, want, n) == 0;
}

int
main(void)
{
	static const char *const bad[][2] = {
		{ "..", "01ab" }, { "int-ec", ".." }, { "int-ec", "../x" }, { "a/b", "01" },
		{ "", "01" }, { "int-ec", "" }, { "int-ec", ".tmp" }, { "-x", "01" },
		{ "int-ec", "01ab.tmp" },
	};
	char path[OCSP_PATH_MAX], tdir[512], p2[OCSP_PATH_MAX];
	struct ocsp_staged st;
	size_t n = 0;

	snprintf(root, sizeof(root), "/tmp/anvil-t7001-%ld", (long)getpid());
	if (mkdir(root, 0755) != 0)
		return 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(ocsp_file_path(path, sizeof(path), root, bad[i][0], bad[i][1]) == AE_PARSE,
		    "issuer \"%s\" serial \"%s\": refused", bad[i][0], bad[i][1]);
	ok(ocsp_file_path(path, 8, root, "int-ec", "01ab") == AE_TOOBIG, "too long: AE_TOOBIG");
	ok(ocsp_file_path(path, sizeof(path), root, "int-ec", "01ab") == AE_OK &&
	    strcmp(path + strlen(root), "/int-ec/01ab") == 0, "dir/<issuer>/<serial>");

	ok(ocsp_publish(root, "int-ec", "01ab", (const uint8_t *)"first", 5) == AE_OK,
	    "published (the issuer directory made)");
	ok(content_is(path, "first"), "the file holds the bytes");
	ok(ocsp_publish(root, "int-ec", "01ab", (const uint8_t *)"second", 6) == AE_OK &&
	    content_is(path, "second"), "published again: replaced");
	snprintf(tdir, sizeof(tdir), "%s/int-ec/.tmp", root);
	ok(entries(tdir) == 0, "nothing left in .tmp");

	ok(ocsp_stage(&st, root, "int-ec", "01ab", (const uint8_t *)"third", 5) == AE_OK &&
	    st.live, "staged");
	ok(content_is(path, "second") && entries(tdir) == 1, "staged: not visible yet");
	ocsp_stage_abort(&st);
	ok(content_is(path, "second") && entries(tdir) == 0, "aborted: gone, old response kept");
	ok(ocsp_stage(&st, root, "int-ec", "01ab", (const uint8_t *)"third", 5) == AE_OK &&
	    ocsp_stage_commit(&st) == AE_OK && ocsp_dir_sync(root, "int-ec") == AE_OK &&
	    content_is(path, "third") && entries(tdir) == 0, "staged, renamed: replaced");
	ocsp_stage_abort(&st);
	ok(content_is(path, "third"), "abort after commit is harmless");

	/* Two staged files, one old: the sweep takes only that one. */
	ok(ocsp_stage(&st, root, "int-ec", "02", (const uint8_t *)"old", 3) == AE_OK, "stage");
	{
		struct timeval tv[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
		snprintf(p2, sizeof(p2), "%s", st.tmp);
		utimes(p2, tv);
	}
	ok(ocsp_stage(&st, root, "int-ec", "03", (const uint8_t *)"new", 3) == AE_OK, "stage");
	ok(ocsp_stage_sweep(root, "int-ec", (int64_t)time(NULL) - 600, &n) == AE_OK && n == 1 &&
	    access(p2, F_OK) != 0 && access(st.tmp, F_OK) == 0,
	    "sweep: the old staged file removed, the recent one kept");
	ocsp_stage_abort(&st);
	ok(ocsp_stage_sweep(root, "no-such", 0, &n) == AE_OK && n == 0,
	    "sweep of an issuer never published: nothing");

	ok(ocsp_unpublish(root, "int-ec", "01ab") == AE_OK && access(path, F_OK) != 0,
	    "unpublished");
	ok(ocsp_unpublish(root, "int-ec", "01ab") == AE_OK, "again: still AE_OK");
	ok(ocsp_unpublish(root, "int-ec", "../../etc") == AE_PARSE, "unpublish of a bad name: "
	    "refused");

	rmdir(tdir);
	snprintf(p2, sizeof(p2), "%s/int-ec", root);
	rmdir(p2);
	rmdir(root);
	return done_testing();
}
