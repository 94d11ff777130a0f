/* The ACME API's state: accounts (RFC 8555 §7.1.2, §7.3), EAB keys (§7.3.4), redeemed nonces.
 * Implemented in db/account.c, db/eab.c, db/nonce.c. */
#ifndef ANVIL_DB_ACME_H
#define ANVIL_DB_ACME_H
#include <stdint.h>
#include "db/db.h"
#include "lib/err.h"

#define DB_JWK_MAX 4096       /* the accounts.jwk column */
#define DB_CONTACT_MAX 4096   /* the accounts.contact column (a JSON array) */
#define DB_EAB_KID_MAX 255
#define DB_EAB_KEY_MAX 64
#define DB_EAB_PROFILES_MAX 1024   /* eab_keys.profiles: comma-separated profile names */

enum db_account_status { DB_ACCT_VALID, DB_ACCT_DEACTIVATED, DB_ACCT_REVOKED };

struct db_account {
	int64_t id;
	char thumbprint[44];
	char jwk[DB_JWK_MAX + 1];
	char contact[DB_CONTACT_MAX + 1];
	enum db_account_status status;
	int eab_scoped;                 /* its EAB key allows only eab_profiles */
	char eab_profiles[DB_EAB_PROFILES_MAX + 1];
};

const char *db_account_status_name(enum db_account_status s);

/* AE_NOTFOUND when there is no such account. */
anvil_err db_account_by_id(struct db *db, int64_t id, struct db_account *out);
anvil_err db_account_by_thumbprint(struct db *db, const char *thumbprint, struct db_account *out);
/* Inserts a valid account; AE_DB_DUPLICATE if the key is already registered. When eab_kid is
 * set, the EAB key is bound in the same transaction, counted under its row lock; AE_EXISTS if
 * it can bind no more accounts (its limit reached, or revoked, expired or deleted meanwhile).
 * net (NULL: no limit) is counted in that transaction first (db_rl_net). */
struct db_rl_net;
anvil_err db_account_create(struct db *db, const char *thumbprint, const char *jwk,
    const char *contact, const char *eab_kid, struct db_rl_net *net, int64_t *id);

/* newAccount per client network (acme.rate_limits.new_accounts_per_ip, db/ratelimit.c): with
 * net given to db_account_create, the transaction first locks the network's row of
 * ratelimit_nets, counts the accounts created from it in the window and records the network on
 * the new account; AE_DENIED past the limit (`oldest`: creation time of the oldest counted
 * account, unix seconds). */
struct db_rl_net {
	const char *net;      /* "192.0.2.1/32", "2001:db8:1:2::/64" */
	int64_t limit, window, now;
	int64_t oldest;       /* out */
};
anvil_err db_rl_net_admit(struct db *db, struct db_rl_net *net);
/* Outside any transaction: a bounded purge of networks unused since `before`. */
anvil_err db_rl_net_purge(struct db *db, int64_t before);
anvil_err db_account_set_contact(struct db *db, int64_t id, const char *contact);
anvil_err db_account_deactivate(struct db *db, int64_t id);
/* Replaces the key of account id if it still has old_thumbprint: AE_DB_DUPLICATE if another
 * account has the new key, AE_NOTFOUND if the account's key changed meanwhile. */
anvil_err db_account_set_key(struct db *db, int64_t id, const char *old_thumbprint,
    const char *thumbprint, const char *jwk);

struct db_eab_key {
	char kid[DB_EAB_KID_MAX + 1];
	uint8_t key[DB_EAB_KEY_MAX];
	size_t key_len;
	char alg[8];
	int64_t created;          /* unix seconds */
	int64_t expires;          /* unix seconds; 0: never */
	int64_t revoked;          /* unix seconds; 0: not revoked */
	int64_t max_accounts;     /* -1: unlimited */
	int64_t accounts_bound;
	char profiles[DB_EAB_PROFILES_MAX + 1];   /* "": every profile */
};

/* The key with its state; AE_NOTFOUND when there is none. */
anvil_err db_eab_get(struct db *db, const char *kid, struct db_eab_key *out);
/* in: kid, key, key_len, alg, expires, max_accounts, profiles. AE_DB_DUPLICATE if kid exists. */
anvil_err db_eab_add(struct db *db, const struct db_eab_key *in);
/* Every key, by kid (no HMAC key filled in); fn's error stops the walk. */
typedef anvil_err (*db_eab_fn)(void *arg, const struct db_eab_key *k);
anvil_err db_eab_list(struct db *db, db_eab_fn fn, void *arg);
/* AE_NOTFOUND when there is no such key, AE_EXISTS when it is revoked already. */
anvil_err db_eab_revoke(struct db *db, const char *kid, int64_t now);
/* 1 when name is one of the comma-separated profiles. */
int db_eab_profile_in(const char *profiles, const char *name);

/* Internal to db/: the account's columns, as SQL_ACCT_BY_ID selects them, for a statement of
 * another table that brings the account along (the aliases are ac and ek). db_account_bind
 * points cols[0..DB_ACCOUNT_NCOLS) at a and status (16 bytes); db_account_fill completes a from
 * them after the fetch. */
#define DB_ACCOUNT_SELECT "ac.id, ac.thumbprint, ac.jwk, ac.contact, ac.status, ek.profiles"
#define DB_ACCOUNT_FROM "accounts ac LEFT JOIN eab_keys ek ON ek.kid = ac.eab_kid"
#define DB_ACCOUNT_NCOLS 6
void db_account_bind(struct db_account *a, char *status, struct db_val *cols);
void db_account_fill(struct db_account *a, const char *status, const struct db_val *cols);

/* Redeems a nonce: AE_OK the first time, AE_NONCE_USED after. */
anvil_err db_nonce_redeem(struct db *db, const uint8_t *id, size_t id_len, int64_t expires);
/* The same INSERT, deferred into the next transaction on db (db_defer_first): a replay makes
 * that db_begin fail with AE_NONCE_USED. db_settle_first redeems it when no transaction
 * committed it, and says AE_NONCE_USED for a replay. */
anvil_err db_nonce_redeem_deferred(struct db *db, const uint8_t *id, size_t id_len,
    int64_t expires);
/* Deletes at most limit rows that expired before now; *deleted gets the count. */
anvil_err db_nonce_purge(struct db *db, int64_t now, int64_t limit, uint64_t *deleted);

#endif
