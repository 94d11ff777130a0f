/* The RFC 6962 client: submits one leaf to several CT logs at once over libcurl's multi
 * interface (nothing blocks but the caller's own poll), verifies every SCT before using it,
 * and decides by the profile's policy (ct/conf.h):
 *
 *   - a precertificate goes to every usable log of the policy whose temporal interval holds
 *     its notAfter, all at once; the first valid SCT of each operator group is kept and, once
 *     that group can contribute nothing more, its other requests are cancelled; the submission
 *     ends as soon as the policy is met, or cannot be met any more, or at the deadline;
 *   - informational logs get the same submission, but nothing waits for them;
 *   - a final certificate goes to the policy's final_certificates logs (or a given set), and
 *     every one of them must answer.
 *
 * A struct ct_client lives as long as its process and remembers, per log, consecutive
 * failures: a log that failed ct.backoff_after_failures times in a row is skipped for a while
 * (doubling up to ct.backoff_max_seconds), or at once for as long as its Retry-After asks,
 * unless the policy cannot be met without it. One thread at a time uses a client; its
 * connections to the logs are reused from one submission to the next. */
#ifndef ANVIL_CT_CLIENT_H
#define ANVIL_CT_CLIENT_H
#include <stddef.h>
#include <stdint.h>
#include "ct/conf.h"
#include "ct/entry.h"
#include "ct/sct.h"
#include "lib/buf.h"
#include "lib/err.h"

struct ct_client;
struct ct_submission;

enum ct_log_outcome {
	CT_LOG_PENDING,
	CT_LOG_OK,           /* a valid SCT (kept or not, see kept) */
	CT_LOG_FAILED,       /* transport error, HTTP error, bad response, SCT that fails checks */
	CT_LOG_CANCELLED,    /* not needed any more, or the deadline came first */
	CT_LOG_SKIPPED,      /* in backoff */
};

struct ct_log_result {
	const struct ct_log *log;
	enum ct_log_outcome outcome;
	int informational;
	int kept;               /* its SCT is in the result */
	uint64_t ms;            /* from start to the answer (or the cancellation) */
	long connects;          /* new connections this request opened (0: one was reused) */
	char why[160];          /* for FAILED: what went wrong, never the log's bytes */
	struct ct_sct sct;      /* for OK */
};

anvil_err ct_client_new(const struct ct_conf *conf, struct ct_client **out);
void ct_client_free(struct ct_client *cl);
/* Consecutive failures of log i, and whether it is being skipped now. */
int64_t ct_client_failures(const struct ct_client *cl, size_t i, int *backing_off);

/* Starts submitting leaf (ct/entry.h; it must outlive the submission, the chain is copied)
 * with its issuer chain (DER, issuer first, at most CT_CHAIN_MAX - 1) under policy p: a
 * precertificate to p's logs, a certificate to p's final_certificates logs. The deadline is
 * min(now + p->deadline_ms, deadline_mono_ms) (0: p's alone), on clock_mono_ms().
 * AE_UNAVAILABLE, with why, when no submission can meet the policy
 * (e.g. no log accepts the leaf's notAfter). */
anvil_err ct_submit_start(struct ct_client *cl, const struct ct_policy *p,
    const struct ct_leaf *leaf, const uint8_t *const *chain, const size_t *chain_len,
    size_t nchain, uint64_t deadline_mono_ms, struct ct_submission **out, char *why,
    size_t whylen);
/* Submits leaf to exactly the logs in the set (bit i: ct.logs[i]), each of which must give a
 * valid SCT: the final-certificate queue's entry point. */
anvil_err ct_submit_start_logs(struct ct_client *cl, uint64_t logs, int64_t log_timeout_ms,
    const struct ct_leaf *leaf, const uint8_t *const *chain, const size_t *chain_len,
    size_t nchain, uint64_t deadline_mono_ms, struct ct_submission **out, char *why,
    size_t whylen);

/* Moves the transfers on, waiting at most wait_ms for network activity. */
anvil_err ct_submit_perform(struct ct_submission *s, int wait_ms);
/* Whether the outcome is decided (met, cannot be met, or deadline). Informational transfers
 * may still run: ct_submit_perform keeps driving them until ct_submit_idle. */
int ct_submit_decided(const struct ct_submission *s);
int ct_submit_idle(const struct ct_submission *s);
/* Performs until decided (drain: until idle too). */
anvil_err ct_submit_run(struct ct_submission *s, int drain);
/* AE_OK and the SignedCertificateTimestampList (RFC 6962 section 3.3) of the kept SCTs in
 * list (for a precertificate); AE_UNAVAILABLE with why (what the policy needed and what each
 * log did) when the policy was not met; AE_BUSY while undecided. */
anvil_err ct_submit_result(const struct ct_submission *s, struct buf *list, char *why,
    size_t whylen);
size_t ct_submit_nlogs(const struct ct_submission *s);
const struct ct_log_result *ct_submit_log(const struct ct_submission *s, size_t i);
/* Cancels what still runs. */
void ct_submit_free(struct ct_submission *s);

#endif
