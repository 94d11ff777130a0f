/* Issuance, below both front doors (DESIGN.md "Layering"): anvil-fcgi's finalize and anvil-jobs'
 * 'finalize' jobs drive an order in `processing` to `valid` (serial recorded, certificate signed
 * by anvil-signer, stored) or `invalid`, with the same code. One issue_ctx per process (or per
 * thread): it owns one signer connection. */
#ifndef ANVIL_ISSUE_H
#define ANVIL_ISSUE_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"
#include "issue/conf.h"
#include "lib/conf.h"
#include "lib/err.h"

struct issue_ctx;

/* Reads the configuration (issue/conf.h), the issuers' chain files and the weak-key list. On
 * error cc->err says why. db is borrowed. */
anvil_err issue_ctx_new(struct db *db, json_object *config_root, struct conf_ctx *cc,
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
 *   anything else    the order is now invalid, with a problem document saying why.
 * Idempotent: the serial recorded for the order is reused, and the signer answers a repeated
 * request with the bytes it signed the first time. */
anvil_err issue_finish(struct issue_ctx *ic, int64_t order_id, int64_t deadline_ms);

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

#endif
