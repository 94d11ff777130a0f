/* anvil-bench: one complete ACME flow as a state machine driven by the event loop of
 * acmeb_main.c: newOrder, authorization, http-01 challenge, authorization poll, finalize, order
 * poll, certificate download and check, and with --ocsp a GET of the certificate's OCSP
 * response from its AIA URL, checked as a relying party would (acmeb_ocsp.c). Every signed
 * request carries the Replay-Nonce of the slot's previous answer (a newNonce only when there
 * is none). Polls honour Retry-After up to --poll-cap-ms; 503 and 429 are retried after their
 * Retry-After (up to --retry-cap-ms), badNonce at once with the nonce of the error answer, each
 * up to ACMEB_RETRIES_MAX times. Like lego, a challenge answer that is already `valid` ends the
 * authorization step without a poll. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "tools/bench/acmeb.h"
#include "tools/bench/acmeb_xfer.h"

#define BAD_NONCE "urn:ietf:params:acme:error:badNonce"

struct flow {
	struct run *r;
	size_t slot;
	struct xfer x;
	int active;          /* a flow is under way on this slot */
	int in_multi;
	int sleeping;
	int fetching_nonce;
	double wake_at;
	double next_start;   /* after a failure, a short pause before the slot starts again */
	enum step step;      /* the step in progress */
	double t_flow, t_step, t_req;
	int retries;
	/* the request to (re)send: url and payload (NULL: POST-as-GET "") */
	char req_url[ACMEB_URL_MAX];
	char *req_payload;
	int req_pem;
	struct account *acct;
	EVP_PKEY *key;
	char name[ACMEB_NAME_MAX];
	char order_url[ACMEB_URL_MAX];
	char authz_url[ACMEB_URL_MAX];
	char chall_url[ACMEB_URL_MAX];
	char finalize_url[ACMEB_URL_MAX];
	char cert_url[ACMEB_URL_MAX];
	char token[ACMEB_TOKEN_MAX];
	size_t token_len;
	char keyauth[ACMEB_KEYAUTH_MAX];
	/* --ocsp: from the certificate check to the OCSP response's */
	X509 *leaf, *issuer;
	OCSP_CERTID *ocsp_id;
};

static void
ocsp_clear(struct flow *f)
{
	X509_free(f->leaf);
	X509_free(f->issuer);
	OCSP_CERTID_free(f->ocsp_id);
	f->leaf = f->issuer = NULL;
	f->ocsp_id = NULL;
}

struct flow *
flow_new(struct run *r, size_t slot)
{
	struct flow *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->r = r;
	f->slot = slot;
	if (xfer_init(&f->x, r->o) != 0) {
		flow_free(f);
		return NULL;
	}
	curl_easy_setopt(f->x.h, CURLOPT_PRIVATE, f);
	if (r->o->nconnect_to > 0)
		curl_easy_setopt(f->x.h, CURLOPT_CONNECT_TO,
		    r->o->connect_to[slot % r->o->nconnect_to]);
	return f;
}

void
flow_free(struct flow *f)
{
	if (f == NULL)
		return;
	if (f->in_multi)
		curl_multi_remove_handle(f->r->multi, f->x.h);
	xfer_free(&f->x);
	free(f->req_payload);
	ocsp_clear(f);
	free(f);
}

static void multi_add(struct flow *f);

void
flow_prime(struct flow *f)
{
	xfer_head(&f->x, f->r->dir.new_nonce);
	multi_add(f);
}

int
flow_primed(struct flow *f, CURLcode result)
{
	long code = 0;
	curl_multi_remove_handle(f->r->multi, f->x.h);
	f->in_multi = 0;
	if (result != CURLE_OK)
		return -1;
	curl_easy_getinfo(f->x.h, CURLINFO_RESPONSE_CODE, &code);
	return code / 100 == 2 && f->x.nonce[0] != '\0' ? 0 : -1;
}

int
flow_idle(const struct flow *f)
{
	return !f->active && !f->in_multi;
}

double
flow_wake_at(const struct flow *f)
{
	if (f->sleeping)
		return f->wake_at;
	if (!f->active && f->r->accepting)
		return f->next_start;
	return 0;
}

const char *
flows_keyauth(struct run *r, const char *token, size_t len)
{
	for (size_t i = 0; i < r->nflows; i++) {
		struct flow *f = r->flows[i];
		if (f->active && f->token_len == len && len > 0 && memcmp(f->token, token, len) == 0)
			return f->keyauth;
	}
	return NULL;
}

static void
multi_add(struct flow *f)
{
	if (curl_multi_add_handle(f->r->multi, f->x.h) == CURLM_OK)
		f->in_multi = 1;
}

/* Sends the request in req_url/req_payload, fetching a nonce first when the slot has none. */
static void
transmit(struct flow *f)
{
	struct xfer *x = &f->x;
	if (x->nonce[0] == '\0') {
		f->fetching_nonce = 1;
		xfer_head(x, f->r->dir.new_nonce);
	} else {
		f->fetching_nonce = 0;
		if (xfer_post(x, f->req_url, f->acct->key, f->acct->kid,
		    f->req_payload != NULL ? f->req_payload : "", f->req_pem) != 0) {
			fprintf(stderr, "anvil-bench: cannot sign a request\n");
			exit(1);
		}
	}
	f->r->st.requests++;
	f->t_req = now_s();
	multi_add(f);
}

static void
request(struct flow *f, const char *url, const char *payload, int pem)
{
	size_t n = strlen(url);
	if (n >= sizeof(f->req_url))
		n = sizeof(f->req_url) - 1;
	memcpy(f->req_url, url, n);
	f->req_url[n] = '\0';
	free(f->req_payload);
	f->req_payload = payload != NULL ? strdup(payload) : NULL;
	f->req_pem = pem;
	transmit(f);
}

static void
begin(struct flow *f, enum step step, double now)
{
	f->step = step;
	f->t_step = now;
}

static void
sleep_then_send(struct flow *f, double delay_s, double now)
{
	f->sleeping = 1;
	f->wake_at = now + delay_s;
}

void
flow_wake(struct flow *f, double now)
{
	(void)now;
	f->sleeping = 0;
	transmit(f);
}

static double
poll_delay(const struct flow *f)
{
	const struct opts *o = f->r->o;
	double ms = f->x.retry_after >= 0 ? (double)f->x.retry_after * 1000.0 :
	    (double)o->poll_default_ms;
	if (ms > (double)o->poll_cap_ms)
		ms = (double)o->poll_cap_ms;
	return ms / 1000.0;
}

static void
fail(struct flow *f, double now)
{
	f->active = 0;
	f->sleeping = 0;
	f->token_len = 0;
	f->next_start = now + 0.05;
	f->r->st.failed++;
	ocsp_clear(f);
}

static void
fail_reason(struct flow *f, long status, const char *why, double now)
{
	stats_error(&f->r->st, f->step, status, why);
	fail(f, now);
}

void
flow_abandon(struct flow *f)
{
	if (f->in_multi) {
		curl_multi_remove_handle(f->r->multi, f->x.h);
		f->in_multi = 0;
	}
	if (f->active)
		f->r->st.unfinished++;
	f->active = 0;
	f->sleeping = 0;
	f->token_len = 0;
	ocsp_clear(f);
}

void
flow_start(struct flow *f, double now)
{
	struct run *r = f->r;
	char payload[ACMEB_NAME_MAX + 64];
	uint64_t seq = r->seq++;

	f->active = 1;
	f->retries = 0;
	f->token_len = 0;
	f->order_url[0] = f->authz_url[0] = f->chall_url[0] = '\0';
	f->finalize_url[0] = f->cert_url[0] = '\0';
	f->acct = &r->accounts[seq % r->naccounts];
	f->key = r->keys[seq % r->nkeys];
	snprintf(f->name, sizeof(f->name), "f%llu.%s.bench.test", (unsigned long long)seq,
	    r->run_id);
	snprintf(payload, sizeof(payload),
	    "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}", f->name);
	r->st.started++;
	f->t_flow = now;
	begin(f, STEP_NEW_ORDER, now);
	request(f, r->dir.new_order, payload, 0);
}

/* The type of the first challenge error in an authorization, or of the order's error. */
static const char *
error_type(json_object *obj)
{
	json_object *e, *t, *chs;
	if (json_object_object_get_ex(obj, "error", &e) &&
	    json_object_object_get_ex(e, "type", &t))
		return json_object_get_string(t);
	if (json_object_object_get_ex(obj, "challenges", &chs) &&
	    json_object_is_type(chs, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(chs); i++) {
			json_object *c = json_object_array_get_idx(chs, i);
			if (json_object_object_get_ex(c, "error", &e) &&
			    json_object_object_get_ex(e, "type", &t))
				return json_object_get_string(t);
		}
	}
	return "invalid without an error";
}

static int
token_ok(const char *t, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static void
do_finalize(struct flow *f, double now)
{
	char *csr = csr_b64(f->key, f->name);
	struct buf p;
	if (csr == NULL) {
		fail_reason(f, 0, "local: CSR", now);
		return;
	}
	buf_init(&p, 16 * 1024);
	if (buf_printf(&p, "{\"csr\":\"%s\"}", csr) != AE_OK || buf_nul(&p) != AE_OK) {
		free(csr);
		buf_free(&p);
		fail_reason(f, 0, "local: CSR", now);
		return;
	}
	begin(f, STEP_FINALIZE, now);
	request(f, f->finalize_url, (const char *)p.data, 0);
	free(csr);
	buf_free(&p);
}

static void
do_cert(struct flow *f, double now)
{
	begin(f, STEP_CERT, now);
	request(f, f->cert_url, NULL, 1);
}

/* The http-01 challenge of an authorization: its url and token into f. */
static int
pick_http01(struct flow *f, json_object *authz)
{
	json_object *chs;
	if (!json_object_object_get_ex(authz, "challenges", &chs) ||
	    !json_object_is_type(chs, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(chs); i++) {
		json_object *c = json_object_array_get_idx(chs, i);
		char type[32];
		if (json_str(c, "type", type, sizeof(type)) != 0 || strcmp(type, "http-01") != 0)
			continue;
		if (json_str(c, "url", f->chall_url, sizeof(f->chall_url)) != 0 ||
		    json_str(c, "token", f->token, sizeof(f->token)) != 0)
			return -1;
		f->token_len = strlen(f->token);
		if (!token_ok(f->token, f->token_len)) {
			f->token_len = 0;
			return -1;
		}
		snprintf(f->keyauth, sizeof(f->keyauth), "%s.%s", f->token, f->acct->thumbprint);
		return 0;
	}
	return -1;
}

/* The flow counts: its certificate checked (and with --ocsp its OCSP response). */
static void
finish(struct flow *f, double now)
{
	struct run *r = f->r;
	stats_add(&r->st, STEP_FLOW, now - f->t_flow);
	r->st.completed++;
	r->t_last_ok = now;
	if (now <= r->t_end)
		r->st.completed_in_window++;
	f->active = 0;
	f->token_len = 0;
	f->next_start = now;
}

/* --ocsp: right after the download, as a relying party that gets the certificate at once
 * would; the same connection pool as the ACME requests (the AIA URL is the plain-HTTP
 * server, so it is a connection of its own per slot). */
static void
do_ocsp(struct flow *f, double now)
{
	const char *why;

	begin(f, STEP_OCSP, now);
	if (f->issuer == NULL) {
		fail_reason(f, 200, "ocsp: chain without an issuer", now);
		return;
	}
	why = ocsp_request_url(f->leaf, f->issuer, f->req_url, sizeof(f->req_url), &f->ocsp_id);
	if (why != NULL) {
		fail_reason(f, 200, why, now);
		return;
	}
	f->fetching_nonce = 0;
	xfer_get(&f->x, f->req_url);
	f->r->st.requests++;
	f->t_req = now_s();
	multi_add(f);
}

static void
ocsp_done(struct flow *f, long code, double now)
{
	const char *why;

	if (code != 200) {
		fail_reason(f, code, "ocsp: HTTP status not 200", now);
		return;
	}
	if (strncasecmp(f->x.ctype, "application/ocsp-response", 25) != 0) {
		fail_reason(f, code, "ocsp: Content-Type is not application/ocsp-response", now);
		return;
	}
	why = ocsp_check(f->x.body.data, f->x.body.len, f->issuer, f->ocsp_id, time(NULL));
	if (why != NULL) {
		fail_reason(f, code, why, now);
		return;
	}
	stats_add(&f->r->st, STEP_OCSP, now - f->t_step);
	ocsp_clear(f);
	finish(f, now);
}

/* The certificate download's answer. */
static void
complete(struct flow *f, double now)
{
	struct run *r = f->r;
	const char *why;
	if (buf_nul(&f->x.body) != AE_OK) {
		fail_reason(f, 200, "local: certificate body", now);
		return;
	}
	ocsp_clear(f);
	why = chain_check((const char *)f->x.body.data, f->x.body.len, f->name, f->key,
	    r->o->ocsp ? &f->leaf : NULL, r->o->ocsp ? &f->issuer : NULL);
	if (why != NULL) {
		fail_reason(f, 200, why, now);
		return;
	}
	stats_add(&r->st, STEP_CERT, now - f->t_step);
	if (r->o->ocsp)
		do_ocsp(f, now);
	else
		finish(f, now);
}

/* A 2xx answer of the step in progress, with its parsed body. */
static void
advance(struct flow *f, long code, json_object *body, double now)
{
	struct run *r = f->r;
	char status[32] = "";

	if (f->step != STEP_CERT && (body == NULL || json_str(body, "status", status,
	    sizeof(status)) != 0)) {
		fail_reason(f, code, "local: answer without a status", now);
		return;
	}
	switch (f->step) {
	case STEP_NEW_ORDER: {
		json_object *az;
		if (code != 201 || f->x.location[0] == '\0' ||
		    json_str(body, "finalize", f->finalize_url, sizeof(f->finalize_url)) != 0 ||
		    !json_object_object_get_ex(body, "authorizations", &az) ||
		    !json_object_is_type(az, json_type_array) || json_object_array_length(az) != 1 ||
		    !json_object_is_type(json_object_array_get_idx(az, 0), json_type_string) ||
		    (size_t)json_object_get_string_len(json_object_array_get_idx(az, 0)) >=
		    sizeof(f->authz_url)) {
			fail_reason(f, code, "local: bad newOrder answer", now);
			return;
		}
		memcpy(f->order_url, f->x.location, sizeof(f->order_url));
		snprintf(f->authz_url, sizeof(f->authz_url), "%s",
		    json_object_get_string(json_object_array_get_idx(az, 0)));
		stats_add(&r->st, STEP_NEW_ORDER, now - f->t_step);
		if (strcmp(status, "ready") == 0) {
			do_finalize(f, now);
			return;
		}
		begin(f, STEP_AUTHZ, now);
		request(f, f->authz_url, NULL, 0);
		return;
	}
	case STEP_AUTHZ:
		stats_add(&r->st, STEP_AUTHZ, now - f->t_step);
		if (strcmp(status, "valid") == 0) {
			do_finalize(f, now);
			return;
		}
		if (strcmp(status, "pending") != 0 || pick_http01(f, body) != 0) {
			fail_reason(f, code, "local: no usable http-01 challenge", now);
			return;
		}
		begin(f, STEP_CHALLENGE, now);
		request(f, f->chall_url, "{}", 0);
		return;
	case STEP_CHALLENGE:
		stats_add(&r->st, STEP_CHALLENGE, now - f->t_step);
		if (strcmp(status, "valid") == 0) {
			do_finalize(f, now);
			return;
		}
		if (strcmp(status, "invalid") == 0) {
			fail_reason(f, code, error_type(body), now);
			return;
		}
		begin(f, STEP_AUTHZ_POLL, now);
		memcpy(f->req_url, f->authz_url, sizeof(f->req_url));
		free(f->req_payload);
		f->req_payload = NULL;
		f->req_pem = 0;
		sleep_then_send(f, poll_delay(f), now);
		return;
	case STEP_AUTHZ_POLL:
		if (strcmp(status, "valid") == 0) {
			stats_add(&r->st, STEP_AUTHZ_POLL, now - f->t_step);
			do_finalize(f, now);
		} else if (strcmp(status, "pending") == 0 || strcmp(status, "processing") == 0) {
			sleep_then_send(f, poll_delay(f), now);
		} else {
			fail_reason(f, code, error_type(body), now);
		}
		return;
	case STEP_FINALIZE:
	case STEP_ORDER_POLL:
		if (f->step == STEP_FINALIZE)
			stats_add(&r->st, STEP_FINALIZE, now - f->t_step);
		if (strcmp(status, "valid") == 0) {
			if (json_str(body, "certificate", f->cert_url, sizeof(f->cert_url)) != 0) {
				fail_reason(f, code, "local: valid order without certificate", now);
				return;
			}
			if (f->step == STEP_ORDER_POLL)
				stats_add(&r->st, STEP_ORDER_POLL, now - f->t_step);
			do_cert(f, now);
		} else if (strcmp(status, "processing") == 0 || strcmp(status, "ready") == 0) {
			if (f->step == STEP_FINALIZE) {
				begin(f, STEP_ORDER_POLL, now);
				memcpy(f->req_url, f->order_url, sizeof(f->req_url));
				free(f->req_payload);
				f->req_payload = NULL;
				f->req_pem = 0;
			}
			sleep_then_send(f, poll_delay(f), now);
		} else {
			fail_reason(f, code, error_type(body), now);
		}
		return;
	case STEP_CERT:
		complete(f, now);
		return;
	default:
		fail_reason(f, code, "local: bad state", now);
	}
}

/* A non-2xx answer: counted, then retried (badNonce, 503, 429) or the flow fails. */
static void
refused(struct flow *f, long code, double now)
{
	json_object *holder = NULL;
	const char *type = xfer_problem(&f->x, &holder);
	const struct opts *o = f->r->o;

	stats_error(&f->r->st, f->step, code, type != NULL ? type : "(no problem document)");
	if (f->retries < ACMEB_RETRIES_MAX) {
		if (type != NULL && strcmp(type, BAD_NONCE) == 0) {
			f->retries++;
			json_object_put(holder);
			transmit(f);
			return;
		}
		if (code == 503 || code == 429) {
			double ms = f->x.retry_after >= 0 ? (double)f->x.retry_after * 1000.0 : 1000.0;
			if (ms > (double)o->retry_cap_ms)
				ms = (double)o->retry_cap_ms;
			f->retries++;
			json_object_put(holder);
			sleep_then_send(f, ms / 1000.0, now);
			return;
		}
	}
	json_object_put(holder);
	fail(f, now);
}

void
flow_on_done(struct flow *f, CURLcode result, double now)
{
	long code = 0;
	json_object *body = NULL;

	curl_multi_remove_handle(f->r->multi, f->x.h);
	f->in_multi = 0;
	if (!f->active)
		return;
	if (result != CURLE_OK) {
		char why[96];
		snprintf(why, sizeof(why), "transport: %s", curl_easy_strerror(result));
		stats_error(&f->r->st, f->fetching_nonce ? STEP_NONCE : f->step, 0, why);
		f->x.nonce[0] = '\0';
		fail(f, now);
		return;
	}
	curl_easy_getinfo(f->x.h, CURLINFO_RESPONSE_CODE, &code);
	if (f->step == STEP_OCSP) {
		ocsp_done(f, code, now);
		return;
	}
	if (f->fetching_nonce) {
		if (code / 100 != 2 || f->x.nonce[0] == '\0') {
			stats_error(&f->r->st, STEP_NONCE, code, "newNonce without a nonce");
			fail(f, now);
			return;
		}
		stats_add(&f->r->st, STEP_NONCE, now - f->t_req);
		transmit(f);
		return;
	}
	if (code / 100 != 2) {
		refused(f, code, now);
		return;
	}
	if (f->step != STEP_CERT)
		body = xfer_json(&f->x);
	advance(f, code, body, now);
	json_object_put(body);
}
