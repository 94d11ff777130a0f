/* issue_status_first: the first OCSP response and the cert_status row of a newly signed
 * serial (ocsp/README.md). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ca/profile.h"
#include "db/status.h"
#include "issue/internal.h"
#include "issue/issue.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "ocsp/publish.h"
#include "ocsp/sign.h"

/* Whatever went wrong, the order stays processing and is tried again. */
static anvil_err
retry_code(anvil_err e)
{
	switch (e) {
	case AE_BUSY: case AE_TIMEOUT: case AE_UNAVAILABLE: case AE_NOMEM:
		return e;
	case AE_SIGNER_DEADLINE:
		return AE_TIMEOUT;
	default:
		return AE_UNAVAILABLE;
	}
}

anvil_err
issue_status_first(struct issue_ctx *ic, const char *issuer, const char *serial,
    int64_t not_after, int64_t deadline_ms, struct db_status *st)
{
	const struct ocsp_conf *o = &ic->conf.ocsp;
	const struct issuer *is;
	uint8_t sb[PROTO_SERIAL_MAX];
	size_t sl = 0;
	struct buf der;
	int64_t now = (int64_t)time(NULL), left;
	anvil_err e;

	memset(st, 0, sizeof(*st));
	if (ic->conf.policy == NULL ||
	    (is = conf_issuer(ic->conf.policy, issuer)) == NULL ||
	    hex_decode(serial, sb, sizeof(sb), &sl) != AE_OK || sl == 0 ||
	    strlen(serial) >= sizeof(st->serial) || strlen(issuer) >= sizeof(st->issuer))
		return AE_INTERNAL;
	memcpy(st->serial, serial, strlen(serial) + 1);
	memcpy(st->issuer, issuer, strlen(issuer) + 1);
	/* The same function the signer used for this certificate's CRL distribution point. */
	st->shard = issuer_crl_shard(sb, sl, is->crl_shards);
	st->not_after = not_after;
	st->revoked_reason = -1;
	if (o->dir == NULL)
		return AE_OK;   /* due at once: refresh_at 0 */
	if (ic->signer == NULL)
		return AE_UNAVAILABLE;
	if ((left = deadline_ms - issue_now_ms()) <= 0)
		return AE_TIMEOUT;
	buf_init(&der, PROTO_SIGN_MAX);
	e = ocsp_sign(ic->signer, o, st, now, clock_wall_ms() + (uint64_t)left, &der,
	    &st->this_update, &st->next_update);
	if (e != AE_OK) {
		log_warn("serial=%s: first OCSP response not signed: %s", serial,
		    anvil_strerror(e));
		e = retry_code(e);
		goto out;
	}
	if ((e = ocsp_publish(o->dir, issuer, serial, der.data, der.len)) != AE_OK) {
		log_err("serial=%s: first OCSP response not written under ocsp.dir %s: %s", serial,
		    o->dir, anvil_strerror(e));
		e = AE_UNAVAILABLE;
		goto out;
	}
	st->refresh_at = ocsp_refresh_at(o, st->this_update);
out:
	buf_free(&der);
	return e;
}
