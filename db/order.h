/* Orders, authorizations and challenges (RFC 8555 §7.1.3-7.1.5), the validation jobs a challenge
 * response queues, and the counts the application rate limits need. Implemented in db/order.c,
 * db/authz.c and db/ratelimit.c; the tables are in migrations/0002_issuance.sql, the challenges
 * in their authorization's row since 0009. Every query is on a key: results with several rows
 * are read in one statement (db_exec_rows), bounded by the caller's array. */
#ifndef ANVIL_DB_ORDER_H
#define ANVIL_DB_ORDER_H
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include "lib/err.h"

#define DB_IDENTIFIERS_MAX 16384  /* orders.identifiers (JSON) */
#define DB_PROBLEM_MAX 4096       /* orders.error, authorizations.chall_error (JSON) */
#define DB_RECORD_MAX 16384       /* authorizations.chall_record (JSON) */
#define DB_PROFILE_MAX 64
#define DB_IDENT_MAX 255          /* authorizations.identifier_value */
#define DB_REPLACES_MAX 255
#define DB_TOKEN_LEN 22           /* 128 bits, base64url */
#define DB_ORDER_AUTHZ_MAX 100    /* identifiers per order */

enum db_order_status { DB_ORDER_PENDING, DB_ORDER_READY, DB_ORDER_PROCESSING, DB_ORDER_VALID,
	DB_ORDER_INVALID };
enum db_authz_status { DB_AUTHZ_PENDING, DB_AUTHZ_VALID, DB_AUTHZ_INVALID,
	DB_AUTHZ_DEACTIVATED, DB_AUTHZ_EXPIRED, DB_AUTHZ_REVOKED };
enum db_chall_status { DB_CHALL_PENDING, DB_CHALL_PROCESSING, DB_CHALL_VALID,
	DB_CHALL_INVALID };
enum db_ident_type { DB_IDENT_DNS, DB_IDENT_IP };

const char *db_order_status_name(enum db_order_status s);
const char *db_authz_status_name(enum db_authz_status s);
const char *db_chall_status_name(enum db_chall_status s);
const char *db_ident_type_name(enum db_ident_type t);

struct db_order {
	int64_t id;
	int64_t account_id;
	enum db_order_status status;
	int64_t expires;
	char identifiers[DB_IDENTIFIERS_MAX + 1];
	char profile[DB_PROFILE_MAX + 1];
	int64_t not_before, not_after;  /* 0 when not requested */
	char error[DB_PROBLEM_MAX + 1]; /* "" unless invalid */
	char serial[41];                /* "" until valid */
	char replaces[DB_REPLACES_MAX + 1];
	int64_t created;
};

struct db_authz {
	int64_t id;
	int64_t account_id;
	enum db_ident_type type;
	char value[DB_IDENT_MAX + 1];   /* without "*." */
	int wildcard;
	enum db_authz_status status;
	int64_t expires;
	char profile[DB_PROFILE_MAX + 1];
	int64_t created;
};

struct db_chall {
	int64_t id;
	int64_t authz_id;
	char type[16];                  /* "http-01", "dns-01", "tls-alpn-01" */
	char token[DB_TOKEN_LEN + 1];
	enum db_chall_status status;
	int64_t validated;              /* 0 when never */
	char error[DB_PROBLEM_MAX + 1];
	char record[DB_RECORD_MAX + 1];
};

/* One identifier of a new order: an existing authorization to reuse (reuse_id > 0) or a new
 * pending one with its challenges. */
struct db_new_authz {
	enum db_ident_type type;
	const char *value;              /* without "*." */
	int wildcard;
	int64_t reuse_id;
	const char *chall_types[3];
	const char *tokens[3];
	size_t nchall;
	int64_t id;                     /* out: the authorization's id */
};

/* The account's limits counted inside the transaction that creates what they count, after a
 * lock on the account's row, so that parallel requests of one account count one after the
 * other (db/ratelimit.c). A limit of 0 is off. When one refuses, the creating function returns
 * AE_DENIED with `hit` naming it and `oldest` the creation time of the oldest counted row (0
 * when the limit has no window). */
struct db_rl_account {
	int64_t orders_limit, orders_window;  /* new_orders */
	int64_t pending_limit;                /* pending_authorizations */
	const char *hit;                      /* out */
	int64_t oldest;                       /* out */
};

struct db_new_order {
	int64_t account_id;
	struct db_rl_account rl;
	int64_t expires;                /* order */
	int64_t authz_expires;          /* new authorizations */
	const char *identifiers;        /* JSON */
	const char *profile;
	int64_t not_before, not_after;  /* 0: not requested */
	const char *replaces;           /* NULL: none */
	const char *domains[DB_ORDER_AUTHZ_MAX]; /* registered domains (rate limits) */
	size_t ndomains;
	struct db_new_authz *authz;
	size_t nauthz;
	int64_t now;
};

/* Finds a valid authorization of the account for the identifier and profile that expires after
 * `valid_after` and was created at or after `created_after` (*id, *expires): AE_NOTFOUND when
 * there is none. */
anvil_err db_authz_find_valid(struct db *db, int64_t account_id, enum db_ident_type type,
    const char *value, int wildcard, const char *profile, int64_t valid_after,
    int64_t created_after, int64_t *id, int64_t *expires);
/* Creates the order, its new authorizations and challenges, the links and the order's
 * registered domains in one transaction, counted against o->rl; *id is the order's. The order is ready at once when
 * every authorization is reused. AE_EXISTS: `replaces` names a certificate another order has
 * already replaced. */
anvil_err db_order_create(struct db *db, struct db_new_order *o, int64_t *id);
/* Creates one pending authorization and its challenges (newAuthz); rl (NULL: none) as for
 * orders. */
anvil_err db_authz_create(struct db *db, int64_t account_id, const char *profile,
    int64_t expires, int64_t now, struct db_new_authz *a, struct db_rl_account *rl);

anvil_err db_order_get(struct db *db, int64_t id, struct db_order *out);
/* The order's authorizations in authz id order, into out[0..*n); more than max is AE_TOOBIG. */
anvil_err db_order_authz_list(struct db *db, int64_t order_id, struct db_authz *out, size_t max,
    size_t *n);
/* Reads with the signing account (POST-as-GET of an order, an authorization or a challenge;
 * finalize): account acct_id into *acct as db_account_by_id reads it and, in the same
 * statement, the resource with the given id as the function without _acct reads it, whoever it
 * belongs to; *found 0 when there is no such resource. AE_NOTFOUND when there is no such
 * account. For the order: db_order_get and db_order_authz_list in one, its authorizations
 * into authz[0..*n) in authz id order, more than max AE_DB (stored data wrong). */
struct db_account;
anvil_err db_order_get_view_acct(struct db *db, int64_t acct_id, struct db_account *acct,
    int64_t id, struct db_order *o, struct db_authz *authz, size_t max, size_t *n, int *found);
anvil_err db_authz_get_challs_acct(struct db *db, int64_t acct_id, struct db_account *acct,
    int64_t id, struct db_authz *a, struct db_chall *out, size_t max, size_t *n, int *found);
anvil_err db_chall_authz_get_acct(struct db *db, int64_t acct_id, struct db_account *acct,
    int64_t id, struct db_chall *ch, struct db_authz *a, int *found);
/* Moves a pending order to ready, or a pending/ready order to invalid with error (JSON):
 * only from `from`, so a concurrent change wins. *changed tells whether it moved. */
anvil_err db_order_set_status(struct db *db, int64_t id, enum db_order_status from,
    enum db_order_status to, const char *error, int *changed);
/* Finalize (RFC 8555 §7.4), in one transaction: the order gets the CSR and turns processing,
 * and a 'finalize' job (due at run_after) makes its completion durable; from the status
 * `from` the caller read: ready, or pending when the caller found every authorization valid
 * (the order turns ready and processing in one write). With serial (db/issue.h), the order's
 * serial is recorded in the same transaction (its commit precedes any signature: DESIGN.md
 * invariant 2). AE_EXISTS when the order is no longer in `from`. With key (NULL: none), the
 * CSR key's database checks (db_key_check) are conditions of the same write: AE_DENIED with
 * key->blocked or key->account_key set when one of them refuses it. */
struct db_serial_new;
struct db_key_q {
	const uint8_t *spki_sha256;     /* DB_SPKI_HASH_LEN bytes */
	const char *thumbprint;         /* its RFC 7638 JWK thumbprint */
	int blocked, account_key;       /* out: why AE_DENIED */
};
anvil_err db_order_finalize_from(struct db *db, int64_t id, enum db_order_status from,
    const uint8_t *csr, size_t csr_len, int64_t now, int64_t run_after,
    struct db_serial_new *serial, struct db_key_q *key);
/* Up to max of the account's order ids after `after`, ascending, into ids[0..*n): invalid
 * orders left out (RFC 8555 §7.1.2.1), a pending or ready one past its expiry too (it is
 * invalid once read). */
anvil_err db_orders_of_account(struct db *db, int64_t account_id, int64_t after, int64_t now,
    int64_t *ids, size_t max, size_t *n);

anvil_err db_authz_get(struct db *db, int64_t id, struct db_authz *out);
/* pending|valid -> deactivated; *changed 0 when it was in another state. */
anvil_err db_authz_deactivate(struct db *db, int64_t id, int *changed);
/* pending|valid past its expiry -> expired. */
anvil_err db_authz_expire(struct db *db, int64_t id, int64_t now);

/* Challenges live in their authorization's row (migration 0009): a challenge's id is computed
 * from the authorization's and the type's index (db_chall_type_index), at or above
 * DB_CHALL_ID_BASE; ids below it are the old challenges table's and are looked up there. */
#define DB_CHALL_ID_BASE ((int64_t)1 << 60)
#define DB_AUTHZ_CHALL_MAX 3      /* one per type */
int64_t db_chall_id(int64_t authz_id, int type_index);
/* 0 http-01, 1 dns-01, 2 tls-alpn-01; -1 for anything else. */
int db_chall_type_index(const char *type);

/* Any challenge id (either scheme); AE_NOTFOUND when there is no such challenge. */
anvil_err db_chall_get(struct db *db, int64_t id, struct db_chall *out);
/* The challenge and its authorization in one read; AE_NOTFOUND when there is no such
 * challenge. */
anvil_err db_chall_authz_get(struct db *db, int64_t id, struct db_chall *ch, struct db_authz *a);
/* The authorization's challenges in type order, into out[0..*n); more than max is AE_TOOBIG. */
anvil_err db_chall_list(struct db *db, int64_t authz_id, struct db_chall *out, size_t max,
    size_t *n);
/* db_authz_get and db_chall_list in one read. */
anvil_err db_authz_get_challs(struct db *db, int64_t id, struct db_authz *a, struct db_chall *out,
    size_t max, size_t *n);
/* Challenge response (RFC 8555 §7.5.1): in one transaction, challenge id (either scheme) of
 * account_id's pending, unexpired authorization becomes its attempted challenge, processing,
 * and a 'validate' job is queued for it. *queued is 1 when this call queued it; 0 when there is
 * no such challenge of that account, or the authorization was in another state or had an
 * attempted challenge already (the caller reads the state to answer). No read before the
 * write: the caller reads the row once, when the result is there. waiter: the caller's wake
 * socket, recorded with the job (db_job_enqueue), or NULL. */
anvil_err db_chall_respond(struct db *db, int64_t id, int64_t account_id, int64_t now,
    const char *waiter, int *queued);

/* Rate limit counts (db/ratelimit.c). The windowed ones also give the creation time of the
 * oldest counted row (0 when none), from which Retry-After follows. */
anvil_err db_rl_exempt(struct db *db, int64_t account_id, int *exempt);
/* exempt 1 adds the account to ratelimit_exempt, 0 removes it. */
anvil_err db_rl_set_exempt(struct db *db, int64_t account_id, int exempt, int64_t now);
anvil_err db_rl_orders_since(struct db *db, int64_t account_id, int64_t since, int64_t *n,
    int64_t *oldest);
anvil_err db_rl_pending_authz(struct db *db, int64_t account_id, int64_t now, int64_t *n);
anvil_err db_rl_failed_since(struct db *db, int64_t account_id, enum db_ident_type type,
    const char *value, int64_t since, int64_t *n, int64_t *oldest);
anvil_err db_rl_certs_since(struct db *db, const char *domain, int64_t since, int64_t *n,
    int64_t *oldest);
/* Inside the creating transaction, first: locks the account's row, then counts its orders in the
 * window (when `order`) and its pending authorizations with the new_authz being added. AE_DENIED
 * (rl->hit set) past a limit; AE_OK when no limit is on (no lock taken then). */
anvil_err db_rl_account_admit(struct db *db, int64_t account_id, int64_t now, int order,
    size_t new_authz, struct db_rl_account *rl);

/* Internal to db/ (db/order.c, used by db/authz.c). */
/* Runs sql (which selects the authorization columns in the order db/order.c lists them) and
 * fills a from its one row; AE_NOTFOUND when there is none. */
anvil_err db_authz_row(struct db *db, const char *sql, const struct db_val *params,
    size_t nparams, struct db_authz *a);
/* db_authz_row for sql selecting more columns after the authorization's: fetched into
 * extra[0..nextra), nextra at most DB_AUTHZ_ROW_EXTRA_MAX. */
#define DB_AUTHZ_ROW_EXTRA_MAX 15 /* with the 9: db/db.c's 24 */
anvil_err db_authz_row_ext(struct db *db, const char *sql, const struct db_val *params,
    size_t nparams, struct db_authz *a, struct db_val *extra, size_t nextra);
int db_chall_status_index(const char *s);

#endif
