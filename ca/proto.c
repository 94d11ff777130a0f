#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "ca/proto.h"

static anvil_err
get_u8(struct rd *r, uint8_t *v)
{
	if (r->left < 1)
		return AE_SIGNER_PROTO;
	*v = r->p[0];
	r->p++;
	r->left--;
	return AE_OK;
}

static anvil_err
get_un(struct rd *r, size_t n, uint64_t *v)
{
	if (r->left < n)
		return AE_SIGNER_PROTO;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = (*v << 8) | r->p[i];
	r->p += n;
	r->left -= n;
	return AE_OK;
}

static anvil_err
get_u16(struct rd *r, uint16_t *v)
{
	uint64_t x = 0;
	anvil_err e = get_un(r, 2, &x);
	*v = (uint16_t)x;
	return e;
}

static anvil_err
get_u32(struct rd *r, uint32_t *v)
{
	uint64_t x = 0;
	anvil_err e = get_un(r, 4, &x);
	*v = (uint32_t)x;
	return e;
}

static anvil_err
get_u64(struct rd *r, uint64_t *v)
{
	return get_un(r, 8, v);
}

/* Byte string: u32 length, then bytes; the length is checked against max and what is left. */
static anvil_err
get_bytes(struct rd *r, size_t min, size_t max, const uint8_t **p, size_t *len)
{
	uint32_t n;
	if (get_u32(r, &n) != AE_OK || n < min || n > max || n > r->left)
		return AE_SIGNER_PROTO;
	*p = r->p;
	*len = n;
	r->p += n;
	r->left -= n;
	return AE_OK;
}

/* Text: u16 length, bytes without NUL; copied NUL-terminated into out (max chars). */
static anvil_err
get_str(struct rd *r, size_t min, size_t max, char *out)
{
	uint16_t n;
	if (get_u16(r, &n) != AE_OK || n < min || n > max || n > r->left ||
	    memchr(r->p, '\0', n) != NULL)
		return AE_SIGNER_PROTO;
	memcpy(out, r->p, n);
	out[n] = '\0';
	r->p += n;
	r->left -= n;
	return AE_OK;
}

static anvil_err
get_serial(struct rd *r, uint8_t *out, size_t *len)
{
	const uint8_t *p;
	if (get_bytes(r, 1, PROTO_SERIAL_MAX, &p, len) != AE_OK)
		return AE_SIGNER_PROTO;
	memcpy(out, p, *len);
	return AE_OK;
}

static anvil_err
decode_cert(struct rd *r, struct cert_req *c, int with_sct)
{
	uint16_t n;
	anvil_err e;

	if ((e = get_str(r, 1, PROTO_NAME_MAX, c->profile)) != AE_OK ||
	    (e = get_serial(r, c->serial, &c->serial_len)) != AE_OK ||
	    (e = get_bytes(r, 1, PROTO_SPKI_MAX, &c->spki, &c->spki_len)) != AE_OK ||
	    (e = get_u16(r, &n)) != AE_OK)
		return e;
	if (n < 1 || n > PROTO_IDS_MAX)
		return AE_SIGNER_PROTO;
	if ((c->ids = calloc(n, sizeof(*c->ids))) == NULL)
		return AE_NOMEM;
	for (c->nids = 0; c->nids < n; c->nids++) {
		struct ident *id = &c->ids[c->nids];
		const uint8_t *v;
		size_t vl;
		if (get_u8(r, &id->type) != AE_OK || get_bytes(r, 1, PROTO_DNS_MAX, &v, &vl) != AE_OK)
			return AE_SIGNER_PROTO;
		if (id->type == ID_DNS) {
			if (memchr(v, '\0', vl) != NULL)
				return AE_SIGNER_PROTO;
		} else if (id->type != ID_IP || (vl != 4 && vl != 16)) {
			return AE_SIGNER_PROTO;
		}
		memcpy(id->val, v, vl);
		id->val[vl] = '\0';
		id->len = (uint8_t)vl;
	}
	if ((e = get_u64(r, &c->not_before)) != AE_OK || (e = get_u64(r, &c->not_after)) != AE_OK)
		return e;
	if (with_sct)
		return get_bytes(r, 0, PROTO_SCT_MAX, &c->sct, &c->sct_len);
	return AE_OK;
}

static anvil_err
decode_ocsp(struct rd *r, struct ocsp_req *o)
{
	if (get_str(r, 1, PROTO_NAME_MAX, o->issuer) != AE_OK ||
	    get_serial(r, o->serial, &o->serial_len) != AE_OK || get_u8(r, &o->status) != AE_OK ||
	    get_u64(r, &o->revoked_at) != AE_OK || get_u8(r, &o->reason) != AE_OK ||
	    get_u64(r, &o->this_update) != AE_OK || get_u64(r, &o->next_update) != AE_OK)
		return AE_SIGNER_PROTO;
	if (o->status > OCSP_UNKNOWN)
		return AE_SIGNER_PROTO;
	return AE_OK;
}

static anvil_err
decode_crl(struct rd *r, struct crl_req *c)
{
	uint32_t n;

	if (get_str(r, 1, PROTO_NAME_MAX, c->issuer) != AE_OK || get_u64(r, &c->number) != AE_OK ||
	    get_u64(r, &c->this_update) != AE_OK || get_u64(r, &c->next_update) != AE_OK ||
	    get_str(r, 0, PROTO_URL_MAX, c->idp) != AE_OK || get_u32(r, &n) != AE_OK)
		return AE_SIGNER_PROTO;
	/* Each entry takes at least 4+1+8+1 bytes: a peer cannot make us allocate more than its
	 * frame justifies. */
	if (n > PROTO_CRL_ENTRIES_MAX || (size_t)n > r->left / 14)
		return AE_SIGNER_PROTO;
	if (n > 0 && (c->entries = calloc(n, sizeof(*c->entries))) == NULL)
		return AE_NOMEM;
	for (c->nentries = 0; c->nentries < n; c->nentries++) {
		struct crl_entry *en = &c->entries[c->nentries];
		size_t sl;
		if (get_serial(r, en->serial, &sl) != AE_OK || get_u64(r, &en->revoked_at) != AE_OK ||
		    get_u8(r, &en->reason) != AE_OK)
			return AE_SIGNER_PROTO;
		en->serial_len = (uint8_t)sl;
	}
	return AE_OK;
}

anvil_err
proto_decode_request(const uint8_t *body, size_t len, struct request *req)
{
	struct rd r = { body, len };
	uint8_t ver;
	anvil_err e;

	memset(req, 0, sizeof(*req));
	if (len > PROTO_FRAME_MAX)
		return AE_TOOBIG;
	if ((e = get_u8(&r, &ver)) != AE_OK || (e = get_u8(&r, &req->op)) != AE_OK ||
	    (e = get_u32(&r, &req->id)) != AE_OK || (e = get_u64(&r, &req->deadline_ms)) != AE_OK)
		return AE_SIGNER_PROTO;
	if (ver != PROTO_VERSION || req->deadline_ms == 0)
		return AE_SIGNER_PROTO;
	if (req->op != OP_CRL && len > PROTO_SIGN_MAX)
		return AE_TOOBIG;
	switch (req->op) {
	case OP_HEALTH:
	case OP_STATS:
		break;
	case OP_PRECERT:
	case OP_CERT:
		e = decode_cert(&r, &req->u.cert, req->op == OP_CERT);
		break;
	case OP_OCSP:
		e = decode_ocsp(&r, &req->u.ocsp);
		break;
	case OP_CRL:
		e = decode_crl(&r, &req->u.crl);
		break;
	default:
		e = AE_SIGNER_PROTO;
	}
	if (e == AE_OK && r.left != 0)
		e = AE_SIGNER_PROTO;
	if (e != AE_OK)
		proto_request_free(req);
	return e;
}

void
proto_request_free(struct request *req)
{
	if (req->op == OP_PRECERT || req->op == OP_CERT) {
		free(req->u.cert.ids);
		req->u.cert.ids = NULL;
	} else if (req->op == OP_CRL) {
		free(req->u.crl.entries);
		req->u.crl.entries = NULL;
	}
}

static anvil_err
put_un(struct buf *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];
	for (size_t i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return buf_append(b, tmp, n);
}

static anvil_err
put_bytes(struct buf *b, const void *p, size_t n)
{
	anvil_err e = put_un(b, n, 4);
	return e != AE_OK ? e : buf_append(b, p, n);
}

static anvil_err
put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	anvil_err e;
	if (n > 0xffff)
		return AE_TOOBIG;
	e = put_un(b, n, 2);
	return e != AE_OK ? e : buf_append(b, s, n);
}

/* Writes a frame: reserves the 4-byte length, lets the body be appended, then patches it. */
static void
patch_len(struct buf *b, size_t start)
{
	size_t n = b->len - start - 4;
	for (int i = 0; i < 4; i++)
		b->data[start + (size_t)i] = (uint8_t)(n >> (8 * (3 - i)));
}

static anvil_err
encode_cert(struct buf *b, const struct cert_req *c, int with_sct)
{
	anvil_err e = AE_OK;

	e = put_str(b, c->profile);
	if (e == AE_OK) e = put_bytes(b, c->serial, c->serial_len);
	if (e == AE_OK) e = put_bytes(b, c->spki, c->spki_len);
	if (e == AE_OK) e = put_un(b, c->nids, 2);
	for (size_t i = 0; e == AE_OK && i < c->nids; i++) {
		e = put_un(b, c->ids[i].type, 1);
		if (e == AE_OK) e = put_bytes(b, c->ids[i].val, c->ids[i].len);
	}
	if (e == AE_OK) e = put_un(b, c->not_before, 8);
	if (e == AE_OK) e = put_un(b, c->not_after, 8);
	if (e == AE_OK && with_sct) e = put_bytes(b, c->sct, c->sct_len);
	return e;
}

anvil_err
proto_encode_request(const struct request *req, struct buf *b)
{
	size_t start = b->len;
	anvil_err e;

	e = put_un(b, 0, 4);
	if (e == AE_OK) e = put_un(b, PROTO_VERSION, 1);
	if (e == AE_OK) e = put_un(b, req->op, 1);
	if (e == AE_OK) e = put_un(b, req->id, 4);
	if (e == AE_OK) e = put_un(b, req->deadline_ms, 8);
	if (e != AE_OK)
		return e;
	switch (req->op) {
	case OP_PRECERT:
	case OP_CERT:
		e = encode_cert(b, &req->u.cert, req->op == OP_CERT);
		break;
	case OP_OCSP: {
		const struct ocsp_req *o = &req->u.ocsp;
		e = put_str(b, o->issuer);
		if (e == AE_OK) e = put_bytes(b, o->serial, o->serial_len);
		if (e == AE_OK) e = put_un(b, o->status, 1);
		if (e == AE_OK) e = put_un(b, o->revoked_at, 8);
		if (e == AE_OK) e = put_un(b, o->reason, 1);
		if (e == AE_OK) e = put_un(b, o->this_update, 8);
		if (e == AE_OK) e = put_un(b, o->next_update, 8);
		break;
	}
	case OP_CRL: {
		const struct crl_req *c = &req->u.crl;
		e = put_str(b, c->issuer);
		if (e == AE_OK) e = put_un(b, c->number, 8);
		if (e == AE_OK) e = put_un(b, c->this_update, 8);
		if (e == AE_OK) e = put_un(b, c->next_update, 8);
		if (e == AE_OK) e = put_str(b, c->idp);
		if (e == AE_OK) e = put_un(b, c->nentries, 4);
		for (size_t i = 0; e == AE_OK && i < c->nentries; i++) {
			e = put_bytes(b, c->entries[i].serial, c->entries[i].serial_len);
			if (e == AE_OK) e = put_un(b, c->entries[i].revoked_at, 8);
			if (e == AE_OK) e = put_un(b, c->entries[i].reason, 1);
		}
		break;
	}
	default:
		break;
	}
	if (e == AE_OK && b->len - start - 4 > PROTO_FRAME_MAX)
		e = AE_TOOBIG;
	if (e == AE_OK)
		patch_len(b, start);
	return e;
}

anvil_err
proto_encode_reply(const struct reply *r, struct buf *b)
{
	size_t start = b->len;
	anvil_err e;

	e = put_un(b, 0, 4);
	if (e == AE_OK) e = put_un(b, PROTO_VERSION, 1);
	if (e == AE_OK) e = put_un(b, r->op, 1);
	if (e == AE_OK) e = put_un(b, r->id, 4);
	if (e == AE_OK) e = put_un(b, r->status, 2);
	if (e == AE_OK && r->status == AE_BUSY) e = put_un(b, r->retry_after_ms, 4);
	if (e == AE_OK) e = put_bytes(b, r->data, r->data_len);
	if (e == AE_OK)
		patch_len(b, start);
	return e;
}

anvil_err
proto_decode_reply(const uint8_t *body, size_t len, struct reply *r)
{
	struct rd rd = { body, len };
	uint8_t ver;

	memset(r, 0, sizeof(*r));
	if (get_u8(&rd, &ver) != AE_OK || ver != PROTO_VERSION || get_u8(&rd, &r->op) != AE_OK ||
	    get_u32(&rd, &r->id) != AE_OK || get_u16(&rd, &r->status) != AE_OK)
		return AE_SIGNER_PROTO;
	if (r->status == AE_BUSY && get_u32(&rd, &r->retry_after_ms) != AE_OK)
		return AE_SIGNER_PROTO;
	if (get_bytes(&rd, 0, PROTO_FRAME_MAX, &r->data, &r->data_len) != AE_OK || rd.left != 0)
		return AE_SIGNER_PROTO;
	return AE_OK;
}
