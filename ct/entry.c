#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include "ct/entry.h"

#define LEAF_MAX (64u << 10)

static void
say(char *why, size_t whylen, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
}

static int
unix_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	*out = (int64_t)timegm(&tm);
	return 1;
}

static X509 *
parse(const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	X509 *x;

	if (len == 0 || len > LEAF_MAX)
		return NULL;
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

anvil_err
ct_leaf_new(const uint8_t *leaf, size_t len, const uint8_t *issuer, size_t ilen,
    struct ct_leaf *l, char *why, size_t whylen)
{
	X509 *x = NULL, *is = NULL, *tbs = NULL;
	unsigned char *spki = NULL, *p;
	int n, poison, crit = 0;
	anvil_err e = AE_PARSE;

	memset(l, 0, sizeof(*l));
	if ((x = parse(leaf, len)) == NULL) {
		say(why, whylen, "the leaf is not one DER certificate of at most 64 KiB");
		goto out;
	}
	if ((is = parse(issuer, ilen)) == NULL) {
		say(why, whylen, "the issuer is not one DER certificate of at most 64 KiB");
		goto out;
	}
	if (!unix_time(X509_get0_notBefore(x), &l->not_before) ||
	    !unix_time(X509_get0_notAfter(x), &l->not_after)) {
		say(why, whylen, "the leaf's validity cannot be read");
		goto out;
	}
	if (X509_check_issued(is, x) != X509_V_OK) {
		say(why, whylen, "the leaf was not issued by the given issuer");
		goto out;
	}
	e = AE_NOMEM;
	if ((l->der = malloc(len)) == NULL)
		goto out;
	memcpy(l->der, leaf, len);
	l->der_len = len;
	poison = X509_get_ext_by_NID(x, NID_ct_precert_poison, -1);
	if (poison >= 0)
		crit = X509_EXTENSION_get_critical(X509_get_ext(x, poison));
	if (poison < 0) {
		l->entry.type = CT_ENTRY_X509;
		l->entry.der = l->der;
		l->entry.len = l->der_len;
		e = AE_OK;
		goto out;
	}
	e = AE_PARSE;
	if (!crit || X509_get_ext_by_NID(x, NID_ct_precert_poison, poison) >= 0 ||
	    X509_get_ext_by_NID(x, NID_ct_precert_scts, -1) >= 0) {
		say(why, whylen, "a precertificate needs exactly one critical poison extension "
		    "and no SCT list");
		goto out;
	}
	l->entry.type = CT_ENTRY_PRECERT;
	e = AE_CRYPTO;
	if ((n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(is), &spki)) <= 0)
		goto out;
	SHA256(spki, (size_t)n, l->entry.issuer_key_hash);
	/* RFC 6962 section 3.2: the TBS as the final certificate will carry it, minus the SCT
	 * list, i.e. the precertificate's TBS minus the poison, re-encoded. */
	if ((tbs = X509_dup(x)) == NULL)
		goto out;
	X509_EXTENSION_free(X509_delete_ext(tbs, poison));
	p = NULL;
	if ((n = i2d_re_X509_tbs(tbs, &p)) <= 0)
		goto out;
	l->tbs = p;
	l->entry.der = l->tbs;
	l->entry.len = (size_t)n;
	e = AE_OK;
out:
	OPENSSL_free(spki);
	X509_free(tbs);
	X509_free(is);
	X509_free(x);
	if (e != AE_OK)
		ct_leaf_free(l);
	return e;
}

void
ct_leaf_free(struct ct_leaf *l)
{
	free(l->der);
	OPENSSL_free(l->tbs);
	memset(l, 0, sizeof(*l));
}
