/* Issuance, below both front doors (DESIGN.md "Layering"): anvil-fcgi's finalize and anvil-jobs'
 * 'finalize' jobs drive an order in `processing` to `valid` (serial recorded, certificate signed
 * by anvil-signer, stored) or `invalid`, with the same code. One issue_ctx per process (or per
 * thread): it owns one signer connection. */
#ifndef ANVIL_ISSUE_H
#define ANVIL_ISSUE_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "ct/client.h"
#include "db/db.h"
#include "issue/conf.h"
#include "lib/conf.h"
#include "lib/err.h"

struct issue_ctx;

/* Reads the configuration (issue/conf.h), the issuers' chain files and the weak-key list. On
 * error cc->err says why. db is borrowed. */
anvil_err issue_ctx_new(struct db *db, json_object *config_root, struct conf_ctx *cc,
    struct issue_ctx **out);
/* The same from a configuration the caller parsed (issue_conf_parse) and keeps, unchanged,
 * until issue_ctx_free: anvil-fcgi's workers share their master's (fcgi/conf.h), so a worker
 * holds one profile set and parses none. */
anvil_err issue_ctx_new_conf(struct db *db, const struct issue_conf *conf, struct conf_ctx *cc,
    struct issue_ctx **out);
void issue_ctx_free(struct issue_ctx *ic);
const struct issue_conf *issue_ctx_conf(const struct issue_ctx *ic);

/* Drives order_id (status processing, CSR in orders.csr) to valid or invalid before deadline_ms
 * (CLOCK_MONOTONIC milliseconds, see issue_now_ms):
 *   AE_OK            the order is valid (now, or already was);
 *   AE_BUSY, AE_TIMEOUT, AE_UNAVAILABLE, AE_DB_DOWN, AE_DB, AE_NOMEM
 *                    not finished, nothing lost: the order stays processing, retry later;
 *   AE_EXISTS        the order is in neither processing nor valid (e.g. invalid): nothing done;
 *   AE_NOTFOUND      no such order;
 *   anything else    the order is now invalid, with a problem document saying why
 *                    (AE_RANGE: it expired while issuance could not proceed; until then
 *                    issuance is retried, never given up on).
 * Idempotent: the serial recorded for the order is reused, and the signer answers a repeated
 * request with the bytes it signed the first time. */
anvil_err issue_finish(struct issue_ctx *ic, int64_t order_id, int64_t deadline_ms);

/* The CAA re-check (issue/caa.c, CA/B Forum BR 3.2.2.8): before a certificate of a profile with
 * a caa_recheck (public ones: 8 hours) is signed, every DNS identifier whose authorization's
 * check is older is checked again through this hook. anvil-jobs sets one (va/, on the lane's
 * own engine); without one (anvil-fcgi, which does not reach the network) such an order stays
 * processing and its finalize job does it. The hook returns AE_OK when CAA permits issuance,
 * AE_DENIED when a CAA record forbids it, or a "retry later" code (DNS trouble, timeout);
 * detail says why in words fit for a problem document. deadline_ms as issue_finish's. */
struct issue_caa_query {
	const char *ident;        /* DNS name, without "*." */
	int wildcard;
	const char *method;       /* the challenge type that validated it ("" when unknown) */
	const char *profile;
	int64_t account_id;
};
typedef anvil_err (*issue_caa_fn)(void *arg, const struct issue_caa_query *q,
    int64_t deadline_ms, char *detail, size_t detail_len);
void issue_ctx_set_caa(struct issue_ctx *ic, issue_caa_fn fn, void *arg);

/* Called once for each certificate this issue_ctx stored (not for an order found valid
 * already, nor for one another process stored first): the front doors' issuance counters
 * (fcgi/metrics.c, jobs/observe.c). From the thread that called issue_finish. */
void issue_ctx_on_issued(struct issue_ctx *ic, void (*fn)(void));

/* CLOCK_MONOTONIC in milliseconds. */
int64_t issue_now_ms(void);

/* The chains served with certificates of issuer: n = 0 the default (the issuer's certificate
 * file), 1.. the alternates of acme.alternate_chains. PEM text, or NULL when there is no such
 * chain (or its file could not be read at start). */
const char *issue_chain_pem(const struct issue_ctx *ic, const char *issuer, size_t n);
size_t issue_chain_count(const struct issue_ctx *ic, const char *issuer);

/* Whether the SPKI hash is on the weak-key list (acme.weak_keys_file). */
int issue_key_weak(const struct issue_ctx *ic, const uint8_t spki_sha256[32]);

/* Whether this issue_ctx gathers SCTs: a CT client runs when some profile uses CT (ct.profiles
 * names it). A CT profile without one cannot issue (see issue_finish). */
int issue_ct_available(const struct issue_ctx *ic);

/* The final-certificate queue (db/ctfinal.h, jobs/ctfinal.c): the usable logs of the
 * profile's policy's final_certificates (bit i: ct.logs[i]); of every CT profile (_all). */
uint64_t issue_ct_final_logs(const struct issue_ctx *ic, const char *profile);
uint64_t issue_ct_final_logs_all(const struct issue_ctx *ic);

/* One final certificate's add-chain to one log, in flight: drive s with ct_submit_perform
 * until ct_submit_decided, then ct_submit_result. */
struct issue_ct_final {
	struct ct_leaf leaf;
	struct ct_submission *s;
};
/* Starts submitting the certificate der (issued by issuer) to ct.logs[log] with its issuer
 * chain, waiting at most timeout_ms for the log. AE_NOTFOUND (why) when the issuer or log is
 * unknown; another error (why) when the certificate cannot be submitted. */
anvil_err issue_ct_final_start(struct issue_ctx *ic, size_t log, const uint8_t *der,
    size_t len, const char *issuer, int64_t timeout_ms, struct issue_ct_final **out,
    char *why, size_t whylen);
void issue_ct_final_free(struct issue_ct_final *f);

#endif
