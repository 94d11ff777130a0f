#include "config.h"
#include "lib/der.h"

int
der_next(struct der *d, uint8_t *tag, struct der *tlv, struct der *val)
{
	size_t len, hl = 2;

	if (d->n < 2 || (d->p[0] & 0x1f) == 0x1f)
		return 0;
	len = d->p[1];
	if (len & 0x80) {
		size_t nb = len & 0x7f;

		/* Minimal: no leading zero octet, and no long form for what fits the short one. */
		if (nb == 0 || nb > 3 || d->n < 2 + nb || d->p[2] == 0)
			return 0;
		len = 0;
		for (size_t i = 0; i < nb; i++)
			len = len << 8 | d->p[2 + i];
		if (len < 0x80)
			return 0;
		hl += nb;
	}
	if (len > d->n - hl)
		return 0;
	*tag = d->p[0];
	if (tlv != NULL) {
		tlv->p = d->p;
		tlv->n = hl + len;
	}
	val->p = d->p + hl;
	val->n = len;
	d->p += hl + len;
	d->n -= hl + len;
	return 1;
}
