/* The signer protocol codec: every message round-trips; every truncation, leftover byte, wrong
 * version, missing deadline, embedded NUL and over-cap count is rejected. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "ca/proto.h"
#include "t/tap.h"

static struct buf
encode(const struct request *r)
{
	struct buf b;
	buf_init(&b, PROTO_FRAME_MAX + 4);
	if (proto_encode_request(r, &b) != AE_OK)
		b.len = 0;
	return b;
}

/* Every strict prefix of a valid body must be refused. */
static int
all_prefixes_fail(const struct buf *b)
{
	for (size_t n = 0; n + 4 < b->len; n++) {
		struct request q;
		if (proto_decode_request(b->data + 4, n, &q) == AE_OK) {
			proto_request_free(&q);
			return 0;
		}
	}
	return 1;
}

int
main(void)
{
	struct request r, q;
	struct ident ids[2];
	struct crl_entry ents[2];
	uint8_t spki[70], sct[10];
	struct buf b;

	memset(&r, 0, sizeof(r));
	memset(ids, 0, sizeof(ids));
	memset(spki, 0x30, sizeof(spki));
	memset(sct, 1, sizeof(sct));
	r.op = OP_CERT;
	r.id = 77;
	r.deadline_ms = 1234567;
	snprintf(r.u.cert.profile, sizeof(r.u.cert.profile), "default");
	r.u.cert.serial_len = 3;
	memcpy(r.u.cert.serial, "\x01\x02\x03", 3);
	r.u.cert.spki = spki;
	r.u.cert.spki_len = sizeof(spki);
	ids[0].type = ID_DNS;
	ids[0].len = 11;
	memcpy(ids[0].val, "example.com", 12);
	ids[1].type = ID_IP;
	ids[1].len = 4;
	memcpy(ids[1].val, "\x0a\x00\x00\x01", 4);
	r.u.cert.ids = ids;
	r.u.cert.nids = 2;
	r.u.cert.not_before = 100;
	r.u.cert.not_after = 200;
	r.u.cert.sct = sct;
	r.u.cert.sct_len = sizeof(sct);
	b = encode(&r);
	ok(b.len > 4, "cert request encodes");
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_OK, "cert request decodes");
	ok(q.op == OP_CERT && q.id == 77 && q.deadline_ms == 1234567 &&
	    strcmp(q.u.cert.profile, "default") == 0 && q.u.cert.serial_len == 3 &&
	    q.u.cert.spki_len == sizeof(spki) && q.u.cert.nids == 2 &&
	    strcmp((char *)q.u.cert.ids[0].val, "example.com") == 0 &&
	    q.u.cert.ids[1].len == 4 && q.u.cert.not_after == 200 &&
	    q.u.cert.sct_len == sizeof(sct), "cert request round-trips");
	proto_request_free(&q);
	ok(all_prefixes_fail(&b), "every truncation of a cert request is refused");
	{
		struct buf c;
		buf_init(&c, 1 << 20);
		buf_append(&c, b.data + 4, b.len - 4);
		buf_append(&c, "", 1);
		ok(proto_decode_request(c.data, c.len, &q) == AE_SIGNER_PROTO,
		    "a trailing byte is refused");
		c.data[0] = 2;
		ok(proto_decode_request(c.data, c.len - 1, &q) == AE_SIGNER_PROTO,
		    "another version is refused");
		c.data[0] = 1;
		memset(c.data + 6, 0, 8);
		ok(proto_decode_request(c.data, c.len - 1, &q) == AE_SIGNER_PROTO,
		    "a zero deadline is refused");
		buf_free(&c);
	}
	buf_free(&b);

	memcpy(ids[0].val, "exa\0ple.com", 12);
	r.op = OP_PRECERT;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_SIGNER_PROTO,
	    "NUL inside a DNS identifier is refused");
	buf_free(&b);
	memcpy(ids[0].val, "example.com", 12);
	ids[1].len = 5;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_SIGNER_PROTO,
	    "an IP identifier of 5 bytes is refused");
	buf_free(&b);
	ids[1].len = 4;
	r.u.cert.nids = 0;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_SIGNER_PROTO,
	    "no identifiers is refused");
	buf_free(&b);
	r.u.cert.nids = 2;
	r.u.cert.serial_len = 21;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_SIGNER_PROTO,
	    "a 21-byte serial is refused");
	buf_free(&b);
	r.u.cert.serial_len = 3;

	memset(&r.u, 0, sizeof(r.u));
	r.op = OP_OCSP;
	snprintf(r.u.ocsp.issuer, sizeof(r.u.ocsp.issuer), "int");
	r.u.ocsp.serial_len = 1;
	r.u.ocsp.serial[0] = 9;
	r.u.ocsp.status = OCSP_REVOKED;
	r.u.ocsp.reason = 1;
	r.u.ocsp.revoked_at = 5;
	r.u.ocsp.this_update = 10;
	r.u.ocsp.next_update = 20;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_OK && q.u.ocsp.status == 1 &&
	    q.u.ocsp.next_update == 20 && strcmp(q.u.ocsp.issuer, "int") == 0,
	    "OCSP request round-trips");
	ok(all_prefixes_fail(&b), "every truncation of an OCSP request is refused");
	buf_free(&b);
	r.u.ocsp.status = 3;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_SIGNER_PROTO,
	    "an unknown OCSP status is refused");
	buf_free(&b);

	memset(&r.u, 0, sizeof(r.u));
	memset(ents, 0, sizeof(ents));
	r.op = OP_CRL;
	snprintf(r.u.crl.issuer, sizeof(r.u.crl.issuer), "int");
	r.u.crl.number = 42;
	r.u.crl.this_update = 1;
	r.u.crl.next_update = 2;
	snprintf(r.u.crl.idp, sizeof(r.u.crl.idp), "http://x/0.crl");
	ents[0].serial_len = 1;
	ents[0].serial[0] = 1;
	ents[1].serial_len = 2;
	ents[1].serial[0] = 2;
	ents[1].reason = 4;
	r.u.crl.entries = ents;
	r.u.crl.nentries = 2;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_OK && q.u.crl.nentries == 2 &&
	    q.u.crl.entries[1].reason == 4 && q.u.crl.number == 42, "CRL request round-trips");
	proto_request_free(&q);
	ok(all_prefixes_fail(&b), "every truncation of a CRL request is refused");
	/* A count far beyond what the frame holds must not allocate. */
	{
		size_t off = b.len - (14 + 15) - 4;  /* the count's high byte */
		b.data[off] = 0x7f;
		anvil_err e = proto_decode_request(b.data + 4, b.len - 4, &q);
		ok(e == AE_SIGNER_PROTO, "a CRL entry count larger than the frame is refused");
		if (e == AE_OK)
			proto_request_free(&q);
	}
	buf_free(&b);

	r.op = 99;
	b = encode(&r);
	ok(proto_decode_request(b.data + 4, b.len - 4, &q) == AE_SIGNER_PROTO,
	    "an unknown op is refused");
	buf_free(&b);

	{
		struct reply rp = { OP_PRECERT, 5, AE_BUSY, 1500, (const uint8_t *)"busy", 4 }, rq;
		buf_init(&b, 1024);
		ok(proto_encode_reply(&rp, &b) == AE_OK &&
		    proto_decode_reply(b.data + 4, b.len - 4, &rq) == AE_OK && rq.status == AE_BUSY &&
		    rq.retry_after_ms == 1500 && rq.data_len == 4, "busy reply round-trips");
		buf_free(&b);
	}
	return done_testing();
}
