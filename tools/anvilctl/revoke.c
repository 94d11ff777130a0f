/* anvilctl revoke, block-key, unblock-key: the incident commands. Revocation goes through
 * issue_revoke, the path of ACME revokeCert, so its OCSP response and CRL shard are due at
 * once and anvil-jobs is woken to publish them (ocsp.revocation_bound_seconds). */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "db/admin.h"
#include "issue/revoke.h"
#include "lib/log.h"
#include "lib/num.h"
#include "tools/anvilctl/ctl.h"
#include "lib/hex.h"

#define REVOKE_MAX DB_ADMIN_LIST_MAX

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl revoke (--serial SERIAL | --account ID | --key SPKI_SHA256 |"
	    " --key-of FILE) [--reason REASON] [--dry-run]\n"
	    "       anvilctl block-key|unblock-key (SPKI_SHA256 | --key-of FILE) [--reason TEXT]\n");
	return 2;
}

/* The SPKI SHA-256 of the public key in a PEM certificate, CSR or public key file. */
static int
spki_of_file(const char *path, uint8_t out[DB_SPKI_HASH_LEN])
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	X509_REQ *r = NULL;
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len, rc = -1;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		k = X509_get_pubkey(x);
	} else {
		rewind(f);
		if ((r = PEM_read_X509_REQ(f, NULL, NULL, NULL)) != NULL) {
			k = X509_REQ_get_pubkey(r);
		} else {
			rewind(f);
			k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		}
	}
	if (k == NULL) {
		fprintf(stderr, "anvilctl: %s: not a PEM certificate, CSR or public key\n", path);
		goto out;
	}
	if ((len = i2d_PUBKEY(k, &der)) <= 0 ||
	    EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != DB_SPKI_HASH_LEN)
		goto out;
	rc = 0;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	X509_free(x);
	X509_REQ_free(r);
	fclose(f);
	return rc;
}

struct targets {
	char (*serial)[DB_SERIAL_HEX_MAX + 1];
	size_t n, cap;
	size_t already;
};

static anvil_err
collect(void *arg, const struct db_cert_brief *c)
{
	struct targets *t = arg;

	if (c->revoked) {
		t->already++;
		return AE_OK;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		void *p = realloc(t->serial, cap * sizeof(*t->serial));

		if (p == NULL)
			return AE_NOMEM;
		t->serial = p;
		t->cap = cap;
	}
	memcpy(t->serial[t->n++], c->serial, sizeof(*t->serial));
	return AE_OK;
}

int
ctl_revoke(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "account", required_argument, NULL, 'a' },
		{ "key", required_argument, NULL, 'k' },
		{ "key-of", required_argument, NULL, 'K' },
		{ "reason", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *serial_arg = NULL, *account_arg = NULL, *key_arg = NULL, *keyfile = NULL;
	struct targets t = { NULL, 0, 0, 0 };
	uint8_t spki[DB_SPKI_HASH_LEN];
	char serial[DB_SERIAL_HEX_MAX + 1], spkihex[2 * DB_SPKI_HASH_LEN + 1];
	struct db *db = NULL;
	struct db_cert *c = NULL;
	int64_t now = (int64_t)time(NULL), account = 0;
	int ch, reason = 0, dry = 0, rc = 1, nsel;
	size_t done = 0, failed = 0;
	anvil_err e;

	while ((ch = getopt_long(argc, argv, "s:a:k:K:r:n", lo, NULL)) != -1) {
		switch (ch) {
		case 's': serial_arg = optarg; break;
		case 'a': account_arg = optarg; break;
		case 'k': key_arg = optarg; break;
		case 'K': keyfile = optarg; break;
		case 'r':
			if (ctl_reason_parse(optarg, &reason) != 0) {
				fprintf(stderr, "anvilctl: --reason: one of unspecified, keyCompromise, "
				    "affiliationChanged, superseded, cessationOfOperation, "
				    "privilegeWithdrawn (or its RFC 5280 code)\n");
				return 2;
			}
			break;
		case 'n': dry = 1; break;
		default: return usage();
		}
	}
	nsel = (serial_arg != NULL) + (account_arg != NULL) + (key_arg != NULL) + (keyfile != NULL);
	if (nsel != 1 || optind != argc)
		return usage();
	if (serial_arg != NULL && ctl_serial_parse(serial_arg, serial) != 0) {
		fprintf(stderr, "anvilctl: --serial: not a serial number in hex\n");
		return 2;
	}
	if (account_arg != NULL && num_parse_i64(account_arg, 1, INT64_MAX, &account) != AE_OK) {
		fprintf(stderr, "anvilctl: --account: not an account id\n");
		return 2;
	}
	if (key_arg != NULL && hex_decode_exact(key_arg, spki, sizeof(spki)) != AE_OK) {
		fprintf(stderr, "anvilctl: --key: not a SHA-256 in hex (64 digits)\n");
		return 2;
	}
	if (keyfile != NULL && spki_of_file(keyfile, spki) != 0)
		return 1;
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	if (serial_arg != NULL) {
		if ((c = malloc(sizeof(*c))) == NULL)
			goto out;
		if ((e = db_cert_get(db, serial, c)) != AE_OK) {
			fprintf(stderr, "anvilctl: certificate %s: %s\n", serial,
			    e == AE_NOTFOUND ? "no such certificate" : anvil_strerror(e));
			goto out;
		}
		struct db_cert_brief b;

		memset(&b, 0, sizeof(b));
		memcpy(b.serial, serial, sizeof(b.serial));
		b.revoked = c->revoked;
		if (collect(&t, &b) != AE_OK)
			goto out;
		memcpy(spki, c->spki_sha256, sizeof(spki));
	} else {
		/* Expired certificates are left alone: no relying party accepts them, and their
		 * status rows may be gone. */
		e = account_arg != NULL ?
		    db_certs_of_account(db, account, now, REVOKE_MAX, collect, &t) :
		    db_certs_of_key(db, spki, now, REVOKE_MAX, collect, &t);
		if (e != AE_OK) {
			fprintf(stderr, "anvilctl: listing the certificates: %s: %s\n",
			    anvil_strerror(e), db_error(db));
			goto out;
		}
	}
	fprintf(stderr, "anvilctl: %zu certificate%s to revoke (reason %s), %zu revoked already\n",
	    t.n, t.n == 1 ? "" : "s", ctl_reason_name(reason), t.already);
	for (size_t i = 0; i < t.n; i++) {
		uint8_t own[DB_SPKI_HASH_LEN];

		if (dry) {
			printf("would revoke %s\n", t.serial[i]);
			continue;
		}
		/* With keyCompromise each certificate's own key is blocked, as over ACME. */
		if (serial_arg == NULL && key_arg == NULL && keyfile == NULL) {
			if (c == NULL && (c = malloc(sizeof(*c))) == NULL)
				goto out;
			if ((e = db_cert_get(db, t.serial[i], c)) != AE_OK) {
				fprintf(stderr, "anvilctl: %s: %s\n", t.serial[i], anvil_strerror(e));
				failed++;
				continue;
			}
			memcpy(own, c->spki_sha256, sizeof(own));
		} else {
			memcpy(own, spki, sizeof(own));
		}
		e = issue_revoke(db, t.serial[i], reason, now, own, reason == 1,
		    ctl_wake_socket(ctl), ctl_who());
		if (e == AE_OK) {
			ctl_audit("revoke serial=%s reason=%d", t.serial[i], reason);
			printf("revoked %s\n", t.serial[i]);
			done++;
		} else if (e == AE_EXISTS) {
			printf("already revoked %s\n", t.serial[i]);
		} else {
			fprintf(stderr, "anvilctl: revoke %s: %s: %s\n", t.serial[i],
			    anvil_strerror(e), db_error(db));
			failed++;
		}
	}
	/* The incident case: a compromised key stays blocked even when it has no certificate
	 * left to revoke. */
	if (!dry && reason == 1 && (key_arg != NULL || keyfile != NULL)) {
		hex_encode(spki, sizeof(spki), spkihex);
		e = db_key_block(db, spki, "keyCompromise", now);
		if (e == AE_OK)
			ctl_audit("block-key spki_sha256=%s reason=keyCompromise", spkihex);
		else if (e != AE_EXISTS) {
			fprintf(stderr, "anvilctl: block key: %s\n", anvil_strerror(e));
			failed++;
		}
	}
	if (serial_arg != NULL && t.n == 0) {
		fprintf(stderr, "anvilctl: %s is revoked already\n", serial);
		goto out;
	}
	fprintf(stderr, "anvilctl: %zu revoked, %zu failed%s\n", done, failed,
	    done > 0 && ctl_wake_socket(ctl) == NULL ? " (no jobs.wake_socket: published at "
	    "anvil-jobs' next poll)" : "");
	rc = failed == 0 ? 0 : 1;
out:
	free(t.serial);
	free(c);
	db_free(db);
	ctl_done(ctl);
	return rc;
}

/* anvilctl block-key|unblock-key: keys that finalize refuses (badPublicKey), whatever
 * certificate they had. */
int
ctl_block_key(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "key-of", required_argument, NULL, 'K' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int block = strcmp(argv[0], "block-key") == 0;
	const char *reason = "operator", *keyfile = NULL;
	uint8_t spki[DB_SPKI_HASH_LEN];
	char hex[2 * DB_SPKI_HASH_LEN + 1];
	struct db *db = NULL;
	int ch, rc = 1;
	anvil_err e;

	while ((ch = getopt_long(argc, argv, "K:r:", lo, NULL)) != -1) {
		switch (ch) {
		case 'K': keyfile = optarg; break;
		case 'r': reason = optarg; break;
		default: return usage();
		}
	}
	if ((keyfile == NULL) == (optind == argc) || optind < argc - 1)
		return usage();
	if (strlen(reason) < 1 || strlen(reason) > 64) {
		fprintf(stderr, "anvilctl: --reason: 1..64 characters\n");
		return 2;
	}
	if (keyfile != NULL ? spki_of_file(keyfile, spki) != 0 :
	    hex_decode_exact(argv[optind], spki, sizeof(spki)) != AE_OK) {
		fprintf(stderr, "anvilctl: the key is a SHA-256 of its SubjectPublicKeyInfo in hex "
		    "(anvilctl cert show prints it), or --key-of FILE\n");
		return 2;
	}
	hex_encode(spki, sizeof(spki), hex);
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	e = block ? db_key_block(db, spki, reason, (int64_t)time(NULL)) : db_key_unblock(db, spki);
	if (e == AE_EXISTS || e == AE_NOTFOUND) {
		printf("%s was %s already\n", hex, block ? "blocked" : "not blocked");
		rc = 0;
		goto out;
	}
	if (e != AE_OK) {
		fprintf(stderr, "anvilctl: %s: %s: %s\n", argv[0], anvil_strerror(e), db_error(db));
		goto out;
	}
	if (block) {
		char esc[4 * 64 + 1];

		ctl_audit("block-key spki_sha256=%s reason=\"%s\"", hex,
		    log_escape(esc, sizeof(esc), reason, strlen(reason)));
	}
	else
		ctl_audit("unblock-key spki_sha256=%s", hex);
	printf("%s %s\n", hex, block ? "blocked" : "unblocked");
	rc = 0;
out:
	db_free(db);
	ctl_done(ctl);
	return rc;
}
