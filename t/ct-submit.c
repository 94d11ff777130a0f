/* Test driver for ct/client.h: submits one precertificate (or certificate) under a policy of
 * a deployment file's `ct` section and prints what each log did and the SCT list.
 *
 *   ct-submit -c CONFIG -p POLICY [-o LIST] [-n REPEAT] [-d] LEAF ISSUER [CHAIN...]
 *
 * LEAF and the certificates are PEM (or DER) files, the issuer first. -o writes the
 * SignedCertificateTimestampList (RFC 6962 3.3) the signer's op 4 takes. -n submits REPEAT
 * times with one client (to watch the per-log backoff), -d waits for informational logs too.
 * Prints one line per log per round: "round=R log=NAME outcome=... kept=K ms=MS info=I
 * connects=C why=..." (C: new connections, 0 when one was reused), then "result=ok
 * list_bytes=N" or "result=unmet why=..."; exits 0 when every round met
 * the policy, 1 when one did not, 2 on a usage or input error. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include "ct/client.h"
#include "ct/response.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "lib/num.h"

static const char *const outcome_names[] = { "pending", "ok", "failed", "cancelled",
	"skipped" };

/* Reads the first certificate of a PEM or DER file as DER. */
static uint8_t *
read_cert(const char *path, size_t *len)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x = NULL;
	uint8_t *der = NULL;
	int n;

	if (b == NULL)
		return NULL;
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	if (x == NULL || (n = i2d_X509(x, &der)) <= 0) {
		X509_free(x);
		return NULL;
	}
	X509_free(x);
	*len = (size_t)n;
	return der;
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL, *policy = NULL, *out_path = NULL;
	struct conf_ctx cc = { 0 };
	json_object *root = NULL;
	struct ct_conf *conf = NULL;
	struct ct_client *cl = NULL;
	struct ct_leaf leaf;
	uint8_t *chain[CT_CHAIN_MAX] = { 0 }, *leaf_der = NULL;
	size_t chain_len[CT_CHAIN_MAX], leaf_len = 0, nchain = 0;
	const struct ct_policy *p;
	struct buf list;
	char why[2048];
	int c, rc = 2, drain = 0;
	int64_t repeat = 1;

	memset(&leaf, 0, sizeof(leaf));
	buf_init(&list, CT_SCT_LIST_MAX);
	log_init("ct-submit", 0, getenv("CT_SUBMIT_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	while ((c = getopt(argc, argv, "c:p:o:n:d")) != -1) {
		switch (c) {
		case 'c': conf_path = optarg; break;
		case 'p': policy = optarg; break;
		case 'o': out_path = optarg; break;
		case 'n':
			if (num_parse_i64(optarg, 1, 1000, &repeat) != AE_OK)
				goto usage;
			break;
		case 'd': drain = 1; break;
		default: goto usage;
		}
	}
	if (conf_path == NULL || policy == NULL || argc - optind < 2 ||
	    argc - optind > CT_CHAIN_MAX)
		goto usage;
	if (conf_load(&cc, conf_path, &root) != AE_OK ||
	    (conf = calloc(1, sizeof(*conf))) == NULL ||
	    ct_conf_parse(&cc, root, conf) != AE_OK) {
		fprintf(stderr, "ct-submit: %s\n", cc.err[0] ? cc.err : "out of memory");
		goto out;
	}
	if ((p = ct_conf_policy(conf, policy)) == NULL) {
		fprintf(stderr, "ct-submit: no policy %s\n", policy);
		goto out;
	}
	if ((leaf_der = read_cert(argv[optind], &leaf_len)) == NULL) {
		fprintf(stderr, "ct-submit: %s: not a certificate\n", argv[optind]);
		goto out;
	}
	for (int i = optind + 1; i < argc; i++, nchain++) {
		if ((chain[nchain] = read_cert(argv[i], &chain_len[nchain])) == NULL) {
			fprintf(stderr, "ct-submit: %s: not a certificate\n", argv[i]);
			goto out;
		}
	}
	if (ct_leaf_new(leaf_der, leaf_len, chain[0], chain_len[0], &leaf, why,
	    sizeof(why)) != AE_OK) {
		fprintf(stderr, "ct-submit: %s\n", why);
		goto out;
	}
	if (ct_client_new(conf, &cl) != AE_OK)
		goto out;
	rc = 0;
	for (int64_t r = 1; r <= repeat; r++) {
		struct ct_submission *s = NULL;
		anvil_err e = ct_submit_start(cl, p, &leaf, (const uint8_t *const *)chain,
		    chain_len, nchain, 0, &s, why, sizeof(why));

		if (e == AE_OK && (e = ct_submit_run(s, drain)) == AE_OK) {
			for (size_t i = 0; i < ct_submit_nlogs(s); i++) {
				const struct ct_log_result *lr = ct_submit_log(s, i);
				printf("round=%lld log=%s outcome=%s kept=%d ms=%llu info=%d "
				    "connects=%ld why=%s\n", (long long)r, lr->log->name,
				    outcome_names[lr->outcome], lr->kept, (unsigned long long)lr->ms,
				    lr->informational, lr->connects,
				    lr->why[0] ? lr->why : "-");
			}
			e = ct_submit_result(s, &list, why, sizeof(why));
		}
		ct_submit_free(s);
		if (e == AE_OK) {
			size_t n = 0;
			if (leaf.entry.type == CT_ENTRY_PRECERT)
				n = list.len > 2 ? (size_t)(list.data[0] << 8 | list.data[1]) : 0;
			printf("result=ok list_bytes=%zu\n", n > 0 ? list.len : 0);
		} else {
			printf("result=unmet why=%s\n", why);
			rc = 1;
		}
		fflush(stdout);
	}
	if (rc == 0 && out_path != NULL && leaf.entry.type == CT_ENTRY_PRECERT) {
		FILE *f = fopen(out_path, "wb");
		if (f == NULL || fwrite(list.data, 1, list.len, f) != list.len) {
			fprintf(stderr, "ct-submit: cannot write %s\n", out_path);
			rc = 2;
		}
		if (f != NULL && fclose(f) != 0)
			rc = 2;
	}
	goto out;
usage:
	fprintf(stderr, "usage: ct-submit -c CONFIG -p POLICY [-o LIST] [-n REPEAT] [-d] LEAF "
	    "ISSUER [CHAIN...]\n");
out:
	ct_client_free(cl);
	ct_leaf_free(&leaf);
	for (size_t i = 0; i < CT_CHAIN_MAX; i++)
		OPENSSL_free(chain[i]);
	OPENSSL_free(leaf_der);
	if (conf != NULL)
		ct_conf_free(conf);
	free(conf);
	json_object_put(root);
	buf_free(&list);
	return rc;
}
