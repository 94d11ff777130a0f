/* What validation reads and writes: a challenge with its authorization and account, and the
 * outcome written together with the job's completion in one statement. */
#ifndef ANVIL_DB_VA_H
#define ANVIL_DB_VA_H
#include <stdint.h>
#include "db/db.h"

struct db_va_chall {
	int64_t id;
	int64_t authz_id;
	int64_t account_id;
	char type[16];              /* http-01, dns-01, tls-alpn-01 */
	char token[32];
	char status[16];            /* the challenge's */
	char ident_type[8];         /* dns, ip */
	char ident_value[256];
	int wildcard;
	char profile[65];
	char authz_status[16];
	char thumbprint[48];        /* the account key's, for the key authorization */
};

/* AE_NOTFOUND when the challenge (or its authorization or account) does not exist. */
anvil_err db_va_load(struct db *db, int64_t chall_id, struct db_va_chall *out);

#define DB_VA_LOAD_MAX 8

/* db_va_load for up to DB_VA_LOAD_MAX distinct challenges in one read: out (n entries) gets
 * the ones that exist, in no particular order, *nout of them. */
anvil_err db_va_load_many(struct db *db, const int64_t *ids, size_t n, struct db_va_chall *out,
    size_t *nout);

/* In one statement: the challenge valid or invalid with its validation record and error
 * (NULL when valid), the authorization likewise (only from pending), and the job done under
 * owner's lease. AE_DENIED (nothing written) when the lease is no longer owner's. */
anvil_err db_va_finish(struct db *db, const struct db_va_chall *c, int valid, int64_t now,
    const char *record, const char *error, int64_t job_id, const char *owner);

#endif
