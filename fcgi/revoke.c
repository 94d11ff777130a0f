/* RFC 8555 §7.6 revokeCert: by the issuing account (kid), by an account holding valid
 * authorizations for every name of the certificate (kid; the reason becomes
 * cessationOfOperation, as Boulder does), or by the certificate's own key (jwk). Reasons per
 * RFC 5280 with the subscriber restrictions of the CA/B Forum baseline requirements:
 * unspecified (0), keyCompromise (1), affiliationChanged (3), superseded (4),
 * cessationOfOperation (5), privilegeWithdrawn (9). keyCompromise (from the subscriber or the
 * certificate's key) also blocks the key for future issuance. The revocation itself is
 * issue/revoke.c's (shared with the operator's command): it makes the OCSP response and the CRL
 * shard due, and anvil-jobs publishes them. */
#include "config.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "db/issue.h"
#include "fcgi/api.h"
#include "lib/hex.h"
#include "fcgi/auth.h"
#include "issue/csr.h"
#include "issue/revoke.h"
#include "lib/b64url.h"
#include "lib/log.h"

#define REASON_KEY_COMPROMISE 1
#define REASON_CESSATION_OF_OPERATION 5

static void
free_buf(void *p)
{
	free(p);
}

static int
reason_allowed(int64_t reason)
{
	return reason == 0 || reason == 1 || reason == 3 || reason == 4 || reason == 5 ||
	    reason == 9;
}

/* Lowercase hex of the serial's magnitude, as certificates.serial holds it. */
static int
serial_hex(X509 *x, char out[DB_SERIAL_HEX_MAX + 1])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	unsigned char b[DB_SERIAL_HEX_MAX / 2];
	int n, rc = -1;

	if (bn == NULL || BN_is_negative(bn) || (n = BN_num_bytes(bn)) <= 0 ||
	    n > (int)sizeof(b))
		goto out;
	BN_bn2bin(bn, b);
	hex_encode(b, (size_t)n, out);
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/* Whether the account holds a valid, unexpired authorization for one name of the certificate
 * (DNS name or IP text, as in the certificate; is_ip -1: an IP when it parses as one, as a common
 * name may be): 1 yes, 0 no, -1 with the problem set. Boulder's
 * rule: the identifier itself, so "*.example.com" needs a wildcard authorization for
 * example.com (a dns-01 proof of the zone), which example.com's own (perhaps by http-01) is
 * not, and the other way round. */
static int
holds_name(struct req *r, int64_t account_id, const unsigned char *s, int len, int is_ip)
{
	char val[256];
	unsigned char bin[16];
	int wildcard = 0;
	anvil_err e;

	if (len <= 0 || len >= (int)sizeof(val))
		return 0;
	for (int i = 0; i < len; i++) {
		unsigned char ch = s[i];
		if (ch == '\0' || ch > 0x7e)
			return 0;
		val[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	val[len] = '\0';
	if (is_ip != 0 && inet_pton(strchr(val, ':') ? AF_INET6 : AF_INET, val, bin) != 1) {
		if (is_ip == 1)
			return 0;
		is_ip = 0;
	} else if (is_ip != 0) {
		is_ip = 1;
	}
	if (!is_ip && strncmp(val, "*.", 2) == 0)
		wildcard = 1;
	e = db_authz_valid_for(r->db, account_id, is_ip ? "ip" : "dns", val + 2 * wildcard,
	    wildcard, r->now);
	if (e == AE_NOTFOUND)
		return 0;
	if (e != AE_OK) {
		req_fail(r, e, "authorization lookup");
		return -1;
	}
	return 1;
}

/* Whether the account holds valid authorizations for every name of x: its DNS and IP subject
 * alternative names and the subject's common name (Boulder counts it too; ours is always one of
 * the SANs, but a name the certificate shows is a name it certifies). 1 yes, 0 no, -1 with the
 * problem set. */
static int
holds_every_name(struct req *r, X509 *x, int64_t account_id)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(x);
	int rc = 0, n = gens ? sk_GENERAL_NAME_num(gens) : 0, cn = -1;

	for (int i = 0; i < n; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN];
		if (g->type == GEN_DNS) {
			rc = holds_name(r, account_id, ASN1_STRING_get0_data(g->d.dNSName),
			    ASN1_STRING_length(g->d.dNSName), 0);
		} else if (g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			if ((len != 4 && len != 16) || inet_ntop(len == 4 ? AF_INET : AF_INET6,
			    ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof(ip)) == NULL) {
				rc = 0;
				goto out;
			}
			rc = holds_name(r, account_id, (const unsigned char *)ip, (int)strlen(ip), 1);
		} else {
			rc = 0;   /* a name we never issue: nobody controls it here */
		}
		if (rc <= 0)
			goto out;
	}
	rc = n > 0;
	if (rc == 1 && subj != NULL &&
	    (cn = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, cn));
		rc = holds_name(r, account_id, ASN1_STRING_get0_data(d), ASN1_STRING_length(d), -1);
	}
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

void
api_revoke_cert(struct req *r)
{
	struct auth a;
	struct db_cert *c = NULL;
	json_object *pl, *v = NULL;
	char serial[DB_SERIAL_HEX_MAX + 1], by[64];
	const unsigned char *p;
	uint8_t *der = NULL, spki[32];
	size_t der_len = 0;
	int64_t reason = 0;
	X509 *x = NULL;
	anvil_err e;
	int ok;

	if (auth_request(r, AUTH_EITHER, &a) != 0)
		goto out;
	pl = a.jws->payload_json;
	if (a.jws->post_as_get || !json_object_is_type(pl, json_type_object) ||
	    !json_object_object_get_ex(pl, "certificate", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		req_problem(r, PROB_MALFORMED, "revokeCert needs a payload with a \"certificate\" "
		    "string");
		goto out;
	}
	if ((e = b64url_decode_alloc(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), DB_CERT_DER_MAX, &der, &der_len)) != AE_OK) {
		req_problem(r, PROB_MALFORMED, "the certificate is not base64url DER of at most %d "
		    "bytes", DB_CERT_DER_MAX);
		goto out;
	}
	arena_defer(&r->arena, free_buf, der);
	if (json_object_object_get_ex(pl, "reason", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_int) ||
		    !reason_allowed(reason = json_object_get_int64(v))) {
			req_problem(r, PROB_BAD_REVOCATION_REASON, "the reason must be one of 0 "
			    "(unspecified), 1 (keyCompromise), 3 (affiliationChanged), 4 "
			    "(superseded), 5 (cessationOfOperation) or 9 (privilegeWithdrawn)");
			goto out;
		}
	}
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)der_len)) == NULL || p != der + der_len ||
	    serial_hex(x, serial) != 0) {
		req_problem(r, PROB_MALFORMED, "the certificate does not parse");
		goto out;
	}
	if ((c = arena_alloc(&r->arena, sizeof(*c))) == NULL) {
		req_fail(r, AE_NOMEM, "revoke");
		goto out;
	}
	e = db_cert_get(r->db, serial, c);
	/* A certificate of another CA with a colliding serial is not ours either. */
	if (e == AE_NOTFOUND || (e == AE_OK && (c->der_len != der_len ||
	    memcmp(c->der, der, der_len) != 0))) {
		req_problem(r, PROB_NOT_FOUND, "this server did not issue that certificate");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "certificate lookup");
		goto out;
	}
	if (a.jws->jwk != NULL) {
		/* Signed by a key: it must be the certificate's own. */
		ok = csr_spki_sha256(a.key, spki) == AE_OK &&
		    memcmp(spki, c->spki_sha256, sizeof(spki)) == 0;
	} else if (a.acct->id == c->account_id) {
		ok = 1;
	} else if ((ok = holds_every_name(r, x, a.acct->id)) < 0) {
		goto out;
	} else if (ok) {
		/* Boulder's rule: an account that only controls the names revokes for
		 * cessationOfOperation ("no longer owns the domain names"), whatever it asked. It
		 * never proved the key compromised, so the key is not blocked for anyone; only the
		 * certificate's key itself (the jwk path) or its subscriber can say so. */
		reason = REASON_CESSATION_OF_OPERATION;
	}
	if (!ok) {
		req_problem(r, PROB_UNAUTHORIZED, a.jws->jwk != NULL ? "the JWS key is not the "
		    "certificate's key" : "this account neither issued the certificate nor holds "
		    "valid authorizations for all of its names");
		goto out;
	}
	if (a.jws->jwk != NULL)
		snprintf(by, sizeof(by), "certificate-key");
	else if (a.acct->id == c->account_id)
		snprintf(by, sizeof(by), "account-%lld", (long long)a.acct->id);
	else
		snprintf(by, sizeof(by), "authz-holder-account-%lld", (long long)a.acct->id);
	e = issue_revoke(r->db, serial, (int)reason, r->now, c->spki_sha256,
	    reason == REASON_KEY_COMPROMISE, r->conf->orders.wake_socket, by);
	if (e == AE_EXISTS) {
		req_problem(r, PROB_ALREADY_REVOKED, "the certificate is already revoked");
		goto out;
	}
	if (e != AE_OK) {
		req_fail(r, e, "revoke");
		goto out;
	}
	req_empty(r, 200);
out:
	X509_free(x);
}
