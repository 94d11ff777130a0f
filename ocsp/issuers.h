/* The issuers a responder answers for, as a CertID names them: the SHA-1 and SHA-256 of the
 * issuer's subject name (DER) and of its public key (the BIT STRING's value), computed once at
 * start from each `issuers.<name>.cert` file. */
#ifndef ANVIL_OCSP_ISSUERS_H
#define ANVIL_OCSP_ISSUERS_H
#include <stddef.h>
#include <stdint.h>
#include "ca/profile.h"
#include "lib/conf.h"
#include "ocsp/request.h"

struct ocsp_issuer {
	char name[PROTO_NAME_MAX + 1];
	uint8_t name_hash[2][32];   /* by enum ocsp_hash */
	uint8_t key_hash[2][32];
};

struct ocsp_issuers {
	struct ocsp_issuer v[MAX_ISSUERS];
	size_t n;
};

/* Reads each issuer's certificate; an unreadable file is an error naming issuers.<name>.cert. */
anvil_err ocsp_issuers_load(struct conf_ctx *cc, const struct signer_conf *sc,
    struct ocsp_issuers *out);
/* The issuer the CertID names, or NULL. */
const struct ocsp_issuer *ocsp_issuers_find(const struct ocsp_issuers *is,
    const struct ocsp_certid *id);

#endif
