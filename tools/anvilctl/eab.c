#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "db/acme.h"
#include "db/db.h"
#include "lib/b64url.h"
#include "tools/anvilctl/ctl.h"

static void
usage(void)
{
	fprintf(stderr, "usage: anvilctl eab add --kid KID [--alg HS256|HS384|HS512]\n");
}

/* A kid travels in JWS headers and URLs: keep it to unreserved URI characters. */
static int
kid_ok(const char *kid)
{
	size_t n = strlen(kid);

	return n >= 1 && n <= DB_EAB_KID_MAX && strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._~-") == n;
}

/* anvilctl eab add --kid KID [--alg ALG]: creates an EAB key and prints it (base64url) once on
 * stdout; it is not shown again. */
int
ctl_eab(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kid", required_argument, NULL, 'k' },
		{ "alg", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_conf dbc;
	struct db *db = NULL;
	const char *kid = NULL, *alg = "HS256";
	uint8_t key[64];
	char b64[128];
	size_t keylen = 0;
	int ch, rc = 1, have_conf = 0;
	anvil_err e;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		usage();
		return 2;
	}
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "k:a:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k': kid = optarg; break;
		case 'a': alg = optarg; break;
		default: usage(); return 2;
		}
	}
	if (kid == NULL || optind != argc) {
		usage();
		return 2;
	}
	if (!kid_ok(kid)) {
		fprintf(stderr, "anvilctl: --kid must be 1..%d characters of A-Z a-z 0-9 . _ ~ -\n",
		    DB_EAB_KID_MAX);
		return 2;
	}
	if (strcmp(alg, "HS256") == 0)
		keylen = 32;
	else if (strcmp(alg, "HS384") == 0)
		keylen = 48;
	else if (strcmp(alg, "HS512") == 0)
		keylen = 64;
	else {
		fprintf(stderr, "anvilctl: --alg must be HS256, HS384 or HS512\n");
		return 2;
	}
	if (db_conf_parse(&ctl->conf, ctl->config, &dbc) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		goto out;
	}
	have_conf = 1;
	if (RAND_bytes(key, (int)keylen) != 1 ||
	    b64url_encode(key, keylen, b64, sizeof(b64)) != AE_OK) {
		fprintf(stderr, "anvilctl: cannot generate a key\n");
		goto out;
	}
	if ((e = db_new(&dbc, &db)) != AE_OK)
		goto out;
	if ((e = db_eab_add(db, kid, key, keylen, alg)) != AE_OK) {
		if (e == AE_DB_DUPLICATE)
			fprintf(stderr, "anvilctl: an EAB key with kid %s exists already\n", kid);
		else
			fprintf(stderr, "anvilctl: eab add: %s: %s\n", anvil_strerror(e),
			    db_error(db));
		goto out;
	}
	printf("%s\n", b64);
	fprintf(stderr, "anvilctl: EAB key %s (%s) created; the key above is not shown again\n",
	    kid, alg);
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(b64, sizeof(b64));
	db_free(db);
	if (have_conf)
		db_conf_free(&dbc);
	return rc;
}
