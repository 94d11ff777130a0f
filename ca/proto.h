/* The signer protocol (ca/PROTOCOL.md): length-prefixed frames of typed big-endian fields.
 * Every get checks the remaining length; strings reject NUL; leftovers are an error. */
#ifndef ANVIL_CA_PROTO_H
#define ANVIL_CA_PROTO_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/err.h"

#define PROTO_VERSION 1
#define PROTO_FRAME_MAX (4u * 1024 * 1024) /* a CRL shard of ~100k entries */
#define PROTO_SIGN_MAX (64u * 1024)         /* any request but a CRL */
#define PROTO_NAME_MAX 64
#define PROTO_SERIAL_MAX 20
#define PROTO_SPKI_MAX 2048
#define PROTO_IDS_MAX 100
#define PROTO_DNS_MAX 253
#define PROTO_SCT_MAX 8192
#define PROTO_URL_MAX 1024
#define PROTO_CRL_ENTRIES_MAX 200000
#define PROTO_MSG_MAX 512

enum proto_op {
	OP_HEALTH = 1,
	OP_STATS = 2,
	OP_PRECERT = 3,
	OP_CERT = 4,
	OP_OCSP = 5,
	OP_CRL = 6,
};

enum id_type { ID_DNS = 1, ID_IP = 2 };

struct ident {
	uint8_t type;
	uint8_t len;
	uint8_t val[PROTO_DNS_MAX + 1]; /* DNS: ASCII, NUL-terminated; IP: 4 or 16 bytes */
};

struct cert_req {
	char profile[PROTO_NAME_MAX + 1];
	uint8_t serial[PROTO_SERIAL_MAX];
	size_t serial_len;
	const uint8_t *spki;  /* points into the frame */
	size_t spki_len;
	struct ident *ids;    /* malloc'd */
	size_t nids;
	uint64_t not_before, not_after;  /* Unix seconds */
	const uint8_t *sct;   /* OP_CERT only: TLS SignedCertificateTimestampList, may be empty */
	size_t sct_len;
};

enum ocsp_status { OCSP_GOOD = 0, OCSP_REVOKED = 1, OCSP_UNKNOWN = 2 };
#define REASON_NONE 0xff

struct ocsp_req {
	char issuer[PROTO_NAME_MAX + 1];
	uint8_t serial[PROTO_SERIAL_MAX];
	size_t serial_len;
	uint8_t status;
	uint64_t revoked_at;
	uint8_t reason;
	uint64_t this_update, next_update;
};

struct crl_entry {
	uint8_t serial[PROTO_SERIAL_MAX];
	uint8_t serial_len;
	uint8_t reason;
	uint64_t revoked_at;
};

struct crl_req {
	char issuer[PROTO_NAME_MAX + 1];
	uint64_t number;
	uint64_t this_update, next_update;
	char idp[PROTO_URL_MAX + 1];  /* issuing distribution point URL, may be empty */
	struct crl_entry *entries;    /* malloc'd */
	size_t nentries;
};

struct request {
	uint8_t op;
	uint32_t id;
	uint64_t deadline_ms;  /* Unix milliseconds; 0 is refused */
	union {
		struct cert_req cert;
		struct ocsp_req ocsp;
		struct crl_req crl;
	} u;
};

/* Decodes one frame body (without the 4-byte length). Pointers in req point into body. */
anvil_err proto_decode_request(const uint8_t *body, size_t len, struct request *req);
void proto_request_free(struct request *req);
/* Encodes a request as a whole frame (length included). */
anvil_err proto_encode_request(const struct request *req, struct buf *out);

struct reply {
	uint8_t op;
	uint32_t id;
	uint16_t status;          /* anvil_err */
	uint32_t retry_after_ms;  /* status == AE_BUSY */
	const uint8_t *data;      /* OK: DER (sign ops) or text (health, stats); else message */
	size_t data_len;
};

anvil_err proto_encode_reply(const struct reply *r, struct buf *out);
anvil_err proto_decode_reply(const uint8_t *body, size_t len, struct reply *r);

/* Cursor used by the codec (exposed for the fuzz target and tests). */
struct rd {
	const uint8_t *p;
	size_t left;
};

#endif
