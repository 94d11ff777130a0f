/* RFC 8555 §7.4 finalize: the CSR checked against the order and the key policy, then the order
 * turns processing with a durable 'finalize' job, and issuance (issue/) runs within the
 * finalize budget. Whatever is not done by then anvil-jobs finishes; the answer is the order,
 * valid with its certificate URL or processing with Retry-After. A busy or slow signer never
 * makes a 500 (seeds 000 and 004). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/issue.h"
#include "db/order.h"
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/metrics.h"
#include "fcgi/order_view.h"
#include "fcgi/orders.h"
#include "issue/csr.h"
#include "issue/finish.h"
#include "issue/issue.h"
#include "issue/policy.h"
#include "lib/b64url.h"
#include "lib/log.h"
#include "lib/wake.h"

static void
free_buf(void *p)
{
	free(p);
}

/* The answer: the one order object (fcgi/order_view.c), as GET answers it. v was read at the
 * start of the request; of what finalize moves on, only the status, the serial and the error
 * differ, and o (just read, or just issued) has them. */
static void
respond(struct req *r, const struct db_order_fin *o, struct order_view *v)
{
	for (int s = DB_ORDER_PENDING; s <= DB_ORDER_INVALID; s++)
		if (strcmp(o->status, db_order_status_name((enum db_order_status)s)) == 0)
			v->o.status = (enum db_order_status)s;
	snprintf(v->o.serial, sizeof(v->o.serial), "%s", o->serial);
	snprintf(v->o.error, sizeof(v->o.error), "%s", o->error);
	order_view_respond(r, 200, 1, v);
}

/* The payload's "csr": base64url DER, capped before decoding. NULL with the problem set. */
static uint8_t *
payload_csr(struct req *r, json_object *pl, size_t *len)
{
	json_object *v = NULL;
	uint8_t *der = NULL;
	anvil_err e;

	if (!json_object_is_type(pl, json_type_object) ||
	    !json_object_object_get_ex(pl, "csr", &v) || !json_object_is_type(v, json_type_string)) {
		req_problem(r, PROB_MALFORMED, "finalize needs a payload with a \"csr\" string");
		return NULL;
	}
	if ((size_t)json_object_get_string_len(v) > b64url_encoded_len(CSR_MAX)) {
		req_problem(r, PROB_BAD_CSR, "the CSR is larger than %d bytes", CSR_MAX);
		return NULL;
	}
	e = b64url_decode_alloc(json_object_get_string(v), (size_t)json_object_get_string_len(v),
	    CSR_MAX, &der, len);
	if (e != AE_OK) {
		req_problem(r, PROB_BAD_CSR, e == AE_TOOBIG ? "the CSR is too large" :
		    "the csr is not base64url");
		return NULL;
	}
	arena_defer(&r->arena, free_buf, der);
	return der;
}

/* payload_csr's cap keeps a CSR within orders.csr and db_order_fin.csr. */
_Static_assert(CSR_MAX <= DB_CSR_MAX, "a CSR must fit orders.csr");

/* The finalize view of the order in v, which finalize has just turned processing with the CSR
 * der: what issue_finish_order takes. */
static void
fin_of_view(struct db_order_fin *o, const struct order_view *v, const uint8_t *der, size_t len)
{
	o->id = v->o.id;
	o->account_id = v->o.account_id;
	o->expires = v->o.expires;
	o->created = v->o.created;
	o->not_before = v->o.not_before;
	o->not_after = v->o.not_after;
	snprintf(o->status, sizeof(o->status), "processing");
	snprintf(o->identifiers, sizeof(o->identifiers), "%s", v->o.identifiers);
	snprintf(o->profile, sizeof(o->profile), "%s", v->o.profile);
	o->serial[0] = '\0';
	o->error[0] = '\0';
	memcpy(o->csr, der, len);
	o->csr_len = len;
}

/* A finalize whose earlier attempt committed (its answer lost to a 503, a killed worker or a
 * database fail-over) is retried by the client with the same CSR: it gets the order as it
 * stands, processing or valid, instead of orderNotReady, which would fail the client's flow.
 * Another CSR, or an order that never got this far, is still orderNotReady. 1 when answered
 * (a 200 or the problem set), 0 when the caller answers orderNotReady. */
static int
finalize_retry(struct req *r, struct order_view *v, struct db_order_fin *o,
    const struct auth *a)
{
	uint8_t *der;
	size_t len = 0;
	anvil_err e;

	if ((der = payload_csr(r, a->jws->payload_json, &len)) == NULL)
		return 1;
	if ((e = db_order_fin_get(r->db, v->o.id, o)) != AE_OK) {
		req_fail(r, e, "order lookup");
		return 1;
	}
	if ((strcmp(o->status, "processing") != 0 && strcmp(o->status, "valid") != 0) ||
	    o->csr_len != len || memcmp(o->csr, der, len) != 0)
		return 0;
	if (order_view_authz(r, v) != 0)
		return 1;
	respond(r, o, v);
	return 1;
}

void
api_finalize(struct req *r, int64_t id)
{
	struct auth a;
	struct order_view *v = NULL;
	struct db_order_fin *o = NULL;
	const struct issue_conf *ic;
	const struct profile *prof;
	struct csr_info ci;
	char detail[CSR_DETAIL_MAX];
	enum csr_verdict verdict;
	uint8_t *der;
	size_t der_len = 0;
	int64_t budget;
	struct db_serial_new serial = { .make = issue_serial_make, .arg = r->issue }, *sn;
	struct db_key_q key;
	char tp[JWK_THUMBPRINT_LEN + 1];
	anvil_err e;

	memset(&ci, 0, sizeof(ci));
	if ((v = arena_alloc(&r->arena, sizeof(*v))) == NULL ||
	    (o = arena_alloc(&r->arena, sizeof(*o))) == NULL) {
		req_fail(r, AE_NOMEM, "finalize");
		goto out;
	}
	if (order_view_auth(r, id, &a, v) != 0)
		goto out;
	if (r->issue == NULL) {
		req_problem(r, PROB_UNAVAILABLE, "issuance is not available (see the log)");
		goto out;
	}
	ic = issue_ctx_conf(r->issue);
	if (ic->signer_socket == NULL) {
		log_err("finalize: no signer section in the configuration");
		req_problem(r, PROB_UNAVAILABLE, "issuance is not available (no signer)");
		goto out;
	}
	if (order_view_loaded(r, &a, v) != 0)
		goto out;
	/* Clients such as certbot finalize as soon as the authorizations are valid, without
	 * reading the order: it turns ready here (fcgi/order.c), and a pending order moves on to
	 * processing in the one write below. */
	if ((v->o.status == DB_ORDER_PENDING || v->o.status == DB_ORDER_READY) &&
	    order_view_authz(r, v) != 0)
		goto out;
	if (order_view_refresh(r, v, 0) != 0)
		goto out;
	if ((v->o.status == DB_ORDER_PROCESSING || v->o.status == DB_ORDER_VALID) &&
	    finalize_retry(r, v, o, &a) != 0)
		goto out;
	if (v->o.status != DB_ORDER_READY || v->o.expires <= r->now) {
		req_problem(r, PROB_ORDER_NOT_READY, "the order is %s, not ready",
		    v->o.expires <= r->now && v->o.status == DB_ORDER_READY ? "expired" :
		    db_order_status_name(v->o.status));
		goto out;
	}
	if ((der = payload_csr(r, a.jws->payload_json, &der_len)) == NULL)
		goto out;
	if ((prof = issue_conf_profile(ic, v->o.profile)) == NULL) {
		log_err("order %lld: profile %s is not configured", (long long)id, v->o.profile);
		req_problem(r, PROB_UNAVAILABLE, "the order's profile is not available");
		goto out;
	}
	/* A notBefore that newOrder accepted may have aged past the profile's backdating since:
	 * refused here, before a serial is spent, rather than by the signer with a 500. The
	 * signature comes within the budget. */
	if (v->o.not_before > 0 && v->o.not_before <
	    r->now + ic->finalize_budget_ms / 1000 + 1 - prof->max_backdate) {
		req_problem(r, PROB_MALFORMED, "the order's notBefore now lies more than %lld "
		    "seconds in the past (profile %s): a new order can ask for another",
		    (long long)prof->max_backdate, prof->name);
		goto out;
	}
	/* The CSR and key policy (issue/policy.c), which anvil-jobs applies again if it is the
	 * one to finish the order. */
	e = issue_csr_policy_local(r->issue, der, der_len, v->o.identifiers, prof, &ci, &verdict,
	    detail, tp);
	if (e == AE_DENIED) {
		req_problem(r, verdict == CSR_BAD_KEY ? PROB_BAD_PUBLIC_KEY : PROB_BAD_CSR, "%s",
		    detail);
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "key policy");
		goto out;
	}
	budget = ic->finalize_budget_ms;
	/* The serial goes in with the order's move to processing: committed before the
	 * signature (DESIGN.md invariant 2) without a commit of its own; a retry by anvil-jobs
	 * finds it (issue_finish). */
	sn = issue_profile_signs(r->issue, v->o.profile) ? &serial : NULL;
	/* The blocked and account keys are checked by the write itself (one round trip less). */
	key.spki_sha256 = ci.spki_sha256;
	key.thumbprint = tp;
	e = db_order_finalize_from(r->db, id, v->stored, der, der_len, r->now,
	    r->now + budget / 1000 + 1, sn, &key);
	if (e == AE_DENIED) {
		(void)issue_key_verdict(key.blocked, key.account_key, &verdict, detail);
		req_problem(r, verdict == CSR_BAD_KEY ? PROB_BAD_PUBLIC_KEY : PROB_BAD_CSR, "%s",
		    detail);
		goto out;
	}
	if (e == AE_EXISTS) {
		/* A concurrent attempt (the client's own retry) moved it on first. */
		if (finalize_retry(r, v, o, &a) != 0)
			goto out;
		req_problem(r, PROB_ORDER_NOT_READY, "the order is no longer ready");
		goto out;
	}
	if (e == AE_DB_DUPLICATE) {
		/* Every serial made collided (or the order had one): nothing is written, and
		 * another attempt makes new ones. */
		req_fail(r, AE_UNAVAILABLE, "finalize: recording a serial");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "finalize");
		goto out;
	}
	fin_of_view(o, v, der, der_len);
	e = issue_finish_order(r->issue, o, sn != NULL ? sn->serial : NULL, r->now,
	    issue_now_ms() + budget);
	metrics_finalize_result(e);
	if (e == AE_BUSY || e == AE_TIMEOUT || e == AE_UNAVAILABLE || e == AE_DB_DOWN ||
	    e == AE_DB || e == AE_NOMEM) {
		log_info("order %lld: issuance continues in the background (%s)", (long long)id,
		    anvil_strerror(e));
		if (r->conf->orders.wake_socket != NULL)
			(void)wake_send_job(r->conf->orders.wake_socket);
	}
	/* Valid: o says so. Anything else (processing, invalid, finished by anvil-jobs): the
	 * order as stored. */
	if (e != AE_OK) {
		if ((e = db_order_get(r->db, id, &v->o)) != AE_OK) {
			req_fail(r, e, "order lookup");
			goto out;
		}
		order_view_respond(r, 200, 1, v);
		goto out;
	}
	respond(r, o, v);
out:
	csr_info_free(&ci);
}
