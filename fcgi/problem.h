/* RFC 8555 §6.7 problem documents: the one table from a problem to its type and HTTP status,
 * and the one table from anvil_err to a problem (STYLE.md habit 4). */
#ifndef ANVIL_FCGI_PROBLEM_H
#define ANVIL_FCGI_PROBLEM_H
#include "lib/err.h"

enum prob {
	PROB_NONE = 0,
	PROB_MALFORMED,              /* 400 malformed */
	PROB_NOT_FOUND,              /* 404 malformed: no such resource */
	PROB_METHOD,                 /* 405 malformed, with Allow */
	PROB_TOO_LARGE,              /* 413 malformed */
	PROB_MEDIA_TYPE,             /* 415 malformed */
	PROB_CONFLICT,               /* 409 malformed, with Location (keyChange) */
	PROB_NOT_IMPLEMENTED,        /* 501 malformed: issuance is a later step */
	PROB_BAD_NONCE,              /* 400 badNonce */
	PROB_BAD_SIG_ALG,            /* 400 badSignatureAlgorithm, with "algorithms" */
	PROB_BAD_PUBLIC_KEY,         /* 400 badPublicKey */
	PROB_ACCOUNT_DOES_NOT_EXIST, /* 400 accountDoesNotExist */
	PROB_EAB_REQUIRED,           /* 400 externalAccountRequired */
	PROB_INVALID_CONTACT,        /* 400 invalidContact */
	PROB_UNSUPPORTED_CONTACT,    /* 400 unsupportedContact */
	PROB_UNAUTHORIZED,           /* 403 unauthorized: this key may not do this */
	PROB_DEACTIVATED,            /* 403 unauthorized: the account is deactivated */
	PROB_RATE_LIMITED,           /* 429 rateLimited, with Retry-After */
	PROB_UNAVAILABLE,            /* 503 serverInternal, with Retry-After: a dependency is down */
	PROB_INTERNAL,               /* 500 serverInternal: a bug, and only a bug */
	/* orders, authorizations, challenges (fcgi/order.c, authz.c, challenge.c) */
	PROB_ORDER_NOT_READY,        /* 403 orderNotReady */
	PROB_REJECTED_IDENTIFIER,    /* 400 rejectedIdentifier: outside the profile's policy */
	PROB_UNSUPPORTED_IDENTIFIER, /* 400 unsupportedIdentifier: not dns or ip */
	PROB_ALREADY_REPLACED,       /* 409 alreadyReplaced (RFC 9773) */
	PROB_INVALID_PROFILE,        /* 400 invalidProfile (draft-ietf-acme-profiles) */
	/* finalize, revocation (fcgi/finalize.c, revoke.c) */
	PROB_BAD_CSR,                /* 400 badCSR */
	PROB_BAD_REVOCATION_REASON,  /* 400 badRevocationReason */
	PROB_ALREADY_REVOKED,        /* 400 alreadyRevoked */
	PROB__COUNT
};

const char *prob_type(enum prob p);
int prob_status(enum prob p);
/* The problem an inner error becomes when no handler chose a more specific one. */
enum prob prob_from_err(anvil_err e);

#endif
