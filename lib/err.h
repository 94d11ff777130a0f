/* One error enum for all of Anvil. Inner functions return these; the outermost handler reports
 * once (a log line, an ACME problem, a signer reply code). Append new codes inside the section
 * they belong to; never renumber (codes travel in the signer protocol). */
#ifndef ANVIL_ERR_H
#define ANVIL_ERR_H

typedef enum anvil_err {
	AE_OK = 0,
	/* generic */
	AE_NOMEM = 1,
	AE_INTERNAL = 2,      /* a bug */
	AE_IO = 3,
	AE_TOOBIG = 4,        /* input over its named cap */
	AE_PARSE = 5,         /* malformed input */
	AE_RANGE = 6,         /* number out of range */
	AE_CONFIG = 7,
	AE_NOTFOUND = 8,
	AE_EXISTS = 9,
	AE_TIMEOUT = 10,
	AE_UNAVAILABLE = 11,  /* a dependency is down: 503 + Retry-After */
	AE_BUSY = 12,         /* backpressure: retry later */
	AE_DENIED = 13,
	AE_CRYPTO = 14,

	/* JOSE / ACME request layer (100..199) */
	AE_JWS_MALFORMED = 100,
	AE_JWS_BADSIG = 101,
	AE_JWS_BADALG = 102,
	AE_JWS_BADKEY = 103,
	AE_JWS_URL = 104,
	AE_NONCE_BAD = 105,
	AE_NONCE_USED = 106,
	AE_NONCE_EXPIRED = 107,
	AE_B64 = 108,
	AE_JSON = 109,

	/* database (200..299) */
	AE_DB = 200,
	AE_DB_DOWN = 201,
	AE_DB_DUPLICATE = 202,
	AE_DB_SCHEMA = 203,

	/* signer and issuance (300..399) */
	AE_SIGNER_PROTO = 300,
	AE_SIGNER_PROFILE = 301,
	AE_SIGNER_CA = 302,        /* refused: would be a CA certificate */
	AE_SIGNER_KEY = 303,       /* key type or size outside the profile */
	AE_SIGNER_VALIDITY = 304,
	AE_SIGNER_NAME = 305,      /* identifier outside the name policy */
	AE_SIGNER_MISMATCH = 306,  /* certificate differs from its precertificate */
	AE_SIGNER_DUPLICATE = 307, /* a different TBS for a serial already signed */
	AE_SIGNER_DEADLINE = 308,
	AE_SIGNER_HSM = 309,
	AE_SIGNER_PERM = 310,
	AE_SIGNER_SERIAL = 311,    /* serial not a positive integer of at most 20 octets */
	AE_SIGNER_CT = 312,        /* SCT list missing, malformed, or not wanted by the profile */
	AE_SIGNER_UNSIGNED = 313,  /* OCSP for a serial this signer never signed for the issuer */
} anvil_err;

const char *anvil_strerror(anvil_err e);

#endif
