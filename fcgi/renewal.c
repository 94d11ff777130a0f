/* RFC 9773 ACME Renewal Information: GET renewalInfo/CERTID answers the suggested renewal
 * window of one of our certificates, and newOrder's "replaces" is checked here. CERTID is
 * base64url(the AKI keyIdentifier) "." base64url(the serial's DER INTEGER content bytes). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "db/issue.h"
#include "fcgi/api.h"
#include "fcgi/certid.h"
#include "lib/b64url.h"
#include "lib/rfc3339.h"

#define ARI_RETRY_AFTER 21600     /* seconds: clients poll renewalInfo about every 6 hours */

/* Finds the certificate a CERTID names: AE_OK, AE_NOTFOUND (no such certificate, or its AKI
 * differs), AE_PARSE (malformed), or a database error. */
static anvil_err
certid_lookup(struct req *r, const char *certid, struct db_cert *c)
{
	uint8_t aki[CERTID_AKI_MAX];
	size_t aki_len = 0;
	char hex[DB_SERIAL_HEX_MAX + 1];
	const ASN1_OCTET_STRING *kid;
	const unsigned char *p;
	X509 *x = NULL;
	anvil_err e;

	if (ari_certid_parse(certid, aki, &aki_len, hex) != AE_OK)
		return AE_PARSE;
	if ((e = db_cert_get(r->db, hex, c)) != AE_OK)
		return e;
	p = c->der;
	if ((x = d2i_X509(NULL, &p, (long)c->der_len)) == NULL)
		return AE_INTERNAL;
	kid = X509_get0_authority_key_id(x);
	e = kid != NULL && (size_t)ASN1_STRING_length(kid) == aki_len &&
	    memcmp(ASN1_STRING_get0_data(kid), aki, aki_len) == 0 ? AE_OK : AE_NOTFOUND;
	X509_free(x);
	return e;
}

void
api_renewal_info(struct req *r, const char *certid)
{
	struct db_cert *c = arena_alloc(&r->arena, sizeof(*c));
	json_object *o = NULL, *w = NULL;
	int64_t start, end, life;
	char t[32];
	anvil_err e;

	if (c == NULL) {
		req_fail(r, AE_NOMEM, "renewal info");
		return;
	}
	if ((e = certid_lookup(r, certid, c)) == AE_PARSE) {
		req_problem(r, PROB_MALFORMED, "not a certificate identifier (RFC 9773 §4.1)");
		return;
	}
	if (e == AE_NOTFOUND) {
		req_problem(r, PROB_NOT_FOUND, "no such certificate");
		return;
	}
	if (e != AE_OK) {
		req_fail(r, e, "renewal info");
		return;
	}
	if (c->revoked) {
		/* Renew now: the window lies in the past (RFC 9773 §4.2). */
		start = r->now - 3600;
		end = r->now - 1;
	} else {
		/* The last third of the lifetime, ending a sixth before expiry: a client that
		 * renews anywhere in it keeps a margin for retries. */
		life = c->not_after - c->not_before + 1;
		start = c->not_before + life * 2 / 3;
		end = c->not_before + life * 5 / 6;
	}
	if ((o = json_object_new_object()) == NULL || (w = json_object_new_object()) == NULL) {
		json_object_put(o);
		req_fail(r, AE_NOMEM, "renewal info");
		return;
	}
	rfc3339_format(start, t);
	json_object_object_add(w, "start", json_object_new_string(t));
	rfc3339_format(end, t);
	json_object_object_add(w, "end", json_object_new_string(t));
	json_object_object_add(o, "suggestedWindow", w);
	req_json(r, 200, o);
	req_header(r, "Retry-After", "%d", ARI_RETRY_AFTER);
}

int
renewal_check_replaces(struct req *r, int64_t account_id, const char *certid)
{
	struct db_cert *c = arena_alloc(&r->arena, sizeof(*c));
	anvil_err e;

	if (c == NULL) {
		req_fail(r, AE_NOMEM, "replaces");
		return -1;
	}
	if ((e = certid_lookup(r, certid, c)) == AE_PARSE || e == AE_NOTFOUND) {
		req_problem(r, PROB_MALFORMED, "replaces does not name a certificate of this "
		    "server");
		return -1;
	}
	if (e != AE_OK) {
		req_fail(r, e, "replaces");
		return -1;
	}
	if (c->account_id != account_id) {
		req_problem(r, PROB_UNAUTHORIZED, "the certificate named by replaces was issued "
		    "to another account");
		return -1;
	}
	if ((e = db_order_replacing(r->db, certid)) == AE_OK) {
		req_problem(r, PROB_ALREADY_REPLACED, "the certificate named by replaces has "
		    "already been replaced by another order");
		return -1;
	}
	if (e != AE_NOTFOUND) {
		req_fail(r, e, "replaces");
		return -1;
	}
	return 0;
}
