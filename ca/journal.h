/* The signer's durable memory of what it signed, per serial: an append-only journal file of
 * (kind, serial, TBS hash, signed DER) records, fsync'd before the signature leaves the signer
 * (group commit: one fsync covers every record appended meanwhile). On restart the journal is
 * replayed into a hash index; a torn last record (crash mid-write) is cut off. A retry of the
 * same request gets the same bytes back, so a caller that retries after a crash still ends up
 * with exactly one precertificate and one certificate per serial. */
#ifndef ANVIL_CA_JOURNAL_H
#define ANVIL_CA_JOURNAL_H
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

#define JOURNAL_DER_MAX (64u * 1024)

enum journal_kind { J_PRECERT = 1, J_CERT = 2 };

struct journal;

anvil_err journal_open(const char *dir, int sync, struct journal **out, char *err,
    size_t errlen);
void journal_close(struct journal *j);

/* Claims (kind, serial) for a TBS hash before signing.
 *   AE_OK: nothing signed yet; sign, then journal_commit or journal_release.
 *   AE_EXISTS: already signed with this hash; *der (malloc'd) is what was signed.
 *   AE_SIGNER_DUPLICATE: already signed (or being signed) with a different hash.
 *   AE_BUSY: the same request is being signed right now by another connection. */
anvil_err journal_reserve(struct journal *j, int kind, const uint8_t *serial, size_t slen,
    const uint8_t hash[32], uint8_t **der, size_t *derlen);
/* Appends the record and makes it durable; the reservation becomes permanent. */
anvil_err journal_commit(struct journal *j, int kind, const uint8_t *serial, size_t slen,
    const uint8_t *der, size_t derlen);
/* Signing failed: the reservation is dropped. */
void journal_release(struct journal *j, int kind, const uint8_t *serial, size_t slen);
/* What was signed for (kind, serial): AE_NOTFOUND if nothing committed. */
anvil_err journal_get(struct journal *j, int kind, const uint8_t *serial, size_t slen,
    uint8_t **der, size_t *derlen);
/* Committed records. */
uint64_t journal_count(struct journal *j);
/* 1 after a failed fdatasync: from then on journal_commit and every new claim answer AE_IO
 * (signing stops; what was durable before is still answered), journal_release keeps its claim,
 * until a restart replays the file. */
int journal_failed(struct journal *j);
/* Tests (t/1003): the nth fdatasync from now fails with EIO, as a failing disk would. */
void journal_test_fail_sync(struct journal *j, unsigned n);

#endif
