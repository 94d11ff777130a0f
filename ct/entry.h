/* The entry a log signs for a leaf (RFC 6962 section 3.2): a final certificate as it is, or a
 * precertificate as its issuer key hash and its TBSCertificate without the poison extension.
 * Built with OpenSSL from the DER our signer returned, the same way OpenSSL's CT code rebuilds
 * it when a relying party checks the embedded SCTs. */
#ifndef ANVIL_CT_ENTRY_H
#define ANVIL_CT_ENTRY_H
#include <stddef.h>
#include <stdint.h>
#include "ct/sct.h"
#include "lib/err.h"

struct ct_leaf {
	struct ct_entry entry;   /* entry.der points at tbs (precert) or der (certificate) */
	uint8_t *der;            /* the leaf as submitted: chain[0] */
	size_t der_len;
	uint8_t *tbs;            /* precert: the TBSCertificate without the poison */
	int64_t not_before, not_after;  /* Unix seconds */
};

/* Builds the entry of leaf (DER), a precertificate when it carries the critical poison
 * extension, issued by issuer (DER; its key hash is part of a precertificate's entry). why
 * says what is wrong with the input. ct_leaf_free releases (also after an error). */
anvil_err ct_leaf_new(const uint8_t *leaf, size_t len, const uint8_t *issuer, size_t ilen,
    struct ct_leaf *out, char *why, size_t whylen);
void ct_leaf_free(struct ct_leaf *l);

#endif
