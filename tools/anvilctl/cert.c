/* anvilctl cert show|list: a certificate as the CA stored it, with the state of its published
 * revocation status (cert_status), and the certificates of an account, a key or a name. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "db/admin.h"
#include "db/status.h"
#include "lib/num.h"
#include "tools/anvilctl/ctl.h"
#include "lib/hex.h"

static int
usage(void)
{
	fprintf(stderr, "usage: anvilctl cert show SERIAL [--json] [--pem]\n"
	    "       anvilctl cert list [--account ID | --name NAME | --key SPKI_SHA256] [--expired]"
	    " [--limit N] [--json]\n");
	return 2;
}

/* The DNS names and IP addresses of the certificate's subjectAltName. */
static json_object *
sans(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	GENERAL_NAMES *gn = NULL;
	json_object *a = json_object_new_array();

	if (x == NULL || a == NULL)
		goto out;
	gn = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gn != NULL && i < sk_GENERAL_NAME_num(gn); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gn, i);
		char buf[256];

		if (g->type == GEN_DNS) {
			const ASN1_STRING *s = g->d.dNSName;
			int n = ASN1_STRING_length(s);

			if (n <= 0 || n >= (int)sizeof(buf))
				continue;
			memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
			buf[n] = '\0';
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *s = g->d.iPAddress;
			const unsigned char *b = ASN1_STRING_get0_data(s);
			int n = ASN1_STRING_length(s);

			if (n == 4)
				snprintf(buf, sizeof(buf), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
			else if (n == 16) {
				size_t o = 0;
				for (int k = 0; k < 16; k += 2)
					o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%x",
					    k ? ":" : "", (unsigned)(b[k] << 8 | b[k + 1]));
			} else
				continue;
		} else {
			continue;
		}
		json_object_array_add(a, json_object_new_string(buf));
	}
out:
	GENERAL_NAMES_free(gn);
	X509_free(x);
	return a;
}

static json_object *
brief_json(const struct db_cert_brief *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "serial", json_object_new_string(c->serial));
	json_object_object_add(o, "account", json_object_new_int64(c->account_id));
	json_object_object_add(o, "order", json_object_new_int64(c->order_id));
	json_object_object_add(o, "issuer", json_object_new_string(c->issuer));
	json_object_object_add(o, "profile", json_object_new_string(c->profile));
	json_object_object_add(o, "not_before", ctl_json_time(c->not_before));
	json_object_object_add(o, "not_after", ctl_json_time(c->not_after));
	json_object_object_add(o, "status", json_object_new_string(c->revoked ? "revoked" :
	    c->not_after < (int64_t)time(NULL) ? "expired" : "good"));
	if (c->revoked) {
		json_object_object_add(o, "revoked_at", ctl_json_time(c->revoked_at));
		json_object_object_add(o, "revoked_reason",
		    json_object_new_string(ctl_reason_name(c->revoked_reason)));
	}
	return o;
}

static int
show(struct db *db, const char *arg, int json, int pem)
{
	char serial[DB_SERIAL_HEX_MAX + 1], hex[2 * DB_SPKI_HASH_LEN + 1];
	struct db_cert *c = malloc(sizeof(*c));
	struct db_cert_brief b;
	struct db_status st;
	json_object *o = NULL, *s;
	int rc = 1, have_st;
	anvil_err e;

	if (c == NULL)
		goto out;
	if (ctl_serial_parse(arg, serial) != 0) {
		fprintf(stderr, "anvilctl: %s: not a serial number in hex\n", arg);
		rc = 2;
		goto out;
	}
	if ((e = db_cert_get(db, serial, c)) != AE_OK) {
		fprintf(stderr, "anvilctl: certificate %s: %s\n", serial,
		    e == AE_NOTFOUND ? "no such certificate" : anvil_strerror(e));
		goto out;
	}
	if (pem) {
		const unsigned char *p = c->der;
		X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

		rc = x != NULL && PEM_write_X509(stdout, x) == 1 ? 0 : 1;
		X509_free(x);
		goto out;
	}
	memset(&b, 0, sizeof(b));
	memcpy(b.serial, c->serial, sizeof(b.serial));
	memcpy(b.issuer, c->issuer, sizeof(b.issuer));
	memcpy(b.profile, c->profile, sizeof(b.profile));
	b.account_id = c->account_id;
	b.order_id = c->order_id;
	b.not_before = c->not_before;
	b.not_after = c->not_after;
	b.created = c->created;
	b.revoked = c->revoked;
	b.revoked_at = c->revoked_at;
	b.revoked_reason = c->revoked_reason;
	o = brief_json(&b);
	json_object_object_add(o, "names", sans(c->der, c->der_len));
	hex_encode(c->spki_sha256, sizeof(c->spki_sha256), hex);
	json_object_object_add(o, "spki_sha256", json_object_new_string(hex));
	json_object_object_add(o, "issued", ctl_json_time(c->created));
	have_st = (e = db_status_get(db, serial, &st)) == AE_OK;
	if (!have_st && e != AE_NOTFOUND) {
		fprintf(stderr, "anvilctl: cert_status: %s\n", anvil_strerror(e));
		goto out;
	}
	s = json_object_new_object();
	json_object_object_add(o, "ocsp", s);
	if (have_st) {
		json_object_object_add(s, "published", json_object_new_string(st.revoked ?
		    "revoked" : "good"));
		json_object_object_add(s, "this_update", ctl_json_time(st.this_update));
		json_object_object_add(s, "next_update", ctl_json_time(st.next_update));
		json_object_object_add(s, "refresh_at", ctl_json_time(st.refresh_at));
		json_object_object_add(s, "crl_shard", json_object_new_int64(st.shard));
		/* A revocation waiting for anvil-jobs: stored, not yet what relying parties see. */
		json_object_object_add(s, "pending", json_object_new_boolean(st.revoked &&
		    st.refresh_at <= (int64_t)time(NULL)));
	} else {
		json_object_object_add(s, "published", json_object_new_string("none"));
	}
	if (json) {
		ctl_json_print(o);
	} else {
		json_object_object_foreach(o, k, v) {
			if (json_object_is_type(v, json_type_object)) {
				json_object_object_foreach(v, k2, v2)
					printf("%-16s %s\n", k2, json_object_get_string(v2) ?
					    json_object_get_string(v2) : "-");
				continue;
			}
			if (json_object_is_type(v, json_type_array)) {
				printf("%-16s", k);
				for (size_t i = 0; i < json_object_array_length(v); i++)
					printf(" %s", json_object_get_string(
					    json_object_array_get_idx(v, i)));
				printf("\n");
				continue;
			}
			printf("%-16s %s\n", k, v ? json_object_get_string(v) : "-");
		}
	}
	rc = 0;
out:
	json_object_put(o);
	free(c);
	return rc;
}

struct listing {
	json_object *a;
	int json;
	size_t n;
};

static anvil_err
list_one(void *arg, const struct db_cert_brief *c)
{
	struct listing *l = arg;
	json_object *o = brief_json(c);

	l->n++;
	if (l->json) {
		json_object_array_add(l->a, o);
		return AE_OK;
	}
	printf("%-40s %-8s %8lld %-10s %-10s %s\n", c->serial,
	    json_object_get_string(json_object_object_get(o, "status")), (long long)c->account_id,
	    c->issuer, c->profile, json_object_get_string(json_object_object_get(o, "not_after")));
	json_object_put(o);
	return AE_OK;
}

int
ctl_cert(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pem", no_argument, NULL, 'p' },
		{ "account", required_argument, NULL, 'a' },
		{ "name", required_argument, NULL, 'N' },
		{ "key", required_argument, NULL, 'k' },
		{ "expired", no_argument, NULL, 'e' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *account_arg = NULL, *name = NULL, *key_arg = NULL;
	struct listing l = { NULL, 0, 0 };
	uint8_t spki[DB_SPKI_HASH_LEN];
	struct db *db = NULL;
	int64_t account = 0, limit = 1000, min;
	int ch, json = 0, pem = 0, expired = 0, rc = 1;
	anvil_err e;

	if (argc < 2 || (strcmp(argv[1], "show") != 0 && strcmp(argv[1], "list") != 0))
		return usage();
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "ja:N:k:el:", lo, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'p': pem = 1; break;
		case 'a': account_arg = optarg; break;
		case 'N': name = optarg; break;
		case 'k': key_arg = optarg; break;
		case 'e': expired = 1; break;
		case 'l':
			if (num_parse_i64(optarg, 1, DB_ADMIN_LIST_MAX, &limit) != AE_OK) {
				fprintf(stderr, "anvilctl: --limit: 1..%d\n", DB_ADMIN_LIST_MAX);
				return 2;
			}
			break;
		default: return usage();
		}
	}
	if (argv[0][0] == 's') {
		if (optind != argc - 1 || account_arg || name || key_arg)
			return usage();
		if (ctl_db(ctl, &db) == AE_OK)
			rc = show(db, argv[optind], json, pem);
		goto out;
	}
	if (optind != argc || pem || (account_arg != NULL) + (name != NULL) + (key_arg != NULL) > 1)
		return usage();
	if (account_arg != NULL && num_parse_i64(account_arg, 1, INT64_MAX, &account) != AE_OK) {
		fprintf(stderr, "anvilctl: --account: not an account id\n");
		return 2;
	}
	if (key_arg != NULL && hex_decode_exact(key_arg, spki, sizeof(spki)) != AE_OK) {
		fprintf(stderr, "anvilctl: --key: not a SHA-256 in hex (64 digits)\n");
		return 2;
	}
	if (name != NULL && (strlen(name) < 1 || strlen(name) > 253)) {
		fprintf(stderr, "anvilctl: --name: a DNS name\n");
		return 2;
	}
	if (ctl_db(ctl, &db) != AE_OK)
		goto out;
	l.json = json;
	if (json && (l.a = json_object_new_array()) == NULL)
		goto out;
	min = expired ? 0 : (int64_t)time(NULL);
	if (account_arg != NULL)
		e = db_certs_of_account(db, account, min, (size_t)limit, list_one, &l);
	else if (key_arg != NULL)
		e = db_certs_of_key(db, spki, min, (size_t)limit, list_one, &l);
	else if (name != NULL)
		e = db_certs_of_name(db, name, min, (size_t)limit, list_one, &l);
	else
		e = db_certs_latest(db, min, (size_t)limit, list_one, &l);
	if (e == AE_TOOBIG)
		fprintf(stderr, "anvilctl: more than %lld certificates: the first shown (--limit)\n",
		    (long long)limit);
	else if (e != AE_OK) {
		fprintf(stderr, "anvilctl: cert list: %s: %s\n", anvil_strerror(e), db_error(db));
		goto out;
	}
	if (json)
		ctl_json_print(l.a);
	else if (l.n == 0)
		fprintf(stderr, "anvilctl: no certificates%s\n", expired ? "" :
		    " (unexpired; --expired for all)");
	rc = 0;
out:
	json_object_put(l.a);
	db_free(db);
	ctl_done(ctl);
	return rc;
}
