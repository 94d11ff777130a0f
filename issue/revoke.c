#include "config.h"
#include "db/issue.h"
#include "issue/revoke.h"
#include "lib/log.h"
#include "lib/wake.h"

anvil_err
issue_revoke(struct db *db, const char *serial, int reason, int64_t now,
    const uint8_t spki_sha256[32], int block, const char *wake, const char *by)
{
	anvil_err e = db_cert_revoke(db, serial, reason, now, spki_sha256, block);

	if (e != AE_OK)
		return e;
	log_audit("revoked serial=%s reason=%d by=%s", serial, reason, by);
	/* A lost datagram delays publishing to the refresher's next poll, well inside the
	 * bound: the due rows are committed. */
	if (wake != NULL && (e = wake_send(wake)) != AE_OK)
		log_warn("wake anvil-jobs at jobs.wake_socket: %s", anvil_strerror(e));
	return AE_OK;
}
