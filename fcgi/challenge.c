#include "config.h"
#include <string.h>
#include <time.h>
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/orders.h"
#include "lib/log.h"
#include "lib/wake.h"

/* How often a waiting response looks at the challenge again: first after WAIT_FIRST_MS, then
 * twice as long each time up to WAIT_STEP_MS. A validation next to us takes a few ms; a fixed
 * 50 ms step made every challenge answer cost 50 ms (tools/bench/anvil-bench, issue 5). */
#define WAIT_FIRST_MS 2
#define WAIT_STEP_MS 50

/* Wakes anvil-jobs so the validation starts now rather than at its next poll. A lost wake-up
 * costs one poll interval, never the job (it is in the database). */
static void
challenge_wake(const char *path)
{
	anvil_err e;

	if (path != NULL && (e = wake_send(path)) != AE_OK)
		log_warn("wake anvil-jobs at jobs.wake_socket: %s", anvil_strerror(e));
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Waits up to acme.validation_wait_ms for anvil-jobs to finish the validation, so that a client
 * next to us sees the result in this answer. A database error ends the wait (the client polls). */
static void
wait_result(struct req *r, struct db_chall *ch)
{
	int64_t end = mono_ms() + r->conf->orders.validation_wait_ms;
	int64_t step = WAIT_FIRST_MS;

	while (ch->status == DB_CHALL_PROCESSING) {
		int64_t left = end - mono_ms();
		if (left <= 0)
			break;
		sleep_ms(left < step ? left : step);
		step = step * 2 < WAIT_STEP_MS ? step * 2 : WAIT_STEP_MS;
		if (db_chall_get(r->db, ch->id, ch) != AE_OK)
			break;
	}
}

static void
respond_chall(struct req *r, const struct db_chall *ch)
{
	json_object *o = chall_object(r, ch);
	const char *up = req_url(r, "/acme/authz/%lld", (long long)ch->authz_id);

	if (o == NULL || up == NULL) {
		json_object_put(o);
		req_fail(r, AE_NOMEM, "challenge object");
		return;
	}
	req_json(r, 200, o);
	req_header(r, "Link", "<%s>;rel=\"up\"", up);
	if (ch->status == DB_CHALL_PROCESSING || ch->status == DB_CHALL_PENDING)
		orders_retry_after(r);
}

/* RFC 8555 §7.5.1: responding to a challenge ({}), or reading it (POST-as-GET). */
void
api_challenge(struct req *r, int64_t id)
{
	struct auth au;
	struct db_chall *ch = NULL;
	struct db_authz *a = NULL;
	int queued = 0;
	anvil_err e;

	if (auth_request(r, AUTH_KID, &au) != 0)
		goto out;
	if ((ch = arena_alloc(&r->arena, sizeof(*ch))) == NULL ||
	    (a = arena_alloc(&r->arena, sizeof(*a))) == NULL) {
		req_fail(r, AE_NOMEM, "challenge");
		goto out;
	}
	if ((e = db_chall_get(r->db, id, ch)) == AE_NOTFOUND) {
		req_problem(r, PROB_NOT_FOUND, "no such challenge");
		goto out;
	}
	if (e != AE_OK || (e = db_authz_get(r->db, ch->authz_id, a)) != AE_OK) {
		req_fail(r, e == AE_NOTFOUND ? AE_INTERNAL : e, "challenge lookup");
		goto out;
	}
	if (a->account_id != au.acct->id) {
		req_problem(r, PROB_UNAUTHORIZED, "this challenge belongs to another account");
		goto out;
	}
	if (au.jws->post_as_get) {
		respond_chall(r, ch);
		goto out;
	}
	if (!json_object_is_type(au.jws->payload_json, json_type_object)) {
		req_problem(r, PROB_MALFORMED, "a challenge response is the empty object {}");
		goto out;
	}
	authz_refresh(r, a);
	if (ch->status != DB_CHALL_PENDING || a->status == DB_AUTHZ_VALID) {
		/* Answered already, or another challenge did it: the state is the answer. */
		respond_chall(r, ch);
		goto out;
	}
	if (a->status != DB_AUTHZ_PENDING) {
		req_problem(r, PROB_MALFORMED, "the authorization of this challenge is %s",
		    db_authz_status_name(a->status));
		goto out;
	}
	if ((e = db_chall_respond(r->db, ch->id, a->id, r->now, &queued)) != AE_OK) {
		req_fail(r, e, "challenge response");
		goto out;
	}
	if (queued) {
		log_info("validation queued challenge=%lld type=%s authz=%lld", (long long)ch->id,
		    ch->type, (long long)a->id);
		challenge_wake(r->conf->orders.wake_socket);
	}
	if ((e = db_chall_get(r->db, id, ch)) != AE_OK) {
		req_fail(r, e, "challenge lookup");
		goto out;
	}
	wait_result(r, ch);
	respond_chall(r, ch);
out:
	return;
}
