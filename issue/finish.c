/* issue_finish: one order from processing to valid (or invalid). The steps, in order: the
 * serial (recorded and committed before any signature, reused after a crash), the
 * precertificate and SCTs when the profile asks for CT, the certificate, its first OCSP
 * response (issue/status.c), and its storage together with its status row and the order's new
 * status: no certificate is handed out before its response is published. */
#include "config.h"
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include "ca/client.h"
#include "ct/conf.h"
#include "ct/sct.h"
#include "db/issue.h"
#include "db/status.h"
#include "issue/csr.h"
#include "issue/finish.h"
#include "issue/issue.h"
#include "issue/internal.h"
#include "issue/policy.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/hex.h"

#define SERIAL_RANDOM_BYTES 16    /* 128 random bits after the prefix byte (DESIGN.md) */
#define ACME_ERR "urn:ietf:params:acme:error:"

/* Sets the order invalid with a problem document; returns why (the caller's error). */
static anvil_err
fail_order(struct issue_ctx *ic, int64_t id, anvil_err why, const char *type, int status,
    const char *fmt, ...)
{
	json_object *p = json_object_new_object();
	char detail[512], esc[sizeof(detail) * 4];
	va_list ap;
	anvil_err e;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (p == NULL)
		return AE_NOMEM;
	json_object_object_add(p, "type", json_object_new_string(type));
	json_object_object_add(p, "detail", json_object_new_string(detail));
	json_object_object_add(p, "status", json_object_new_int(status));
	e = db_order_fail(ic->db, id, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
	json_object_put(p);
	if (e != AE_OK)
		return e;  /* still processing: retried later */
	log_info("order %lld invalid: \"%s\"", (long long)id,
	    log_escape(esc, sizeof(esc), detail, strlen(detail)));
	return why;
}

anvil_err
issue_serial_make(void *arg, char hex[DB_SERIAL_HEX_MAX + 1])
{
	const struct issue_ctx *ic = arg;
	uint8_t b[1 + SERIAL_RANDOM_BYTES];

	b[0] = (uint8_t)ic->conf.serial_prefix;
	if (RAND_bytes(b + 1, SERIAL_RANDOM_BYTES) != 1)
		return AE_CRYPTO;
	hex_encode(b, sizeof(b), hex);
	return AE_OK;
}

/* The order's serial: the one recorded, or a new one recorded (committed) now. With fresh (the
 * order has just turned processing without one, so none is expected) the insert comes first:
 * the unique serial per order still turns up one recorded meanwhile. */
static anvil_err
serial_for(struct issue_ctx *ic, int64_t order_id, int fresh, char hex[DB_SERIAL_HEX_MAX + 1],
    int64_t *created)
{
	anvil_err e = fresh ? AE_NOTFOUND : db_serial_of_order(ic->db, order_id, hex, created);

	for (int i = 0; e == AE_NOTFOUND && i < DB_SERIAL_TRIES; i++) {
		if ((e = issue_serial_make(ic, hex)) != AE_OK)
			return e;
		*created = (int64_t)time(NULL);
		e = db_serial_insert(ic->db, hex, order_id, *created);
		if (e == AE_DB_DUPLICATE)  /* another process recorded one first, or a collision */
			e = db_serial_of_order(ic->db, order_id, hex, created);
	}
	return e;
}

/* The order's identifiers as the signer takes them. */
static int
idents_of(const char *json, struct ident **out, size_t *n)
{
	json_object *a = json_tokener_parse(json);
	size_t len = a != NULL && json_object_is_type(a, json_type_array) ?
	    json_object_array_length(a) : 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (len == 0 || len > PROTO_IDS_MAX || (*out = calloc(len, sizeof(**out))) == NULL)
		goto out;
	for (size_t i = 0; i < len; i++) {
		json_object *o = json_object_array_get_idx(a, i), *t = NULL, *v = NULL;
		const char *type, *val;
		struct ident *id = &(*out)[i];
		if (!json_object_object_get_ex(o, "type", &t) ||
		    !json_object_object_get_ex(o, "value", &v) ||
		    (type = json_object_get_string(t)) == NULL ||
		    (val = json_object_get_string(v)) == NULL)
			goto out;
		if (strcmp(type, "dns") == 0) {
			size_t vl = strlen(val);
			if (vl == 0 || vl > PROTO_DNS_MAX)
				goto out;
			id->type = ID_DNS;
			id->len = (uint8_t)vl;
			memcpy(id->val, val, vl + 1);
		} else if (strcmp(type, "ip") == 0) {
			id->type = ID_IP;
			if (inet_pton(AF_INET, val, id->val) == 1)
				id->len = 4;
			else if (inet_pton(AF_INET6, val, id->val) == 1)
				id->len = 16;
			else
				goto out;
		} else {
			goto out;
		}
	}
	*n = len;
	rc = 0;
out:
	json_object_put(a);
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* The signer puts the first DNS identifier of at most 64 characters in the subject CN
 * (ca/PROTOCOL.md). The CSR's own CN, when it is one of them, goes first, so the certificate
 * keeps the subject the client asked for: clients such as lego name their files after it, and a
 * renewal that changed it would land in another file. Otherwise the order's first name, sorted.
 * Deterministic from the stored CSR, so a retry by anvil-jobs asks for the same TBS. */
static void
idents_cn_first(struct ident *ids, size_t n, const char *cn)
{
	size_t cl = strlen(cn);

	if (cl == 0)
		return;
	for (size_t i = 1; i < n; i++)
		if (ids[i].type == ID_DNS && ids[i].len == cl && memcmp(ids[i].val, cn, cl) == 0) {
			struct ident keep = ids[i];
			memmove(&ids[1], &ids[0], i * sizeof(ids[0]));
			ids[0] = keep;
			return;
		}
}

static int64_t
asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm);
}

/* Enters the DER element at *p (before end) if it has this tag, or steps over it (enter 0):
 * 0 on success, -1 when it is not there or overruns end. */
static int
der_take(const unsigned char **p, const unsigned char *end, int tag, int cls, int enter)
{
	const unsigned char *q = *p;
	long len;
	int t, c, r;

	if (end <= q)
		return -1;
	r = ASN1_get_object(&q, &len, &t, &c, end - q);
	if ((r & 0x80) || t != tag || c != cls || len > end - q)
		return -1;
	*p = enter ? q : q + len;
	return 0;
}

/* The validity of the signer's certificate, read from its DER without parsing the rest
 * (d2i_X509 decodes the subject key through OpenSSL 3.0's decoders: 1.5M instructions per
 * finalize, callgrind). The certificate must be one SEQUENCE of exactly len bytes; the
 * signer built and linted every field, and a retry may return its earlier bytes, whose
 * validity is what is stored. */
static int
cert_validity(const uint8_t *der, size_t len, int64_t *nb, int64_t *na)
{
	const unsigned char *p = der, *end = der + len, *tbs_end;
	long l;
	int t, c;
	ASN1_TIME *a = NULL, *b = NULL;
	int rc = -1;

	if (len > LONG_MAX || (ASN1_get_object(&p, &l, &t, &c, (long)len) & 0x80) ||
	    t != V_ASN1_SEQUENCE || c != V_ASN1_UNIVERSAL || p + l != end)
		return -1;
	/* The TBS: its own end bounds the walk. */
	if ((ASN1_get_object(&p, &l, &t, &c, end - p) & 0x80) || t != V_ASN1_SEQUENCE ||
	    c != V_ASN1_UNIVERSAL || l > end - p)
		return -1;
	tbs_end = p + l;
	if (der_take(&p, tbs_end, 0, V_ASN1_CONTEXT_SPECIFIC, 0) != 0 ||   /* version [0] */
	    der_take(&p, tbs_end, V_ASN1_INTEGER, V_ASN1_UNIVERSAL, 0) != 0 ||     /* serial */
	    der_take(&p, tbs_end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, 0) != 0 ||    /* signature */
	    der_take(&p, tbs_end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, 0) != 0 ||    /* issuer */
	    der_take(&p, tbs_end, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL, 1) != 0)      /* validity */
		return -1;
	if ((a = d2i_ASN1_TIME(NULL, &p, tbs_end - p)) != NULL &&
	    (b = d2i_ASN1_TIME(NULL, &p, tbs_end - p)) != NULL &&
	    (*nb = asn1_time_unix(a)) >= 0 && (*na = asn1_time_unix(b)) >= 0)
		rc = 0;
	ASN1_TIME_free(a);
	ASN1_TIME_free(b);
	return rc;
}

/* A signer answer that means "not now": the order stays processing. */
static anvil_err
transient(anvil_err e)
{
	switch (e) {
	case AE_BUSY:
	case AE_TIMEOUT:
	case AE_UNAVAILABLE:
	case AE_DB_DOWN:
	case AE_DB:
	case AE_NOMEM:
		return e;
	case AE_SIGNER_DEADLINE:
		return AE_TIMEOUT;
	case AE_SIGNER_HSM:     /* the HSM failed after a session reopen: it may come back */
	case AE_SIGNER_PERM:    /* our uid is not allowed: a configuration fix brings it back */
	case AE_SIGNER_PROTO:
	case AE_IO:
		return AE_UNAVAILABLE;
	default:
		return AE_OK;
	}
}

static anvil_err
sign(struct issue_ctx *ic, struct request *req, int64_t deadline_ms, struct buf *out)
{
	int64_t left = deadline_ms - issue_now_ms();
	uint32_t retry = 0;

	if (left <= 0)
		return AE_TIMEOUT;
	req->deadline_ms = clock_wall_ms() + (uint64_t)left;
	return signer_call(ic->signer, req, out, &retry);
}

/* The refusal of a signature (not a "retry later"): the order turns invalid. */
static anvil_err
refused(struct issue_ctx *ic, int64_t order_id, anvil_err e, const char *what)
{
	return fail_order(ic, order_id, e, e == AE_SIGNER_NAME ? ACME_ERR "rejectedIdentifier" :
	    e == AE_SIGNER_KEY ? ACME_ERR "badPublicKey" : ACME_ERR "serverInternal",
	    e == AE_SIGNER_NAME || e == AE_SIGNER_KEY ? 400 : 500,
	    "the signer refused the %s: %s", what, anvil_strerror(e));
}

/* The CT steps before the certificate (doc/ct.md): the precertificate of the request in req
 * (the signer's journal answers a retry with the bytes it signed first, so every attempt
 * gathers SCTs for the same precertificate), its cert_status row and first OCSP response,
 * committed before any log sees it (a precertificate whose certificate never comes is
 * answered for), then the SCTs of the profile's policy into scts. Not met before the
 * deadline: AE_TIMEOUT, the order stays processing and the finalize job tries again, until
 * ct.sct_give_up_seconds after the serial was recorded; then the order turns invalid with a
 * problem naming the policy. */
static anvil_err
precert(struct issue_ctx *ic, struct db_order_fin *o, const char *serial,
    const struct profile *prof, struct request *req, int64_t created, int64_t deadline_ms,
    struct db_status *st, struct buf *scts)
{
	const struct ct_policy *pol = ct_conf_profile_policy(ic->conf.ct, prof->name);
	struct buf pre;
	char why[1024];
	int64_t nb, na, now, left;
	anvil_err e, t;

	buf_init(&pre, PROTO_FRAME_MAX);
	req->op = OP_PRECERT;
	if ((e = sign(ic, req, deadline_ms, &pre)) != AE_OK) {
		if ((t = transient(e)) == AE_OK)
			t = refused(ic, o->id, e, "precertificate");
		e = t;
		goto out;
	}
	if (pre.len > DB_CERT_DER_MAX || cert_validity(pre.data, pre.len, &nb, &na) != 0) {
		log_err("order %lld: the signer's precertificate does not parse", (long long)o->id);
		e = fail_order(ic, o->id, AE_SIGNER_PROTO, ACME_ERR "serverInternal", 500,
		    "the signed precertificate could not be used");
		goto out;
	}
	if ((e = db_status_get(ic->db, serial, st)) == AE_NOTFOUND) {
		if ((e = issue_status_first(ic, prof->issuer->name, serial, na, deadline_ms, st))
		    != AE_OK)
			goto out;
		if ((e = db_status_insert(ic->db, st)) != AE_OK) {
			e = transient(e) != AE_OK ? transient(e) : AE_UNAVAILABLE;
			goto out;
		}
		log_audit("precertificate serial=%s order=%lld profile=%s issuer=%s", serial,
		    (long long)o->id, prof->name, prof->issuer->name);
	} else if (e != AE_OK) {
		e = transient(e) != AE_OK ? transient(e) : AE_UNAVAILABLE;
		goto out;
	}
	/* A fifth of what is left stays for the certificate's signature. */
	now = issue_now_ms();
	left = deadline_ms - now;
	e = issue_ct_scts(ic, prof->name, prof->issuer->name, pre.data, pre.len,
	    now + left - left / 5, scts, why, sizeof(why));
	if (e == AE_OK)
		goto out;
	if ((int64_t)time(NULL) >= created + ic->conf.ct->sct_give_up_s) {
		e = fail_order(ic, o->id, AE_SIGNER_CT, ACME_ERR "serverInternal", 500,
		    "the Certificate Transparency policy %s (profile %s) could not be met within "
		    "%lld s: %s", pol != NULL ? pol->name : "?", prof->name,
		    (long long)ic->conf.ct->sct_give_up_s, why);
		goto out;
	}
	log_info("order %lld serial=%s: CT policy %s not met yet, tried again later: %s",
	    (long long)o->id, serial, pol != NULL ? pol->name : "?", why);
	e = AE_TIMEOUT;
out:
	buf_free(&pre);
	return e;
}

/* issue_finish for the order o as read (fresh: see serial_for), with the serial recorded
 * (created then) when the caller knows it, NULL otherwise. */
static anvil_err
finish(struct issue_ctx *ic, struct db_order_fin *o, int fresh, const char *serial,
    int64_t serial_created, int64_t deadline_ms)
{
	int64_t order_id = o->id;
	struct db_cert *c = NULL;
	struct db_status st;
	const struct profile *prof;
	struct csr_info ci;
	struct request req;
	struct buf der, scts;
	char detail[CSR_DETAIL_MAX];
	enum csr_verdict verdict = CSR_OK;
	int64_t created = 0, nb, na;
	anvil_err e, t;

	memset(&ci, 0, sizeof(ci));
	memset(&req, 0, sizeof(req));
	buf_init(&der, PROTO_FRAME_MAX);
	buf_init(&scts, CT_SCT_LIST_MAX);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		e = AE_NOMEM;
		goto out;
	}
	if (strcmp(o->status, "valid") == 0) {
		e = AE_OK;
		goto out;
	}
	if (strcmp(o->status, "processing") != 0) {
		e = AE_EXISTS;
		goto out;
	}
	if (ic->signer == NULL) {
		e = AE_UNAVAILABLE;
		goto out;
	}
	if ((prof = issue_conf_profile(&ic->conf, o->profile)) == NULL) {
		e = fail_order(ic, order_id, AE_SIGNER_PROFILE, ACME_ERR "serverInternal", 500,
		    "the order's profile is no longer configured");
		goto out;
	}
	/* A CT profile without a CT client (no ct.profiles entry reached this process) cannot
	 * issue: refused before any serial or signature is spent. */
	if (prof->ct && !issue_ct_available(ic)) {
		e = fail_order(ic, order_id, AE_SIGNER_CT, ACME_ERR "serverInternal", 500,
		    "the profile %s requires Certificate Transparency, which is not configured",
		    prof->name);
		goto out;
	}
	/* The CSR and key policy of this moment (issue/policy.c). The request path (fresh) has
	 * just checked all of it in this request (fcgi/finalize.c) and only needs the CSR's key
	 * and names (csr_check remembers the CSR it accepted); any later attempt, anvil-jobs',
	 * checks it all again: a key blocked or listed as weak since, or key types a reload
	 * changed, end the order before anything is signed. */
	if (fresh) {
		json_object *ids = json_tokener_parse(o->identifiers);
		verdict = csr_check(o->csr, o->csr_len, ids, prof->key_types, &ci, detail);
		json_object_put(ids);
		e = verdict == CSR_OK ? AE_OK : AE_DENIED;
	} else {
		e = issue_csr_policy(ic, o->csr, o->csr_len, o->identifiers, prof, &ci, &verdict,
		    detail);
	}
	if (e == AE_DENIED) {
		e = fail_order(ic, order_id, AE_PARSE, verdict == CSR_BAD_KEY ?
		    ACME_ERR "badPublicKey" : ACME_ERR "badCSR", 400, "%s", detail);
		goto out;
	}
	if (e != AE_OK) {
		if (transient(e) == AE_OK)
			e = AE_UNAVAILABLE;
		goto out;
	}
	if (ci.spki_len == 0 || ci.spki_len > PROTO_SPKI_MAX ||
	    idents_of(o->identifiers, &req.u.cert.ids, &req.u.cert.nids) != 0) {
		e = fail_order(ic, order_id, AE_PARSE, ACME_ERR "badCSR", 400,
		    "the key or the identifiers cannot be signed");
		goto out;
	}
	idents_cn_first(req.u.cert.ids, req.u.cert.nids, ci.cn);
	/* CAA again for authorizations checked too long ago, before a signature is spent. A CAA
	 * record that forbids us ends the order; DNS trouble or no way to look (anvil-fcgi)
	 * leaves it processing for anvil-jobs' retries. */
	if ((e = issue_caa_recheck(ic, o, prof, deadline_ms, detail, sizeof(detail))) ==
	    AE_DENIED) {
		e = fail_order(ic, order_id, AE_DENIED, ACME_ERR "caa", 403, "%s", detail);
		goto out;
	}
	if (e != AE_OK) {
		if (detail[0] != '\0')
			log_info("order %lld: CAA re-check: %s", (long long)order_id, detail);
		if (transient(e) == AE_OK)
			e = AE_UNAVAILABLE;
		goto out;
	}
	if (serial != NULL && strlen(serial) < sizeof(c->serial)) {
		memcpy(c->serial, serial, strlen(serial) + 1);
		created = serial_created;
	} else if ((e = serial_for(ic, order_id, fresh, c->serial, &created)) != AE_OK) {
		/* Nothing is signed without a recorded serial: retry later. */
		if (transient(e) == AE_OK)
			e = AE_UNAVAILABLE;
		goto out;
	}
	nb = o->not_before > 0 ? o->not_before :
	    (created > PROFILE_ISSUE_BACKDATE ? created - PROFILE_ISSUE_BACKDATE : 0);
	na = nb + prof->max_validity - 1;
	if (o->not_after > 0 && o->not_after < na)
		na = o->not_after;
	req.op = OP_CERT;
	snprintf(req.u.cert.profile, sizeof(req.u.cert.profile), "%s", prof->name);
	if (hex_decode(c->serial, req.u.cert.serial, sizeof(req.u.cert.serial),
	    &req.u.cert.serial_len) != AE_OK) {
		e = fail_order(ic, order_id, AE_INTERNAL, ACME_ERR "serverInternal", 500,
		    "the recorded serial is unusable");
		goto out;
	}
	req.u.cert.spki = ci.spki;
	req.u.cert.spki_len = ci.spki_len;
	req.u.cert.not_before = (uint64_t)nb;
	req.u.cert.not_after = (uint64_t)na;
	if (prof->ct) {
		/* Precertificate, its status, SCTs: the certificate then carries them. */
		if ((e = precert(ic, o, c->serial, prof, &req, created, deadline_ms, &st, &scts))
		    != AE_OK)
			goto out;
		req.op = OP_CERT;
		req.u.cert.sct = scts.data;
		req.u.cert.sct_len = scts.len;
	}
	e = sign(ic, &req, deadline_ms, &der);
	if (e != AE_OK) {
		if ((t = transient(e)) != AE_OK) {
			e = t;
			goto out;
		}
		e = refused(ic, order_id, e, "certificate");
		goto out;
	}
	if (der.len > DB_CERT_DER_MAX ||
	    cert_validity(der.data, der.len, &c->not_before, &c->not_after) != 0) {
		log_err("order %lld: the signer's certificate does not parse", (long long)order_id);
		e = fail_order(ic, order_id, AE_SIGNER_PROTO, ACME_ERR "serverInternal", 500,
		    "the signed certificate could not be stored");
		goto out;
	}
	c->account_id = o->account_id;
	c->order_id = order_id;
	c->created = (int64_t)time(NULL);
	snprintf(c->issuer, sizeof(c->issuer), "%s", prof->issuer->name);
	snprintf(c->profile, sizeof(c->profile), "%s", prof->name);
	memcpy(c->der, der.data, der.len);
	c->der_len = der.len;
	memcpy(c->spki_sha256, ci.spki_sha256, sizeof(c->spki_sha256));
	/* With CT the serial's status row and first response came with its precertificate:
	 * one OCSP response answers for both (the same serial). */
	if (!prof->ct && (e = issue_status_first(ic, c->issuer, c->serial, c->not_after,
	    deadline_ms, &st)) != AE_OK)
		goto out;
	/* Final certificates go to the logs through the queue: issuance never waits for it. */
	e = db_cert_issued(ic->db, c, &st, prof->ct ? issue_ct_final_logs(ic, prof->name) : 0);
	if (e == AE_EXISTS || e == AE_DB_DUPLICATE) {
		/* Someone else stored it first (anvil-jobs racing the request). */
		e = db_order_fin_get(ic->db, order_id, o) == AE_OK &&
		    strcmp(o->status, "valid") == 0 ? AE_OK : AE_EXISTS;
		goto out;
	}
	if (e != AE_OK)
		goto out;
	snprintf(o->status, sizeof(o->status), "valid");
	snprintf(o->serial, sizeof(o->serial), "%s", c->serial);
	if (ic->on_issued != NULL)
		ic->on_issued();
	log_audit("issued serial=%s order=%lld account=%lld profile=%s issuer=%s names=%zu "
	    "scts=%s", c->serial, (long long)order_id, (long long)o->account_id, c->profile,
	    c->issuer, req.u.cert.nids, prof->ct ? "embedded" : "none");
out:
	free(req.u.cert.ids);
	csr_info_free(&ci);
	buf_free(&der);
	buf_free(&scts);
	free(c);
	return e;
}

anvil_err
issue_finish(struct issue_ctx *ic, int64_t order_id, int64_t deadline_ms)
{
	struct db_order_fin *o = malloc(sizeof(*o));
	anvil_err e;

	if (o == NULL)
		return AE_NOMEM;
	if ((e = db_order_fin_get(ic->db, order_id, o)) == AE_OK) {
		e = finish(ic, o, 0, NULL, 0, deadline_ms);
		/* Retried until the order expires (anvil-jobs backs off meanwhile); then the
		 * client gets an answer rather than `processing` forever. One more attempt comes
		 * first: an order that can still be issued is. */
		if (transient(e) != AE_OK && strcmp(o->status, "processing") == 0 &&
		    o->expires <= (int64_t)time(NULL))
			e = fail_order(ic, order_id, AE_RANGE, ACME_ERR "serverInternal", 500,
			    "the certificate could not be issued before the order expired (%s); "
			    "a new order can ask again", anvil_strerror(e));
	}
	free(o);
	return e;
}

anvil_err
issue_finish_order(struct issue_ctx *ic, struct db_order_fin *o, const char *serial,
    int64_t serial_created, int64_t deadline_ms)
{
	if (strcmp(o->status, "processing") != 0)
		return AE_INTERNAL;
	return finish(ic, o, 1, serial, serial_created, deadline_ms);
}

int
issue_profile_signs(const struct issue_ctx *ic, const char *profile)
{
	const struct profile *prof = issue_conf_profile(&ic->conf, profile);

	/* finish refuses these before any serial is spent. */
	return ic->signer != NULL && prof != NULL && !(prof->ct && !issue_ct_available(ic));
}

void
issue_ctx_on_issued(struct issue_ctx *ic, void (*fn)(void))
{
	ic->on_issued = fn;
}
