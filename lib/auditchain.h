/* A tamper-evident audit file: one line per record, each carrying the SHA-256 of the record
 * before it, so an edited, deleted or reordered record breaks the chain from there on.
 *
 *   seq=<n> time=<RFC 3339 UTC, ms> prev=<hex of the previous record's hash> <text> hash=<hex>
 *
 * `hash` is SHA-256 over the line's bytes before " hash=" (prev included, so each hash commits
 * to the whole history); the first record's prev is 64 zeros. Writers append under flock, so
 * the signer and several anvilctl runs can share a file; a record is fdatasync'd before
 * auditchain_append returns when sync is on (group commit across threads). What a chain alone
 * cannot show is a cut tail: the signer also logs each record's seq and hash, so the system
 * log holds an independent copy of the head to compare with (doc/audit.md). */
#ifndef ANVIL_AUDITCHAIN_H
#define ANVIL_AUDITCHAIN_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/err.h"

#define AUDIT_TEXT_MAX 2048
#define AUDIT_LINE_MAX (AUDIT_TEXT_MAX + 256)
#define AUDIT_HASH_HEX 65   /* 64 hex digits and a NUL */

struct auditchain;

/* Opens (creating, mode 0640) path for appending. A torn last line (a crash mid-write) is cut
 * off and logged. err names the file on failure. */
anvil_err auditchain_open(const char *path, int sync, struct auditchain **out, char *err,
    size_t errlen);
void auditchain_close(struct auditchain *a);

/* Appends one record of text (control bytes become '?'); on success *seq and hash_hex (may
 * be NULL) say which record it became. After a failed write or fdatasync every later append
 * fails (AE_IO): an audit file in an unknown state must stop what it audits. */
anvil_err auditchain_append(struct auditchain *a, const char *text, uint64_t *seq,
    char hash_hex[AUDIT_HASH_HEX]);
int auditchain_failed(struct auditchain *a);

struct audit_verify {
	uint64_t records;          /* records that verified */
	char head[AUDIT_HASH_HEX]; /* hash of the last good record ("" if none) */
	uint64_t bad_line;         /* 0 when the whole file verified */
	char why[160];             /* what is wrong with bad_line */
};

/* Reads the whole chain from f. AE_OK when every record verifies; AE_PARSE with v->bad_line
 * and v->why naming the first record that does not; AE_IO for a read error. */
anvil_err auditchain_verify(FILE *f, struct audit_verify *v);

#endif
