/* The relying party for the CT tests: OpenSSL's own CT code checks the SCTs embedded in a
 * certificate against a CT log list in OpenSSL's ctlog_file format.
 *
 *   ct-ossl-check CTLOG_FILE CERT.pem ISSUER.pem
 *
 * Prints "sct=N status=valid|invalid|unknown_log|..." per SCT and exits 0 only when the
 * certificate carries at least one SCT and OpenSSL validates every one (SCT_LIST_validate). */
#include "config.h"
#include <stdio.h>
#include <openssl/ct.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static X509 *
load(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

int
main(int argc, char **argv)
{
	static const char *const names[] = { "not_set", "unknown_log", "valid", "invalid",
		"unverified", "unknown_version" };
	CTLOG_STORE *store = CTLOG_STORE_new();
	CT_POLICY_EVAL_CTX *ctx = CT_POLICY_EVAL_CTX_new();
	X509 *cert = NULL, *issuer = NULL;
	STACK_OF(SCT) *scts = NULL;
	int rc = 1, v;

	if (argc != 4) {
		fprintf(stderr, "usage: ct-ossl-check CTLOG_FILE CERT.pem ISSUER.pem\n");
		return 2;
	}
	if (store == NULL || ctx == NULL || !CTLOG_STORE_load_file(store, argv[1]) ||
	    (cert = load(argv[2])) == NULL || (issuer = load(argv[3])) == NULL) {
		fprintf(stderr, "ct-ossl-check: cannot load the inputs\n");
		goto out;
	}
	if ((scts = X509_get_ext_d2i(cert, NID_ct_precert_scts, NULL, NULL)) == NULL ||
	    sk_SCT_num(scts) == 0) {
		printf("no embedded SCT list\n");
		goto out;
	}
	if (!CT_POLICY_EVAL_CTX_set1_cert(ctx, cert) || !CT_POLICY_EVAL_CTX_set1_issuer(ctx, issuer))
		goto out;
	CT_POLICY_EVAL_CTX_set_shared_CTLOG_STORE(ctx, store);
	v = SCT_LIST_validate(scts, ctx);
	for (int i = 0; i < sk_SCT_num(scts); i++) {
		int st = (int)SCT_get_validation_status(sk_SCT_value(scts, i));
		printf("sct=%d status=%s\n", i, st >= 0 && st <= 5 ? names[st] : "?");
	}
	printf("validate=%d\n", v);
	rc = v == 1 ? 0 : 1;
out:
	SCT_LIST_free(scts);
	X509_free(cert);
	X509_free(issuer);
	CT_POLICY_EVAL_CTX_free(ctx);
	CTLOG_STORE_free(store);
	return rc;
}
