/* The issue_ctx, shared by the files of issue/ only. */
#ifndef ANVIL_ISSUE_INTERNAL_H
#define ANVIL_ISSUE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "ca/client.h"
#include "ct/response.h"
#include "db/db.h"
#include "issue/conf.h"
#include "issue/issue.h"
#include "lib/buf.h"

struct chains {
	char *pem[1 + ISSUE_CHAINS_MAX];
	size_t n;
};

struct ct_chain {             /* an issuer's certificate file as DER, issuer first */
	uint8_t *der[CT_CHAIN_MAX];
	size_t len[CT_CHAIN_MAX];
	size_t n;
};

struct ct_client;

struct issue_ctx {
	struct db *db;
	struct issue_conf conf;
	int conf_borrowed;            /* conf is the caller's (issue_ctx_new_conf): not freed */
	json_object *root;            /* owns the strings in conf (NULL when borrowed) */
	struct signer_client *signer; /* NULL without a signer section */
	struct chains chains[MAX_ISSUERS];  /* by issuer index */
	uint8_t (*weak)[32];          /* sorted */
	size_t nweak;
	issue_caa_fn caa;             /* NULL: CAA re-checks wait for anvil-jobs */
	void *caa_arg;
	void (*on_issued)(void);      /* NULL: nobody counts (issue_ctx_on_issued) */
	struct ct_client *ct;         /* NULL without a CT profile (issue/ct.c) */
	struct ct_chain ct_chain[MAX_ISSUERS];
};

struct db_status;

/* The status step of every signed serial (DESIGN.md invariant 5), for a certificate now and for
 * a precertificate whose certificate may never come (CT): signs the first OCSP response (good)
 * through the signer before deadline_ms (issue_now_ms), publishes it durably under ocsp.dir,
 * and fills st, the cert_status row the caller stores in the transaction that records the
 * certificate (db_cert_issued) or precertificate. Without ocsp.dir nothing is signed and the
 * row is due at once (a refresher configured later publishes it). Nothing is handed out until
 * this succeeds: any failure comes back as a "retry later" code of issue_finish. */
anvil_err issue_status_first(struct issue_ctx *ic, const char *issuer, const char *serial,
    int64_t not_after, int64_t deadline_ms, struct db_status *st);

struct db_order_fin;
struct profile;

/* The CAA re-check of the order o of profile prof (issue/caa.c): AE_OK when every DNS
 * identifier's CAA check is recent enough or has just been repeated with success; AE_DENIED
 * when CAA forbids one (detail says which); AE_BUSY when a check is due and this process has
 * no hook (the order stays processing for anvil-jobs); another "retry later" code otherwise. */
anvil_err issue_caa_recheck(struct issue_ctx *ic, const struct db_order_fin *o,
    const struct profile *prof, int64_t deadline_ms, char *detail, size_t detail_len);

/* issue/ct.c: the CT client and the issuers' chains, when a profile uses CT. */
anvil_err issue_ct_init(struct issue_ctx *ic);
void issue_ct_free(struct issue_ctx *ic);
const struct ct_chain *issue_ct_chain(const struct issue_ctx *ic, const char *issuer);
/* The SignedCertificateTimestampList for the precertificate pre (DER) of profile, under its
 * policy, before deadline_ms (issue_now_ms). AE_OK with list; otherwise (the policy not met
 * in time, or it cannot be met now) why names the policy and what each log did. */
anvil_err issue_ct_scts(struct issue_ctx *ic, const char *profile, const char *issuer,
    const uint8_t *pre, size_t pre_len, int64_t deadline_ms, struct buf *list, char *why,
    size_t whylen);

#endif
