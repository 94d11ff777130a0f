#include "config.h"
#include <poll.h>
#include <string.h>
#include <time.h>
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/orders.h"
#include "fcgi/worker.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/wake.h"

/* Wakes anvil-jobs so the validation starts now rather than at its next poll. A lost wake-up
 * costs one poll interval, never the job (it is in the database). */
static void
challenge_wake(const char *path)
{
	anvil_err e;

	if (path != NULL && (e = wake_send_job(path)) != AE_OK)
		log_warn("wake anvil-jobs at jobs.wake_socket: %s", anvil_strerror(e));
}

/* Waits up to acme.validation_wait_ms for anvil-jobs to finish the validation, so that a client
 * next to us sees the result in this answer. anvil-jobs sends a datagram to this worker's wake
 * socket (fcgi/worker.h) once the result is committed: the challenge is read then, and every
 * acme.validation_recheck_ms in case the datagram never comes (anvil-jobs on another host, the
 * socket unreachable). The datagram is only a hint; the row is the answer. Returns 1 when ch
 * was read meanwhile (the caller reads it at the end otherwise: processing, the client polls,
 * or the result if it came unannounced). A database error ends the wait too. */
static int
wait_result(struct req *r, struct db_chall *ch, int fd)
{
	int fresh = 0;

	int64_t now = (int64_t)clock_mono_ms();
	int64_t end = now + r->conf->orders.validation_wait_ms;
	int64_t next = now + r->conf->orders.validation_recheck_ms;

	while (ch->status == DB_CHALL_PROCESSING && (now = (int64_t)clock_mono_ms()) < end) {
		int64_t until = next < end ? next : end;
		int woken = 0;

		if (fd >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			if (poll(&pfd, 1, (int)(until - now)) > 0) {
				wake_drain(fd, NULL);
				woken = 1;
			}
		} else {
			struct timespec ts = { .tv_sec = (time_t)((until - now) / 1000),
				.tv_nsec = (long)((until - now) % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
		now = (int64_t)clock_mono_ms();
		if (!woken && now < next)
			continue;   /* interrupted, or the end of the budget before the next re-read */
		next = now + r->conf->orders.validation_recheck_ms;
		if (db_chall_get(r->db, ch->id, ch) != AE_OK)
			break;
		fresh = 1;
	}
	return fresh;
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
		req_retry_after(r);
}

/* What api_challenge reads with the signing account: for a POST-as-GET, the challenge and its
 * authorization (read 1); a response reads them after its write, so the account alone. */
struct chall_read {
	int64_t id;
	struct db_chall *ch;
	struct db_authz *a;
	int read, found;
};

static anvil_err
chall_read(struct req *r, const struct jws *jws, int64_t acct_id, struct db_account *acct,
    void *arg)
{
	struct chall_read *x = arg;

	if (!jws->post_as_get)
		return db_account_by_id(r->db, acct_id, acct);
	x->read = 1;
	return db_chall_authz_get_acct(r->db, acct_id, acct, x->id, x->ch, x->a, &x->found);
}

/* RFC 8555 §7.5.1: responding to a challenge ({}), or reading it (POST-as-GET). A response
 * writes first (db_chall_respond checks the account and the state in its UPDATE) and reads the
 * row once, when the result is there; anything but a queued validation is answered from a read,
 * as a POST-as-GET is. */
void
api_challenge(struct req *r, int64_t id)
{
	struct auth au;
	struct chall_read rd = { .id = id };
	struct db_chall *ch = NULL;
	struct db_authz *a = NULL;
	int queued = 0, fd = worker_wake_fd();
	anvil_err e;

	if ((ch = arena_alloc(&r->arena, sizeof(*ch))) == NULL ||
	    (a = arena_alloc(&r->arena, sizeof(*a))) == NULL) {
		req_fail(r, AE_NOMEM, "challenge");
		goto out;
	}
	rd.ch = ch;
	rd.a = a;
	if (auth_request_with(r, AUTH_KID, &au, chall_read, &rd) != 0)
		goto out;
	if (!au.jws->post_as_get && json_object_is_type(au.jws->payload_json, json_type_object)) {
		/* Before the job exists: a datagram left from an earlier wait (its result came
		 * after that answer) must not be taken for this one's, and this one's cannot be
		 * here yet. */
		if (fd >= 0)
			wake_drain(fd, NULL);
		if ((e = db_chall_respond(r->db, id, au.acct->id, r->now, worker_wake_path(),
		    &queued)) != AE_OK) {
			req_fail(r, e, "challenge response");
			goto out;
		}
	}
	if (queued) {
		log_info("validation queued challenge=%lld account=%lld", (long long)id,
		    (long long)au.acct->id);
		challenge_wake(r->conf->orders.wake_socket);
		/* What we just committed; the wait reads the row when there is news, and the
		 * answer needs it read once in any case. */
		memset(ch, 0, sizeof(*ch));
		ch->id = id;
		ch->status = DB_CHALL_PROCESSING;
		if (!wait_result(r, ch, fd) && (e = db_chall_get(r->db, id, ch)) != AE_OK) {
			req_fail(r, e, "challenge lookup");
			goto out;
		}
		respond_chall(r, ch);
		goto out;
	}
	if (rd.read)
		e = rd.found ? AE_OK : AE_NOTFOUND;
	else
		e = db_chall_authz_get(r->db, id, ch, a);
	if (e == AE_NOTFOUND) {
		req_problem(r, PROB_NOT_FOUND, "no such challenge");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "challenge lookup");
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
	if (ch->status != DB_CHALL_PENDING || a->status == DB_AUTHZ_VALID ||
	    a->status == DB_AUTHZ_PENDING) {
		/* Answered already, another challenge did it or is being validated: the state is
		 * the answer. */
		respond_chall(r, ch);
		goto out;
	}
	req_problem(r, PROB_MALFORMED, "the authorization of this challenge is %s",
	    db_authz_status_name(a->status));
out:
	return;
}
