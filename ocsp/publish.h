/* The OCSP response files (ocsp/README.md): ocsp.dir/<issuer>/<serial>, each replaced
 * atomically. A response is first staged (a temporary file in the same directory, written and
 * fsynced) and then put in place by a rename, so that the refresher can make the rename depend
 * on a database row it holds locked: a response signed before a revocation never replaces the
 * revoked one. Staged files live in <issuer>/.tmp/ (renamed from there within one file
 * system), so that the ones a crash left behind can be found without listing the responses. */
#ifndef ANVIL_OCSP_PUBLISH_H
#define ANVIL_OCSP_PUBLISH_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

#define OCSP_PATH_MAX 4096

struct ocsp_staged {
	char tmp[OCSP_PATH_MAX];
	char path[OCSP_PATH_MAX];
	int live;                 /* tmp exists */
};

/* The file of (issuer, serial) under dir. AE_TOOBIG when it does not fit; AE_PARSE when
 * issuer or serial could name anything but one file in one directory. */
anvil_err ocsp_file_path(char *out, size_t cap, const char *dir, const char *issuer,
    const char *serial);

/* Writes der to a temporary file next to the response's path (the issuer's directory is made
 * when missing) and fsyncs it. */
anvil_err ocsp_stage(struct ocsp_staged *st, const char *dir, const char *issuer,
    const char *serial, const uint8_t *der, size_t len);
/* Renames the staged file over the response (not yet durable: ocsp_dir_sync). */
anvil_err ocsp_stage_commit(struct ocsp_staged *st);
/* Drops a staged file that will not be published. Safe on a committed or empty one. */
void ocsp_stage_abort(struct ocsp_staged *st);
/* fsyncs the issuer's directory, making the renames in it durable. */
anvil_err ocsp_dir_sync(const char *dir, const char *issuer);

/* Removes the staged files of issuer last modified before older_than (Unix seconds): what a
 * process killed between staging and renaming left behind. Files of writers still at work
 * are younger. */
anvil_err ocsp_stage_sweep(const char *dir, const char *issuer, int64_t older_than,
    size_t *removed);

/* Stage, rename, directory fsync: one response published durably. */
anvil_err ocsp_publish(const char *dir, const char *issuer, const char *serial,
    const uint8_t *der, size_t len);
/* Removes a response (AE_OK when there was none). */
anvil_err ocsp_unpublish(const char *dir, const char *issuer, const char *serial);

#endif
