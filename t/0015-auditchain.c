/* The audit chain (lib/auditchain.h): appends from threads and from two handles of one file
 * (two processes) make one whole chain; a reopened file continues it; a torn last line is cut
 * at open; a record's text cannot forge a line break; verify names what breaks. */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/auditchain.h"
#include "t/tap.h"

#define THREADS 4
#define PER_THREAD 100

static char path[64];

static anvil_err
verify_file(struct audit_verify *v)
{
	FILE *f = fopen(path, "r");
	anvil_err e;

	if (f == NULL)
		return AE_IO;
	e = auditchain_verify(f, v);
	fclose(f);
	return e;
}

static void *
appender(void *arg)
{
	struct auditchain *a = arg;
	char text[64];
	int fails = 0;

	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(text, sizeof(text), "event=test thread=%p i=%d", (void *)&text, i);
		if (auditchain_append(a, text, NULL, NULL) != AE_OK)
			fails++;
	}
	return (void *)(intptr_t)fails;
}

static void
append_raw(const char *bytes)
{
	FILE *f = fopen(path, "a");
	if (f != NULL) {
		fputs(bytes, f);
		fclose(f);
	}
}

int
main(void)
{
	struct auditchain *a = NULL, *b = NULL;
	struct audit_verify v;
	pthread_t th[THREADS];
	char err[256], hash[AUDIT_HASH_HEX], head[AUDIT_HASH_HEX];
	uint64_t seq = 0;
	int fails = 0;
	int fd;

	snprintf(path, sizeof(path), "/tmp/anvil-auditchain.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return 1;
	close(fd);
	ok(auditchain_open(path, 1, &a, err, sizeof(err)) == AE_OK, "open an empty file");
	ok(verify_file(&v) == AE_OK && v.records == 0, "an empty chain verifies");
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, appender, a);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		fails += (int)(intptr_t)r;
	}
	ok(fails == 0, "%d threads appended with fdatasync", THREADS);
	ok(verify_file(&v) == AE_OK && v.records == THREADS * PER_THREAD,
	    "one whole chain of %llu records", (unsigned long long)v.records);

	/* Two handles of one file, as the signer and anvilctl or two anvilctl runs. */
	ok(auditchain_open(path, 0, &b, err, sizeof(err)) == AE_OK, "a second handle opens");
	for (int i = 0; i < 10; i++) {
		auditchain_append(a, "event=from_a", NULL, NULL);
		auditchain_append(b, "event=from_b", &seq, hash);
	}
	ok(seq == THREADS * PER_THREAD + 20, "interleaved handles count one seq (%llu)",
	    (unsigned long long)seq);
	ok(verify_file(&v) == AE_OK && v.records == seq && strcmp(v.head, hash) == 0,
	    "interleaved appends chain; the head is the last append's hash");
	auditchain_close(b);
	auditchain_close(a);
	memcpy(head, hash, sizeof(head));

	/* A crash mid-write leaves a torn line; the next open cuts it and continues the chain. */
	append_raw("seq=999 time=x prev=torn");
	ok(verify_file(&v) == AE_PARSE && strstr(v.why, "torn") != NULL &&
	    v.bad_line == seq + 1, "verify names the torn last line (%s)", v.why);
	ok(auditchain_open(path, 1, &a, err, sizeof(err)) == AE_OK, "reopen cuts a torn tail");
	ok(auditchain_append(a, "event=after\nseq=1 forged", &seq, hash) == AE_OK &&
	    seq == THREADS * PER_THREAD + 21, "the reopened chain continues at seq %llu",
	    (unsigned long long)seq);
	ok(verify_file(&v) == AE_OK && v.records == seq, "and still verifies as one chain");
	auditchain_close(a);
	{
		FILE *f = fopen(path, "r");
		char line[AUDIT_LINE_MAX], last[AUDIT_LINE_MAX] = "";
		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			memcpy(last, line, sizeof(last));
		if (f != NULL)
			fclose(f);
		ok(strstr(last, "event=after?seq=1 forged") != NULL &&
		    strstr(last, head) != NULL,
		    "a newline in the text becomes '?'; the record links to the head before it");
	}

	/* Garbage where a record should be. */
	append_raw("not a record\n");
	ok(verify_file(&v) == AE_PARSE && v.bad_line == seq + 1 &&
	    strstr(v.why, "not an audit record") != NULL, "a foreign line is named");
	ok(auditchain_open(path, 1, &a, err, sizeof(err)) == AE_PARSE && a == NULL &&
	    strstr(err, path) != NULL, "open refuses to chain onto a foreign line, naming the file");
	unlink(path);
	return done_testing();
}
