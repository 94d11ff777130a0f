/* RFC 8555 §7.4.2 certificate download: POST-as-GET by the owning account, the leaf and the
 * issuer's chain as application/pem-certificate-chain. /acme/cert/SERIAL is the default chain
 * (the issuer's certificate file); /acme/cert/SERIAL/N the N-th of acme.alternate_chains, each
 * listed by the others as Link rel="alternate". */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/issue.h"
#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "issue/issue.h"
#include "lib/log.h"
#include "lib/pem.h"

/* The leaf as PEM followed by the chain, in the arena; NULL on failure. The stored DER is the
 * certificate issue/finish.c parsed completely before storing it, so it is written as PEM as
 * it is: parsing it again here cost more than the rest of the request (lib/pem.h). */
static char *
pem_chain(struct req *r, const struct db_cert *c, const char *chain, size_t *len)
{
	size_t clen = strlen(chain), plen = pem_encoded_len("CERTIFICATE", c->der_len), n = 0;
	char *out;

	if (plen == 0 || !pem_der_is_one_sequence(c->der, c->der_len) ||
	    plen >= ARENA_MAX || clen > ARENA_MAX - plen - 1 ||
	    (out = arena_alloc(&r->arena, plen + clen + 1)) == NULL ||
	    pem_from_der("CERTIFICATE", c->der, c->der_len, out, plen + 1, &n) != AE_OK)
		return NULL;
	memcpy(out + n, chain, clen + 1);
	*len = n + clen;
	return out;
}

/* "SERIAL" or "SERIAL/N": 1..40 lowercase hex digits, N 1..ISSUE_CHAINS_MAX. */
static int
cert_path(const char *rest, char serial[DB_SERIAL_HEX_MAX + 1], size_t *chain)
{
	size_t n = strspn(rest, "0123456789abcdef");

	if (n == 0 || n > DB_SERIAL_HEX_MAX)
		return -1;
	memcpy(serial, rest, n);
	serial[n] = '\0';
	*chain = 0;
	if (rest[n] == '\0')
		return 0;
	if (rest[n] != '/' || rest[n + 1] < '1' || rest[n + 1] > '0' + ISSUE_CHAINS_MAX ||
	    rest[n + 2] != '\0')
		return -1;
	*chain = (size_t)(rest[n + 1] - '0');
	return 0;
}

/* What api_cert reads with the signing account. */
struct cert_read {
	const char *serial;
	struct db_cert *c;
	int found;
};

static anvil_err
cert_read(struct req *r, const struct jws *jws, int64_t acct_id, struct db_account *acct,
    void *arg)
{
	struct cert_read *x = arg;

	(void)jws;
	return db_cert_get_acct(r->db, acct_id, acct, x->serial, x->c, &x->found);
}

void
api_cert(struct req *r, const char *rest)
{
	char serial[DB_SERIAL_HEX_MAX + 1];
	struct auth a;
	struct cert_read rd = { .serial = serial };
	struct db_cert *c = NULL;
	const char *chain;
	char *body;
	size_t n = 0, len = 0, nchains;

	if (cert_path(rest, serial, &n) != 0) {
		req_problem(r, PROB_NOT_FOUND, "no such certificate");
		goto out;
	}
	if ((c = arena_alloc(&r->arena, sizeof(*c))) == NULL) {
		req_fail(r, AE_NOMEM, "certificate");
		goto out;
	}
	rd.c = c;
	if (auth_request_with(r, AUTH_KID, &a, cert_read, &rd) != 0)
		goto out;
	if (!a.jws->post_as_get) {
		req_problem(r, PROB_MALFORMED, "a certificate is read with POST-as-GET (an empty "
		    "payload)");
		goto out;
	}
	if (r->issue == NULL) {
		req_problem(r, PROB_UNAVAILABLE, "issuance is not available (see the log)");
		goto out;
	}
	if (!rd.found) {
		req_problem(r, PROB_NOT_FOUND, "no such certificate");
		goto out;
	}
	if (c->account_id != a.acct->id) {
		req_problem(r, PROB_UNAUTHORIZED, "this certificate was issued to another account");
		goto out;
	}
	nchains = issue_chain_count(r->issue, c->issuer);
	if (n >= nchains && n > 0) {
		req_problem(r, PROB_NOT_FOUND, "no such chain");
		goto out;
	}
	if ((chain = issue_chain_pem(r->issue, c->issuer, n)) == NULL) {
		log_err("certificate %s: the chain %zu of issuer %s is not loaded", serial, n,
		    c->issuer);
		req_problem(r, PROB_UNAVAILABLE, "the certificate chain is not available");
		goto out;
	}
	if ((body = pem_chain(r, c, chain, &len)) == NULL) {
		req_fail(r, AE_NOMEM, "certificate chain");
		goto out;
	}
	r->status = 200;
	r->resp_type = "application/pem-certificate-chain";
	r->resp_body = body;
	r->resp_len = len;
	for (size_t i = 0; i < nchains; i++) {
		const char *u;
		if (i == n || issue_chain_pem(r->issue, c->issuer, i) == NULL)
			continue;
		u = i == 0 ? req_url(r, "/acme/cert/%s", serial) :
		    req_url(r, "/acme/cert/%s/%zu", serial, i);
		if (u != NULL)
			req_header(r, "Link", "<%s>;rel=\"alternate\"", u);
	}
out:
	return;
}
