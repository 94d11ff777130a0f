#include "config.h"
#include <stdio.h>
#include <string.h>
#include "ocsp/sign.h"
#include "lib/hex.h"

anvil_err
ocsp_sign(struct signer_client *sc, const struct ocsp_conf *o, const struct db_status *s,
    int64_t now, uint64_t deadline_ms, struct buf *out, int64_t *this_update,
    int64_t *next_update)
{
	struct request req;
	struct ocsp_req *r = &req.u.ocsp;
	size_t hl = strlen(s->serial);
	uint32_t retry = 0;
	int64_t tu;
	anvil_err e;

	memset(&req, 0, sizeof(req));
	if (hl == 0 || hl % 2 != 0 || hl / 2 > sizeof(r->serial) ||
	    strlen(s->issuer) >= sizeof(r->issuer))
		return AE_PARSE;
	for (size_t i = 0; i < hl / 2; i++) {
		int a = hex_digit(s->serial[2 * i]), b = hex_digit(s->serial[2 * i + 1]);
		if (a < 0 || b < 0)
			return AE_PARSE;
		r->serial[i] = (uint8_t)(a << 4 | b);
	}
	r->serial_len = hl / 2;
	memcpy(r->issuer, s->issuer, strlen(s->issuer) + 1);
	tu = now - o->backdate;
	r->status = s->revoked ? OCSP_REVOKED : OCSP_GOOD;
	r->reason = REASON_NONE;
	if (s->revoked) {
		if (s->revoked_at > tu)
			tu = s->revoked_at;
		r->revoked_at = (uint64_t)(s->revoked_at > 0 ? s->revoked_at : 0);
		/* RFC 5280 5.3.1: unspecified (0) is written as no reason at all. */
		if (s->revoked_reason > 0 && s->revoked_reason <= 10)
			r->reason = (uint8_t)s->revoked_reason;
	}
	if (tu < 0)
		return AE_RANGE;
	r->this_update = (uint64_t)tu;
	r->next_update = (uint64_t)(tu + o->validity);
	req.op = OP_OCSP;
	req.deadline_ms = deadline_ms;
	if ((e = signer_call(sc, &req, out, &retry)) != AE_OK)
		return e;
	*this_update = tu;
	*next_update = tu + o->validity;
	return AE_OK;
}
