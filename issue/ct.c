/* Certificate Transparency in issuance (doc/ct.md): the SCTs of a precertificate, gathered by
 * the ct/ client under the profile's policy within the caller's deadline, and the issuer chains
 * the logs are given. One client per issue_ctx (so per anvil-fcgi worker, per anvil-jobs lane):
 * its connections to the logs and its per-log backoff live as long as the process. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "ct/client.h"
#include "ct/response.h"
#include "issue/internal.h"
#include "issue/issue.h"
#include "lib/log.h"

/* The certificates of the issuer's PEM (issuer first), as the logs get them after the leaf. */
static int
chain_load(const char *pem, struct ct_chain *ch)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int rc = 0;

	if (b == NULL)
		return -1;
	while (rc == 0 && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);
		X509_free(x);
		if (n <= 0 || ch->n == CT_CHAIN_MAX - 1) {
			OPENSSL_free(der);
			rc = -1;
			break;
		}
		ch->der[ch->n] = der;
		ch->len[ch->n++] = (size_t)n;
	}
	BIO_free(b);
	return rc == 0 && ch->n > 0 ? 0 : -1;
}

anvil_err
issue_ct_init(struct issue_ctx *ic)
{
	const struct ct_conf *cc = ic->conf.ct;

	if (cc == NULL || cc->nprofiles == 0)
		return AE_OK;   /* no CT profile: nothing is ever sent anywhere */
	for (size_t i = 0; i < issue_conf_nissuers(&ic->conf); i++)
		if (ic->chains[i].pem[0] != NULL && chain_load(ic->chains[i].pem[0],
		    &ic->ct_chain[i]) != 0)
			log_warn("issuer %s: its certificate file cannot be sent to CT logs",
			    ic->conf.policy->issuers[i].name);
	return ct_client_new(cc, &ic->ct);
}

void
issue_ct_free(struct issue_ctx *ic)
{
	for (size_t i = 0; i < MAX_ISSUERS; i++)
		for (size_t k = 0; k < ic->ct_chain[i].n; k++)
			OPENSSL_free(ic->ct_chain[i].der[k]);
	ct_client_free(ic->ct);
}

int
issue_ct_available(const struct issue_ctx *ic)
{
	return ic->ct != NULL;
}

const struct ct_chain *
issue_ct_chain(const struct issue_ctx *ic, const char *issuer)
{
	for (size_t i = 0; i < issue_conf_nissuers(&ic->conf); i++)
		if (strcmp(ic->conf.policy->issuers[i].name, issuer) == 0)
			return ic->ct_chain[i].n > 0 ? &ic->ct_chain[i] : NULL;
	return NULL;
}

anvil_err
issue_ct_scts(struct issue_ctx *ic, const char *profile, const char *issuer,
    const uint8_t *pre, size_t pre_len, int64_t deadline_ms, struct buf *list, char *why,
    size_t whylen)
{
	const struct ct_policy *p = ic->ct != NULL ?
	    ct_conf_profile_policy(ic->conf.ct, profile) : NULL;
	const struct ct_chain *ch = issue_ct_chain(ic, issuer);
	struct ct_submission *s = NULL;
	struct ct_leaf leaf;
	anvil_err e;

	memset(&leaf, 0, sizeof(leaf));
	if (p == NULL || ch == NULL) {
		snprintf(why, whylen, "no CT policy or issuer chain for profile %s", profile);
		return AE_UNAVAILABLE;
	}
	if (deadline_ms <= issue_now_ms()) {
		snprintf(why, whylen, "policy %s: no time left in the budget", p->name);
		return AE_TIMEOUT;
	}
	if ((e = ct_leaf_new(pre, pre_len, ch->der[0], ch->len[0], &leaf, why, whylen)) != AE_OK)
		goto out;
	if ((e = ct_submit_start(ic->ct, p, &leaf, (const uint8_t *const *)ch->der, ch->len, ch->n,
	    (uint64_t)deadline_ms, &s, why, whylen)) != AE_OK ||
	    (e = ct_submit_run(s, 0)) != AE_OK)
		goto out;
	e = ct_submit_result(s, list, why, whylen);
out:
	ct_submit_free(s);
	ct_leaf_free(&leaf);
	return e;
}

uint64_t
issue_ct_final_logs(const struct issue_ctx *ic, const char *profile)
{
	const struct ct_conf *cc = ic->conf.ct;
	const struct ct_policy *p = cc != NULL ? ct_conf_profile_policy(cc, profile) : NULL;
	uint64_t m = 0;

	if (p == NULL || ic->ct == NULL)
		return 0;
	for (size_t i = 0; i < cc->nlogs; i++)
		if ((p->final_logs >> i & 1) && cc->logs[i].state == CT_LOG_USABLE)
			m |= UINT64_C(1) << i;
	return m;
}

uint64_t
issue_ct_final_logs_all(const struct issue_ctx *ic)
{
	const struct ct_conf *cc = ic->conf.ct;
	uint64_t m = 0;

	if (cc == NULL || ic->ct == NULL)
		return 0;
	for (size_t i = 0; i < cc->nprofiles; i++)
		m |= issue_ct_final_logs(ic, cc->profiles[i].profile);
	return m;
}

anvil_err
issue_ct_final_start(struct issue_ctx *ic, size_t log, const uint8_t *der, size_t len,
    const char *issuer, int64_t timeout_ms, struct issue_ct_final **out, char *why,
    size_t whylen)
{
	const struct ct_chain *ch = issue_ct_chain(ic, issuer);
	struct issue_ct_final *f = NULL;
	anvil_err e;

	*out = NULL;
	if (ic->ct == NULL || ch == NULL || log >= ic->conf.ct->nlogs) {
		snprintf(why, whylen, "no CT client, issuer chain (%s) or log %zu", issuer, log);
		return AE_NOTFOUND;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return AE_NOMEM;
	if ((e = ct_leaf_new(der, len, ch->der[0], ch->len[0], &f->leaf, why, whylen)) != AE_OK ||
	    (e = ct_submit_start_logs(ic->ct, UINT64_C(1) << log, timeout_ms, &f->leaf,
	    (const uint8_t *const *)ch->der, ch->len, ch->n, 0, &f->s, why, whylen)) != AE_OK) {
		issue_ct_final_free(f);
		return e;
	}
	*out = f;
	return AE_OK;
}

void
issue_ct_final_free(struct issue_ct_final *f)
{
	if (f == NULL)
		return;
	ct_submit_free(f->s);
	ct_leaf_free(&f->leaf);
	free(f);
}
