/* DER read by hand where a whole OpenSSL decode would cost more than the question asked (an
 * OCSP request's CertID, the fields of a certificate the signer journaled): a counted view of
 * the bytes and its next TLV, every length checked against what is left. */
#ifndef ANVIL_DER_H
#define ANVIL_DER_H
#include <stddef.h>
#include <stdint.h>

struct der {
	const uint8_t *p;
	size_t n;
};

/* The next TLV of *d: low-tag-number form, definite length in its minimal form, at most three
 * length octets. Its whole encoding in *tlv (may be NULL), its contents in *val; d moves past
 * it. 1, or 0 when d is empty, the TLV is not DER or it overruns d (d is left alone then). */
int der_next(struct der *d, uint8_t *tag, struct der *tlv, struct der *val);

#endif
