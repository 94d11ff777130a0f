/* The serial journal: one precertificate and one certificate per serial, the same bytes for a
 * retry, durability across reopen, and recovery from a torn last record (a crash mid-write). */
#include "config.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ca/journal.h"
#include "t/tap.h"

int
main(void)
{
	char dir[] = "/tmp/anvil-journal-XXXXXX", path[256], err[256];
	struct journal *j = NULL;
	uint8_t s1[16], s2[16], h1[32], h2[32], *der = NULL;
	size_t dl = 0;
	struct stat st;
	off_t size_before;
	int fd;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/serials.journal", dir);
	memset(s1, 1, sizeof(s1));
	memset(s2, 2, sizeof(s2));
	memset(h1, 0xa1, sizeof(h1));
	memset(h2, 0xb2, sizeof(h2));

	ok(journal_open(dir, 1, &j, err, sizeof(err)) == AE_OK, "journal opens (creates)");
	ok(journal_reserve(j, J_PRECERT, s1, 16, h1, &der, &dl) == AE_OK, "s1 reserved");
	ok(journal_reserve(j, J_PRECERT, s1, 16, h1, &der, &dl) == AE_BUSY,
	    "the same request while it is being signed: busy");
	ok(journal_reserve(j, J_PRECERT, s1, 16, h2, &der, &dl) == AE_SIGNER_DUPLICATE,
	    "a different TBS while it is being signed: duplicate");
	ok(journal_commit(j, J_PRECERT, s1, 16, (const uint8_t *)"PRECERT-1", 9) == AE_OK,
	    "s1 committed");
	ok(journal_reserve(j, J_PRECERT, s1, 16, h1, &der, &dl) == AE_EXISTS && dl == 9 &&
	    memcmp(der, "PRECERT-1", 9) == 0, "a retry gets the same bytes");
	free(der);
	der = NULL;
	ok(journal_reserve(j, J_PRECERT, s1, 16, h2, &der, &dl) == AE_SIGNER_DUPLICATE,
	    "a different precertificate for s1: duplicate");
	ok(journal_reserve(j, J_CERT, s1, 16, h2, &der, &dl) == AE_OK,
	    "the certificate of s1 is a separate claim");
	journal_release(j, J_CERT, s1, 16);
	ok(journal_reserve(j, J_CERT, s1, 16, h1, &der, &dl) == AE_OK,
	    "a released (failed) claim leaves the serial free");
	journal_release(j, J_CERT, s1, 16);
	ok(journal_get(j, J_CERT, s1, 16, &der, &dl) == AE_NOTFOUND, "nothing committed for it");
	ok(journal_reserve(j, J_PRECERT, s2, 16, h2, &der, &dl) == AE_OK &&
	    journal_commit(j, J_PRECERT, s2, 16, (const uint8_t *)"PRECERT-2", 9) == AE_OK,
	    "s2 committed");
	journal_close(j);
	j = NULL;

	/* A crash mid-append: half a record at the end. */
	stat(path, &st);
	size_before = st.st_size;
	fd = open(path, O_WRONLY | O_APPEND);
	ok(fd >= 0 && write(fd, "AJR1\x01\x10garbage", 13) == 13, "torn record appended");
	close(fd);
	ok(journal_open(dir, 1, &j, err, sizeof(err)) == AE_OK, "journal reopens after the tear");
	stat(path, &st);
	ok(st.st_size == size_before, "the torn tail was cut off");
	ok(journal_get(j, J_PRECERT, s1, 16, &der, &dl) == AE_OK && dl == 9 &&
	    memcmp(der, "PRECERT-1", 9) == 0, "s1 survived the reopen");
	free(der);
	der = NULL;
	ok(journal_reserve(j, J_PRECERT, s2, 16, h1, &der, &dl) == AE_SIGNER_DUPLICATE,
	    "after reopen, a different precertificate for s2 is still refused");
	ok(journal_reserve(j, J_PRECERT, s2, 16, h2, &der, &dl) == AE_EXISTS &&
	    memcmp(der, "PRECERT-2", 9) == 0, "after reopen, a retry still gets the same bytes");
	free(der);
	der = NULL;
	journal_close(j);
	j = NULL;

	/* A flipped byte inside the last record: its checksum fails and it is dropped, the
	 * records before it are kept. */
	stat(path, &st);
	fd = open(path, O_RDWR);
	ok(fd >= 0 && pwrite(fd, "X", 1, st.st_size - 40) == 1, "last record corrupted");
	close(fd);
	ok(journal_open(dir, 1, &j, err, sizeof(err)) == AE_OK &&
	    journal_get(j, J_PRECERT, s1, 16, &der, &dl) == AE_OK &&
	    journal_get(j, J_PRECERT, s2, 16, &der, &dl) == AE_NOTFOUND,
	    "a corrupt last record is dropped, earlier ones kept");
	free(der);
	der = NULL;
	ok(journal_reserve(j, J_PRECERT, s2, 16, h2, &der, &dl) == AE_OK &&
	    journal_commit(j, J_PRECERT, s2, 16, (const uint8_t *)"PRECERT-2", 9) == AE_OK,
	    "s2 committed again");
	journal_close(j);
	j = NULL;

	/* Damage in the middle (the first record), intact records after it: no silent cut. */
	fd = open(path, O_RDWR);
	ok(fd >= 0 && pwrite(fd, "X", 1, 30) == 1, "first record corrupted");
	close(fd);
	stat(path, &st);
	size_before = st.st_size;
	ok(journal_open(dir, 1, &j, err, sizeof(err)) == AE_IO && j == NULL,
	    "corruption before intact records stops the start");
	stat(path, &st);
	ok(st.st_size == size_before, "and the journal is left as it was");
	unlink(path);

	/* A failed fdatasync (a failing disk): the record may be in the file, so the index must
	 * not forget it and nothing more is signed until a restart replays the file. */
	ok(journal_open(dir, 1, &j, err, sizeof(err)) == AE_OK &&
	    journal_reserve(j, J_PRECERT, s1, 16, h1, &der, &dl) == AE_OK &&
	    journal_commit(j, J_PRECERT, s1, 16, (const uint8_t *)"PRECERT-1", 9) == AE_OK,
	    "fresh journal: s1 committed");
	journal_test_fail_sync(j, 1);
	ok(journal_reserve(j, J_PRECERT, s2, 16, h2, &der, &dl) == AE_OK &&
	    journal_commit(j, J_PRECERT, s2, 16, (const uint8_t *)"PRECERT-2", 9) == AE_IO,
	    "s2: its fdatasync fails, the commit answers AE_IO");
	journal_release(j, J_PRECERT, s2, 16);  /* what ca/ops.c does on a failed commit */
	ok(journal_failed(j), "the journal reports the failure");
	ok(journal_reserve(j, J_PRECERT, s2, 16, h1, &der, &dl) == AE_IO,
	    "s2 cannot be claimed again with another TBS (it is not forgotten)");
	ok(journal_reserve(j, J_PRECERT, s2, 16, h2, &der, &dl) == AE_IO,
	    "nor with the same one: its record is not known durable");
	ok(journal_reserve(j, J_CERT, s2, 16, h2, &der, &dl) == AE_IO,
	    "no new claim at all: signing stops");
	ok(journal_reserve(j, J_PRECERT, s1, 16, h1, &der, &dl) == AE_EXISTS && dl == 9 &&
	    memcmp(der, "PRECERT-1", 9) == 0, "what was durable before is still answered");
	free(der);
	der = NULL;
	journal_close(j);
	j = NULL;
	ok(journal_open(dir, 1, &j, err, sizeof(err)) == AE_OK && !journal_failed(j),
	    "a restart replays the file");
	ok(journal_reserve(j, J_PRECERT, s2, 16, h1, &der, &dl) == AE_SIGNER_DUPLICATE,
	    "the record written before the failed sync holds s2: another TBS is a duplicate");
	ok(journal_reserve(j, J_PRECERT, s2, 16, h2, &der, &dl) == AE_EXISTS && dl == 9 &&
	    memcmp(der, "PRECERT-2", 9) == 0, "and the same TBS gets its bytes");
	free(der);
	der = NULL;
	journal_close(j);
	unlink(path);
	rmdir(dir);
	return done_testing();
}
