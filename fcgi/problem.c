#include "config.h"
#include "fcgi/problem.h"

#define ACME_ERR "urn:ietf:params:acme:error:"

static const struct {
	const char *type;
	int status;
} prob_table[PROB__COUNT] = {
	[PROB_NONE] = { ACME_ERR "serverInternal", 500 },
	[PROB_MALFORMED] = { ACME_ERR "malformed", 400 },
	[PROB_NOT_FOUND] = { ACME_ERR "malformed", 404 },
	[PROB_METHOD] = { ACME_ERR "malformed", 405 },
	[PROB_TOO_LARGE] = { ACME_ERR "malformed", 413 },
	[PROB_MEDIA_TYPE] = { ACME_ERR "malformed", 415 },
	[PROB_CONFLICT] = { ACME_ERR "malformed", 409 },
	[PROB_NOT_IMPLEMENTED] = { ACME_ERR "malformed", 501 },
	[PROB_BAD_NONCE] = { ACME_ERR "badNonce", 400 },
	[PROB_BAD_SIG_ALG] = { ACME_ERR "badSignatureAlgorithm", 400 },
	[PROB_BAD_PUBLIC_KEY] = { ACME_ERR "badPublicKey", 400 },
	[PROB_ACCOUNT_DOES_NOT_EXIST] = { ACME_ERR "accountDoesNotExist", 400 },
	[PROB_EAB_REQUIRED] = { ACME_ERR "externalAccountRequired", 400 },
	[PROB_INVALID_CONTACT] = { ACME_ERR "invalidContact", 400 },
	[PROB_UNSUPPORTED_CONTACT] = { ACME_ERR "unsupportedContact", 400 },
	[PROB_UNAUTHORIZED] = { ACME_ERR "unauthorized", 403 },
	/* 403 as Boulder answers: a 401 would need WWW-Authenticate (RFC 9110 §15.5.2), and
	 * ACME has no authentication scheme to name in it. */
	[PROB_DEACTIVATED] = { ACME_ERR "unauthorized", 403 },
	[PROB_RATE_LIMITED] = { ACME_ERR "rateLimited", 429 },
	[PROB_UNAVAILABLE] = { ACME_ERR "serverInternal", 503 },
	[PROB_INTERNAL] = { ACME_ERR "serverInternal", 500 },
	[PROB_ORDER_NOT_READY] = { ACME_ERR "orderNotReady", 403 },
	[PROB_REJECTED_IDENTIFIER] = { ACME_ERR "rejectedIdentifier", 400 },
	[PROB_UNSUPPORTED_IDENTIFIER] = { ACME_ERR "unsupportedIdentifier", 400 },
	[PROB_ALREADY_REPLACED] = { ACME_ERR "alreadyReplaced", 409 },
	[PROB_INVALID_PROFILE] = { ACME_ERR "invalidProfile", 400 },
	[PROB_BAD_CSR] = { ACME_ERR "badCSR", 400 },
	[PROB_BAD_REVOCATION_REASON] = { ACME_ERR "badRevocationReason", 400 },
	[PROB_ALREADY_REVOKED] = { ACME_ERR "alreadyRevoked", 400 },
};

const char *
prob_type(enum prob p)
{
	return (unsigned)p < PROB__COUNT ? prob_table[p].type : prob_table[PROB_INTERNAL].type;
}

int
prob_status(enum prob p)
{
	return (unsigned)p < PROB__COUNT ? prob_table[p].status : 500;
}

enum prob
prob_from_err(anvil_err e)
{
	switch (e) {
	case AE_TOOBIG:
		return PROB_TOO_LARGE;
	case AE_PARSE:
	case AE_RANGE:
	case AE_JWS_MALFORMED:
	case AE_JWS_BADSIG:
	case AE_B64:
	case AE_JSON:
		return PROB_MALFORMED;
	case AE_JWS_BADALG:
		return PROB_BAD_SIG_ALG;
	case AE_JWS_BADKEY:
		return PROB_BAD_PUBLIC_KEY;
	case AE_JWS_URL:
	case AE_DENIED:
		return PROB_UNAUTHORIZED;
	case AE_NONCE_BAD:
	case AE_NONCE_USED:
	case AE_NONCE_EXPIRED:
		return PROB_BAD_NONCE;
	case AE_UNAVAILABLE:
	case AE_BUSY:
	case AE_TIMEOUT:
	case AE_DB_DOWN:
		return PROB_UNAVAILABLE;
	default:
		return PROB_INTERNAL;
	}
}
